"""Neighbour label propagation with a calibrated confidence.

For an unlabelled item, its ``k`` nearest labelled neighbours vote with weight
``max(cosine similarity, 0)``; the vote shares give a class distribution whose *margin* (best
share minus second best) measures how one-sided the neighbourhood is. On the labelled data the
same is done leave-one-out (each labelled item against the others), which shows how often the
neighbours' answer is right at each margin:

- ``confidence`` is the isotonic (monotone) calibration of correctness on the margin;
- ``threshold_`` is the smallest margin whose leave-one-out precision (over every item at or
  above it) reaches ``target_precision``; only items at or above it are ``accepted``, so the
  system acts only when it is sure. When no margin reaches the target, nothing is accepted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from labelloop.exceptions import InputError, NotFittedError


@dataclass
class Propagation:
    """Per item: the neighbours' label, its calibrated confidence, the margin, and whether it is
    accepted (margin >= the calibrated threshold)."""

    labels: np.ndarray
    confidence: np.ndarray
    margin: np.ndarray
    accepted: np.ndarray
    probs: np.ndarray  # [n, n_classes] neighbour vote shares

    def __len__(self) -> int:
        return int(self.labels.shape[0])


class NeighborPropagation:
    """kNN label propagation (see module docstring). ``index`` names a backend of
    :func:`labelloop.index.get_index` used for the neighbour search (``exact`` by default)."""

    def __init__(self, *, k: int = 10, target_precision: float = 0.95, index: str = "exact", min_calibration: int = 20):
        self.k = k
        self.target_precision = target_precision
        self.index = index
        self.min_calibration = min_calibration

    def fit(self, vectors, labels: Sequence) -> NeighborPropagation:
        from labelloop.index import get_index

        x = np.asarray(vectors, dtype=np.float32)
        y = np.asarray(list(labels), dtype=object)
        if x.ndim != 2 or x.shape[0] != y.shape[0]:
            raise InputError(f"need one label per vector: vectors {x.shape}, {y.shape[0]} labels")
        if not isinstance(self.k, (int, np.integer)) or self.k < 1:
            raise InputError(f"k must be a positive integer, got {self.k!r}")
        if not 0 < float(self.target_precision) <= 1:
            raise InputError(f"target_precision must be in (0, 1], got {self.target_precision}")
        if x.shape[0] < 2:
            raise InputError("propagation needs at least two labelled items")
        self.classes_ = np.array(sorted(set(y.tolist()), key=str), dtype=object)
        lookup = {c: i for i, c in enumerate(self.classes_.tolist())}
        self.codes_ = np.array([lookup[v] for v in y.tolist()], dtype=np.int64)
        self.index_ = get_index(self.index, metric="cosine").build(x)
        # leave-one-out: k+1 neighbours, drop the item itself
        nb, d = self.index_.search(x, min(int(self.k) + 1, x.shape[0]))
        self_mask = nb == np.arange(x.shape[0])[:, None]
        drop_last = ~self_mask.any(1)  # self not found (exact ties): drop the farthest instead
        self_mask[drop_last, -1] = True
        nb = nb[~self_mask].reshape(x.shape[0], -1)
        d = d[~self_mask].reshape(x.shape[0], -1)
        probs = self._vote(nb, d)
        pred = probs.argmax(1)
        margin = _margin(probs)
        correct = (pred == self.codes_).astype(np.float64)
        self.loo_margin_, self.loo_correct_ = margin, correct
        from sklearn.isotonic import IsotonicRegression

        self.calibrator_ = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip", increasing=True).fit(margin, correct)
        self.threshold_, self.loo_precision_, self.loo_coverage_ = _threshold(margin, correct, float(self.target_precision), int(self.min_calibration))
        self.loo_accuracy_ = float(correct.mean())
        return self

    def _vote(self, nb: np.ndarray, d: np.ndarray) -> np.ndarray:
        valid = nb >= 0
        w = np.where(valid, np.maximum(1.0 - d, 0.0), 0.0) + np.where(valid, 1e-6, 0.0)
        codes = np.where(valid, self.codes_[np.where(valid, nb, 0)], 0)
        probs = np.zeros((nb.shape[0], len(self.classes_)), dtype=np.float64)
        np.add.at(probs, (np.repeat(np.arange(nb.shape[0]), nb.shape[1]), codes.ravel()), w.ravel())
        return probs / np.maximum(probs.sum(1, keepdims=True), 1e-12)

    def propagate(self, vectors) -> Propagation:
        """Neighbour labels for ``vectors`` with calibrated confidence and the accept decision."""
        if not hasattr(self, "classes_"):
            raise NotFittedError("NeighborPropagation is not fitted; call fit(vectors, labels) first")
        q = np.asarray(vectors, dtype=np.float32)
        nb, d = self.index_.search(q, min(int(self.k), len(self.index_)))
        probs = self._vote(nb, d)
        margin = _margin(probs)
        conf = self.calibrator_.predict(margin)
        return Propagation(
            labels=self.classes_[probs.argmax(1)] if q.shape[0] else np.zeros(0, dtype=object),
            confidence=np.asarray(conf, dtype=np.float64),
            margin=margin,
            accepted=margin >= self.threshold_,
            probs=probs,
        )


def _margin(probs: np.ndarray) -> np.ndarray:
    if probs.shape[1] < 2:
        return np.ones(probs.shape[0])
    part = -np.partition(-probs, 1, axis=1)
    return part[:, 0] - part[:, 1]


def _threshold(margin: np.ndarray, correct: np.ndarray, target: float, min_n: int) -> tuple[float, float, float]:
    """Smallest margin t with precision(margin >= t) >= target over at least ``min_n`` items."""
    order = np.argsort(-margin, kind="stable")
    m, c = margin[order], correct[order]
    cum_prec = np.cumsum(c) / np.arange(1, c.size + 1)
    # a cut is only possible where the margin changes (ties go together)
    last_of_tie = np.r_[m[1:] != m[:-1], True]
    ok = last_of_tie & (cum_prec >= target) & (np.arange(1, c.size + 1) >= min(min_n, c.size))
    if not ok.any():
        return float("inf"), float("nan"), 0.0
    j = int(np.flatnonzero(ok)[-1])
    return float(m[j]), float(cum_prec[j]), float((j + 1) / c.size)
