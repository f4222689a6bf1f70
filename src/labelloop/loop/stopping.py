"""When to stop labelling: the curve plateaus, predictions stabilise, or the budget is spent."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from labelloop.exceptions import InputError


def plateau(curve, *, window: int = 3, min_gain: float = 0.005) -> bool:
    """True when the best score of the last ``window`` rounds beats the best before them by
    less than ``min_gain`` (``curve``: [[labels, score], ...] in label order)."""
    s = np.asarray([p[1] for p in curve], dtype=np.float64)
    if s.size <= window:
        return False
    return bool(s[-window:].max() - s[:-window].max() < min_gain)


def cohen_kappa(a, b) -> float:
    """Cohen's kappa between two label vectors (1.0 when identical, also for a single class)."""
    a = np.asarray(a)
    b = np.asarray(b)
    if a.shape != b.shape:
        raise InputError("prediction vectors must have the same length")
    if a.size == 0:
        return 1.0
    labels, inv = np.unique(np.concatenate([a, b]), return_inverse=True)
    ia, ib = inv[: a.size], inv[a.size:]
    po = float(np.mean(ia == ib))
    pa = np.bincount(ia, minlength=labels.size) / a.size
    pb = np.bincount(ib, minlength=labels.size) / a.size
    pe = float(pa @ pb)
    if pe >= 1.0:
        return 1.0 if po >= 1.0 else 0.0
    return (po - pe) / (1.0 - pe)


def predictions_stable(history, *, kappa: float = 0.99, window: int = 3) -> bool:
    """Stabilising predictions (Bloodgood & Vijay-Shanker 2009): the model's predictions on a
    fixed stop set agree with the previous round's at Cohen's kappa >= ``kappa`` for
    ``window`` consecutive rounds. ``history``: one prediction vector per round."""
    if len(history) < window + 1:
        return False
    return all(cohen_kappa(history[-i - 1], history[-i - 2]) >= kappa for i in range(window))


@dataclass
class StoppingRule:
    """Combine the three criteria; ``check`` returns (stop, reason)."""

    budget: float | None = None
    window: int = 3
    min_gain: float = 0.005
    kappa: float = 0.99

    def check(self, *, spent: float = 0.0, curve=None, history=None) -> tuple[bool, str]:
        if self.budget is not None and spent >= self.budget:
            return True, f"budget spent ({spent:g} of {self.budget:g})"
        if curve is not None and plateau(curve, window=self.window, min_gain=self.min_gain):
            return True, f"plateau: less than {self.min_gain:g} gain over the last {self.window} rounds"
        if history is not None and predictions_stable(history, kappa=self.kappa, window=self.window):
            return True, f"predictions stable: kappa >= {self.kappa:g} for {self.window} rounds"
        return False, "continue"
