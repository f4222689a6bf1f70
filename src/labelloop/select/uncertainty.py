"""Uncertainty sampling: least confidence, margin, entropy (and random as the baseline)."""

from __future__ import annotations

import numpy as np

from labelloop.select.base import QueryStrategy, ScoringStrategy, predict_proba


def least_confidence(P: np.ndarray) -> np.ndarray:
    """1 - max p: 0 for a sure prediction, (k-1)/k for a uniform one."""
    return 1.0 - P.max(axis=1)


def margin(P: np.ndarray) -> np.ndarray:
    """Negative gap between the two most probable classes (higher = less sure)."""
    if P.shape[1] < 2:
        return np.zeros(P.shape[0])
    part = np.partition(P, -2, axis=1)
    return -(part[:, -1] - part[:, -2])


def entropy(P: np.ndarray) -> np.ndarray:
    """Shannon entropy of the predicted distribution, in nats."""
    with np.errstate(divide="ignore", invalid="ignore"):
        logp = np.where(P > 0, np.log(np.clip(P, 1e-300, None)), 0.0)
    return -(P * logp).sum(axis=1)


class RandomSampling(QueryStrategy):
    """Uniform random items: the baseline every other strategy must beat."""

    needs_model = False

    def _select(self, model, X, n, X_labeled, y_labeled, rng):
        return rng.choice(X.shape[0], size=n, replace=False)


class LeastConfidence(ScoringStrategy):
    """Items whose most probable class has the lowest probability."""

    def score(self, model, X_pool, *, X_labeled=None, y_labeled=None, rng=None):
        return least_confidence(predict_proba(model, X_pool))


class MarginSampling(ScoringStrategy):
    """Items with the smallest gap between the two most probable classes."""

    def score(self, model, X_pool, *, X_labeled=None, y_labeled=None, rng=None):
        return margin(predict_proba(model, X_pool))


class EntropySampling(ScoringStrategy):
    """Items with the highest predictive entropy."""

    def score(self, model, X_pool, *, X_labeled=None, y_labeled=None, rng=None):
        return entropy(predict_proba(model, X_pool))
