"""Learning curves: fit a saturating curve to (labels, score) and extrapolate.

The model is the inverse power law ``score(n) = a - b * n**(-c)`` (a: the asymptote, the best
score this model and features can reach; b, c > 0), the form that fits learning curves of
classifiers best in published comparisons (Figueroa et al. 2012, Mukherjee et al. 2003).
:func:`fit_learning_curve` fits it by least squares and bootstraps the residuals for an
interval on the labels needed to reach a target score.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from labelloop.exceptions import InputError


def power_law(n, a, b, c):
    return a - b * np.power(np.asarray(n, dtype=np.float64), -c)


def _fit(n: np.ndarray, s: np.ndarray, p0=None):
    from scipy.optimize import curve_fit

    if p0 is None:
        a0 = min(1.0, float(s.max()) + 0.02)
        c0 = 0.5
        b0 = max((a0 - float(s.min())) * float(n.min()) ** c0, 1e-3)
        p0 = (a0, b0, c0)
    else:
        p0 = (min(max(p0[0], 0.0), 1.0), max(p0[1], 0.0), min(max(p0[2], 0.01), 3.0))
    popt, _ = curve_fit(power_law, n, s, p0=p0,
                        bounds=([0.0, 0.0, 0.01], [1.0, np.inf, 3.0]),
                        maxfev=20000)
    return popt


def labels_for(target: float, a: float, b: float, c: float) -> float:
    """Labels at which the curve reaches ``target`` (``inf`` if above the asymptote)."""
    if target >= a:
        return float("inf")
    if b <= 0:
        return 0.0
    return float((b / (a - target)) ** (1.0 / c))


@dataclass
class LearningCurve:
    a: float
    b: float
    c: float
    n: list[float]
    score: list[float]
    boot: np.ndarray = field(repr=False, default_factory=lambda: np.zeros((0, 3)))

    @property
    def asymptote(self) -> float:
        return self.a

    def predict(self, n) -> np.ndarray:
        return power_law(n, self.a, self.b, self.c)

    def labels_needed(self, target: float, *, level: float = 0.8) -> dict:
        """Labels to reach ``target``: point estimate and a bootstrap interval (``level``).

        ``reachable`` is the share of bootstrap fits whose asymptote exceeds the target; an
        interval end is ``inf`` when the target lies above the curve's ceiling in that share.
        """
        est = labels_for(target, self.a, self.b, self.c)
        lo = hi = est
        reach = 1.0 if target < self.a else 0.0
        if len(self.boot):
            ns = np.array([labels_for(target, *p) for p in self.boot])
            q = (1.0 - level) / 2.0
            srt = np.sort(ns)  # inf sorts last; quantiles by rank keep inf without NaN warnings
            pick = lambda f: float(srt[min(len(srt) - 1, int(np.floor(f * (len(srt) - 1) + 0.5)))])  # noqa: E731
            lo, hi = pick(q), pick(1 - q)
            reach = float(np.mean(np.isfinite(ns)))
        return {"target": target, "labels": est, "low": lo, "high": hi, "level": level, "reachable": reach}

    def gain_per(self, n_now: float, extra: float = 100) -> float:
        """Expected score gain from ``extra`` more labels at ``n_now``."""
        return float(self.predict(n_now + extra) - self.predict(n_now))

    def to_dict(self) -> dict:
        return {"a": self.a, "b": self.b, "c": self.c, "n": self.n, "score": self.score}


def fit_learning_curve(n, score, *, n_boot: int = 100, random_state: int = 0) -> LearningCurve:
    """Fit ``score = a - b n^-c`` to the points; a residual bootstrap gives the intervals.

    Each bootstrap replicate adds resampled residuals (inflated by sqrt(m / (m - 3)) for the
    three fitted parameters) to the fitted curve and refits.
    """
    n = np.asarray(n, dtype=np.float64).ravel()
    s = np.asarray(score, dtype=np.float64).ravel()
    if n.shape != s.shape:
        raise InputError(f"{n.size} label counts but {s.size} scores")
    keep = np.isfinite(n) & np.isfinite(s) & (n > 0)
    n, s = n[keep], s[keep]
    if np.unique(n).size < 3:
        raise InputError("a learning curve needs scores at 3 or more distinct label counts")
    a, b, c = _fit(n, s)
    rng = np.random.default_rng(random_state)
    fitted = power_law(n, a, b, c)
    resid = s - fitted
    if n.size > 3:
        resid = resid * np.sqrt(n.size / (n.size - 3))
    boots = []
    for _ in range(int(n_boot)):
        s_star = fitted + rng.choice(resid, size=n.size, replace=True)
        try:
            boots.append(_fit(n, s_star, p0=(a, b, c)))
        except (RuntimeError, ValueError):
            continue
    return LearningCurve(float(a), float(b), float(c), n.tolist(), s.tolist(), np.asarray(boots).reshape(-1, 3))


def learning_curve_points(X, y, *, model="logreg", sizes=None, n_repeats: int = 5, test_size: float = 0.25,
                          random_state: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Held-out accuracy of ``model`` trained on growing random subsets of labelled (X, y).

    Each size is scored ``n_repeats`` times on random stratified splits; returns (sizes, mean
    accuracy). ``sizes`` default to 8 points spaced geometrically up to the training size.
    """
    from sklearn.model_selection import train_test_split

    from labelloop.loop.models import LoopClassifier

    X = np.asarray(X)
    y = np.asarray(y)
    if X.shape[0] != y.shape[0]:
        raise InputError(f"{X.shape[0]} rows of features but {y.shape[0]} labels")
    classes = np.unique(y)
    if classes.size < 2 or y.size < 20:
        raise InputError("a learning curve needs at least 20 labelled items of two or more classes")
    rng = np.random.default_rng(random_state)
    n_train = int(y.size * (1 - test_size))
    if sizes is None:
        lo = max(classes.size * 2, 10)
        sizes = np.unique(np.geomspace(lo, n_train, 8).astype(int))
    sizes = np.asarray(sizes, dtype=int)
    acc = np.zeros((len(sizes), n_repeats))
    for r in range(n_repeats):
        seed = int(rng.integers(2**31 - 1))
        try:
            tr, te = train_test_split(np.arange(y.size), test_size=test_size, random_state=seed, stratify=y)
        except ValueError:
            tr, te = train_test_split(np.arange(y.size), test_size=test_size, random_state=seed)
        order = np.random.default_rng(seed).permutation(tr)
        for i, m in enumerate(sizes):
            sub = order[: min(m, tr.size)]
            acc[i, r] = LoopClassifier(model, classes=classes).fit(X[sub], y[sub]).score(X[te], y[te])
    return sizes, acc.mean(axis=1)
