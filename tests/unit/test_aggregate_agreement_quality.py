"""Agreement statistics with published values, honeypot intervals, multi-label with taxonomy."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from labelloop.aggregate import (
    DawidSkene,
    MultiLabelAggregator,
    agreement_summary,
    cohen_kappa,
    cohen_kappa_matrix,
    enforce_taxonomy,
    fleiss_kappa,
    honeypot_accuracy,
    item_entropy,
    krippendorff_alpha,
    source_quality,
)
from labelloop.aggregate._kernels import wilson_interval
from labelloop.exceptions import InputError
from labelloop.schema import Taxonomy
from labelloop.votes import MultiLabelVotes, VoteMatrix

# Fleiss (1971) as tabulated on Wikipedia: 10 subjects, 14 raters, 5 categories, kappa 0.210
FLEISS_TABLE = np.array(
    [
        [0, 0, 0, 0, 14],
        [0, 2, 6, 4, 2],
        [0, 0, 3, 5, 6],
        [0, 3, 9, 2, 0],
        [2, 2, 8, 1, 1],
        [7, 7, 0, 0, 0],
        [3, 2, 6, 3, 0],
        [2, 5, 3, 2, 2],
        [6, 5, 2, 1, 0],
        [0, 2, 2, 3, 7],
    ]
)


def test_fleiss_kappa_published_example():
    L = np.array([np.repeat(np.arange(5), row) for row in FLEISS_TABLE])
    assert fleiss_kappa(VoteMatrix.from_dense(L)) == pytest.approx(0.20993, abs=1e-5)


def test_krippendorff_alpha_published_example():
    # Krippendorff (2011), "Computing Krippendorff's alpha-reliability": 4 observers, 12 units,
    # missing values; nominal alpha = 0.743
    nan = np.nan
    obs = [
        [1, 2, 3, 3, 2, 1, 4, 1, 2, nan, nan, nan],
        [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, nan, 3],
        [nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, nan],
        [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, nan],
    ]
    L = np.array(obs).T
    L = np.where(np.isnan(L), -1, L - 1).astype(int)
    assert krippendorff_alpha(VoteMatrix.from_dense(L)) == pytest.approx(0.743, abs=5e-4)


def test_cohen_kappa_exact_and_matrix():
    assert cohen_kappa([0, 0, 1, 1], [0, 1, 1, 1]) == pytest.approx(0.5)
    L = np.array([[0, 0, 0], [0, 1, -1], [1, 1, 1], [1, 1, -1]])
    m = cohen_kappa_matrix(VoteMatrix.from_dense(L))
    assert m.loc["source_0", "source_1"] == pytest.approx(0.5)
    assert m.loc["source_0", "source_0"] == pytest.approx(1.0)
    assert m.loc["source_0", "source_2"] == pytest.approx(1.0)  # agree on both shared items
    assert np.isnan(cohen_kappa([], []))


def test_perfect_agreement_and_entropy():
    L = np.array([[0, 0, 0], [1, 1, 1], [2, 2, 2], [0, 1, -1]])
    vm = VoteMatrix.from_dense(L)
    np.testing.assert_allclose(item_entropy(vm), [0, 0, 0, np.log(2)])
    np.testing.assert_allclose(item_entropy(vm, normalized=True)[3], np.log(2) / np.log(3))
    s = agreement_summary(VoteMatrix.from_dense(L[:3]))
    assert s["fleiss_kappa"] == pytest.approx(1.0) and s["krippendorff_alpha"] == pytest.approx(1.0)
    assert s["mean_cohen_kappa"] == pytest.approx(1.0) and s["mean_item_entropy"] == 0.0


def test_wilson_interval_known_values():
    lo, hi = wilson_interval(np.array([8, 0]), np.array([10, 0]))
    assert lo[0] == pytest.approx(0.4902, abs=1e-4) and hi[0] == pytest.approx(0.9433, abs=1e-4)
    assert np.isnan(lo[1]) and np.isnan(hi[1])


def test_honeypot_accuracy():
    df = pd.DataFrame(
        {
            "task": ["g1", "g2", "g3", "x", "g1", "g2", "x"],
            "worker": ["a", "a", "a", "a", "b", "b", "c"],
            "label": ["y", "n", "y", "y", "n", "n", "y"],
        }
    )
    gold = pd.DataFrame({"question": ["g1", "g2", "g3"], "truth": ["y", "n", "n"]})
    hp = honeypot_accuracy(VoteMatrix.from_answers(df), gold)
    assert hp.loc["a", "n_gold"] == 3 and hp.loc["a", "n_correct"] == 2
    assert hp.loc["a", "accuracy"] == pytest.approx(2 / 3)
    assert hp.loc["b", "accuracy"] == pytest.approx(0.5)
    assert hp.loc["c", "n_gold"] == 0 and np.isnan(hp.loc["c", "accuracy"])
    lo, hi = wilson_interval(np.array([2]), np.array([3]))
    assert hp.loc["a", "ci_low"] == pytest.approx(lo[0]) and hp.loc["a", "ci_high"] == pytest.approx(hi[0])
    with pytest.raises(InputError):
        honeypot_accuracy(VoteMatrix.from_answers(df), {"zz": "y"})


def test_source_quality_with_gold_columns():
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 2, 200)
    L = np.stack([truth, np.where(rng.random(200) < 0.8, truth, 1 - truth), rng.integers(0, 2, 200)], 1)
    vm = VoteMatrix.from_dense(L)
    gold = {i: int(truth[i]) for i in range(30)}
    q = source_quality(vm, gold=gold)
    assert {"gold_n", "gold_accuracy", "gold_ci_low", "gold_ci_high"} <= set(q.columns)
    assert q.loc["source_0", "gold_accuracy"] == 1.0
    assert q.loc["source_2", "spammer"] and not q.loc["source_1", "spammer"]
    # few answers: never flagged as a spammer on thin evidence
    q2 = source_quality(VoteMatrix.from_dense(L[:10]))
    assert not q2["spammer"].any()
    # an already-fitted aggregator is reused
    ds = DawidSkene().fit(vm)
    assert source_quality(vm, ds)["accuracy"].tolist() == ds.skills_["accuracy"].tolist()


def _taxonomy():
    return Taxonomy.from_records(
        [
            {"tag": "machine-learning"},
            {"tag": "deep-learning", "parents": ["machine-learning"]},
            {"tag": "transformers", "parents": ["deep-learning"]},
            {"tag": "cooking"},
        ]
    )


def test_enforce_taxonomy_parent_at_least_child():
    p = np.array([[0.2, 0.6, 0.9, 0.1], [0.8, 0.3, 0.1, 0.5]])
    tags = ["machine-learning", "deep-learning", "transformers", "cooking"]
    out = enforce_taxonomy(p, tags, _taxonomy())
    np.testing.assert_allclose(out, [[0.9, 0.9, 0.9, 0.1], [0.8, 0.3, 0.1, 0.5]])


def test_multilabel_aggregation_respects_taxonomy():
    # three annotators; two tag the transformer paper only with the leaf tag
    records = [
        ("p1", "a", ["transformers"]),
        ("p1", "b", ["transformers"]),
        ("p1", "c", ["machine-learning"]),
        ("p2", "a", ["cooking"]),
        ("p2", "b", ["cooking"]),
        ("p2", "c", ["cooking", "machine-learning"]),
        ("p3", "a", ["deep-learning", "machine-learning"]),
        ("p3", "b", ["deep-learning", "machine-learning"]),
        ("p3", "c", ["deep-learning"]),
    ]
    votes = MultiLabelVotes.from_tag_sets(records)
    for method in ("mv", "ds"):
        agg = MultiLabelAggregator(method=method, taxonomy=_taxonomy()).fit(votes)
        tags = agg.tags_
        j = {t: k for k, t in enumerate(tags)}
        for t in tags:
            for a in _taxonomy().ancestors(t):
                if a in j:
                    assert np.all(agg.probas_[:, j[a]] >= agg.probas_[:, j[t]] - 1e-12)
        labels = dict(zip(agg.items_, agg.labels_, strict=True))
        assert "transformers" in labels["p1"] and "machine-learning" in labels["p1"]
        assert labels["p2"] == ["cooking"]
        assert set(labels["p3"]) == {"deep-learning", "machine-learning"}
    no_tax = MultiLabelAggregator(method="mv").fit(votes)
    assert "machine-learning" not in dict(zip(no_tax.items_, no_tax.labels_, strict=True))["p1"]
    frame = agg.to_frame()
    assert list(frame.columns) == ["task", "label", "confidence"]
    assert set(agg.skills_["tag"]) == set(tags)
    gold = MultiLabelAggregator(method="ds").fit(votes, gold={"p2": ["cooking", "machine-learning"]})
    assert "machine-learning" in dict(zip(gold.items_, gold.labels_, strict=True))["p2"]
    with pytest.raises(InputError):
        MultiLabelAggregator().fit(VoteMatrix.from_dense(np.array([[0, 1]])))
