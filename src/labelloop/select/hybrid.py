"""Batch strategies that mix uncertainty with diversity or density."""

from __future__ import annotations

import numpy as np

from labelloop.exceptions import InputError
from labelloop.select.base import QueryStrategy, ScoringStrategy, predict_proba, top_n
from labelloop.select.diversity import kmeans_medoids
from labelloop.select.uncertainty import entropy, least_confidence, margin

_MEASURES = {"margin": margin, "entropy": entropy, "least_confidence": least_confidence}


def _measure(name: str):
    try:
        return _MEASURES[name]
    except KeyError:
        raise InputError(f"unknown uncertainty measure {name!r}; use one of {sorted(_MEASURES)}") from None


class DiverseUncertainty(QueryStrategy):
    """Uncertainty pre-filter, then diversity: the default batch strategy (``hybrid``).

    Take the ``beta * n`` most uncertain pool items, cluster them into ``n`` groups with k-means
    weighted by uncertainty, and label the item nearest each centroid (Zhdanov 2019,
    "diverse mini-batch active learning"). A batch of ten near-duplicates at the decision
    boundary teaches the model little more than one of them; this spreads the batch along it.

    ``balance=True`` (the ``balanced`` strategy) fills the candidate set class by class: the
    ``beta * n / K`` most uncertain items *predicted* as each class (quotas a class cannot fill
    go to the most uncertain remaining items). A model trained on a few labels leans towards
    the classes it has seen most, and its most uncertain items then crowd around those
    classes' boundaries; per-class quotas keep every class's boundary in the batch. It did not
    beat ``hybrid`` on every benchmark data set (BENCHMARKS.md), so it is not the default.

    ``influence=k`` (the ``influence`` strategy) ranks candidates by uncertainty x
    (1 + the number of uncertain pool items, the top ``1 - influence_quantile`` by uncertainty,
    that count the item among their ``k`` nearest unlabelled neighbours, cosine). An uncertain
    item that many other uncertain items lean on settles a region of the boundary when
    labelled; an isolated ambiguous item (an outlier, a text that fits two tags) settles only
    itself, and plain margin sampling keeps spending labels on those. The neighbour lists are
    computed once for pool + labelled items and reused while the rows stay the same. It beat
    ``hybrid`` on the development seeds but not on the reported ones (BENCHMARKS.md), so it is
    not the default.
    """

    def __init__(self, *, beta: int = 10, measure: str = "margin", diversity: str = "kmeans",
                 graph: bool = False, k: int = 10, balance: bool = False, influence: int = 0,
                 influence_quantile: float = 0.9):
        if diversity not in ("kmeans", "kcenter"):
            raise InputError(f"unknown diversity {diversity!r}; use 'kmeans' or 'kcenter'")
        if isinstance(beta, bool) or not isinstance(beta, (int, np.integer)) or beta < 1:
            raise InputError(f"beta must be a positive integer, got {beta!r}")
        self.beta = beta
        self.measure = measure
        self.diversity = diversity
        self.graph = graph
        self.k = k
        self.balance = balance
        if isinstance(influence, bool) or not isinstance(influence, (int, np.integer)) or influence < 0:
            raise InputError(f"influence must be a non-negative integer (neighbours), got {influence!r}")
        if not 0.0 <= influence_quantile < 1.0:
            raise InputError(f"influence_quantile must be in [0, 1), got {influence_quantile!r}")
        self.influence = int(influence)
        self.influence_quantile = float(influence_quantile)
        self._neighbours_ = None  # cached neighbour lists (see _influence)

    def _select(self, model, X, n, X_labeled, y_labeled, rng):
        from labelloop.select.diversity import kcenter_greedy

        P = predict_proba(model, X)
        if self.graph and X_labeled is not None and y_labeled is not None and len(y_labeled):
            P = 0.5 * (P + _graph_proba(model, X, X_labeled, y_labeled, P.shape[1], self.k))
        u = _measure(self.measure)(P)
        if self.influence:
            u0 = u + 1.0 if self.measure == "margin" else u  # margin is in [-1, 0]
            u = u0 * (1.0 + self._influence(X, X_labeled, u0))
        k = min(X.shape[0], max(n, int(self.beta) * n))
        cand = per_class_top(u, P.argmax(axis=1), P.shape[1], k, rng) if self.balance else top_n(u, k, rng)
        if k == n:
            return cand
        if self.diversity == "kcenter":
            return cand[kcenter_greedy(X[cand], n, centers=X_labeled)]
        w = u[cand] - u.min() + 1e-6
        pick = kmeans_medoids(X[cand], n, sample_weight=w, random_state=rng)
        return cand[pick]

    def _influence(self, X, X_labeled, u):
        """Per pool item: how many of the most uncertain pool items have it among their
        ``self.influence`` nearest unlabelled neighbours."""
        m = X.shape[0]
        A = X if X_labeled is None or not len(X_labeled) else np.vstack([X, X_labeled])
        nn, pos = self._neighbour_lists(A)
        unlabelled = np.zeros(nn.shape[0], dtype=bool)
        unlabelled[pos[:m]] = True
        to_pool = np.full(nn.shape[0], -1, dtype=np.int64)
        to_pool[pos[:m]] = np.arange(m)
        cand = nn[pos[:m]]  # each pool item's neighbours, nearest first, in the cached order
        ok = unlabelled[cand]
        ok &= np.cumsum(ok, axis=1) <= self.influence  # its k nearest unlabelled ones
        sure = u < np.quantile(u, self.influence_quantile)
        ok[sure] = False  # only uncertain items' neighbourhoods count
        return np.bincount(to_pool[cand[ok]], minlength=m).astype(np.float64)

    def _neighbour_lists(self, A):
        """The ``5 * influence`` nearest rows (cosine) of every row of ``A``, nearest first, and
        each row's position in them. Cached: rounds of a loop pass the same rows split
        differently between pool and labelled items, and the lists are reused for those."""
        seen: dict[bytes, int] = {}
        keys = []
        for row in A:  # duplicate rows (identical texts) get distinct keys
            b = row.tobytes()
            seen[b] = seen.get(b, -1) + 1
            keys.append((b, seen[b]))
        if self._neighbours_ is not None and len(self._neighbours_[0]) == len(keys):
            order, nn = self._neighbours_
            pos = [order.get(key, -1) for key in keys]
            if min(pos) >= 0:
                return nn, np.asarray(pos, dtype=np.int64)
        N = A.shape[0]
        L = int(min(N - 1, 5 * self.influence))
        An = A / np.maximum(np.linalg.norm(A, axis=1, keepdims=True), 1e-12)
        nn = np.empty((N, max(L, 0)), dtype=np.int64)
        for s in range(0, N, 2048):
            S = An[s : s + 2048] @ An.T
            S[np.arange(S.shape[0]), np.arange(s, s + S.shape[0])] = -np.inf
            if L > 0:
                top = np.argpartition(-S, L - 1, axis=1)[:, :L]
                nn[s : s + 2048] = np.take_along_axis(top, np.argsort(-np.take_along_axis(S, top, axis=1), axis=1), axis=1)
        self._neighbours_ = ({key: i for i, key in enumerate(keys)}, nn)
        return nn, np.arange(N, dtype=np.int64)


def per_class_top(scores: np.ndarray, pred: np.ndarray, n_classes: int, k: int, rng) -> np.ndarray:
    """``k`` distinct items: the top ``k // n_classes`` scores within each predicted class, the
    rest of the quota from the highest remaining scores."""
    quota = k // n_classes
    chosen: list[np.ndarray] = []
    for c in range(n_classes):
        members = np.flatnonzero(pred == c)
        if members.size and quota:
            chosen.append(members[top_n(scores[members], min(quota, members.size), rng)])
    cand = np.concatenate(chosen) if chosen else np.empty(0, dtype=np.int64)
    if cand.size < k:
        rest = np.setdiff1d(np.arange(scores.shape[0]), cand)
        cand = np.concatenate([cand, rest[top_n(scores[rest], k - cand.size, rng)]])
    return cand.astype(np.int64)


def _graph_proba(model, X, X_labeled, y_labeled, n_classes: int, k: int) -> np.ndarray:
    """Label-spreading posteriors for the pool, over a kNN graph of pool + labelled items."""
    from labelloop.loop.semi import propagate_labels

    classes = np.asarray(getattr(model, "classes_", np.arange(n_classes)))
    col = {c: i for i, c in enumerate(classes.tolist())}
    yl = np.asarray([col.get(v, -1) for v in np.asarray(y_labeled).tolist()])
    keep = yl >= 0
    allX = np.vstack([X, X_labeled[keep]])
    li = np.arange(X.shape[0], allX.shape[0])
    return propagate_labels(allX, li, yl[keep], n_classes, k=k)[: X.shape[0]]


class DensityWeighted(ScoringStrategy):
    """Information density (Settles & Craven 2008): uncertainty x (mean cosine similarity)^beta.

    Mean cosine similarity to the whole pool equals the dot product with the mean unit vector,
    so the density term costs O(items x features).
    """

    def __init__(self, *, beta: float = 1.0, measure: str = "entropy"):
        self.beta = beta
        self.measure = measure

    def score(self, model, X_pool, *, X_labeled=None, y_labeled=None, rng=None):
        P = predict_proba(model, X_pool)
        u = _measure(self.measure)(P)
        if self.measure == "margin":
            u = 1.0 + u  # margin scores are in [-1, 0]; shift to [0, 1]
        Xn = X_pool / np.maximum(np.linalg.norm(X_pool, axis=1, keepdims=True), 1e-12)
        dens = Xn @ Xn.mean(axis=0)
        dens = np.clip((dens + 1.0) / 2.0, 1e-12, None)  # cosine in [-1, 1] -> [0, 1]
        return u * dens ** float(self.beta)


class SeedSimilarity(ScoringStrategy):
    """Items most similar (cosine) to a few seed vectors, e.g. known examples of a rare class."""

    needs_model = False

    def __init__(self, seeds):
        S = np.asarray(seeds, dtype=np.float64)
        if S.ndim == 1:
            S = S.reshape(1, -1)
        if S.ndim != 2 or S.shape[0] == 0:
            raise InputError("SeedSimilarity needs at least one seed vector (a 2-D array, seeds x features)")
        self.seeds = S

    def score(self, model, X_pool, *, X_labeled=None, y_labeled=None, rng=None):
        if X_pool.shape[1] != self.seeds.shape[1]:
            raise InputError(
                f"seed vectors have {self.seeds.shape[1]} features but the pool has {X_pool.shape[1]}"
            )
        Xn = X_pool / np.maximum(np.linalg.norm(X_pool, axis=1, keepdims=True), 1e-12)
        Sn = self.seeds / np.maximum(np.linalg.norm(self.seeds, axis=1, keepdims=True), 1e-12)
        return (Xn @ Sn.T).max(axis=1)


def gradient_embedding(P: np.ndarray, X: np.ndarray) -> np.ndarray:
    """Gradient of the cross-entropy at the predicted label w.r.t. a linear softmax layer:
    ``(p - onehot(argmax p)) outer x``, flattened (items x classes*features)."""
    G = P.copy()
    G[np.arange(P.shape[0]), P.argmax(axis=1)] -= 1.0
    return (G[:, :, None] * X[:, None, :]).reshape(P.shape[0], -1)


class Badge(QueryStrategy):
    """BADGE (Ash et al. 2020): k-means++ seeding on gradient embeddings.

    An item's gradient embedding is large when the model is unsure (uncertainty) and points
    in different directions for different kinds of items (diversity); k-means++ seeding picks
    a batch that is both. The model's own features are the embedding here (a linear model on
    embeddings is exactly the last layer BADGE was designed around).
    """

    def _select(self, model, X, n, X_labeled, y_labeled, rng):
        from labelloop.select.diversity import _sqdist

        G = gradient_embedding(predict_proba(model, X), X)
        norms = np.einsum("ij,ij->i", G, G)
        first = int(np.argmax(norms))
        chosen = [first]
        mind = _sqdist(G, G[first : first + 1])[:, 0]
        mind[first] = 0.0
        while len(chosen) < n:
            tot = mind.sum()
            if tot <= 1e-18:  # every remaining item coincides with a chosen one
                rest = np.setdiff1d(np.arange(X.shape[0]), chosen)
                chosen.extend(rng.choice(rest, size=n - len(chosen), replace=False).tolist())
                break
            nxt = int(rng.choice(X.shape[0], p=mind / tot))
            chosen.append(nxt)
            mind = np.minimum(mind, _sqdist(G, G[nxt : nxt + 1])[:, 0])
            mind[nxt] = 0.0
        return np.asarray(chosen, dtype=np.int64)
