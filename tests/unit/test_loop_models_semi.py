"""Loop models (class alignment, one class, multi-label, calibration) and semi-supervised help."""

from __future__ import annotations

import numpy as np
import pytest

from labelloop.exceptions import InputError, NotFittedError
from labelloop.loop.models import (
    LoopClassifier,
    MultiLabelClassifier,
    TemperatureScaling,
    calibrate,
    make_model,
)
from labelloop.loop.semi import SelfTraining, knn_graph, propagate_labels, pseudo_labels


def test_default_model_is_the_benchmark_logreg():
    m = make_model("logreg")
    assert type(m).__name__ == "LogisticRegression" and m.C == 10 and m.max_iter == 2000
    with pytest.raises(InputError, match="unknown model"):
        make_model("gpt")


def test_probabilities_cover_unseen_classes():
    X = np.array([[0.0], [0.1], [5.0], [5.1]])
    clf = LoopClassifier("logreg", classes=np.array(["a", "b", "c"])).fit(X, np.array(["a", "a", "c", "c"]))
    P = clf.predict_proba(np.array([[0.0], [5.0]]))
    assert P.shape == (2, 3) and np.all(P[:, 1] == 0)
    assert clf.predict(np.array([[0.0], [5.0]])).tolist() == ["a", "c"]


def test_single_class_is_a_constant_prediction():
    clf = LoopClassifier("logreg", classes=[0, 1, 2]).fit(np.zeros((3, 2)), np.array([2, 2, 2]))
    np.testing.assert_array_equal(clf.predict_proba(np.zeros((2, 2))), [[0, 0, 1], [0, 0, 1]])


def test_errors():
    with pytest.raises(NotFittedError):
        LoopClassifier().predict_proba(np.zeros((1, 1)))
    with pytest.raises(InputError, match="not among the classes"):
        LoopClassifier(classes=[0, 1]).fit(np.zeros((2, 1)), np.array([0, 5]))
    with pytest.raises(InputError, match="predict_proba"):
        LoopClassifier(object())


def test_multilabel_one_vs_rest():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 2))
    Y = np.c_[X[:, 0] > 0, X[:, 1] > 0].astype(int)
    m = MultiLabelClassifier("logreg").fit(X, Y)
    assert m.predict_proba(X).shape == (200, 2)
    assert (m.predict(X) == Y).mean() > 0.95


def test_temperature_scaling_recovers_planted_temperature():
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 2, size=(5000, 3))
    true_p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    y = np.array([rng.choice(3, p=p) for p in true_p])
    over = np.exp(logits * 2.0)  # an over-confident model: logits doubled
    over /= over.sum(1, keepdims=True)
    ts = TemperatureScaling().fit(over, y)
    assert ts.temperature_ == pytest.approx(2.0, rel=0.1)
    np.testing.assert_allclose(ts.transform(over), true_p, atol=0.05)


def test_isotonic_calibration_runs():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 60)
    X = (y * 2.0 + rng.normal(0, 1, 120)).reshape(-1, 1)
    cal = calibrate("logreg", X, y)
    assert cal.predict_proba(X).shape == (120, 2)


def test_propagation_follows_the_graph():
    # two chains far apart; one label on each end spreads along its chain
    X = np.r_[np.c_[np.arange(10.0), np.zeros(10)], np.c_[np.arange(10.0), np.full(10, 100.0)]] + 1.0
    P = propagate_labels(X, [0, 10], [0, 1], 2, k=2)
    assert (P[:10].argmax(1) == 0).all() and (P[10:].argmax(1) == 1).all()
    W = knn_graph(X, 2)
    assert (W != W.T).nnz == 0


def test_pseudo_labels_threshold():
    P = np.array([[0.95, 0.05], [0.6, 0.4], [0.1, 0.9]])
    idx, lab, conf = pseudo_labels(P, 0.9)
    assert idx.tolist() == [0, 2] and lab.tolist() == [0, 1]
    np.testing.assert_allclose(conf, [0.95, 0.9])


def test_self_training_adds_machine_labels_only_to_unlabelled():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 100)
    X = np.c_[y * 6.0 + rng.normal(0, 1, 200), rng.normal(0, 1, 200)]
    li = np.array([0, 1, 100, 101])
    st = SelfTraining("logreg", threshold=0.8, source="agree").fit(X, li, y[li], 2)
    assert st.n_pseudo_ > 100
    assert not np.isin(st.pseudo_idx_, li).any()
    assert (st.pseudo_labels_ == y[st.pseudo_idx_]).mean() > 0.97
    with pytest.raises(InputError, match="pseudo-label source"):
        SelfTraining(source="oracle")


def test_spread_self_training_weights_every_unlabelled_item_by_spread_confidence():
    # two clusters in different directions (the kNN graph is cosine-based, as for embeddings)
    rng = np.random.default_rng(1)
    y = np.repeat([0, 1], 150)
    centres = np.eye(10)[[0, 1]] * 3.0
    X = centres[y] + rng.normal(0, 1.2, (300, 10))
    li = np.array([0, 1, 150, 151])
    st = SelfTraining("logreg", source="spread", weight=1.0, alpha=0.9).fit(X, li, y[li], 2)
    assert not np.isin(st.pseudo_idx_, li).any()
    assert st.n_pseudo_ == st.pseudo_idx_.size > 250
    assert (st.pseudo_labels_ == y[st.pseudo_idx_]).mean() > 0.9
    # weights: 0 < w <= weight, larger where the spread posterior is more certain
    assert (st.pseudo_weights_ > 0).all() and (st.pseudo_weights_ <= 1.0).all()
    assert np.median(st.pseudo_weights_[st.pseudo_labels_ == y[st.pseudo_idx_]]) > np.median(
        st.pseudo_weights_[st.pseudo_labels_ != y[st.pseudo_idx_]]
    )
    assert (st.predict(X) == y).mean() > 0.9
    # weight 0: nothing machine-labelled, the supervised model
    st0 = SelfTraining("logreg", source="spread", weight=0.0).fit(X, li, y[li], 2)
    assert st0.n_pseudo_ == 0


def test_spread_self_training_rejects_bad_parameters():
    with pytest.raises(InputError, match="alpha"):
        SelfTraining(alpha=1.0)
    with pytest.raises(InputError, match="weight"):
        SelfTraining(weight=-0.1)
