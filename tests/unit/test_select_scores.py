"""Hand-computed scores of the query strategies, cold start and k-center greedy."""

from __future__ import annotations

import numpy as np
import pytest

from labelloop.exceptions import InputError
from labelloop.select import (
    DiverseUncertainty,
    RepeatOrNew,
    cold_start,
    entropy,
    kcenter_greedy,
    least_confidence,
    margin,
    mean_kl,
    top_n,
    vote_entropy,
)
from labelloop.select.base import ScoringStrategy
from labelloop.select.hybrid import per_class_top

P = np.array([[0.7, 0.2, 0.1], [0.4, 0.4, 0.2], [1.0, 0.0, 0.0]])


def test_uncertainty_scores_exact():
    np.testing.assert_allclose(least_confidence(P), [0.3, 0.6, 0.0])
    np.testing.assert_allclose(margin(P), [-0.5, 0.0, -1.0])
    e = -(0.7 * np.log(0.7) + 0.2 * np.log(0.2) + 0.1 * np.log(0.1))
    np.testing.assert_allclose(entropy(P), [e, -(2 * 0.4 * np.log(0.4) + 0.2 * np.log(0.2)), 0.0])


def test_top_n_highest_first_and_random_ties():
    rng = np.random.default_rng(0)
    assert top_n(np.array([0.1, 0.9, 0.5]), 2, rng).tolist() == [1, 2]
    picks = {tuple(top_n(np.zeros(4), 1, np.random.default_rng(s)).tolist()) for s in range(40)}
    assert len(picks) == 4  # ties do not always favour index 0
    assert top_n(np.array([np.nan, 1.0]), 1, rng).tolist() == [1]


def test_scoring_base_picks_top_scores():
    class Fixed(ScoringStrategy):
        needs_model = False

        def score(self, model, X_pool, **kw):
            return X_pool[:, 0]

    X = np.array([[3.0], [9.0], [1.0], [7.0]])
    assert sorted(Fixed().select(None, X, 2).tolist()) == [1, 3]


def test_kcenter_greedy_on_a_line():
    X = np.array([[0.0], [1.0], [2.0], [10.0], [11.0]])
    # mean 4.8: nearest is 2.0 (index 2); farthest from it 11 (4); then farthest from {2, 11} is 0 (0)
    assert kcenter_greedy(X, 3).tolist() == [2, 4, 0]
    # with the labelled point 0.0 covered, the farthest is 11
    assert kcenter_greedy(X, 1, centers=np.array([[0.0]])).tolist() == [4]


def test_cold_start_covers_planted_clusters():
    rng = np.random.default_rng(0)
    centers = np.array([[0, 0], [20, 0], [0, 20], [20, 20]], dtype=float)
    y = np.repeat(np.arange(4), 50)
    X = centers[y] + rng.normal(0, 1, size=(200, 2))
    for method in ("kmeans", "kcenter"):
        idx = cold_start(X, 4, method=method, random_state=0)
        assert sorted(y[idx].tolist()) == [0, 1, 2, 3], method


def test_committee_measures_exact():
    votes = np.array([[0, 1], [0, 1], [1, 1]])  # 3 members x 2 items
    np.testing.assert_allclose(vote_entropy(votes, 2), [-(2 / 3 * np.log(2 / 3) + 1 / 3 * np.log(1 / 3)), 0.0])
    same = np.array([[[0.5, 0.5]], [[0.5, 0.5]]])
    np.testing.assert_allclose(mean_kl(same), [0.0], atol=1e-9)
    diff = np.array([[[1.0, 0.0]], [[0.0, 1.0]]])
    np.testing.assert_allclose(mean_kl(diff), [np.log(2)], atol=1e-6)


def test_diverse_uncertainty_spreads_the_batch():
    # two separated groups of equally uncertain points: the batch of 2 takes one from each
    X = np.array([[0.0, 0.0], [0.01, 0.0], [0.02, 0.0], [5.0, 5.0], [5.01, 5.0], [5.02, 5.0]])

    class Flat:
        def predict_proba(self, X):
            return np.full((len(X), 2), 0.5)

    idx = DiverseUncertainty(beta=3).select(Flat(), X, 2, random_state=0)
    assert sorted((X[idx, 0] > 1).tolist()) == [False, True]


def test_balanced_candidates_take_each_predicted_class_quota():
    # class 0 holds the six most uncertain items; class 1's best are less uncertain
    u = np.array([-0.01, -0.02, -0.03, -0.04, -0.05, -0.06, -0.5, -0.6, -0.7, -0.8])
    pred = np.array([0, 0, 0, 0, 0, 0, 1, 1, 1, 1])
    cand = per_class_top(u, pred, 2, 4, np.random.default_rng(0))
    assert sorted(cand.tolist()) == [0, 1, 6, 7]
    assert sorted(top_n(u, 4, np.random.default_rng(0)).tolist()) == [0, 1, 2, 3]
    # a class predicted for no item: its quota goes to the most uncertain remaining items
    cand = per_class_top(u, np.zeros(10, dtype=np.int64), 3, 6, np.random.default_rng(0))
    assert sorted(cand.tolist()) == [0, 1, 2, 3, 4, 5]


def test_balanced_batch_reaches_the_class_the_model_underrates():
    # most unsure among items it calls class 0 (y=0), a little less among those it calls
    # class 1 (y=5), sure elsewhere (y=10)
    line = np.linspace(0, 1, 20)
    X = np.r_[np.c_[line, np.zeros(20)], np.c_[line, np.full(20, 5.0)], np.c_[line, np.full(20, 10.0)]]

    class Biased:
        def predict_proba(self, X):
            p0 = np.select([X[:, 1] < 1, X[:, 1] < 6], [0.51, 0.4], 0.98)
            return np.c_[p0, 1 - p0]

    plain = DiverseUncertainty(beta=2).select(Biased(), X, 4, random_state=0)
    bal = DiverseUncertainty(beta=2, balance=True).select(Biased(), X, 4, random_state=0)
    assert (X[plain, 1] > 1).sum() == 0
    assert (X[bal, 1] > 1).sum() >= 1
    with pytest.raises(InputError, match="beta"):
        DiverseUncertainty(beta=0)


def test_influence_prefers_the_uncertain_item_other_uncertain_items_lean_on():
    # a tight group of 12 equally unsure items along one direction, and one lone item that is
    # a little more unsure than all of them, far from everything
    rng = np.random.default_rng(0)
    group = np.c_[np.ones(12), rng.normal(0, 0.01, 12)]
    sure = np.c_[rng.normal(0, 0.05, 60), np.ones(60)]
    X = np.r_[group, sure, [[-1.0, 0.0]]]
    lone = X.shape[0] - 1

    class Unsure:
        def predict_proba(self, X):
            p0 = np.where(X[:, 0] > 0.5, 0.6, np.where(X[:, 0] < -0.5, 0.55, 0.99))
            return np.c_[p0, 1 - p0]

    plain = DiverseUncertainty(beta=1).select(Unsure(), X, 1, random_state=0)
    infl = DiverseUncertainty(beta=1, influence=5).select(Unsure(), X, 1, random_state=0)
    assert plain.tolist() == [lone]
    assert infl[0] < 12
    # the cached neighbour lists serve a later round with items moved to the labelled side
    s = DiverseUncertainty(beta=1, influence=5)
    s.select(Unsure(), X, 1, X_labeled=X[:0], random_state=0)
    again = s.select(Unsure(), X[1:], 1, X_labeled=X[:1], random_state=0)
    assert again[0] < 11
    with pytest.raises(InputError, match="influence"):
        DiverseUncertainty(influence=-1)
    with pytest.raises(InputError, match="influence_quantile"):
        DiverseUncertainty(influence=5, influence_quantile=1.0)


def test_repeat_or_new_prefers_the_bigger_gain():
    r = RepeatOrNew(annotator_accuracy=0.9)
    # an answered item at 0.55 vs a new item the model already knows at 0.99 -> repeat
    acts = r.select(np.array([[0.55, 0.45]]), [1], np.array([[0.99, 0.01]]), 1)
    assert acts == [("repeat", 0)]
    # an answered item at 0.999 vs a new item at 0.5 -> new
    acts = r.select(np.array([[0.999, 0.001]]), [3], np.array([[0.5, 0.5]]), 1)
    assert acts == [("new", 0)]


def test_cold_start_rejects_unknown_method():
    from labelloop.exceptions import InputError

    with pytest.raises(InputError, match="kmeans"):
        cold_start(np.zeros((5, 2)), 2, method="magic")
