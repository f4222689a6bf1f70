"""The router: auto-accept model answers only above a confidence that meets a target precision.

Given, for human-labelled items the model did not train on, the model's confidence and whether
its answer was right, :class:`Router` picks the **lowest** confidence threshold at which the
auto-accepted answers reach ``target_precision`` with a statistical guarantee, auto-accepts
above it and sends the rest to people.

The guarantee (fixed-sequence testing, as in Learn-then-Test, Angelopoulos et al. 2021):
thresholds are tested from the most confident down, in an order that depends on the
confidences only, never on the labels; at each, H0 "error rate of accepted items > alpha"
(alpha = 1 - target) is rejected when the one-sided Clopper-Pearson upper bound of the error
rate at level ``1 - delta`` is <= alpha; testing stops at the first threshold that fails. Then,
with probability at least ``1 - delta`` over the calibration sample, the chosen threshold's
error rate on new items drawn from the same distribution is at most alpha, i.e. precision >=
target. Testing starts at the smallest accepted set that could pass with zero errors
(``n >= log(delta) / log(1 - alpha)``, about 299 items for 99% at delta = 0.05); with fewer
calibration items no threshold can be certified and the router accepts nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from labelloop.exceptions import InputError, NotFittedError


def clopper_pearson_upper(errors, n, delta: float = 0.05) -> np.ndarray:
    """One-sided upper confidence bound (level 1 - delta) of a binomial rate: errors out of n."""
    from scipy.stats import beta

    e = np.asarray(errors, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    ub = np.where(e >= n, 1.0, beta.ppf(1.0 - delta, e + 1.0, np.maximum(n - e, 1e-12)))
    return np.where(n > 0, ub, 1.0)


@dataclass
class RouterReport:
    threshold: float
    n_calibration: int
    n_accepted: int
    errors: int
    precision: float
    error_upper_bound: float
    target_precision: float
    delta: float
    coverage: float
    guarantee: str

    def to_dict(self) -> dict:
        return dict(vars(self))


class Router:
    """Pick the lowest confidence threshold that certifiably reaches ``target_precision``.

    ``fit(confidence, correct)``: confidence of the model's answer (top probability) and
    whether it matched the human label, for calibration items the model was not trained on
    (e.g. cross-validated predictions, see :func:`fit_router_cv`). After fit: ``threshold_``
    (``inf`` when nothing can be certified), ``report_``. ``route(confidence)`` returns a boolean
    mask of auto-accepted items; ``coverage(confidence)`` the share the machine handles.
    """

    def __init__(self, *, target_precision: float = 0.99, delta: float = 0.05):
        if not 0.0 < target_precision < 1.0:
            raise InputError(f"target precision must be in (0, 1), got {target_precision}")
        if not 0.0 < delta < 1.0:
            raise InputError(f"delta must be in (0, 1), got {delta}")
        self.target_precision = target_precision
        self.delta = delta

    def fit(self, confidence, correct):
        c = np.asarray(confidence, dtype=np.float64).ravel()
        ok = np.asarray(correct).astype(bool).ravel()
        if c.shape != ok.shape:
            raise InputError(f"{c.size} confidences but {ok.size} correctness flags")
        if c.size == 0:
            raise InputError("no calibration items: label some items the model did not train on")
        if not np.all(np.isfinite(c)):
            raise InputError("confidences contain NaN or infinite values")
        alpha = 1.0 - self.target_precision
        order = np.argsort(-c, kind="stable")
        cs, errs = c[order], (~ok[order]).astype(np.int64)
        n_acc = np.arange(1, c.size + 1)
        cum_err = np.cumsum(errs)
        # a threshold is a distinct confidence value: accept everything >= it (ties go together)
        last_of_value = np.r_[cs[1:] != cs[:-1], True]
        cand = np.flatnonzero(last_of_value)
        ub = clopper_pearson_upper(cum_err[cand], n_acc[cand], self.delta)
        n_min = int(np.ceil(np.log(self.delta) / np.log1p(-alpha)))
        start = np.flatnonzero(n_acc[cand] >= n_min)
        chosen = None
        if start.size:
            for j in range(start[0], cand.size):
                if ub[j] <= alpha:
                    chosen = j
                else:
                    break
        if chosen is None:
            self.threshold_ = float("inf")
            n, e, u = 0, 0, 1.0
        else:
            k = cand[chosen]
            self.threshold_ = float(cs[k])
            n, e, u = int(n_acc[k]), int(cum_err[k]), float(ub[chosen])
        self.report_ = RouterReport(
            threshold=self.threshold_,
            n_calibration=int(c.size),
            n_accepted=n,
            errors=e,
            precision=(1.0 - e / n) if n else float("nan"),
            error_upper_bound=u,
            target_precision=self.target_precision,
            delta=self.delta,
            coverage=n / c.size,
            guarantee=(
                f"with probability >= {1 - self.delta:.0%}, precision of auto-accepted items >= "
                f"{self.target_precision:.2%} (Clopper-Pearson, fixed-sequence testing over thresholds)"
                if n else
                f"no threshold certified: needs at least {n_min} calibration items above it with few errors"
            ),
        )
        return self

    def _check(self):
        if not hasattr(self, "threshold_"):
            raise NotFittedError("Router is not fitted; call fit(confidence, correct) first")

    def route(self, confidence) -> np.ndarray:
        """True where the model's answer is auto-accepted, False where people should answer."""
        self._check()
        return np.asarray(confidence, dtype=np.float64) >= self.threshold_

    def coverage(self, confidence) -> float:
        """Share of items the machine handles at the chosen threshold."""
        m = self.route(confidence)
        return float(m.mean()) if m.size else 0.0


def fit_router_cv(model, X, y, *, target_precision: float = 0.99, delta: float = 0.05, cv: int = 5,
                  random_state: int = 0) -> Router:
    """Fit a :class:`Router` on cross-validated predictions of ``model`` over labelled (X, y).

    Each item's confidence comes from a model that did not see it. Items picked by active
    learning are harder than average, which makes the certified threshold conservative.
    """
    from sklearn.model_selection import StratifiedKFold

    from labelloop.loop.models import LoopClassifier

    X = np.asarray(X)
    y = np.asarray(y)
    classes = np.unique(y)
    n_splits = int(min(cv, np.bincount(np.unique(y, return_inverse=True)[1]).min()))
    if n_splits < 2:
        raise InputError("the router needs at least two labelled items of every class for cross-validation")
    conf = np.zeros(len(y))
    correct = np.zeros(len(y), dtype=bool)
    for tr, te in StratifiedKFold(n_splits, shuffle=True, random_state=random_state).split(X, y):
        clf = LoopClassifier(model, classes=classes).fit(X[tr], y[tr])
        P = clf.predict_proba(X[te])
        conf[te] = P.max(axis=1)
        correct[te] = classes[P.argmax(axis=1)] == y[te]
    return Router(target_precision=target_precision, delta=delta).fit(conf, correct)
