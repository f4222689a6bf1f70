"""Exact tiny fixtures and planted simulations for each aggregation method."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from labelloop.aggregate import (
    GLAD,
    MACE,
    DawidSkene,
    MajorityVote,
    OneCoinDawidSkene,
    Wawa,
    ZeroBasedSkill,
    add_model_votes,
    source_quality,
)
from labelloop.exceptions import ConvergenceWarning, InputError
from labelloop.votes import VoteMatrix

TINY = VoteMatrix.from_dense(np.array([[0, 0], [0, 1], [1, 1]]))


def test_majority_vote_shares_and_ties():
    vm = VoteMatrix.from_dense(np.array([[0, 0, 1], [1, 1, -1], [0, 1, -1], [1, -1, -1]]))
    mv = MajorityVote().fit(vm)
    np.testing.assert_allclose(mv.probas_, [[2 / 3, 1 / 3], [0, 1], [0.5, 0.5], [0, 1]])
    assert mv.codes_.tolist() == [0, 1, 0, 1]  # tie -> first class
    # overall class 1 has more votes (4 vs 3): the "prior" tie policy picks it
    assert MajorityVote(tie="prior").fit(vm).codes_[2] == 1
    rnd = {int(MajorityVote(tie="random", random_state=s).fit(vm).codes_[2]) for s in range(20)}
    assert rnd == {0, 1}
    with pytest.raises(InputError):
        MajorityVote(tie="coin").fit(vm)


def test_wawa_exact_weights():
    vm = VoteMatrix.from_dense(np.array([[0, 0, 1], [0, 0, 1], [1, 0, 1]]))
    w = Wawa().fit(vm)
    np.testing.assert_allclose(w.skills_["skill"], [1.0, 2 / 3, 1 / 3])
    np.testing.assert_allclose(w.probas_[0], [5 / 6, 1 / 6])
    np.testing.assert_allclose(w.probas_[2], [1 / 3, 2 / 3])


def test_zero_based_skill_orders_sources():
    vm = VoteMatrix.from_dense(np.array([[0, 0, 1], [0, 0, 1], [1, 0, 1], [1, 1, 0]]))
    z = ZeroBasedSkill().fit(vm)
    s = z.skills_["skill"].to_numpy()
    assert s[0] > s[2] and s[1] > s[2]
    assert z.n_iter_ >= 1


def test_dawid_skene_one_iteration_exact():
    with pytest.warns(ConvergenceWarning):
        ds = DawidSkene(max_iter=1, smoothing=1.0, diag_prior=0.0).fit(TINY)
    # M-step from the vote share: source 0 rows [5/7, 2/7], [3/7, 4/7]; source 1 [4/7, 3/7], [2/7, 5/7]
    np.testing.assert_allclose(ds.confusions_[0], [[5 / 7, 2 / 7], [3 / 7, 4 / 7]])
    np.testing.assert_allclose(ds.confusions_[1], [[4 / 7, 3 / 7], [2 / 7, 5 / 7]])
    np.testing.assert_allclose(ds.probas_, [[20 / 26, 6 / 26], [0.5, 0.5], [6 / 26, 20 / 26]])
    assert ds.n_iter_ == 1 and not ds.converged_


def test_one_coin_one_iteration_exact():
    with pytest.warns(ConvergenceWarning):
        oc = OneCoinDawidSkene(max_iter=1, alpha=1.0, beta=1.0).fit(TINY)
    np.testing.assert_allclose(oc.skills_["accuracy"], [5 / 6, 5 / 6])
    np.testing.assert_allclose(oc.probas_, [[25 / 26, 1 / 26], [0.5, 0.5], [1 / 26, 25 / 26]])


def test_dawid_skene_converges_and_loss_decreases():
    vm, truth = _planted_confusions()
    ds = DawidSkene().fit(vm)
    assert ds.converged_
    h = np.array(ds.loss_history_)
    assert np.all(np.diff(h) <= 1e-9)
    assert np.mean(ds.codes_ == truth) > 0.93


def _planted_confusions(n=400, seed=0):
    """Binary task; source 0 is perfect, 1-3 are decent, 4 always says 0, 5 answers at random,
    6 flips the truth; each source sees 60% of the items."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 2, n)
    L = np.full((n, 7), -1)
    for j in range(7):
        seen = rng.random(n) < 0.6
        if j == 0:
            ans = truth
        elif j in (1, 2, 3):
            ans = np.where(rng.random(n) < 0.75, truth, 1 - truth)
        elif j == 4:
            ans = np.zeros(n, dtype=int)
        elif j == 5:
            ans = rng.integers(0, 2, n)
        else:
            ans = 1 - truth
        L[seen, j] = ans[seen]
    return VoteMatrix.from_dense(L), truth


@pytest.mark.parametrize("cls", [DawidSkene, MACE, GLAD, OneCoinDawidSkene])
def test_planted_spammers_found_and_perfect_source_dominates(cls):
    vm, truth = _planted_confusions(seed=1)
    est = cls().fit(vm)
    # MACE cannot express a source that flips the truth (only competent or spamming)
    assert np.mean(est.codes_ == truth) > (0.9 if cls is MACE else 0.95)
    acc = est.skills_["accuracy"].to_numpy()
    assert acc.argmax() == 0
    q = source_quality(vm, est)
    assert bool(q.loc["source_5", "spammer"]) and bool(q.loc["source_4", "spammer"])
    assert bool(q.loc["source_6", "against_consensus"])
    assert not q.loc[["source_0", "source_1", "source_2", "source_3"], ["spammer", "against_consensus"]].to_numpy().any()
    assert set(q.loc[q.action == "block"].index) == {"source_4", "source_5", "source_6"}
    assert q.loc["source_0", "weight"] > q.loc["source_1", "weight"] > 0


def test_glad_difficulty_and_adversary():
    vm, _ = _planted_confusions(seed=2)
    g = GLAD().fit(vm)
    alpha = g.skills_["skill"]
    assert alpha["source_6"] < 0 < alpha["source_1"] < alpha["source_0"]
    assert g.difficulty_.shape == (vm.n_items,) and np.all(g.difficulty_ > 0)


def test_mace_spam_distribution():
    vm, _ = _planted_confusions(seed=3)
    m = MACE().fit(vm)
    theta = m.skills_["skill"]
    assert theta["source_0"] > 0.9 and theta["source_5"] < 0.3 and theta["source_4"] < 0.3
    assert m.spam_dist_[4, 0] > 0.9  # source 4 always answers 0 when it spams
    m2 = MACE(method="vb", n_restarts=2).fit(vm)
    assert np.mean(m2.codes_ == m.codes_) > 0.95


def test_gold_informs_skills():
    """Two equally sized camps disagree on every item; gold says camp A is right."""
    n = 60
    truth = np.arange(n) % 2
    L = np.stack([truth, truth, 1 - truth, 1 - truth], axis=1)
    vm = VoteMatrix.from_dense(L)
    gold = {i: int(truth[i]) for i in range(10)}
    ds = DawidSkene().fit(vm, gold=gold)
    assert np.mean(ds.codes_ == truth) == 1.0
    acc = ds.skills_["accuracy"].to_numpy()
    assert acc[0] > 0.9 and acc[2] < 0.1
    np.testing.assert_array_equal(ds.gold_[:10], truth[:10])
    assert np.all(ds.gold_[10:] == -1)


def _noisy_crowd_and_model(seed=7, n=300):
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 2, n)
    L = np.stack([np.where(rng.random(n) < 0.65, truth, 1 - truth) for _ in range(3)], axis=1)
    probs = np.where(truth[:, None] == np.arange(2)[None], 0.95, 0.05)
    probs[:100] = np.where(truth[:100, None] == np.arange(2)[None], 0.75, 0.25)
    flip = rng.random(n) < 0.05
    probs[flip] = probs[flip][:, ::-1]
    return VoteMatrix.from_dense(L), probs, truth


@pytest.mark.filterwarnings("ignore::labelloop.exceptions.ConvergenceWarning")
def test_model_as_a_voter_gets_a_learned_weight():
    vm, probs, truth = _noisy_crowd_and_model()
    base = DawidSkene().fit(vm)
    joined = add_model_votes(vm, probs, name="clf")
    assert list(joined.sources[3:]) == ["clf[0.7-0.9]", "clf[>=0.9]"]
    with_model = DawidSkene().fit(joined)
    assert np.mean(with_model.codes_ == truth) > np.mean(base.codes_ == truth) + 0.1
    acc = with_model.skills_["accuracy"]
    assert min(acc["clf[>=0.9]"], acc["clf[0.7-0.9]"]) > acc.iloc[:3].max()
    for mode in ("hard", "soft"):
        est = DawidSkene().fit(add_model_votes(vm, probs, name="clf", mode=mode))
        assert np.mean(est.codes_ == truth) > np.mean(base.codes_ == truth)
    # a useless model (always 50/50) gets no weight: posteriors do not move
    flat = DawidSkene().fit(add_model_votes(vm, np.full((vm.n_items, 2), 0.5), name="flat", mode="soft"))
    np.testing.assert_allclose(flat.confusions_[-1], 0.5, atol=0.01)
    np.testing.assert_allclose(flat.probas_, base.probas_, atol=0.05)
    with pytest.raises(InputError):
        add_model_votes(vm, probs, mode="magic")


def test_model_votes_with_missing_rows_and_items():
    vm, probs, _ = _noisy_crowd_and_model(n=20)
    probs[:5] = np.nan
    out = add_model_votes(vm, probs, name="m", mode="hard")
    assert out.n_votes == vm.n_votes + 15
    sub = add_model_votes(vm, probs[5:7], name="m", mode="hard", items=[5, 6])
    assert sub.n_votes == vm.n_votes + 2


def test_hyperparameter_validation():
    with pytest.raises(InputError):
        DawidSkene(max_iter=0).fit(TINY)
    with pytest.raises(InputError):
        DawidSkene(class_prior="nope").fit(TINY)
    with pytest.raises(InputError):
        DawidSkene(class_prior=[0.2, 0.2]).fit(TINY)
    with pytest.raises(InputError):
        MACE(method="gibbs").fit(TINY)
    with pytest.raises(InputError):
        GLAD(alpha_prior_var=0).fit(TINY)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        DawidSkene(class_prior=np.array([0.3, 0.7])).fit(TINY)


def test_scales_to_many_items_quickly_enough_for_tests():
    rng = np.random.default_rng(0)
    n, S = 20000, 50
    truth = rng.integers(0, 2, n)
    i = np.repeat(np.arange(n), 5)
    s = rng.integers(0, S, i.size)
    acc = rng.uniform(0.6, 0.95, S)
    lab = np.where(rng.random(i.size) < acc[s], truth[i], 1 - truth[i])
    vm = VoteMatrix(i, s, lab, np.arange(n), np.arange(S), [0, 1])
    ds = DawidSkene().fit(vm)
    assert np.mean(ds.codes_ == truth) > 0.9
    assert np.corrcoef(ds.skills_["accuracy"], acc)[0, 1] > 0.9
