"""Seed-based candidates: a few labelled seeds per class rank every unlabelled item per class.

Scores are cosine similarities (vectors are L2-normalised on the way in):

- ``max``: similarity to the nearest seed of the class;
- ``centroid``: similarity to the normalised mean of the class's seeds;
- ``knn``: among the ``k`` nearest seeds of any class, the similarity-weighted share of the
  class's seeds, times the similarity to the nearest one (so far-away items score low).

An item is a candidate for the class where it scores best (``exclusive=True``, the default) and
candidates are ranked by that score. Items whose best similarity to any seed falls below
``threshold_`` are flagged *dissimilar*: they resemble none of the seeds (a new class, noise,
or a gap in the seeds). ``threshold_`` comes from the seeds themselves: for each seed, its
similarity to the nearest other seed of the same class (leave-one-out); the threshold is the
``1 - target_recall`` quantile of those similarities, so about ``target_recall`` of items like
the seeds stay above it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from labelloop.exceptions import InputError, NotFittedError

METHODS = ("max", "centroid", "knn")


def _unit(x) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 2:
        raise InputError(f"vectors must be 2-D [n, dim], got shape {x.shape}")
    n = np.linalg.norm(x, axis=1, keepdims=True)
    return np.divide(x, n, out=np.zeros_like(x), where=n > 0)


class SeedCandidates:
    """Rank unlabelled items per class from a few labelled seeds (see module docstring).

    Parameters: ``method`` (max | centroid | knn), ``k`` (seeds consulted by ``knn``),
    ``target_recall`` (share of seed-like items kept above the dissimilarity threshold),
    ``threshold`` (a fixed cosine threshold instead of the leave-one-out one),
    ``exclusive`` (an item is a candidate only for its best class), ``chunk`` (rows per block).
    """

    def __init__(self, *, method: str = "knn", k: int = 5, target_recall: float = 0.95, threshold: float | None = None, exclusive: bool = True, chunk: int = 65536):
        self.method = method
        self.k = k
        self.target_recall = target_recall
        self.threshold = threshold
        self.exclusive = exclusive
        self.chunk = chunk

    def fit(self, seed_vectors, seed_labels: Sequence) -> SeedCandidates:
        if self.method not in METHODS:
            raise InputError(f"method must be one of {', '.join(METHODS)}, got {self.method!r}")
        if not 0 < float(self.target_recall) <= 1:
            raise InputError(f"target_recall must be in (0, 1], got {self.target_recall}")
        x = _unit(seed_vectors)
        labels = np.asarray(list(seed_labels), dtype=object)
        if x.shape[0] != labels.shape[0]:
            raise InputError(f"{x.shape[0]} seed vectors but {labels.shape[0]} seed labels")
        if x.shape[0] == 0:
            raise InputError("no seeds given; label at least one item per class")
        self.classes_ = np.array(sorted(set(labels.tolist()), key=str), dtype=object)
        self.seed_codes_ = np.searchsorted(np.array([str(c) for c in self.classes_]), np.array([str(v) for v in labels]))
        self.seed_vectors_ = x
        cent = np.stack([x[self.seed_codes_ == c].mean(0) for c in range(len(self.classes_))])
        self.centroids_ = _unit(cent)
        self.loo_similarity_ = self._leave_one_out()
        if self.threshold is not None:
            self.threshold_ = float(self.threshold)
        elif self.loo_similarity_.size:
            self.threshold_ = float(np.quantile(self.loo_similarity_, 1.0 - float(self.target_recall)))
        else:
            self.threshold_ = -1.0  # one seed alone: nothing to learn a threshold from
        return self

    def _leave_one_out(self) -> np.ndarray:
        """Each seed's similarity to the nearest other seed of its class (classes with >= 2 seeds)."""
        x, codes = self.seed_vectors_, self.seed_codes_
        sim = x @ x.T
        np.fill_diagonal(sim, -np.inf)
        same = codes[:, None] == codes[None, :]
        best = np.where(same, sim, -np.inf).max(1)
        return best[np.isfinite(best)].astype(np.float64)

    def _check(self):
        if not hasattr(self, "classes_"):
            raise NotFittedError("SeedCandidates is not fitted; call fit(seed_vectors, seed_labels) first")

    def score(self, vectors) -> tuple[np.ndarray, np.ndarray]:
        """``(scores [n, n_classes], best_seed_similarity [n])`` for ``vectors``."""
        self._check()
        x = _unit(vectors)
        if x.shape[0] and x.shape[1] != self.seed_vectors_.shape[1]:
            raise InputError(f"vectors have {x.shape[1]} dimensions, the seeds {self.seed_vectors_.shape[1]}")
        n, c = x.shape[0], len(self.classes_)
        scores = np.empty((n, c), dtype=np.float32)
        best = np.empty(n, dtype=np.float32)
        for s in range(0, n, self.chunk):
            sim = x[s : s + self.chunk] @ self.seed_vectors_.T  # [b, n_seeds]
            best[s : s + self.chunk] = sim.max(1)
            scores[s : s + self.chunk] = self._class_scores(x[s : s + self.chunk], sim)
        return scores, best

    def _class_scores(self, xb: np.ndarray, sim: np.ndarray) -> np.ndarray:
        c = len(self.classes_)
        codes = self.seed_codes_
        if self.method == "centroid":
            return xb @ self.centroids_.T
        per_class_max = np.full((sim.shape[0], c), -1.0, dtype=np.float32)
        for j in range(c):
            per_class_max[:, j] = sim[:, codes == j].max(1)
        if self.method == "max":
            return per_class_max
        k = min(int(self.k), sim.shape[1])
        top = np.argpartition(-sim, k - 1, axis=1)[:, :k]
        w = np.maximum(np.take_along_axis(sim, top, axis=1), 0.0)
        votes = np.zeros((sim.shape[0], c), dtype=np.float32)
        np.add.at(votes, (np.repeat(np.arange(sim.shape[0]), k), codes[top].ravel()), w.ravel())
        share = votes / np.maximum(votes.sum(1, keepdims=True), 1e-12)
        return share * np.maximum(per_class_max, 0.0)

    def candidates(self, vectors, ids: Sequence | None = None, *, top: int | None = 50, exclude: Sequence | None = None) -> dict:
        """Ranked candidates per class and the dissimilar items.

        Returns ``{"candidates": {label: [(id, score), ...]}, "dissimilar": [id, ...],
        "threshold": float}``; candidates best first (at most ``top`` per class, all when None),
        dissimilar items least similar first. Items in ``exclude`` (e.g. the seeds) are left out.
        """
        scores, best = self.score(vectors)
        n = scores.shape[0]
        ids_arr = np.arange(n) if ids is None else np.asarray(list(ids), dtype=object)
        if ids_arr.shape[0] != n:
            raise InputError(f"{ids_arr.shape[0]} ids for {n} vectors")
        keep = np.ones(n, dtype=bool)
        if exclude is not None:
            ex = set(exclude)
            keep &= np.array([i not in ex for i in ids_arr.tolist()], dtype=bool)
        dissimilar = keep & (best < self.threshold_)
        eligible = keep & ~dissimilar
        assigned = scores.argmax(1)
        out: dict = {}
        for j, label in enumerate(self.classes_.tolist()):
            mask = eligible & (assigned == j) if self.exclusive else eligible
            idx = np.flatnonzero(mask)
            order = idx[np.argsort(-scores[idx, j], kind="stable")]
            if top is not None:
                order = order[: int(top)]
            out[label] = [(_py(ids_arr[i]), float(scores[i, j])) for i in order]
        dis_idx = np.flatnonzero(dissimilar)
        dis_idx = dis_idx[np.argsort(best[dis_idx], kind="stable")]
        return {"candidates": out, "dissimilar": [_py(ids_arr[i]) for i in dis_idx], "threshold": float(self.threshold_)}


def _py(v):
    return v.item() if isinstance(v, np.generic) else v


def seed_candidates(vectors, ids, seed_ids, seed_labels, *, method: str = "knn", top: int | None = 50, target_recall: float = 0.95, threshold: float | None = None) -> dict:
    """One call: seeds are given by id among ``ids``; returns :meth:`SeedCandidates.candidates`."""
    ids_list = list(ids)
    pos = {v: i for i, v in enumerate(ids_list)}
    missing = [s for s in seed_ids if s not in pos]
    if missing:
        raise InputError(f"seed ids not found among the items: {missing[:5]}")
    x = np.asarray(vectors, dtype=np.float32)
    rows = np.array([pos[s] for s in seed_ids], dtype=np.int64)
    model = SeedCandidates(method=method, target_recall=target_recall, threshold=threshold).fit(x[rows], seed_labels)
    return model.candidates(x, ids_list, top=top, exclude=list(seed_ids))
