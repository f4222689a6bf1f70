"""Seed candidates, dissimilar flagging, neighbour propagation and retrieval metrics."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from labelloop.exceptions import InputError, NotFittedError
from labelloop.neighbors import (
    NeighborPropagation,
    SeedCandidates,
    average_precision,
    cmc_curve,
    mean_average_precision,
    precision_at_k,
    recall_at_k,
    relevance_from_labels,
    retrieval_report,
    seed_candidates,
)


def _unit(deg):
    r = np.deg2rad(deg)
    return np.stack([np.cos(r), np.sin(r)], axis=1).astype(np.float32)


def test_max_scores_and_candidates_by_hand():
    # seeds: class a at 0 and 10 degrees, class b at 90 degrees
    seeds = _unit([0, 10, 90])
    pool = _unit([5, 80, 45, 60, 200])
    model = SeedCandidates(method="max", threshold=0.5).fit(seeds, ["a", "a", "b"])
    scores, best = model.score(pool)
    theta = np.array([5, 80, 45, 60, 200])
    np.testing.assert_allclose(scores[:, 0], np.maximum(np.cos(np.deg2rad(theta)), np.cos(np.deg2rad(theta - 10))), atol=1e-6)
    np.testing.assert_allclose(best, scores.max(1), atol=1e-6)
    np.testing.assert_allclose(scores[:, 1], np.cos(np.deg2rad([85, 10, 45, 30, 110])), atol=1e-6)
    out = model.candidates(pool, ["p5", "p80", "p45", "p60", "p200"], top=None)
    assert [i for i, _ in out["candidates"]["a"]] == ["p5", "p45"]
    assert [i for i, _ in out["candidates"]["b"]] == ["p80", "p60"]
    assert out["dissimilar"] == ["p200"]  # cos to the nearest seed < 0.5
    np.testing.assert_allclose(out["candidates"]["a"][1][1], np.cos(np.deg2rad(35)), atol=1e-6)


def test_centroid_and_knn_methods():
    seeds = _unit([0, 20, 90])
    pool = _unit([10, 85])
    cen = SeedCandidates(method="centroid").fit(seeds, ["a", "a", "b"])
    s, _ = cen.score(pool)
    np.testing.assert_allclose(s[0, 0], 1.0, atol=1e-6)  # the a-centroid points at 10 degrees
    knn = SeedCandidates(method="knn", k=1).fit(seeds, ["a", "a", "b"])
    s, _ = knn.score(pool)
    np.testing.assert_allclose(s[1], [0.0, np.cos(np.deg2rad(5))], atol=1e-6)
    assert s[0, 1] == 0.0


def test_leave_one_out_threshold_from_the_seeds():
    seeds = _unit([0, 10, 30, 90, 100])
    m = SeedCandidates(target_recall=1.0).fit(seeds, ["a", "a", "a", "b", "b"])
    # nearest same-class seed: 0->10, 10->0, 30->10 (20 deg), 90->100, 100->90
    np.testing.assert_allclose(sorted(m.loo_similarity_), sorted(np.cos(np.deg2rad([10, 10, 20, 10, 10]))), atol=1e-6)
    assert m.threshold_ == pytest.approx(np.cos(np.deg2rad(20)), abs=1e-6)
    m80 = SeedCandidates(target_recall=0.8).fit(seeds, ["a", "a", "a", "b", "b"])
    assert m80.threshold_ >= m.threshold_


def test_seed_candidates_function_excludes_seeds_and_checks_ids():
    x = _unit([0, 5, 90, 95, 180])
    out = seed_candidates(x, ["s1", "u1", "s2", "u2", "far"], ["s1", "s2"], ["a", "b"], method="max", top=5, threshold=0.3)
    assert out["candidates"] == {"a": [("u1", pytest.approx(np.cos(np.deg2rad(5)), abs=1e-6))], "b": [("u2", pytest.approx(np.cos(np.deg2rad(5)), abs=1e-6))]}
    assert out["dissimilar"] == ["far"]
    with pytest.raises(InputError, match="not found"):
        seed_candidates(x, ["a", "b", "c", "d", "e"], ["zz"], ["a"])
    with pytest.raises(NotFittedError):
        SeedCandidates().score(x)
    with pytest.raises(InputError):
        SeedCandidates(method="vote").fit(x[:2], ["a", "b"])


def _mwml(shared_data):
    df = pd.read_csv(shared_data / "madewithml" / "dataset.csv")
    texts = (df.title + ". " + df.description.fillna("")).tolist()
    return texts, df.tag.to_numpy()


def test_seed_candidates_beat_random_on_made_with_ml(shared_data):
    from labelloop.embed import get_embedder

    texts, y = _mwml(shared_data)
    v = get_embedder("tfidf", n_components=128).encode(texts)
    classes = np.unique(y)
    p_seed, p_rand = [], []
    for draw in range(3):
        rng = np.random.default_rng(draw)
        sidx = np.concatenate([rng.choice(np.flatnonzero(y == c), 5, replace=False) for c in classes])
        out = SeedCandidates().fit(v[sidx], y[sidx]).candidates(v, np.arange(len(y)), top=50, exclude=sidx.tolist())
        p_seed.append(np.mean([np.mean([y[i] == c for i, _ in out["candidates"][c]]) for c in classes]))
        p_rand.append(np.mean([np.mean(y[rng.choice(len(y), 50, replace=False)] == c) for c in classes]))
    assert np.median(p_seed) > np.median(p_rand) + 0.3


@pytest.mark.slow
def test_off_topic_items_are_flagged_dissimilar(shared_data):
    pytest.importorskip("torch")
    from labelloop.embed import get_embedder

    texts, y = _mwml(shared_data)
    texts, y = texts[:240], y[:240]
    off = ["Chocolate cake recipe with butter, sugar and eggs baked for forty minutes.",
           "Football match report: the home team scored twice in the second half."]
    v = get_embedder("minilm", show_progress=False).encode(texts + off)
    rng = np.random.default_rng(0)
    sidx = np.concatenate([rng.choice(np.flatnonzero(y == c), 5, replace=False) for c in np.unique(y)])
    out = SeedCandidates(target_recall=0.9).fit(v[sidx], y[sidx]).candidates(v, np.arange(len(v)), top=10)
    assert set(out["dissimilar"]) >= {len(texts), len(texts) + 1}
    assert len(out["dissimilar"]) < 0.5 * len(texts)


def test_propagation_by_hand():
    # labelled: three 'a' near 0 degrees, three 'b' near 90 degrees
    lab = _unit([0, 2, 4, 90, 95, 100])
    prop = NeighborPropagation(k=3, target_precision=1.0, min_calibration=1).fit(lab, list("aaabbb"))
    assert prop.loo_accuracy_ == 1.0
    r = prop.propagate(_unit([1, 95, 48]))
    assert r.labels.tolist()[:2] == ["a", "b"]
    np.testing.assert_allclose(r.margin[:2], 1.0)
    assert r.accepted[:2].all()
    assert r.confidence[0] == pytest.approx(1.0)
    # at 48 degrees the neighbours are 4, 2 (a) and 90 (b): weights cos 44, cos 46, cos 42
    w = np.cos(np.deg2rad([44, 46, 42]))
    assert r.labels[2] == "a"
    assert r.margin[2] == pytest.approx((w[0] + w[1] - w[2]) / w.sum(), abs=1e-5)
    assert prop.threshold_ == pytest.approx(prop.loo_margin_.min())
    assert not r.accepted[2]
    assert r.probs.shape == (3, 2)


def test_propagation_is_calibrated_on_digits():
    from sklearn.datasets import load_digits

    d = load_digits()
    x = d.data.astype(np.float32)
    x -= x.mean(0)
    rng = np.random.default_rng(0)
    perm = rng.permutation(len(x))
    tr, te = perm[:300], perm[300:]
    prop = NeighborPropagation(k=10, target_precision=0.98).fit(x[tr], d.target[tr])
    r = prop.propagate(x[te])
    correct = r.labels.astype(int) == d.target[te]
    assert 0.05 < r.accepted.mean() < 1.0
    assert correct[r.accepted].mean() >= 0.96  # precision among accepted meets the target (up to noise)
    assert correct[r.accepted].mean() > correct[~r.accepted].mean()
    # calibrated: mean confidence tracks accuracy
    assert abs(r.confidence.mean() - correct.mean()) < 0.06


def test_propagation_errors():
    with pytest.raises(InputError):
        NeighborPropagation().fit(np.ones((3, 2)), ["a"])
    with pytest.raises(NotFittedError):
        NeighborPropagation().propagate(np.ones((1, 2)))


# ---------------------------------------------------------------- retrieval metrics
REL = np.array([[1, 0, 1, 0], [0, 0, 0, 1], [0, 0, 0, 0]], dtype=bool)


def test_precision_recall_at_k_by_hand():
    assert precision_at_k(REL, 1) == pytest.approx((1 + 0 + 0) / 3)
    assert precision_at_k(REL, 3) == pytest.approx((2 / 3 + 0 + 0) / 3)
    # n_relevant: 3 for q0 (one not retrieved), 1 for q1, 0 for q2 (excluded from recall)
    assert recall_at_k(REL, 3, n_relevant=[3, 1, 0]) == pytest.approx((2 / 3 + 0) / 2)
    assert recall_at_k(REL, 4, n_relevant=[3, 1, 0]) == pytest.approx((2 / 3 + 1) / 2)


def test_average_precision_and_map_by_hand():
    ap = average_precision(REL, n_relevant=[3, 1, 0])
    np.testing.assert_allclose(ap[:2], [(1 + 2 / 3) / 3, 1 / 4])
    assert np.isnan(ap[2])
    assert mean_average_precision(REL, [3, 1, 0]) == pytest.approx(((1 + 2 / 3) / 3 + 1 / 4) / 2)
    with pytest.raises(InputError):
        average_precision(REL, n_relevant=[1, 1, 0])


def test_cmc_and_report():
    np.testing.assert_allclose(cmc_curve(REL), [1 / 3, 1 / 3, 1 / 3, 2 / 3])
    rel = relevance_from_labels(np.array(["x", "y"]), np.array([["x", "y"], ["x", "y"]]))
    assert rel.tolist() == [[True, False], [False, True]]
    rep = retrieval_report(rel, ks=(1, 2))
    assert rep["P@1"] == 0.5 and rep["CMC@2"] == 1.0 and rep["mAP"] == pytest.approx(0.75)


def test_reid_style_evaluation_with_an_index():
    from labelloop.index import get_index

    rng = np.random.default_rng(0)
    centers = rng.normal(size=(20, 16))
    ident = np.repeat(np.arange(20), 5)
    gallery = (centers[ident] + 0.2 * rng.normal(size=(100, 16))).astype(np.float32)
    query = (centers + 0.2 * rng.normal(size=(20, 16))).astype(np.float32)
    ids, _ = get_index("exact").build(gallery).search(query, 10)
    rel = relevance_from_labels(np.arange(20), ident[ids])
    rep = retrieval_report(rel, n_relevant=np.full(20, 5), ks=(1, 5))
    assert rep["CMC@1"] == 1.0 and rep["R@5"] > 0.95 and rep["mAP"] > 0.95
