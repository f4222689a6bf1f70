"""The label model: turns labeling-function votes into probabilistic labels.

It is the project's Dawid-Skene aggregation seen from the weak-supervision side: every LF is a
one-coin source whose accuracy is learned by EM, the class balance is a learned (or fixed)
prior, and human votes can join the same fit as more sources. One difference matters for LFs:
*abstaining is evidence too* (when no spam LF fires, the comment is probably ham), so for each
class a pseudo-source "some LF voted this class" has a learned firing rate per true class; for
human votes an abstain is just a missing vote. See :mod:`labelloop.weak._engine` for the estimator.

    from labelloop.weak import LabelModel
    lm = LabelModel().fit(L_train)          # L: items x LFs, -1 = abstain
    lm.predict_proba(L_test); lm.predict(L_test); lm.score(L_test, y_test)

Multi-label: ``L`` is ``items x LFs x tags`` with ``1`` (LF says the tag applies), ``0`` (LF
says it does not) and ``-1`` (no vote on that tag), or a :class:`~labelloop.votes.MultiLabelVotes`;
one binary model is fitted per tag, and ``predict`` thresholds each tag's probability.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from labelloop.exceptions import ConvergenceWarning, InputError, NotFittedError, SchemaError
from labelloop.votes import MultiLabelVotes, VoteMatrix
from labelloop.weak._engine import LFDawidSkene

ABSTAIN = -1


def _as_int_matrix(L: Any, what: str = "L") -> np.ndarray:
    L = np.asarray(L)
    if L.dtype == object:
        raise InputError(f"{what} must be an integer matrix (class codes, -1 = abstain)")
    if not np.issubdtype(L.dtype, np.integer):
        if np.issubdtype(L.dtype, np.floating) and np.all(np.isfinite(L)) and np.all(L == np.round(L)):
            L = L.astype(np.int64)
        else:
            raise InputError(f"{what} must hold integer class codes (-1 = abstain), got dtype {L.dtype}")
    return L.astype(np.int64, copy=False)


class LabelModel(BaseEstimator):
    """Generative label model over LF votes (one-coin Dawid-Skene + per-class LF coverage), by EM.

    Parameters
    ----------
    cardinality: number of classes; default: learned from ``L`` (max code + 1, at least 2).
    class_balance: fixed class prior (``K`` probabilities); default: learned by EM.
    task: ``"single"``, ``"multi"`` (one binary model per tag) or ``"auto"`` (3-D ``L`` or
        :class:`MultiLabelVotes` means multi-label).
    max_iter, tol: EM stops when the mean negative log-likelihood per item changes by less
        than ``tol`` (relative); a :class:`ConvergenceWarning` is raised at ``max_iter``.
    alpha, beta: Beta prior on each source's accuracy (MAP; ``alpha - 1`` correct and
        ``beta - 1`` wrong pseudo-votes), as in the engine's one-coin Dawid-Skene.
    smoothing: pseudo-count for each LF's per-class firing rate.
    prior_smoothing: pseudo-count per class for the learned class balance.
    abstain: ``"informative"`` (default: when an LF fires is evidence) or ``"missing"``
        (plain one-coin Dawid-Skene, abstains carry no information).
    better_than_random: assume each LF beats chance: its accuracy is at least ``1/K`` and an LF
        that votes one class fires at least as often on that class as on others; a fit that
        says otherwise leaves that evidence out instead of turning the LF upside down.
    max_accuracy: cap on every learned accuracy (default 0.98). EM tends to declare a one-sided
        LF perfect (every item it fires on is explained by its class), and a "perfect" LF would
        then overrule any number of others; no LF is perfect.
    threshold: multi-label decision threshold on each tag's probability.
    """

    def __init__(
        self,
        *,
        cardinality: int | None = None,
        class_balance: Any = None,
        task: str = "auto",
        max_iter: int = 200,
        tol: float = 1e-4,
        alpha: float = 2.0,
        beta: float = 1.0,
        smoothing: float = 0.01,
        prior_smoothing: float = 1.0,
        abstain: str = "informative",
        better_than_random: bool = True,
        max_accuracy: float = 0.98,
        threshold: float = 0.5,
    ):
        self.cardinality = cardinality
        self.class_balance = class_balance
        self.task = task
        self.max_iter = max_iter
        self.tol = tol
        self.alpha = alpha
        self.beta = beta
        self.smoothing = smoothing
        self.prior_smoothing = prior_smoothing
        self.abstain = abstain
        self.better_than_random = better_than_random
        self.max_accuracy = max_accuracy
        self.threshold = threshold

    # ------------------------------------------------------------------ validation
    def _check_params(self) -> None:
        if self.task not in ("auto", "single", "multi"):
            raise InputError(f"task must be 'auto', 'single' or 'multi', got {self.task!r}")
        if self.abstain not in ("informative", "missing"):
            raise InputError(f"abstain must be 'informative' or 'missing', got {self.abstain!r}")
        if self.max_iter < 1:
            raise InputError(f"max_iter must be at least 1, got {self.max_iter}")
        if self.tol < 0 or self.smoothing < 0 or self.prior_smoothing < 0:
            raise InputError("tol, smoothing and prior_smoothing must be >= 0")
        if self.alpha < 1 or self.beta < 1:
            raise InputError("alpha and beta (Beta prior pseudo-counts + 1) must be >= 1")
        if not 0.0 < self.threshold < 1.0:
            raise InputError(f"threshold must lie in (0, 1), got {self.threshold}")

    def _is_multi(self, L: Any) -> bool:
        if self.task != "auto":
            return self.task == "multi"
        if isinstance(L, MultiLabelVotes):
            return True
        if getattr(L, "task", None) in ("single", "multi") and hasattr(L, "lf_names"):
            return L.task == "multi"
        return np.ndim(L) == 3

    def _single_L(self, L: Any) -> tuple[np.ndarray, list[Any] | None, list[str] | None]:
        """Dense items x LFs matrix, plus class values and LF names when known."""
        if isinstance(L, VoteMatrix):
            return L.to_dense(), list(L.classes), [str(s) for s in L.sources]
        if hasattr(L, "lf_names") and getattr(L, "task", None) == "single":
            return np.asarray(L.L, dtype=np.int64), list(L.classes), list(L.lf_names)
        L = _as_int_matrix(L)
        if L.ndim != 2:
            raise InputError(f"L must be a 2-D items x LFs matrix, got shape {L.shape}")
        if L.size and L.min() < -1:
            raise InputError("L may only hold class codes >= 0 and -1 for abstain")
        return L, None, None

    def _multi_tags(self, L: Any) -> tuple[list[str], int, int, list[np.ndarray]]:
        """(tags, n_items, n_sources, per-tag dense items x sources matrices over all sources)."""
        if hasattr(L, "lf_names") and getattr(L, "task", None) == "multi":
            L = L.votes()
        if isinstance(L, MultiLabelVotes):
            return list(L.tags), len(L.items), len(L.sources), [L.per_tag[t] for t in L.tags]
        L = _as_int_matrix(L)
        if L.ndim != 3:
            raise InputError(f"multi-label L must be items x LFs x tags, got shape {L.shape}")
        if L.size and (L.min() < -1 or L.max() > 1):
            raise InputError("multi-label L may only hold 1 (tag), 0 (not the tag) and -1 (no vote)")
        return [str(t) for t in range(L.shape[2])], L.shape[0], L.shape[1], [L[:, :, t] for t in range(L.shape[2])]

    # ------------------------------------------------------------------ fit
    def fit(self, L: Any, *, human: Any = None, gold: Any = None) -> LabelModel:
        """Fit on LF votes ``L``.

        human: optional items x annotators int matrix of human votes (same class codes,
            ``-1`` = no vote; multi-label: items x annotators x tags) fitted jointly with the LFs;
            a human's abstain carries no information.
        gold: optional known class codes per item (``-1`` = unknown; multi-label: items x tags
            of 0/1/-1); those items' posteriors are fixed to the truth and teach the LF skills.
        """
        self._check_params()
        self.multi_label_ = self._is_multi(L)
        if self.multi_label_:
            return self._fit_multi(L, human, gold)
        L, classes, names = self._single_L(L)
        K = self.cardinality or (len(classes) if classes else max(int(L.max()) + 1 if L.size else 2, 2))
        if L.size and L.max() >= K:
            raise SchemaError(f"L holds class code {int(L.max())} but cardinality is {K}")
        H = self._check_human(human, L.shape[0], K, ndim=2)
        g = self._check_gold(gold, L.shape[0], K)
        prior = self._fixed_prior(K)
        self.n_lfs_ = L.shape[1]
        self.n_classes_ = K
        self.classes_ = classes if classes is not None else list(range(K))
        self.lf_names_ = names or [f"lf_{j}" for j in range(L.shape[1])]
        X, inf = self._augment(L, K)
        params, post = self._fit_problem(X, H, g, K, prior, init_empty=None, informative_lf=inf)
        self._params = [params]
        self.probas_ = post
        m, mx = L.shape[1], X.shape[1]
        self.accuracies_ = np.concatenate([params["acc"][:m], params["acc"][mx:]])
        self.class_coverage_ = params["cov"][:, m:mx] if mx > m else None
        self.class_balance_ = params["prior"]
        self.loss_history_ = params["hist"]
        self.n_iter_ = len(params["hist"])
        self.converged_ = params["converged"]
        if not self.converged_:
            self._warn()
        return self

    def _fit_multi(self, L: Any, human: Any, gold: Any) -> LabelModel:
        tags, n, m, per_tag = self._multi_tags(L)
        Hs = None
        if human is not None:
            _, hn, hm, Hs = self._multi_tags(human)
            if hn != n or len(Hs) != len(tags):
                raise InputError(f"human votes must cover the same {n} items and {len(tags)} tags as L")
        G = None
        if gold is not None:
            G = _as_int_matrix(gold, "gold")
            if G.shape != (n, len(tags)):
                raise InputError(f"multi-label gold must have shape ({n}, {len(tags)}), got {G.shape}")
        prior = self._fixed_prior(2)
        self._params = []
        self.probas_ = np.zeros((n, len(tags)))
        hist_all, conv = [], True
        from labelloop.progress import progress

        for t, vm in enumerate(progress(per_tag, desc="label model", unit="tag")):
            Lt, active = _active_dense(vm, n, m)
            Ht = None
            if Hs is not None:
                Ht, hactive = _active_dense(Hs[t], n, hm)
            else:
                hactive = np.zeros(0, dtype=np.int64)
            g = G[:, t] if G is not None else np.full(n, -1, dtype=np.int64)
            if Lt.shape[1] == 0 and (Ht is None or Ht.shape[1] == 0) and not (g >= 0).any():
                pri = np.array([1.0, 0.0]) if prior is None else prior
                params = {"active": active, "hactive": hactive, "acc": np.zeros(0), "cov": np.zeros((2, 0)),
                          "prior": pri, "hist": [], "converged": True, "n_lf": 0}
                post = np.tile(pri, (n, 1))
            else:
                Xt, inf = self._augment(Lt, 2)
                params, post = self._fit_problem(Xt, Ht, g, 2, prior, init_empty=np.array([1.0, 0.0]),
                                                 informative_lf=inf)
                params["active"], params["hactive"] = active, hactive
            self._params.append(params)
            self.probas_[:, t] = post[:, 1]
            hist_all.append(len(params["hist"]))
            conv &= params["converged"]
        self.tags_ = tags
        self.classes_ = tags
        self.n_lfs_ = m
        self.n_classes_ = len(tags)
        self.n_iter_ = max(hist_all, default=0)
        self.converged_ = conv
        self.class_balance_ = np.array([p["prior"][1] for p in self._params])
        if not conv:
            self._warn()
        return self

    def _augment(self, L: np.ndarray, K: int) -> tuple[np.ndarray, np.ndarray]:
        """LF votes plus one pseudo-source per class: "some LF voted this class".

        The LFs of one class usually cover different parts of it (several spam keywords, a
        child tag's LF and an alias), so their abstains are far from independent given the
        class. The abstain evidence is therefore read once per class, from whether any LF voted
        it, while each LF's own votes keep their one-coin accuracy."""
        if self.abstain != "informative":
            return L, np.zeros(L.shape[1], dtype=bool)
        pseudo = [np.where((L == k).any(axis=1), k, -1)[:, None] for k in range(K)]
        X = np.concatenate([L, *pseudo], axis=1)
        inf = np.zeros(X.shape[1], dtype=bool)
        inf[L.shape[1]:] = self.abstain == "informative"
        return X, inf

    def _fit_problem(self, L, H, g, K, prior, init_empty, informative_lf=None):
        # pseudo-sources (informative) are read only through their firing rates
        """One problem (single-label, or one tag) on the aggregation engine."""
        X = L if H is None else np.concatenate([L, H], axis=1)
        n_h = 0 if H is None else H.shape[1]
        names = [f"lf_{j}" for j in range(L.shape[1])] + [f"human_{h}" for h in range(n_h)]
        informative = np.zeros(X.shape[1], dtype=bool)
        if informative_lf is None:
            informative[: L.shape[1]] = self.abstain == "informative"
        else:
            informative[: L.shape[1]] = informative_lf
        if not (X >= 0).any():
            if not (g >= 0).any():
                raise InputError("no votes at all: every LF abstains on every item")
            pri = prior if prior is not None else np.bincount(g[g >= 0], minlength=K) + self.prior_smoothing
            pri = pri / pri.sum()
            post = np.tile(pri, (len(g), 1))
            post[g >= 0] = np.eye(K)[g[g >= 0]]
            return {"n_lf": 0, "prior": pri, "hist": [], "converged": True, "acc": np.zeros(0),
                    "cov": np.zeros((K, 0))}, post
        vm = VoteMatrix.from_dense(X, classes=list(range(K)), sources=names)
        est = LFDawidSkene(
            max_iter=self.max_iter, tol=self.tol, alpha=self.alpha, beta=self.beta,
            class_prior="learn" if prior is None else prior, prior_smoothing=self.prior_smoothing,
            smoothing=self.smoothing, informative=informative, empty_init=init_empty,
            better_than_random=self.better_than_random, max_accuracy=self.max_accuracy,
            votes_count=~informative if informative_lf is not None else None,
        )
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            est.fit(vm, gold=g)
        params = {"est": est, "n_lf": L.shape[1], "acc": est._acc, "cov": est._cov.T,
                  "prior": est._prior, "hist": list(est.loss_history_), "converged": est.converged_,
                  "n_classes": K}
        del caught  # the model warns once for the whole fit (see fit)
        return params, est.probas_

    def _fixed_prior(self, K: int) -> np.ndarray | None:
        if self.class_balance is None:
            return None
        p = np.asarray(self.class_balance, dtype=np.float64)
        if p.shape != (K,) or np.any(p <= 0) or abs(p.sum() - 1.0) > 1e-6:
            raise InputError(f"class_balance must hold {K} positive probabilities that sum to 1, got {p.tolist()}")
        return p

    @staticmethod
    def _check_human(H, n, K, ndim):
        if H is None:
            return None
        H = _as_int_matrix(H, "human")
        if H.ndim != ndim or H.shape[0] != n:
            raise InputError(f"human votes must be an items x annotators matrix with {n} rows, got shape {H.shape}")
        if H.size and (H.min() < -1 or H.max() >= K):
            raise SchemaError(f"human votes must hold class codes in [0, {K}) or -1")
        return H

    @staticmethod
    def _check_gold(gold, n, K):
        if gold is None:
            return np.full(n, -1, dtype=np.int64)
        g = _as_int_matrix(gold, "gold").ravel()
        if g.shape[0] != n:
            raise InputError(f"gold must have one code per item ({n}), got {g.shape[0]}")
        if g.size and (g.min() < -1 or g.max() >= K):
            raise SchemaError(f"gold codes must lie in [-1, {K})")
        return g

    def _warn(self) -> None:
        """One ConvergenceWarning for the whole fit (the engine's per-problem ones are folded)."""
        warnings.warn(
            f"LabelModel EM stopped after max_iter={self.max_iter} iterations without reaching "
            f"tol={self.tol}; raise max_iter or tol",
            ConvergenceWarning,
            stacklevel=3,
        )

    # ------------------------------------------------------------------ predict
    def _check_fitted(self) -> None:
        if not hasattr(self, "_params"):
            raise NotFittedError("LabelModel is not fitted yet; call fit(L) first")

    @staticmethod
    def _posterior(params, L: np.ndarray, K: int) -> np.ndarray:
        n_lf = params["n_lf"]
        if n_lf == 0:
            return np.tile(params["prior"], (L.shape[0], 1))
        vm = VoteMatrix.from_dense(L, classes=list(range(K)), sources=[f"lf_{j}" for j in range(n_lf)])
        return params["est"].predict_proba(vm)

    def predict_proba(self, L: Any) -> np.ndarray:
        """Single-label: [n_items, K] class probabilities. Multi-label: [n_items, n_tags]
        probability of each tag. Only LF votes are used (no human votes)."""
        self._check_fitted()
        if self.multi_label_:
            tags, n, m, per_tag = self._multi_tags(L)
            if m != self.n_lfs_ or len(tags) != len(self._params):
                raise InputError(f"L must have {self.n_lfs_} LFs and {len(self._params)} tags like the fitted L")
            out = np.zeros((n, len(tags)))
            for t, (vm, params) in enumerate(zip(per_tag, self._params, strict=True)):
                if params["n_lf"] == 0:
                    out[:, t] = params["prior"][1]
                    continue
                Lt, _ = self._augment(_dense_cols(vm, n, params["active"]), 2)
                out[:, t] = self._posterior(params, Lt, 2)[:, 1]
            return out
        L, _, _ = self._single_L(L)
        if L.shape[1] != self.n_lfs_:
            raise InputError(f"L has {L.shape[1]} LFs but the model was fitted on {self.n_lfs_}")
        if L.size and L.max() >= self.n_classes_:
            raise SchemaError(f"L holds class code {int(L.max())} but the model has {self.n_classes_} classes")
        return self._posterior(self._params[0], self._augment(L, self.n_classes_)[0], self.n_classes_)

    def predict(self, L: Any) -> np.ndarray:
        """Single-label: class codes. Multi-label: 0/1 matrix items x tags."""
        p = self.predict_proba(L)
        if self.multi_label_:
            return (p >= self.threshold).astype(np.int64)
        return p.argmax(axis=1)

    def score(self, L: Any, y: Any, *, metric: str = "accuracy") -> float:
        """Single-label: accuracy (``metric="accuracy"``) or macro F1 (``"f1"``) against codes
        ``y`` (items with ``y == -1`` are skipped). Multi-label: micro-averaged F1 against a 0/1
        items x tags matrix."""
        pred = self.predict(L)
        y = _as_int_matrix(y, "y")
        if y.shape != pred.shape:
            raise InputError(f"y must have shape {pred.shape}, got {y.shape}")
        if self.multi_label_:
            tp = float(((pred == 1) & (y == 1)).sum())
            fp = float(((pred == 1) & (y == 0)).sum())
            fn = float(((pred == 0) & (y == 1)).sum())
            return 2 * tp / max(2 * tp + fp + fn, 1.0)
        keep = y >= 0
        if not keep.any():
            raise InputError("y has no known labels (all -1)")
        if metric == "accuracy":
            return float((pred[keep] == y[keep]).mean())
        if metric == "f1":
            from sklearn.metrics import f1_score

            return float(f1_score(y[keep], pred[keep], average="macro"))
        raise InputError(f"metric must be 'accuracy' or 'f1', got {metric!r}")

    # ------------------------------------------------------------------ inspection
    def lf_report(self) -> pd.DataFrame:
        """Single-label: per LF its learned accuracy when it votes (with its vote count)."""
        self._check_fitted()
        if self.multi_label_:
            raise InputError("lf_report is for single-label models")
        m = self.n_lfs_
        est = self._params[0].get("est")
        n_votes = est.n_answers_[:m] if est is not None else np.zeros(m, dtype=int)
        return pd.DataFrame({"lf": self.lf_names_, "est_accuracy": self.accuracies_[:m], "n_votes": n_votes})


def _active_dense(vm: Any, n: int, m: int) -> tuple[np.ndarray, np.ndarray]:
    """Dense items x (sources that vote at least once) matrix for one tag."""
    if isinstance(vm, VoteMatrix):
        active = np.unique(vm.source_idx)
        pos = np.full(m, -1, dtype=np.int64)
        pos[active] = np.arange(active.size)
        out = np.full((n, active.size), ABSTAIN, dtype=np.int64)
        out[vm.item_idx, pos[vm.source_idx]] = vm.labels
        return out, active
    M = np.asarray(vm)
    active = np.flatnonzero((M >= 0).any(axis=0))
    return M[:, active], active


def _dense_cols(vm: Any, n: int, cols: np.ndarray) -> np.ndarray:
    if isinstance(vm, VoteMatrix):
        m = vm.n_sources
        pos = np.full(m, -1, dtype=np.int64)
        pos[cols] = np.arange(cols.size)
        keep = pos[vm.source_idx] >= 0
        out = np.full((n, cols.size), ABSTAIN, dtype=np.int64)
        out[vm.item_idx[keep], pos[vm.source_idx[keep]]] = vm.labels[keep]
        return out
    return np.asarray(vm)[:, cols]
