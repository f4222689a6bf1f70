"""Learning curves (planted power law), the cost model and stopping criteria."""

from __future__ import annotations

import numpy as np
import pytest

from labelloop.exceptions import InputError
from labelloop.loop.cost import CostModel, plan
from labelloop.loop.curves import (
    LearningCurve,
    fit_learning_curve,
    labels_for,
    learning_curve_points,
)
from labelloop.loop.stopping import StoppingRule, cohen_kappa, plateau, predictions_stable


def test_labels_for_exact():
    # 0.9 - 1 * n^-0.5 = 0.8  ->  n = (1 / 0.1)^2 = 100
    assert labels_for(0.8, 0.9, 1.0, 0.5) == pytest.approx(100.0)
    assert labels_for(0.95, 0.9, 1.0, 0.5) == float("inf")


def test_fit_recovers_planted_curve():
    rng = np.random.default_rng(0)
    n = np.array([10, 20, 40, 80, 160, 320, 640])
    s = 0.92 - 0.8 * n ** -0.6 + rng.normal(0, 0.002, n.size)
    lc = fit_learning_curve(n, s, n_boot=100)
    assert lc.a == pytest.approx(0.92, abs=0.01)
    need = lc.labels_needed(0.9, level=0.95)
    true_n = (0.8 / 0.02) ** (1 / 0.6)  # ~469
    assert need["low"] <= true_n <= need["high"]
    assert need["labels"] == pytest.approx(true_n, rel=0.25)
    assert lc.labels_needed(0.95)["labels"] == float("inf")
    assert lc.gain_per(100, 100) > 0


def test_fit_needs_three_points():
    with pytest.raises(InputError, match="3 or more"):
        fit_learning_curve([10, 20], [0.5, 0.6])


def test_learning_curve_points_rise():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 100)
    X = np.c_[y * 4.0 + rng.normal(0, 1, 200), rng.normal(0, 1, 200)]
    sizes, acc = learning_curve_points(X, y, n_repeats=3)
    assert sizes[0] < sizes[-1] and acc[-1] >= acc[0] - 0.02 and acc[-1] > 0.8


def test_cost_model_exact():
    c = CostModel(annotator_hourly=18.0, seconds_per_label=20.0, overlap=3)
    assert c.per_label == pytest.approx(0.3)  # 18 * 20 * 3 / 3600
    assert c.labels_cost(100) == pytest.approx(30.0)
    assert c.engineer_hourly == pytest.approx(225.0)  # 12.5x
    with pytest.raises(InputError):
        CostModel(seconds_per_label=0)


def test_plan_picks_the_cheaper_route():
    lc = LearningCurve(a=0.9, b=1.0, c=0.5, n=[10, 100], score=[0.58, 0.8])
    cheap = CostModel(annotator_hourly=10, seconds_per_label=36)  # 0.1 per label
    p = plan(lc, 100, 0.85, cheap)
    # 0.9 - n^-0.5 = 0.85 -> n = 400: 300 more labels = 30 money; model route costs 40 h x 125
    assert p["label_more"]["labels_more"] == pytest.approx(300.0)
    assert p["label_more"]["money"] == pytest.approx(30.0)
    assert p["cheaper"] == "label"
    # above the ceiling: only model work can get there
    p = plan(lc, 100, 0.91, cheap, improvement=0.5)
    assert p["label_more"]["money"] == float("inf")
    assert p["cheaper"] == "model"
    # 1 - 0.5 * 0.1 = 0.95 ceiling; b' = 0.5: n = (0.5 / 0.04)^2 = 156.25 -> 56.25 more
    assert p["improve_model"]["labels_more"] == pytest.approx(56.25)


def test_plateau_and_kappa():
    assert not plateau([[10, 0.5], [20, 0.6], [30, 0.7], [40, 0.8]], window=2)
    assert plateau([[10, 0.5], [20, 0.8], [30, 0.801], [40, 0.802]], window=2, min_gain=0.005)
    assert cohen_kappa([0, 1, 0, 1], [0, 1, 0, 1]) == 1.0
    # po = 0.5, pe = 0.5 -> kappa 0
    assert cohen_kappa([0, 1, 0, 1], [0, 0, 1, 1]) == pytest.approx(0.0)
    hist = [[0, 1, 1, 0]] * 4
    assert predictions_stable(hist, window=3)
    assert not predictions_stable([[0, 1, 1, 0], [1, 1, 1, 0], [0, 1, 1, 0], [0, 1, 1, 0]], window=3)


def test_stopping_rule_reasons():
    rule = StoppingRule(budget=100)
    assert rule.check(spent=100)[0] and "budget" in rule.check(spent=100)[1]
    stop, why = rule.check(spent=10, curve=[[10, 0.5], [20, 0.8], [30, 0.8], [40, 0.8], [50, 0.8]])
    assert stop and why.startswith("plateau")
    assert rule.check(spent=10, curve=[[10, 0.5]]) == (False, "continue")
