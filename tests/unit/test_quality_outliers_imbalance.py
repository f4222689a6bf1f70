"""Outliers by embedding density; class imbalance and its remedies."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from labelloop.exceptions import EmptyInputError, InputError
from labelloop.quality import class_balance, class_weights, find_outliers, resample


# ------------------------------------------------------------------------------ outliers
def test_planted_outliers_rank_first():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 8))
    X[[5, 77, 150]] += 12.0  # three items far from everything
    out = find_outliers(X, metric="euclidean")
    assert set(out.nsmallest(3, "rank").index) == {5, 77, 150}
    assert out.is_outlier.sum() == 3
    assert out.loc[[5, 77, 150], "density_ratio"].min() > 2.0
    assert out.score.max() > out.attrs["threshold"]


def test_outlier_scores_by_hand():
    X = np.array([[0.0], [1.0], [2.0], [10.0]])
    out = find_outliers(X, n_neighbors=1, metric="euclidean", contamination=0.25)
    np.testing.assert_allclose(out.score, [1.0, 1.0, 1.0, 8.0])
    np.testing.assert_array_equal(out.nearest.iloc[:3], [1, 0, 1])  # ties: the first found
    assert out.nearest.iloc[3] == 2
    assert out.is_outlier.tolist() == [False, False, False, True]
    # density ratio: 8 / score of its neighbour (1)
    assert out.density_ratio.iloc[3] == pytest.approx(8.0)


def test_cosine_distance_and_index():
    X = np.array([[1.0, 0.0], [0.9, 0.1], [1.0, 0.05], [0.0, 1.0]])
    out = find_outliers(X, n_neighbors=1, index=["a", "b", "c", "d"], contamination=0.25)
    assert list(out.index) == ["a", "b", "c", "d"]
    assert out.is_outlier.idxmax() == "d"
    assert 0.0 <= out.score.min() and out.score.max() <= 2.0


@pytest.mark.parametrize(
    "X, kw, err",
    [
        (np.zeros((0, 2)), {}, EmptyInputError),
        (np.zeros((2, 2)), {}, InputError),
        (np.zeros(5), {}, InputError),
        (np.array([[0.0], [np.nan], [1.0]]), {}, InputError),
        (np.zeros((5, 2)), {"contamination": 0.7}, InputError),
        (np.zeros((5, 2)), {"metric": "manhattan"}, InputError),
    ],
)
def test_outlier_input_errors(X, kw, err):
    with pytest.raises(err):
        find_outliers(X, **kw)


# ------------------------------------------------------------------------------ imbalance
def test_class_balance_by_hand():
    labels = ["a"] * 8 + ["b"] * 2 + ["c"]
    bal = class_balance(labels, classes=["a", "b", "c", "d"])
    assert bal["count"].to_dict() == {"a": 8, "b": 2, "c": 1, "d": 0}
    assert bal.loc["a", "share"] == pytest.approx(8 / 11)
    assert bal.attrs["imbalance_ratio"] == pytest.approx(8.0)
    assert "no items for d" in bal.attrs["advice"]
    p = np.array([8, 2, 1]) / 11
    assert bal.attrs["entropy"] == pytest.approx(-(p * np.log(p)).sum() / np.log(3))


def test_class_balance_advice_and_multilabel():
    bal = class_balance(["x"] * 9 + ["y"] * 3)
    assert "class_weights" in bal.attrs["advice"] and "y" in bal.attrs["advice"]
    assert "no remedy" in class_balance(["x", "y", "x", "y"]).attrs["advice"]
    m = class_balance([["a", "b"], ["a"], [], ["a"]])
    assert m.attrs["multi_label"]
    assert m["count"].to_dict() == {"a": 3, "b": 1}
    assert m.loc["a", "share"] == pytest.approx(0.75)  # share of items carrying the tag


def test_class_weights_match_scikit_learn_balanced():
    from sklearn.utils.class_weight import compute_class_weight

    labels = np.array(["a"] * 6 + ["b"] * 3 + ["c"])
    w = class_weights(labels)
    ref = compute_class_weight("balanced", classes=np.array(["a", "b", "c"]), y=labels)
    assert [w["a"], w["b"], w["c"]] == pytest.approx(list(ref))
    assert class_weights(labels, method="sqrt")["c"] == pytest.approx(np.sqrt(ref[2]))
    eff = class_weights(labels, method="effective", beta=0.9)
    raw = {c: (1 - 0.9) / (1 - 0.9**n) for c, n in (("a", 6), ("b", 3), ("c", 1))}
    mean = np.mean(list(raw.values()))
    assert eff == pytest.approx({c: v / mean for c, v in raw.items()})
    with pytest.raises(InputError):
        class_weights(labels, method="nope")


def test_resample_over_and_under():
    labels = pd.Series(["a"] * 6 + ["b"] * 3 + ["c"])
    idx = resample(labels, strategy="oversample", random_state=1)
    counts = labels.iloc[idx].value_counts().to_dict()
    assert counts == {"a": 6, "b": 6, "c": 6}
    assert set(range(10)) <= set(idx.tolist())  # every original item kept
    idx = resample(labels, strategy="undersample", random_state=1)
    assert labels.iloc[idx].value_counts().to_dict() == {"a": 1, "b": 1, "c": 1}
    idx = resample(labels, strategy="undersample", target=3)
    assert labels.iloc[idx].value_counts().to_dict() == {"a": 3, "b": 3, "c": 1}
    np.testing.assert_array_equal(resample(labels, random_state=5), resample(labels, random_state=5))
    with pytest.raises(InputError):
        resample(labels, strategy="smote")
    with pytest.raises(InputError):
        resample([["a"], ["b"]])
    with pytest.raises(EmptyInputError):
        resample([])
