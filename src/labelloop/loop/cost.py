"""Turn labels into money, and answer: is it cheaper to label more or to improve the model?

:class:`CostModel` prices one label (``seconds_per_label`` of an annotator paid
``annotator_hourly``, times ``overlap`` answers per item) and engineering time
(``engineer_hourly``, by default 12.5x the annotator's, within the usual 10-15x).
:func:`plan` reads a fitted :class:`~labelloop.loop.curves.LearningCurve`: labels still
needed for the target (with an interval), their price, and the price of the other route,
``engineer_hours`` of model work assumed to remove ``improvement`` of the remaining error
(both are stated inputs, not guesses hidden in the code).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from labelloop.exceptions import InputError


@dataclass
class CostModel:
    annotator_hourly: float = 10.0
    seconds_per_label: float = 20.0
    overlap: float = 1.0
    engineer_hourly: float | None = None
    engineer_ratio: float = 12.5

    def __post_init__(self):
        for name in ("annotator_hourly", "seconds_per_label", "overlap", "engineer_ratio"):
            if not getattr(self, name) > 0:
                raise InputError(f"{name} must be positive, got {getattr(self, name)}")
        if self.engineer_hourly is None:
            self.engineer_hourly = self.annotator_hourly * self.engineer_ratio
        if not self.engineer_hourly > 0:
            raise InputError("engineer_hourly must be positive")

    @property
    def per_label(self) -> float:
        """Money per labelled item: seconds x overlap x hourly / 3600."""
        return self.annotator_hourly * self.seconds_per_label * self.overlap / 3600.0

    def labels_cost(self, n_labels: float) -> float:
        return float(n_labels) * self.per_label if np.isfinite(n_labels) else float("inf")

    def annotator_hours(self, n_labels: float) -> float:
        return float(n_labels) * self.seconds_per_label * self.overlap / 3600.0

    def engineer_cost(self, hours: float) -> float:
        return float(hours) * float(self.engineer_hourly)


def plan(curve, n_now: int, target: float, cost: CostModel | None = None, *, engineer_hours: float = 40.0,
         improvement: float = 0.2, level: float = 0.8) -> dict:
    """Price both routes to ``target`` from ``n_now`` labels and recommend the cheaper.

    Labelling route: labels still needed on the fitted curve (point and ``level`` interval).
    Model route: ``engineer_hours`` of work that removes ``improvement`` (a fraction) of the
    error at every size, i.e. the curve ``1 - (1 - improvement) * (1 - score(n))``, plus any
    labels still needed on that better curve.
    """
    from labelloop.loop.curves import labels_for

    cost = cost or CostModel()
    if not 0.0 < target < 1.0:
        raise InputError(f"target score must be in (0, 1), got {target}")
    if not 0.0 <= improvement < 1.0:
        raise InputError("improvement must be a fraction of the error in [0, 1)")
    need = curve.labels_needed(target, level=level)
    more = lambda n: max(0.0, n - n_now) if np.isfinite(n) else float("inf")  # noqa: E731
    label_route = {
        "labels_total": need["labels"],
        "labels_more": more(need["labels"]),
        "labels_more_low": more(need["low"]),
        "labels_more_high": more(need["high"]),
        "money": cost.labels_cost(more(need["labels"])),
        "money_low": cost.labels_cost(more(need["low"])),
        "money_high": cost.labels_cost(more(need["high"])),
        "annotator_hours": cost.annotator_hours(more(need["labels"])) if np.isfinite(need["labels"]) else float("inf"),
    }
    # better model: error scaled by (1 - improvement): a' = 1-(1-i)(1-a), b' = (1-i) b
    a2 = 1.0 - (1.0 - improvement) * (1.0 - curve.a)
    b2 = (1.0 - improvement) * curve.b
    n2 = labels_for(target, a2, b2, curve.c)
    model_route = {
        "engineer_hours": engineer_hours,
        "labels_more": more(n2),
        "money": cost.engineer_cost(engineer_hours) + cost.labels_cost(more(n2)),
        "assumed_error_reduction": improvement,
    }
    current = float(curve.predict(max(n_now, 1)))
    if current >= target:
        advice = "the target is already reached at the current number of labels"
        cheaper = "none"
    elif label_route["money"] <= model_route["money"]:
        cheaper = "label"
        advice = (f"label about {label_route['labels_more']:.0f} more items "
                  f"(~{label_route['money']:.0f}) rather than spend ~{model_route['money']:.0f} improving the model")
    else:
        cheaper = "model"
        why = "the target is above what this model can reach with more labels" if not np.isfinite(label_route["money"]) else (
            f"labelling would cost ~{label_route['money']:.0f}")
        advice = f"improve the model (~{model_route['money']:.0f}): {why}"
    return {
        "n_now": int(n_now),
        "target": target,
        "score_now": current,
        "asymptote": curve.a,
        "reachable_by_labelling": need["reachable"],
        "label_more": label_route,
        "improve_model": model_route,
        "cheaper": cheaper,
        "advice": advice,
        "summary": f"to reach {target:.3f} from {current:.3f} at {int(n_now)} labels: {advice}",
        "rates": asdict(cost) | {"per_label": cost.per_label},
    }
