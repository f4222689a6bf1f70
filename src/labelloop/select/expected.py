"""Expected error reduction and variance reduction: costly strategies for small pools."""

from __future__ import annotations

import numpy as np

from labelloop.exceptions import NotFittedError
from labelloop.select.base import ScoringStrategy, predict_proba, top_n
from labelloop.select.uncertainty import entropy


class ExpectedErrorReduction(ScoringStrategy):
    """Roy & McCallum (2001): the item whose label, in expectation, most lowers pool error.

    For each candidate x and each class c, refit the model with (x, c) added and measure the
    expected 0/1 loss (``loss="zero_one"``) or log loss (``"log"``) on the pool; weight by
    P(c | x). Only the ``max_candidates`` most uncertain items are evaluated (the rest score
    -inf): it costs ``max_candidates x classes`` refits per call.
    """

    def __init__(self, *, loss: str = "log", max_candidates: int = 30):
        self.loss = loss
        self.max_candidates = max_candidates

    def score(self, model, X_pool, *, X_labeled=None, y_labeled=None, rng=None):
        from sklearn.base import clone

        if X_labeled is None or y_labeled is None or len(y_labeled) == 0:
            raise NotFittedError("expected error reduction needs labelled items (X_labeled, y_labeled)")
        rng = np.random.default_rng(rng)
        P = predict_proba(model, X_pool)
        classes = np.asarray(getattr(model, "classes_", np.arange(P.shape[1])))
        cand = top_n(entropy(P), min(self.max_candidates, X_pool.shape[0]), rng)
        base = getattr(model, "estimator", model)
        y = np.asarray(y_labeled)
        scores = np.full(X_pool.shape[0], -np.inf)
        for i in cand:
            risk = 0.0
            for j, c in enumerate(classes.tolist()):
                if P[i, j] < 1e-6:
                    continue
                Xa = np.vstack([X_labeled, X_pool[i : i + 1]])
                ya = np.append(y, c)
                if len(np.unique(ya)) < 2:
                    Pn = np.zeros_like(P)
                    Pn[:, j] = 1.0
                else:
                    est = clone(base).fit(Xa, ya)
                    Pe = est.predict_proba(X_pool)
                    Pn = np.zeros_like(P)
                    for k, ck in enumerate(est.classes_.tolist()):
                        Pn[:, int(np.flatnonzero(classes == ck)[0])] = Pe[:, k]
                if self.loss == "zero_one":
                    r = (1.0 - Pn.max(axis=1)).sum()
                else:
                    r = entropy(Pn).sum()
                risk += P[i, j] * r
            scores[i] = -risk
        return scores


class VarianceReduction(ScoringStrategy):
    """A-optimal design for a linear probabilistic model (Cohn et al. 1996, Schein & Ungar 2007).

    With Fisher information F = sum_labelled w_i x_i x_i^T + lambda I, w = 1 - sum_k p_k^2, the
    predictive variance at z is w_z z^T F^-1 z. Labelling x lowers the summed pool variance by
    w_x sum_z w_z (z^T F^-1 x)^2 / (1 + w_x x^T F^-1 x) (Sherman-Morrison), which is the score.
    Needs an items x items matrix: meant for pools up to a few thousand items.
    """

    def __init__(self, *, reg: float = 1.0):
        self.reg = reg

    def score(self, model, X_pool, *, X_labeled=None, y_labeled=None, rng=None):
        P = predict_proba(model, X_pool)
        w = 1.0 - (P**2).sum(axis=1)
        d = X_pool.shape[1]
        F = float(self.reg) * np.eye(d)
        if X_labeled is not None and len(X_labeled):
            PL = predict_proba(model, X_labeled)
            wl = 1.0 - (PL**2).sum(axis=1)
            F += (X_labeled * wl[:, None]).T @ X_labeled
        Finv_Zt = np.linalg.solve(F, X_pool.T)  # d x m
        M = X_pool @ Finv_Zt  # m x m: z^T F^-1 x
        num = w * ((M**2) * w[:, None]).sum(axis=0)
        return num / (1.0 + w * np.diag(M))
