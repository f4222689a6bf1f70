"""Query by committee: vote entropy and mean KL divergence to the consensus."""

from __future__ import annotations

import numpy as np

from labelloop.exceptions import InputError, NotFittedError
from labelloop.select.base import ScoringStrategy


def vote_entropy(votes: np.ndarray, n_classes: int) -> np.ndarray:
    """Entropy of the committee's hard votes; ``votes`` is members x items of class codes."""
    m = votes.shape[0]
    counts = np.zeros((votes.shape[1], n_classes))
    for row in votes:
        counts[np.arange(votes.shape[1]), row] += 1
    p = counts / m
    with np.errstate(divide="ignore", invalid="ignore"):
        return -np.where(p > 0, p * np.log(p), 0.0).sum(axis=1)


def mean_kl(probas: np.ndarray) -> np.ndarray:
    """Mean KL(member || consensus); ``probas`` is members x items x classes."""
    eps = 1e-12
    cons = probas.mean(axis=0)
    kl = (probas * (np.log(probas + eps) - np.log(cons + eps)[None])).sum(axis=2)
    return kl.mean(axis=0)


class QueryByCommittee(ScoringStrategy):
    """Disagreement of a committee of models on each pool item.

    The committee is either ``members`` (different, unfitted scikit-learn classifiers) or,
    without them, ``n_members`` bootstrap copies of the loop's model (bagging). Members are
    fitted on the labelled items at each call. ``method``: ``"vote_entropy"`` or ``"kl"``.
    """

    def __init__(self, *, method: str = "vote_entropy", n_members: int = 5, members=None):
        if method not in ("vote_entropy", "kl"):
            raise InputError(f"unknown committee method {method!r}; use 'vote_entropy' or 'kl'")
        self.method = method
        self.n_members = n_members
        self.members = members

    def score(self, model, X_pool, *, X_labeled=None, y_labeled=None, rng=None):
        from sklearn.base import clone

        if X_labeled is None or y_labeled is None or len(y_labeled) == 0:
            raise NotFittedError("query by committee needs labelled items (X_labeled, y_labeled)")
        y = np.asarray(y_labeled)
        classes = np.unique(y)
        code = {c: i for i, c in enumerate(classes.tolist())}
        rng = np.random.default_rng(rng)
        base = getattr(model, "estimator", model)
        if self.members:
            fitted = [(clone(m), np.arange(len(y))) for m in self.members]
        else:
            if base is None:
                raise NotFittedError("query by committee without members needs the loop's model to copy")
            fitted = [(clone(base), rng.integers(0, len(y), len(y))) for _ in range(int(self.n_members))]
        probas = []
        for est, rows in fitted:
            P = np.full((X_pool.shape[0], len(classes)), 1.0 / len(classes))
            yb = y[rows]
            present = np.unique(yb)
            if len(present) == 1:
                P = np.zeros_like(P)
                P[:, code[present[0]]] = 1.0
            else:
                est.fit(X_labeled[rows], yb)
                Pe = est.predict_proba(X_pool)
                P = np.zeros_like(P)
                for j, c in enumerate(est.classes_.tolist()):
                    P[:, code[c]] = Pe[:, j]
            probas.append(P)
        probas = np.stack(probas)
        if self.method == "kl":
            return mean_kl(probas)
        return vote_entropy(probas.argmax(axis=2), len(classes))
