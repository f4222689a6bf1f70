"""The human-in-the-loop engine: models, pseudo-labels, router, learning curves, cost,
stopping, the simulator (with simulated annotators and an HTML report) and crowd replay.

Quick use::

    from labelloop.loop import simulate
    res = simulate(X, y, strategy="hybrid", init=10, batch=10, budget=200)
    res.curve, res.full_accuracy, res.labels_to_reach(0.98)
"""

from __future__ import annotations

from labelloop.loop.cost import CostModel, plan
from labelloop.loop.curves import LearningCurve, fit_learning_curve, learning_curve_points
from labelloop.loop.models import (
    LoopClassifier,
    MultiLabelClassifier,
    TemperatureScaling,
    calibrate,
    make_model,
)
from labelloop.loop.replay import ReplayResult, replay
from labelloop.loop.report import simulate_and_report, write_report
from labelloop.loop.router import Router, clopper_pearson_upper, fit_router_cv
from labelloop.loop.semi import SelfTraining, propagate_labels, pseudo_labels
from labelloop.loop.simulate import SimulatedAnnotators, SimulationResult, simulate
from labelloop.loop.stopping import StoppingRule, cohen_kappa, plateau, predictions_stable

__all__ = [
    "CostModel",
    "LearningCurve",
    "LoopClassifier",
    "MultiLabelClassifier",
    "ReplayResult",
    "Router",
    "SelfTraining",
    "SimulatedAnnotators",
    "SimulationResult",
    "StoppingRule",
    "TemperatureScaling",
    "calibrate",
    "clopper_pearson_upper",
    "cohen_kappa",
    "fit_learning_curve",
    "fit_router_cv",
    "learning_curve_points",
    "make_model",
    "plan",
    "plateau",
    "predictions_stable",
    "propagate_labels",
    "pseudo_labels",
    "replay",
    "simulate",
    "simulate_and_report",
    "write_report",
]
