"""Label-error detection: exact kernels, planted-noise simulations with known truth, validation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from labelloop.exceptions import InputError, LabelloopError, SchemaError
from labelloop.quality import _kernels as K
from labelloop.quality import find_label_errors, out_of_fold_probs


# ------------------------------------------------------------------------------ fixtures
def blobs(n=300, k=3, d=6, sep=3.0, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    X = rng.normal(size=(n, d))
    X[np.arange(n), y] += sep
    return X, y


def plant(y, rate, k, seed):
    rng = np.random.default_rng(seed)
    idx = rng.choice(len(y), int(round(rate * len(y))), replace=False)
    noisy = y.copy()
    noisy[idx] = (y[idx] + rng.integers(1, k, idx.size)) % k
    return noisy


def f1(flags, truth):
    tp = (flags & truth).sum()
    p = tp / max(flags.sum(), 1)
    r = tp / max(truth.sum(), 1)
    return 2 * p * r / max(p + r, 1e-12)


# ------------------------------------------------------------------------------ exact kernels
def test_per_class_thresholds_are_mean_self_confidence():
    y = np.array([0, 0, 1, 1])
    P = np.array([[0.9, 0.1], [0.7, 0.3], [0.4, 0.6], [0.2, 0.8]])
    np.testing.assert_allclose(K.per_class_thresholds(y, P), [0.8, 0.7])


def test_confident_joint_counts_by_hand():
    y = np.array([0, 0, 0, 1, 1, 1])
    P = np.array([[0.9, 0.1], [0.8, 0.2], [0.1, 0.9],  # item 2: labelled 0, confidently 1
                  [0.2, 0.8], [0.3, 0.7], [0.35, 0.65]])
    # thresholds: class 0 mean(0.9, 0.8, 0.1) = 0.6; class 1 mean(0.8, 0.7, 0.65) = 0.7167
    C = K.confident_joint(y, P, calibrate=False)
    # items 4 (0.7) and 5 (0.65) stay below the class-1 threshold and are not counted
    np.testing.assert_array_equal(C, [[2, 1], [0, 1]])
    Cc = K.confident_joint(y, P)  # rows rescaled to the 3 items per given label
    np.testing.assert_allclose(Cc, [[2, 1], [0, 3]])


def test_expected_f1_cut_by_hand():
    e = np.array([0.9, 0.8, 0.1, 0.05])
    # total 1.85; N=1: 1.8/2.85 = .632, N=2: 3.4/3.85 = .883, N=3: 3.6/4.85 = .742
    np.testing.assert_array_equal(K.expected_f1_cut(e), [True, True, False, False])
    assert not K.expected_f1_cut(np.zeros(3)).any()
    # min_score keeps low-probability items out even when the cut would take them
    np.testing.assert_array_equal(K.expected_f1_cut(np.array([0.08, 0.01]), min_score=0.1), [False, False])


def test_knn_label_probs_by_hand():
    y = np.array([0, 0, 1, 1])
    neigh = np.array([[1, 2], [0, -1], [3, 0], [2, 1]])
    P = K.knn_label_probs(neigh, y, 2, smoothing=1.0)
    # item 0: labels (0, 1) -> (1 + .5, 1 + .5) / 3; item 1: one neighbour of class 0 -> (1.5, .5) / 2
    np.testing.assert_allclose(P[0], [0.5, 0.5])
    np.testing.assert_allclose(P[1], [0.75, 0.25])
    np.testing.assert_allclose(P.sum(axis=1), 1.0)


def test_noise_matrix_recovers_planted_flip_rate():
    rng = np.random.default_rng(1)
    n, k = 4000, 2
    truth = rng.integers(0, k, n)
    Q = np.full((n, k), 0.02)
    Q[np.arange(n), truth] = 0.98  # a sharp, correct model
    given = truth.copy()
    flip = rng.random(n) < 0.15
    given[flip] = 1 - given[flip]
    T = K.fit_noise_matrix(given, Q)
    assert T[1, 0] == pytest.approx(0.15, abs=0.03)
    assert T[0, 1] == pytest.approx(0.15, abs=0.03)


# ------------------------------------------------------------------------------ contract
@pytest.fixture(scope="module")
def noisy_blobs():
    X, y = blobs(n=400, k=3, seed=3)
    noisy = plant(y, 0.1, 3, seed=4)
    P = out_of_fold_probs(X, noisy, n_classes=3, random_state=0)
    return X, y, noisy, P


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["pred_probs", "features", "both"])
def test_finds_planted_errors_in_every_mode(noisy_blobs, mode):
    X, y, noisy, P = noisy_blobs
    kw = {"pred_probs": P if mode != "features" else None, "features": X if mode != "pred_probs" else None}
    res = find_label_errors(noisy, **kw)
    assert len(res) == len(noisy)
    assert list(res.index) == list(range(len(noisy)))
    assert {"given_label", "suggested_label", "score", "is_error", "rank"} <= set(res.columns)
    assert res.score.between(0, 1).all()
    truth = noisy != y
    assert f1(res.is_error.to_numpy(), truth) >= 0.8
    # the decision is the top of the ranking
    assert res.loc[res.is_error, "score"].min() >= res.loc[~res.is_error, "score"].max()
    # a suggested label differs from the given one exactly for flagged items
    np.testing.assert_array_equal(res.suggested_label != res.given_label, res.is_error)
    # the suggestion repairs most of the planted errors it flags
    hit = res.is_error.to_numpy() & truth
    assert (res.suggested_label.to_numpy()[hit] == y[hit]).mean() >= 0.8


def test_string_labels_series_index_and_unused_class():
    X, y = blobs(n=200, k=2, seed=5)
    noisy = plant(y, 0.1, 2, seed=6)
    names = np.array(["cat", "dog"])[noisy]
    P = out_of_fold_probs(X, noisy, n_classes=2)
    P3 = np.column_stack([P * 0.99, np.full(len(P), 0.01)])  # a third class nobody used
    s = pd.Series(names, index=[f"item{i}" for i in range(len(names))])
    res = find_label_errors(s, pred_probs=P3, classes=["cat", "dog", "bird"])
    assert list(res.index) == list(s.index)
    assert set(res.given_label) <= {"cat", "dog"}
    assert res.attrs["noise_matrix"].shape == (3, 3)
    assert f1(res.is_error.to_numpy(), noisy != y) >= 0.7


def test_clean_separable_labels_are_not_flagged():
    X, y = blobs(n=200, k=2, sep=8.0, seed=7)
    res = find_label_errors(y, features=X)
    assert res.is_error.sum() <= 1


@pytest.mark.slow
def test_more_noise_more_flags_and_estimate_tracks_it():
    X, y = blobs(n=400, k=3, seed=8)
    est = []
    for rate in (0.05, 0.2):
        noisy = plant(y, rate, 3, seed=9)
        res = find_label_errors(noisy, features=X, refit=False)
        est.append(res.attrs["n_errors_estimate"])
        assert abs(res.attrs["n_errors_estimate"] - rate * len(y)) <= 0.5 * rate * len(y) + 5
    assert est[1] > est[0]


def test_any_sklearn_model_is_cross_validated():
    from sklearn.naive_bayes import GaussianNB

    X, y = blobs(n=300, k=3, seed=10)
    noisy = plant(y, 0.1, 3, seed=11)
    res = find_label_errors(noisy, features=X, model=GaussianNB())
    assert f1(res.is_error.to_numpy(), noisy != y) >= 0.8


def test_out_of_fold_probs_never_sees_the_item():
    # a 1-NN model would predict an item's own label in-sample; out of fold it cannot see it
    from sklearn.neighbors import KNeighborsClassifier

    X = np.array([[0.0], [0.1], [0.2], [0.3], [0.4], [0.5], [10.0], [10.1], [10.2], [10.3], [10.4], [10.5]])
    y = np.array([0, 0, 1, 0, 0, 0, 1, 1, 1, 1, 1, 1])  # item 2 sits among class 0
    P = out_of_fold_probs(X, y, n_classes=2, model=KNeighborsClassifier(1), cv=3)
    assert P[2, 0] > 0.99
    np.testing.assert_allclose(P.sum(axis=1), 1.0)
    # averaged over several fold splits, every split still keeps the item out of its own model
    P3 = out_of_fold_probs(X, y, n_classes=2, model=KNeighborsClassifier(1), cv=3, repeats=3)
    assert P3[2, 0] > 0.99
    np.testing.assert_allclose(P3.sum(axis=1), 1.0)
    # one repeat is the plain single split
    np.testing.assert_array_equal(out_of_fold_probs(X, y, n_classes=2, cv=3, repeats=1),
                                  out_of_fold_probs(X, y, n_classes=2, cv=3))
    with pytest.raises(InputError):
        out_of_fold_probs(X, y, n_classes=2, cv=3, repeats=0)


def test_spread_off_diagonal_keeps_flip_rates():
    T = np.array([[0.8, 0.1, 0.0], [0.2, 0.7, 0.3], [0.0, 0.2, 0.7]])
    S = K.spread_off_diagonal(T)
    np.testing.assert_allclose(np.diag(S), np.diag(T))
    np.testing.assert_allclose(S[:, 0], [0.8, 0.1, 0.1])  # true class 0 flips 20%, half to each other
    np.testing.assert_allclose(S.sum(axis=0), 1.0)
    # two classes: nothing to spread
    T2 = np.array([[0.9, 0.3], [0.1, 0.7]])
    np.testing.assert_array_equal(K.spread_off_diagonal(T2), T2)


# ------------------------------------------------------------------------------ several answers
def test_votes_posterior_and_disagreement():
    X, y = blobs(n=300, k=3, seed=12)
    noisy = plant(y, 0.1, 3, seed=13)
    rng = np.random.default_rng(14)
    rows = []
    for i in range(len(y)):
        for w in range(3):
            lab = y[i] if rng.random() < 0.8 else rng.integers(0, 3)
            rows.append((f"i{i}", f"w{w}", "abc"[lab]))
    answers = pd.DataFrame(rows, columns=["task", "worker", "label"])
    labels = pd.Series(np.array(list("abc"))[noisy], index=[f"i{i}" for i in range(len(y))])
    P = out_of_fold_probs(X, noisy, n_classes=3)
    res = find_label_errors(labels, pred_probs=P, votes=answers)
    assert {"vote_disagreement", "aggregate_label"} <= set(res.columns)
    # exact share: item i0's answers vs its given label
    a0 = answers[answers.task == "i0"].label
    assert res.loc["i0", "vote_disagreement"] == pytest.approx((a0 != labels["i0"]).mean())
    truth = noisy != y
    with_votes = f1(res.is_error.to_numpy(), truth)
    without = f1(find_label_errors(labels, pred_probs=P).is_error.to_numpy(), truth)
    assert with_votes >= without
    assert with_votes >= 0.9


def test_votes_that_match_no_item_are_an_error():
    answers = pd.DataFrame({"task": ["x", "y"], "worker": ["a", "b"], "label": ["p", "q"]})
    with pytest.raises(InputError, match="task"):
        find_label_errors(["p", "q"], pred_probs=[[0.9, 0.1], [0.2, 0.8]], votes=answers)


# ------------------------------------------------------------------------------ multi-label
def test_multilabel_per_tag():
    rng = np.random.default_rng(15)
    n = 300
    X = rng.normal(size=(n, 4))
    Y = (X[:, :2] > 0).astype(int)  # tag a <-> x0 > 0, tag b <-> x1 > 0
    X[:, :2] *= 3
    Yn = Y.copy()
    flip = rng.choice(n, 20, replace=False)
    Yn[flip, 0] = 1 - Yn[flip, 0]
    tags = [[t for t, v in zip("ab", row, strict=True) if v] for row in Yn]
    res = find_label_errors(tags, features=X, classes=["a", "b"])
    truth = np.zeros(n, bool)
    truth[flip] = True
    assert f1(res.is_error.to_numpy(), truth) >= 0.8
    i = int(flip[0])
    if res.is_error.iloc[i]:
        expect = ("-a" if Yn[i, 0] else "+a")
        assert expect in res.issues.iloc[i]
        assert ("a" in res.suggested_label.iloc[i]) == bool(Y[i, 0])
    assert res.attrs["tag_scores"].shape == (n, 2)


def test_multilabel_indicator_with_probabilities():
    Y = np.array([[1, 0], [1, 0], [0, 1], [0, 1], [1, 0], [0, 1]] * 5)
    P = np.where(Y == 1, 0.95, 0.05).astype(float)
    P[0] = [0.02, 0.97]  # item 0 says tag 0 but the model is sure it is tag 1
    res = find_label_errors(Y, pred_probs=P, classes=["x", "y"])
    assert res.is_error.iloc[0]
    assert res.suggested_label.iloc[0] == ["y"]
    assert sorted(res.issues.iloc[0]) == ["+y", "-x"]
    assert res.is_error.sum() == 1


# ------------------------------------------------------------------------------ validation
@pytest.mark.parametrize(
    "kwargs, err, match",
    [
        (dict(labels=[0, 1, 0]), InputError, "give pred_probs"),
        (dict(labels=[], pred_probs=np.zeros((0, 2))), InputError, "empty"),
        (dict(labels=[0, None, 1], pred_probs=np.full((3, 2), 0.5)), InputError, "missing"),
        (dict(labels=[0, 1, 1], pred_probs=np.full((2, 2), 0.5)), InputError, "shape"),
        (dict(labels=[0, 1, 1], pred_probs=np.full((3, 2), 0.7)), InputError, "sum to 1"),
        (dict(labels=[0, 1, 1], pred_probs=[[np.nan, 1], [0, 1], [0, 1]]), InputError, "NaN"),
        (dict(labels=["a", "b", "c"], pred_probs=np.full((3, 2), 0.5)), InputError, "classes"),
        (dict(labels=["a", "z"], pred_probs=np.full((2, 2), 0.5), classes=["a", "b"]), SchemaError, "not one of"),
        (dict(labels=[0, 1], features=np.zeros((3, 2))), InputError, "one row per item"),
        (dict(labels=[["a"], "b"], features=np.zeros((2, 2))), InputError, "mixes"),
        (dict(labels=[0, 1, 0], pred_probs=np.full((3, 2), 0.5), cv=1), InputError, "cv"),
        (dict(labels=[0, 0, 0], pred_probs=np.ones((3, 1))), InputError, "2 classes"),
    ],
)
def test_bad_input_raises_named_errors(kwargs, err, match):
    labels = kwargs.pop("labels")
    with pytest.raises(err, match=match):
        find_label_errors(labels, **kwargs)
    assert issubclass(err, LabelloopError)


def test_votes_alone_flag_labels_the_consensus_contradicts():
    # three reliable annotators (90% right) and two who guess; 15 given labels are flipped and
    # the skill-weighted consensus of the answers contradicts them (no model, no features)
    rng = np.random.default_rng(16)
    n = 200
    truth = rng.integers(0, 2, n)
    rows = []
    for i in range(n):
        for w in range(5):
            good = w < 3
            lab = truth[i] if (rng.random() < (0.9 if good else 0.5)) else 1 - truth[i]
            rows.append((i, f"w{w}", "ab"[lab]))
    answers = pd.DataFrame(rows, columns=["task", "worker", "label"])
    given = truth.copy()
    flip = rng.choice(n, 15, replace=False)
    given[flip] = 1 - given[flip]
    res = find_label_errors(np.array(list("ab"))[given], votes=answers)
    assert f1(res.is_error.to_numpy(), given != truth) >= 0.8
    assert (res.loc[res.is_error, "aggregate_label"] == res.loc[res.is_error, "suggested_label"]).all()


def test_prune_by_noise_rate_by_hand():
    y = np.array([0, 0, 0, 1, 1])
    e = np.array([0.1, 0.9, 0.5, 0.2, 0.3])
    C = np.array([[1.0, 2.0], [0.4, 1.6]])  # class 0: 2 estimated errors; class 1: round(0.4) = 0
    np.testing.assert_array_equal(K.prune_by_noise_rate(y, e, C), [False, True, True, False, False])


def test_confident_learning_estimate_and_noise_rate_decision(noisy_blobs):
    X, y, noisy, P = noisy_blobs
    res = find_label_errors(noisy, pred_probs=P, decision="noise_rate")
    truth = noisy != y
    cj = res.attrs["confident_joint"]
    assert cj.shape == (3, 3)
    np.testing.assert_allclose(cj.sum(axis=1).to_numpy(), np.bincount(noisy, minlength=3))
    assert abs(res.attrs["cl_n_errors"] - truth.sum()) <= 0.5 * truth.sum()
    assert res.is_error.sum() == pytest.approx(res.attrs["cl_n_errors"], abs=3)
    assert f1(res.is_error.to_numpy(), truth) >= 0.7
    with pytest.raises(InputError, match="decision"):
        find_label_errors(noisy, pred_probs=P, decision="both")
