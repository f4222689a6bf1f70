"""Router: exact Clopper-Pearson bounds, planted thresholds, and the guarantee in simulation."""

from __future__ import annotations

import numpy as np
import pytest

from labelloop.exceptions import InputError, NotFittedError
from labelloop.loop.router import Router, clopper_pearson_upper, fit_router_cv


def test_clopper_pearson_exact():
    # zero errors out of n: the upper bound solves (1 - p)^n = delta
    for n in (10, 100, 299):
        np.testing.assert_allclose(clopper_pearson_upper(0, n, 0.05), 1 - 0.05 ** (1 / n), rtol=1e-9)
    # all errors: 1; nothing observed: 1
    assert clopper_pearson_upper(5, 5, 0.05) == 1.0
    assert clopper_pearson_upper(0, 0, 0.05) == 1.0
    # one error in n: P(X <= 1 | n, p) = delta at the bound
    from scipy.stats import binom

    ub = float(clopper_pearson_upper(1, 50, 0.05))
    np.testing.assert_allclose(binom.cdf(1, 50, ub), 0.05, rtol=1e-6)


def test_planted_threshold():
    # 1,000 items: the 600 most confident are always right, the rest right half of the time
    conf = np.linspace(1.0, 0.5, 1000)
    correct = np.ones(1000, dtype=bool)
    correct[600::2] = False
    r = Router(target_precision=0.99, delta=0.05).fit(conf, correct)
    # all 600 clean items pass; one more wrong item among 601 keeps the bound below 1% only
    # while the error count stays tiny; the threshold may not go below the clean block by much
    rep = r.report_
    assert rep.n_accepted >= 600
    assert rep.error_upper_bound <= 0.01
    assert rep.errors <= 2
    assert r.threshold_ == pytest.approx(conf[rep.n_accepted - 1])
    assert r.route(np.array([1.0, conf[599], 0.5])).tolist() == [True, True, False]
    assert r.coverage(conf) == pytest.approx(rep.n_accepted / 1000)


def test_too_few_items_certifies_nothing():
    r = Router(target_precision=0.99).fit(np.ones(100), np.ones(100, dtype=bool))
    assert r.threshold_ == float("inf")  # 100 perfect items cannot certify 99% at 95%
    assert not r.route([0.999]).any()
    assert "no threshold certified" in r.report_.guarantee
    # at 90% target, 100 clean items suffice (0.95^(1/100) ... bound 2.9% <= 10%)
    r = Router(target_precision=0.9).fit(np.ones(100), np.ones(100, dtype=bool))
    assert r.threshold_ == 1.0


def test_ties_are_accepted_together():
    conf = np.r_[np.ones(400), np.full(10, 0.8)]
    correct = np.r_[np.ones(400, dtype=bool), np.zeros(10, dtype=bool)]
    r = Router(target_precision=0.99).fit(conf, correct)
    assert r.threshold_ == 1.0 and r.report_.n_accepted == 400


def test_guarantee_holds_in_repeated_draws():
    """Over many calibration samples, the certified threshold meets the target on fresh data
    in at least 1 - delta of the draws (the stated guarantee)."""
    rng = np.random.default_rng(0)

    def draw(n):
        conf = rng.uniform(0.5, 1.0, n)
        correct = rng.random(n) < conf  # calibrated: P(correct) = confidence
        return conf, correct

    fails = 0
    trials = 200
    for _ in range(trials):
        r = Router(target_precision=0.95, delta=0.1).fit(*draw(1500))
        if np.isfinite(r.threshold_):
            # true precision above threshold t for this model: mean of conf over [t, 1]
            t = r.threshold_
            true_prec = (1 + t) / 2
            fails += true_prec < 0.95
    assert fails / trials <= 0.1


def test_validation_and_not_fitted():
    with pytest.raises(InputError):
        Router(target_precision=1.5)
    with pytest.raises(InputError):
        Router().fit([0.9, 0.8], [True])
    with pytest.raises(InputError):
        Router().fit([], [])
    with pytest.raises(NotFittedError):
        Router().route([0.5])


def test_fit_router_cv_on_separable_data():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 300)
    X = np.c_[y * 10.0 + rng.normal(0, 1, 600), rng.normal(0, 1, 600)]
    r = fit_router_cv("logreg", X, y, target_precision=0.99)
    assert np.isfinite(r.threshold_)
    assert r.report_.coverage > 0.9
    with pytest.raises(InputError, match="two labelled items of every class"):
        fit_router_cv("logreg", X[:3], np.array([0, 0, 1]))
