"""Class imbalance and its remedies for training.

- :func:`class_balance`: count and share per class (per tag for multi-label), the imbalance
  ratio (largest / smallest class), the normalised entropy (1 = perfectly balanced) and advice;
- :func:`class_weights`: per-class weights for a loss or ``sample_weight`` (``balanced`` as in
  scikit-learn, ``sqrt`` for a milder correction, ``effective`` number of samples);
- :func:`resample`: positions of a training set with classes over- or under-sampled.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from labelloop.exceptions import EmptyInputError, InputError

#: an imbalance ratio from which class_balance advises a remedy
RATIO_ADVICE = 3.0


def _counts(labels: Any) -> tuple[pd.Series, bool, int]:
    if labels is None:
        raise InputError("labels is required")
    vals = labels.tolist() if isinstance(labels, pd.Series | np.ndarray) else list(labels)
    if not vals:
        raise EmptyInputError("no labels: nothing to count")
    multi = any(isinstance(v, list | tuple | set | frozenset) for v in vals)
    if multi:
        flat = [str(t) for v in vals if isinstance(v, list | tuple | set | frozenset) for t in v]
        counts = pd.Series(flat, dtype=object).value_counts()
    else:
        if any(v is None or (isinstance(v, float) and np.isnan(v)) for v in vals):
            raise InputError("labels has missing values; drop unlabelled items first")
        counts = pd.Series(vals, dtype=object).value_counts()
    counts.index.name = "label"
    return counts.sort_values(ascending=False, kind="stable"), multi, len(vals)


def class_balance(labels: Any, *, classes: list[Any] | None = None) -> pd.DataFrame:
    """Count, share and weight per class, largest first.

    ``labels``: one class per item, or a list of tags per item (multi-label: counts per tag and
    ``share`` of items carrying the tag). ``classes`` adds classes with zero items.
    ``attrs``: ``imbalance_ratio`` (largest / smallest non-empty class), ``entropy`` (normalised,
    1 = balanced), ``n_items``, ``multi_label``, ``advice`` (a sentence).
    """
    counts, multi, n = _counts(labels)
    if classes is not None:
        for c in classes:
            if c not in counts.index:
                counts.loc[c] = 0
    total = n if multi else counts.sum()
    frame = pd.DataFrame({"count": counts.astype(np.int64), "share": counts / max(total, 1)})
    nz = frame["count"][frame["count"] > 0]
    ratio = float(nz.max() / nz.min()) if len(nz) else float("nan")
    p = nz / nz.sum()
    ent = float(-(p * np.log(p)).sum() / np.log(len(p))) if len(p) > 1 else 1.0
    w = class_weights(labels) if len(nz) > 1 else {}
    frame["balanced_weight"] = [w.get(c, np.nan) for c in frame.index]
    empty = [str(c) for c in frame.index[frame["count"] == 0]]
    if empty:
        advice = f"no items for {', '.join(empty[:5])}: label some before training"
    elif ratio >= RATIO_ADVICE:
        small = ", ".join(str(c) for c in nz.index[nz <= nz.max() / RATIO_ADVICE][-3:])
        advice = (
            f"imbalanced (largest / smallest = {ratio:.1f}): train with class_weights(labels) "
            f"or resample(labels, strategy='oversample'), and label more of {small}"
        )
    else:
        advice = "balanced enough: no remedy needed"
    frame.attrs.update(
        {"imbalance_ratio": ratio, "entropy": ent, "n_items": n, "multi_label": multi, "advice": advice}
    )
    return frame


def class_weights(labels: Any, *, method: str = "balanced", beta: float = 0.999) -> dict[Any, float]:
    """Weight per class (mean weight over items = 1 for ``balanced``).

    - ``balanced``: ``n_items / (n_classes * count)`` (scikit-learn's ``class_weight='balanced'``);
    - ``sqrt``: ``sqrt`` of the balanced weight, a milder correction;
    - ``effective``: ``(1 - beta) / (1 - beta ** count)`` normalised to mean 1 over classes
      (Cui et al., class-balanced loss by the effective number of samples).
    """
    counts, _, _ = _counts(labels)
    counts = counts[counts > 0]
    k, total = len(counts), float(counts.sum())
    if method == "balanced":
        w = total / (k * counts.astype(float))
    elif method == "sqrt":
        w = np.sqrt(total / (k * counts.astype(float)))
    elif method == "effective":
        if not 0.0 < beta < 1.0:
            raise InputError(f"beta must lie in (0, 1), got {beta}")
        raw = (1.0 - beta) / (1.0 - np.power(beta, counts.astype(float)))
        w = raw / raw.mean()
    else:
        raise InputError(f"unknown method {method!r}; choose balanced, sqrt or effective")
    return {c: float(v) for c, v in w.items()}


def resample(
    labels: Any,
    *,
    strategy: str = "oversample",
    target: int | None = None,
    random_state: int | None = 0,
) -> np.ndarray:
    """Positions of a rebalanced training set (single-label).

    - ``oversample``: every class drawn with replacement up to the largest class (or ``target``);
      each original item is kept at least once;
    - ``undersample``: every class drawn without replacement down to the smallest class (or
      ``target``).

    Returns sorted positions into ``labels`` (repeats for oversampled items), e.g.
    ``X[idx], y[idx]``.
    """
    vals = labels.tolist() if isinstance(labels, pd.Series | np.ndarray) else list(labels)
    if not vals:
        raise EmptyInputError("no labels: nothing to resample")
    if any(isinstance(v, list | tuple | set | frozenset) for v in vals):
        raise InputError("resample works on single-label data; use class_weights for multi-label")
    if strategy not in ("oversample", "undersample"):
        raise InputError(f"unknown strategy {strategy!r}; choose oversample or undersample")
    if target is not None and target < 1:
        raise InputError(f"target must be a positive number of items per class, got {target}")
    codes, _ = pd.factorize(pd.Series(vals, dtype=object))
    if (codes < 0).any():
        raise InputError("labels has missing values; drop unlabelled items first")
    rng = np.random.default_rng(random_state)
    groups = [np.flatnonzero(codes == c) for c in range(codes.max() + 1)]
    sizes = np.array([g.size for g in groups])
    out = []
    if strategy == "oversample":
        goal = int(target or sizes.max())
        for g in groups:
            extra = max(goal - g.size, 0)
            out.append(g if g.size >= goal else np.concatenate([g, rng.choice(g, extra, replace=True)]))
    else:
        goal = int(target or sizes.min())
        for g in groups:
            out.append(g if g.size <= goal else rng.choice(g, goal, replace=False))
    return np.sort(np.concatenate(out))
