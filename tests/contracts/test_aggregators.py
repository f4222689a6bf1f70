"""One contract for every aggregator: the same inputs, the same learned state, the same errors."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from labelloop.aggregate import AGGREGATORS, Auto, get_aggregator
from labelloop.exceptions import (
    ConvergenceWarning,
    EmptyInputError,
    InputError,
    NotFittedError,
    SchemaError,
)
from labelloop.votes import VoteMatrix

NAMES = [*AGGREGATORS, "auto"]


def planted(n_items=150, seed=0, K=3):
    """Votes from 4 good sources (acc .8), one perfect, one spammer; every source sees every item."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, K, n_items)
    accs = [0.8, 0.8, 0.8, 0.8, 1.0, None]
    L = np.empty((n_items, len(accs)), dtype=np.int64)
    for j, a in enumerate(accs):
        if a is None:
            L[:, j] = rng.integers(0, K, n_items)
        else:
            wrong = (truth + rng.integers(1, K, n_items)) % K
            L[:, j] = np.where(rng.random(n_items) < a, truth, wrong)
    return VoteMatrix.from_dense(L, n_classes=K), truth


@pytest.fixture(params=NAMES)
def name(request):
    return request.param


def fit(name, votes, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return get_aggregator(name).fit(votes, **kw)


def test_learned_state(name):
    vm, truth = planted()
    est = get_aggregator(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        assert est.fit(vm) is est
    n, K = vm.n_items, vm.n_classes
    assert est.probas_.shape == (n, K)
    assert np.all(est.probas_ >= 0)
    np.testing.assert_allclose(est.probas_.sum(1), 1.0, atol=1e-9)
    assert est.labels_.shape == (n,)
    assert set(est.labels_.tolist()) <= set(vm.classes)
    np.testing.assert_allclose(est.confidence_, est.probas_.max(1), atol=1e-12)
    assert list(est.skills_.index) == list(vm.sources)
    assert {"skill", "accuracy", "n_answers"} <= set(est.skills_.columns)
    assert est.skills_["n_answers"].tolist() == [n] * vm.n_sources
    assert est.confusions_.shape == (vm.n_sources, K, K)
    np.testing.assert_allclose(est.confusions_.sum(2), 1.0, atol=1e-6)
    assert isinstance(est.n_iter_, int) and est.n_iter_ >= 0
    assert isinstance(est.loss_history_, list)
    assert len(est.loss_history_) == est.n_iter_
    assert np.mean(est.codes_ == truth) > 0.9
    # the perfect source has the best estimated accuracy, the spammer the worst
    acc = est.skills_["accuracy"].to_numpy()
    if name != "mv":
        assert acc.argmax() == 4
    assert acc.argmin() == 5


def test_predict_proba_same_votes_matches_generative_fit(name):
    vm, _ = planted(seed=1)
    est = fit(name, vm)
    p = est.predict_proba(vm)
    assert p.shape == est.probas_.shape
    np.testing.assert_allclose(p.sum(1), 1.0, atol=1e-9)
    assert np.mean(p.argmax(1) == est.codes_) > 0.95


def test_predict_proba_unknown_source_uses_pooled(name):
    vm, _ = planted(seed=2)
    est = fit(name, vm)
    new = VoteMatrix.from_dense(np.array([[0, 0], [2, 2]]), n_classes=3, sources=["source_0", "brand-new"])
    p = est.predict_proba(new)
    assert p.shape == (2, 3)
    assert p[0].argmax() == 0 and p[1].argmax() == 2


def test_predict_proba_checks_classes_and_fit(name):
    est = get_aggregator(name)
    vm, _ = planted(n_items=20)
    with pytest.raises(NotFittedError):
        est.predict_proba(vm)
    est = fit(name, vm)
    with pytest.raises(SchemaError):
        est.predict_proba(VoteMatrix.from_dense(np.array([[0, 1]]), n_classes=2))


def test_deterministic_and_clonable(name):
    vm, _ = planted(seed=3)
    a = fit(name, vm)
    b = fit(name, vm)
    np.testing.assert_allclose(a.probas_, b.probas_)
    c = clone(get_aggregator(name))
    assert c.get_params() == get_aggregator(name).get_params()


def test_unanimous_and_single_votes(name):
    L = np.array([[1, 1, 1], [0, -1, -1], [2, 2, -1], [0, 0, 0]])
    est = fit(name, VoteMatrix.from_dense(L, n_classes=3))
    assert est.codes_.tolist() == [1, 0, 2, 0]


def test_gold_fixes_posteriors(name):
    vm, truth = planted(seed=4)
    gold = {0: int((truth[0] + 1) % 3), 5: int(truth[5])}  # even a "wrong" gold answer wins
    est = fit(name, vm, gold=gold)
    assert est.codes_[0] == gold[0] and est.probas_[0, gold[0]] == 1.0
    assert est.codes_[5] == gold[5]
    with pytest.raises(SchemaError):
        fit(name, vm, gold={0: 7})


def test_dataframe_input_and_string_classes(name):
    df = pd.DataFrame(
        {
            "task": ["a", "a", "a", "b", "b", "b", "c", "c", "c"],
            "worker": ["w1", "w2", "w3"] * 3,
            "label": ["cat", "cat", "dog", "dog", "dog", "dog", "cat", "cat", "cat"],
        }
    )
    est = fit(name, df)
    assert est.labels_.tolist() == ["cat", "dog", "cat"]
    assert list(est.items_) == ["a", "b", "c"]


def test_soft_votes_join_as_a_voter(name):
    vm, truth = planted(seed=5)
    probs = np.full((vm.n_items, 3), 0.05)
    probs[np.arange(vm.n_items), truth] = 0.9
    est = fit(name, vm.with_source("model", probs))
    assert est.skills_.index[-1] == "model"
    assert np.mean(est.codes_ == truth) >= np.mean(fit(name, vm).codes_ == truth) - 0.02


def test_empty_votes_rejected(name):
    vm = VoteMatrix.from_dense(np.full((3, 2), -1), n_classes=2)
    with pytest.raises(EmptyInputError):
        get_aggregator(name).fit(vm)


def test_bad_input_type_rejected(name):
    with pytest.raises(InputError):
        get_aggregator(name).fit("answers.csv")


def test_unknown_method_name():
    with pytest.raises(InputError, match="unknown aggregation method"):
        get_aggregator("nope")


def test_auto_reports_choice():
    vm, _ = planted(seed=6)
    est = Auto().fit(vm)
    assert est.chosen_ in est.scores_ and est.scores_[est.chosen_] == max(est.scores_.values())
