"""The query-strategy interface.

A strategy picks which pool items people should label next::

    idx = strategy.select(model, X_pool, n, X_labeled=X_lab, y_labeled=y_lab, random_state=0)

``idx`` are distinct row positions into ``X_pool`` (at most ``n``; all of them when the pool is
smaller). ``model`` is a fitted classifier with ``predict_proba`` (it may be ``None`` for
strategies that do not need one, such as random or cold start).

Scoring strategies only implement :meth:`ScoringStrategy.score` (higher = more useful to label);
the shared base picks the top ``n``, breaking ties at random so equal scores never bias toward
low indices.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from labelloop.exceptions import InputError, NotFittedError


def check_pool(X_pool: Any, n: int) -> tuple[np.ndarray, int]:
    """Validate the public inputs of ``select``; returns a 2-D float array and n clipped to the pool."""
    X = np.asarray(X_pool)
    if X.ndim == 1:
        X = X.reshape(-1, 1)
    if X.ndim != 2:
        raise InputError(f"the pool must be a 2-D array (items x features), got shape {X.shape}")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise InputError(f"n must be a non-negative integer, got {n!r}")
    return X, int(min(n, X.shape[0]))


def predict_proba(model: Any, X: np.ndarray) -> np.ndarray:
    """Probabilities from a fitted model, with a clear error if there is none."""
    if model is None or not hasattr(model, "predict_proba"):
        raise NotFittedError(
            "this query strategy needs a fitted model with predict_proba; "
            "train one on the labelled items first (or use a cold-start strategy)"
        )
    P = np.asarray(model.predict_proba(X), dtype=np.float64)
    if P.ndim == 1:
        P = np.column_stack([1.0 - P, P])
    return P


def top_n(scores: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of the n highest scores; ties broken at random; highest first."""
    scores = np.asarray(scores, dtype=np.float64)
    if n <= 0:
        return np.empty(0, dtype=np.int64)
    scores = np.where(np.isnan(scores), -np.inf, scores)
    jitter = rng.random(scores.shape[0])
    order = np.lexsort((jitter, -scores))  # primary: score desc, secondary: random
    return order[:n].astype(np.int64)


class QueryStrategy:
    """Base class: ``select(model, X_pool, n, ...) -> indices into X_pool``."""

    #: whether ``select`` calls the model (False: works before any label exists)
    needs_model: bool = True

    def select(
        self,
        model: Any,
        X_pool: Any,
        n: int,
        *,
        X_labeled: Any = None,
        y_labeled: Any = None,
        random_state: int | np.random.Generator | None = None,
    ) -> np.ndarray:
        X, n = check_pool(X_pool, n)
        rng = np.random.default_rng(random_state)
        if n == 0:
            return np.empty(0, dtype=np.int64)
        XL = None if X_labeled is None else np.asarray(X_labeled, dtype=np.float64).reshape(-1, X.shape[1])
        idx = self._select(model, X, n, XL, y_labeled, rng)
        return np.asarray(idx, dtype=np.int64)

    def _select(self, model, X, n, X_labeled, y_labeled, rng) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.endswith("_"))
        return f"{type(self).__name__}({params})"


class ScoringStrategy(QueryStrategy):
    """A strategy that scores every pool item; the base picks the top n."""

    def score(self, model: Any, X_pool: np.ndarray, *, X_labeled=None, y_labeled=None, rng=None) -> np.ndarray:
        raise NotImplementedError  # pragma: no cover

    def _select(self, model, X, n, X_labeled, y_labeled, rng):
        s = np.asarray(self.score(model, X, X_labeled=X_labeled, y_labeled=y_labeled, rng=rng), dtype=np.float64)
        return top_n(s, n, rng)
