"""The label model's estimator keeps the aggregation engine's contract (learned state, clone,
gold, new items, unseen sources), like every aggregator in labelloop.aggregate."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone

from labelloop.exceptions import NotFittedError
from labelloop.votes import VoteMatrix
from labelloop.weak._engine import LFDawidSkene


def planted(n_items=300, seed=0, K=3):
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, K, n_items)
    accs, covs = [0.85, 0.8, 0.75, 0.7, 0.9], [0.7, 0.6, 0.8, 0.5, 0.4]
    L = np.full((n_items, len(accs)), -1, dtype=np.int64)
    for j, (a, c) in enumerate(zip(accs, covs, strict=True)):
        fire = rng.random(n_items) < c
        wrong = (truth + rng.integers(1, K, n_items)) % K
        L[fire, j] = np.where(rng.random(n_items) < a, truth, wrong)[fire]
    return VoteMatrix.from_dense(L, n_classes=K), truth


@pytest.mark.parametrize("informative", [None, np.array([True, True, False, False, True])])
def test_learned_state_and_accuracy(informative):
    vm, truth = planted()
    est = LFDawidSkene(informative=informative)
    assert est.fit(vm) is est
    n, K = vm.n_items, vm.n_classes
    assert est.probas_.shape == (n, K)
    np.testing.assert_allclose(est.probas_.sum(1), 1.0, atol=1e-9)
    assert est.labels_.shape == (n,) and np.all(est.confidence_ >= 1.0 / K - 1e-12)
    assert list(est.skills_.index) == list(vm.sources) and est.skills_["n_answers"].sum() == vm.n_votes
    assert est.n_iter_ == len(est.loss_history_) >= 1
    assert (est.codes_ == truth).mean() > 0.85


def test_clone_predict_new_items_and_unseen_sources():
    vm, _ = planted()
    est = LFDawidSkene().fit(vm)
    c = clone(est)
    assert not hasattr(c, "probas_") and c.get_params() == est.get_params()
    with pytest.raises(NotFittedError):
        c.predict_proba(vm)
    # the fitted items again: the same posteriors
    np.testing.assert_allclose(est.predict_proba(vm), est.probas_, atol=1e-9)
    # new items, with one source never seen in fit
    L = np.array([[0, 0, -1, -1, -1, 1], [2, -1, 2, -1, -1, -1]])
    new = VoteMatrix.from_dense(L, n_classes=3, sources=[*vm.sources.tolist(), "newcomer"])
    P = est.predict_proba(new)
    assert P.shape == (2, 3) and P[0].argmax() == 0 and P[1].argmax() == 2


def test_gold_clamps_and_teaches():
    vm, truth = planted(seed=1)
    gold = np.where(np.arange(vm.n_items) < 30, truth, -1)
    est = LFDawidSkene().fit(vm, gold=gold)
    assert np.all(est.codes_[:30] == truth[:30])
    np.testing.assert_allclose(est.probas_[:30].max(1), 1.0)
