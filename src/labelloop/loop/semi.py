"""Semi-supervised help: neighbour propagation and pseudo-labels (self-training).

Machine labels are used to *train* the model and are never counted as human labels: the
functions here return them separately, with their confidence, and :func:`fit_with_pseudo_labels`
down-weights them.
"""

from __future__ import annotations

import numpy as np

from labelloop.exceptions import InputError


def knn_graph(X: np.ndarray, k: int = 10):
    """Symmetric sparse kNN affinity matrix (cosine similarity of unit vectors, >= 0)."""
    import scipy.sparse as sp

    X = np.asarray(X, dtype=np.float64)
    m = X.shape[0]
    k = max(1, min(k, m - 1))
    Xn = X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)
    rows, cols, vals = [], [], []
    step = 2048
    for s in range(0, m, step):
        S = Xn[s : s + step] @ Xn.T
        S[np.arange(S.shape[0]), np.arange(s, s + S.shape[0])] = -np.inf
        nn = np.argpartition(-S, k - 1, axis=1)[:, :k]
        sim = np.take_along_axis(S, nn, axis=1)
        rows.append(np.repeat(np.arange(s, s + S.shape[0]), k))
        cols.append(nn.ravel())
        vals.append(np.maximum(sim.ravel(), 0.0) + 1e-6)
    W = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(m, m))
    return W.maximum(W.T)


def propagate_labels(
    X, labeled_idx, y_labeled, n_classes: int, *, k: int = 10, alpha: float = 0.99, n_iter: int = 30,
    graph=None,
) -> np.ndarray:
    """Label spreading (Zhou et al. 2004) on a kNN graph; returns items x classes posteriors.

    ``y_labeled`` are class codes 0..n_classes-1 for the rows ``labeled_idx`` of ``X``.
    Labelled rows keep their own label in the returned matrix. ``graph``: a precomputed
    :func:`knn_graph` of ``X`` (reuse it across rounds).
    """
    import scipy.sparse as sp

    X = np.asarray(X, dtype=np.float64)
    li = np.asarray(labeled_idx, dtype=np.int64)
    yl = np.asarray(y_labeled, dtype=np.int64)
    if li.shape != yl.shape:
        raise InputError("labeled_idx and y_labeled must have the same length")
    if yl.size and (yl.min() < 0 or yl.max() >= n_classes):
        raise InputError(f"labels must be class codes in 0..{n_classes - 1}")
    W = knn_graph(X, k) if graph is None else graph
    d = np.asarray(W.sum(axis=1)).ravel()
    dinv = 1.0 / np.sqrt(np.maximum(d, 1e-12))
    S = sp.diags(dinv) @ W @ sp.diags(dinv)
    Y0 = np.zeros((X.shape[0], n_classes))
    Y0[li, yl] = 1.0
    F = Y0.copy()
    for _ in range(n_iter):
        F = alpha * (S @ F) + (1 - alpha) * Y0
    tot = F.sum(axis=1, keepdims=True)
    P = np.where(tot > 0, F / np.maximum(tot, 1e-300), 1.0 / n_classes)
    P[li] = Y0[li]
    return P


def pseudo_labels(P: np.ndarray, threshold: float = 0.9) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows whose top probability reaches ``threshold``: (indices, class codes, confidences)."""
    P = np.asarray(P, dtype=np.float64)
    conf = P.max(axis=1)
    idx = np.flatnonzero(conf >= threshold)
    return idx, P[idx].argmax(axis=1), conf[idx]


class SelfTraining:
    """Train on human labels plus machine labels for the unlabelled pool.

    Machine labels come from the model's own predictions (self-training) and from label
    spreading over a kNN graph of the whole pool (neighbour propagation). ``source`` picks
    which are trusted:

    - ``"spread"`` (the default): every unlabelled item, labelled by label spreading with
      ``alpha``, weighted by ``weight`` x its spread confidence rescaled to [0, 1] (0 at the
      uniform posterior 1/K, 1 at certainty). The graph carries the labels along the pool's
      cluster structure, which the few human labels of an early loop cannot show a linear
      model; soft weights let uncertain regions count for little instead of being cut off;
    - ``"model"``: model confidence >= ``threshold``; ``"graph"``: spread confidence >=
      ``threshold``; ``"agree"``: model confidence >= ``threshold`` and the graph agrees.

    Machine labels enter training with their weight (human labels weigh 1) and are never
    counted as human labels. ``fit`` needs class codes 0..K-1; afterwards ``n_pseudo_`` counts
    machine labels used and ``pseudo_idx_`` / ``pseudo_labels_`` / ``pseudo_weights_`` hold them.
    """

    def __init__(self, estimator=None, *, threshold: float = 0.7, weight: float = 0.5,
                 source: str = "spread", k: int = 10, n_rounds: int = 1, alpha: float = 0.9):
        if source not in ("spread", "model", "graph", "agree"):
            raise InputError(
                f"unknown pseudo-label source {source!r}; use 'spread', 'model', 'graph' or 'agree'"
            )
        if not 0.0 < alpha < 1.0:
            raise InputError(f"label-spreading alpha must be in (0, 1), got {alpha}")
        if weight < 0:
            raise InputError(f"pseudo-label weight must be >= 0, got {weight}")
        self.estimator = estimator
        self.threshold = threshold
        self.weight = weight
        self.source = source
        self.k = k
        self.n_rounds = n_rounds
        self.alpha = alpha

    def fit(self, X_all, labeled_idx, y_labeled, n_classes: int, *, graph=None, graph_P: np.ndarray | None = None):
        from labelloop.loop.models import LoopClassifier

        X_all = np.asarray(X_all)
        li = np.asarray(labeled_idx, dtype=np.int64)
        yl = np.asarray(y_labeled, dtype=np.int64)
        classes = np.arange(n_classes)
        model = LoopClassifier(self.estimator, classes=classes).fit(X_all[li], yl)
        unl = np.setdiff1d(np.arange(X_all.shape[0]), li)
        self.pseudo_idx_ = np.empty(0, dtype=np.int64)
        self.pseudo_labels_ = np.empty(0, dtype=np.int64)
        self.pseudo_weights_ = np.empty(0, dtype=np.float64)
        if self.source == "spread":
            if graph_P is None:
                graph_P = propagate_labels(X_all, li, yl, n_classes, k=self.k, alpha=self.alpha, graph=graph)
            model = self._fit_spread(model, X_all, li, yl, unl, graph_P, n_classes)
        else:
            model = self._fit_thresholded(model, X_all, li, yl, unl, graph, graph_P, n_classes)
        self.model_ = model
        self.n_pseudo_ = int(self.pseudo_idx_.size)
        self.classes_ = classes
        return self

    def _fit_spread(self, model, X_all, li, yl, unl, graph_P, n_classes: int):
        from labelloop.loop.models import LoopClassifier

        if unl.size == 0 or self.weight == 0:
            return model
        P = graph_P[unl]
        lab = P.argmax(axis=1)
        # 0 for a flat posterior (nothing reached the item), 1 for a certain one
        conf = np.clip((P.max(axis=1) - 1.0 / n_classes) / (1.0 - 1.0 / n_classes), 0.0, 1.0)
        keep = conf > 0
        idx, lab, w = unl[keep], lab[keep], float(self.weight) * conf[keep]
        if idx.size == 0:
            return model
        X_tr = np.vstack([X_all[li], X_all[idx]])
        y_tr = np.concatenate([yl, lab])
        sw = np.concatenate([np.ones(len(yl)), w])
        self.pseudo_idx_, self.pseudo_labels_, self.pseudo_weights_ = idx, lab, w
        return LoopClassifier(self.estimator, classes=np.arange(n_classes)).fit(X_tr, y_tr, sample_weight=sw)

    def _fit_thresholded(self, model, X_all, li, yl, unl, graph, graph_P, n_classes: int):
        from labelloop.loop.models import LoopClassifier

        if self.source != "model" and graph_P is None:
            graph_P = propagate_labels(X_all, li, yl, n_classes, k=self.k, graph=graph)
        for _ in range(max(1, int(self.n_rounds))):
            if unl.size == 0:
                break
            if self.source == "graph":
                idx, lab, _ = pseudo_labels(graph_P[unl], self.threshold)
            else:
                idx, lab, _ = pseudo_labels(model.predict_proba(X_all[unl]), self.threshold)
                if self.source == "agree":
                    ok = graph_P[unl[idx]].argmax(axis=1) == lab
                    idx, lab = idx[ok], lab[ok]
            if idx.size == 0:
                break
            X_tr = np.vstack([X_all[li], X_all[unl[idx]]])
            y_tr = np.concatenate([yl, lab])
            w = np.concatenate([np.ones(len(yl)), np.full(len(idx), float(self.weight))])
            model = LoopClassifier(self.estimator, classes=np.arange(n_classes)).fit(X_tr, y_tr, sample_weight=w)
            self.pseudo_idx_, self.pseudo_labels_ = unl[idx], lab
            self.pseudo_weights_ = np.full(len(idx), float(self.weight))
        return model

    def predict_proba(self, X):
        return self.model_.predict_proba(X)

    def predict(self, X):
        return self.model_.predict(X)
