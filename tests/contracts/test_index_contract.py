"""Every vector index backend against the exact reference: recall, aligned distances, removal."""

from __future__ import annotations

import numpy as np
import pytest

from labelloop.exceptions import InputError, NotFoundError
from labelloop.index import BACKENDS, ExactIndex, get_index, load_index

# Minimum recall@10 against exact search on the clustered fixture (exact backends must be 1).
MIN_RECALL = {"exact": 1.0, "faiss-flat": 1.0, "auto": 1.0, "faiss-hnsw": 0.95, "hnswlib": 0.95, "faiss-ivf": 0.9, "annoy": 0.9}


def _clustered(n=3000, d=24, centers=30, seed=0):
    rng = np.random.default_rng(seed)
    c = rng.normal(size=(centers, d))
    x = c[rng.integers(0, centers, n)] + 0.35 * rng.normal(size=(n, d))
    q = c[rng.integers(0, centers, 60)] + 0.35 * rng.normal(size=(60, d))
    return x.astype(np.float32), q.astype(np.float32)


def _true_dist(q, x, metric):
    if metric == "cosine":
        qn = q / np.linalg.norm(q, axis=1, keepdims=True)
        xn = x / np.linalg.norm(x, axis=1, keepdims=True)
        return 1.0 - qn @ xn.T
    if metric == "ip":
        return -(q @ x.T)
    return ((q[:, None, :] - x[None, :, :]) ** 2).sum(-1)


def _recall(got, truth):
    return float(np.mean([np.intersect1d(a[a >= 0], b).size / b.size for a, b in zip(got, truth, strict=True)]))


@pytest.fixture(scope="module")
def data():
    x, q = _clustered()
    ids = np.arange(x.shape[0], dtype=np.int64) * 7 + 3  # ids that are not row numbers
    return x, q, ids


@pytest.mark.parametrize("metric", ["cosine", "l2", "ip"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_matches_exact_and_distances_align(backend, metric, data):
    x, q, ids = data
    index = get_index(backend, metric=metric).build(x, ids)
    got_ids, got_d = index.search(q, 10)
    assert got_ids.shape == got_d.shape == (q.shape[0], 10)
    assert got_ids.dtype == np.int64 and got_d.dtype == np.float32
    truth, _ = ExactIndex(metric=metric).build(x, ids).search(q, 10)
    assert _recall(got_ids, truth) >= MIN_RECALL[backend]
    # every returned distance is the true distance of the returned id (alignment)
    true = _true_dist(q, x, metric)
    row = {int(v): i for i, v in enumerate(ids)}
    expect = np.array([[true[r, row[int(i)]] for i in got_ids[r]] for r in range(q.shape[0])])
    np.testing.assert_allclose(got_d, expect, atol=2e-3 if metric != "cosine" else 1e-4, rtol=1e-4)
    assert (np.diff(got_d, axis=1) >= -1e-6).all(), "results must be sorted best first"


@pytest.mark.parametrize("backend", BACKENDS)
def test_remove_then_search_and_readd(backend, data):
    x, q, ids = data
    index = get_index(backend).build(x, ids)
    gone = ids[::3]
    assert index.remove(gone) == gone.size
    assert len(index) == ids.size - gone.size
    got_ids, got_d = index.search(q, 10)
    assert not np.isin(got_ids, gone).any()
    keep = ~np.isin(ids, gone)
    truth, _ = ExactIndex().build(x[keep], ids[keep]).search(q, 10)
    assert _recall(got_ids, truth) >= MIN_RECALL[backend] - 0.05
    true = _true_dist(q, x, "cosine")
    row = {int(v): i for i, v in enumerate(ids)}
    expect = np.array([[true[r, row[int(i)]] for i in got_ids[r]] for r in range(q.shape[0])])
    np.testing.assert_allclose(got_d, expect, atol=1e-4)
    # add new vectors and bring removed ids back
    index.add(x[::3] * 1.0, gone)
    assert len(index) == ids.size
    got_ids, _ = index.search(q, 10)
    truth, _ = ExactIndex().build(x, ids).search(q, 10)
    assert _recall(got_ids, truth) >= MIN_RECALL[backend] - 0.05


@pytest.mark.parametrize("backend", BACKENDS)
def test_small_index_pads_and_add_after_build(backend):
    x = np.array([[1, 0], [0, 1], [1, 1]], dtype=np.float32)
    index = get_index(backend).build(x, [10, 20, 30])
    ids, d = index.search(np.array([[1, 0.1]], dtype=np.float32), 5)
    assert ids[0, :3].tolist() == [10, 30, 20]
    assert ids[0, 3:].tolist() == [-1, -1] and np.isinf(d[0, 3:]).all()
    np.testing.assert_allclose(d[0, 0], 1 - 1 / np.sqrt(1.01), atol=1e-5)
    index.add(np.array([[1, 0.1]], dtype=np.float32), [40])
    ids, d = index.search(np.array([[1, 0.1]], dtype=np.float32), 2)
    assert ids[0].tolist() == [40, 10]
    assert abs(float(d[0, 0])) < 1e-5
    index.remove([40, 10])
    ids, _ = index.search(np.array([[1, 0.1]], dtype=np.float32), 4)
    assert ids[0].tolist() == [30, 20, -1, -1]


@pytest.mark.parametrize("backend", BACKENDS)
def test_save_load_round_trip(backend, data, tmp_path):
    x, q, ids = data
    index = get_index(backend).build(x, ids)
    index.remove(ids[:100])
    before = index.search(q, 10)
    index.save(tmp_path / "ix")
    again = load_index(tmp_path / "ix")
    assert len(again) == len(index)
    after = again.search(q, 10)
    np.testing.assert_array_equal(after[0], before[0])
    np.testing.assert_allclose(after[1], before[1], atol=1e-6)


@pytest.mark.parametrize("backend", BACKENDS)
def test_errors(backend):
    index = get_index(backend)
    with pytest.raises(NotFoundError):
        index.search(np.ones((1, 3), dtype=np.float32), 1)
    index.build(np.eye(3, dtype=np.float32), [1, 2, 3])
    with pytest.raises(InputError):
        index.search(np.ones((1, 4), dtype=np.float32), 1)
    with pytest.raises(InputError):
        index.add(np.ones((1, 3), dtype=np.float32), [2])
    with pytest.raises(NotFoundError):
        index.remove([99])
    assert index.remove([99], missing="ignore") == 0
    with pytest.raises(InputError):
        index.search(np.ones((1, 3), dtype=np.float32), 0)
    with pytest.raises(InputError):
        get_index(backend).build(np.ones((2, 3), dtype=np.float32), [1, 1])
    with pytest.raises(InputError):
        get_index(backend).build(np.array([[np.nan, 1.0]]), [1])


def test_auto_uses_ann_above_threshold_and_meets_recall(data):
    x, q, ids = data
    index = get_index("auto", exact_below=1000, recall_target=0.97).build(x, ids)
    assert index.backend_ in ("faiss-hnsw", "hnswlib", "faiss-ivf")
    assert index.recall_estimate_ >= 0.97
    truth, _ = ExactIndex().build(x, ids).search(q, 10)
    assert _recall(index.search(q, 10)[0], truth) >= 0.9
    small = get_index("auto").build(x[:100], ids[:100])
    assert small.backend_ == "exact"


def test_auto_switches_to_ivf_for_large_collections(data):
    pytest.importorskip("faiss")
    x, q, ids = data
    index = get_index("auto", exact_below=100, ivf_above=len(x), recall_target=0.95).build(x, ids)
    assert index.backend_ == "faiss-ivf" and index.recall_estimate_ >= 0.95
    assert index.tuned_["nprobe"] >= 1
    truth, _ = ExactIndex().build(x, ids).search(q, 10)
    assert _recall(index.search(q, 10)[0], truth) >= 0.9
    below = get_index("auto", exact_below=100, ivf_above=len(x) + 1).build(x, ids)
    assert below.backend_ == "faiss-hnsw"  # the graph while it is cheap to build


def test_unknown_backend_names_the_choices():
    from labelloop.exceptions import ConfigError

    with pytest.raises(ConfigError, match="faiss-hnsw"):
        get_index("nope")
    assert get_index("faiss").backend == "faiss-hnsw"


@pytest.mark.parametrize("backend", ["exact", "hnswlib"])
def test_knn_graph_leaves_self_out(backend):
    from labelloop.index import knn_graph

    x = np.array([[1, 0], [1, 0], [0, 1], [0.9, 0.1]], dtype=np.float32)  # rows 0 and 1 are identical
    nb, d = knn_graph(x, 2, backend=backend)
    assert nb.shape == (4, 2)
    assert (nb != np.arange(4)[:, None]).all()
    assert nb[0, 0] == 1 and nb[1, 0] == 0 and d[0, 0] == pytest.approx(0.0, abs=1e-6)
    assert set(nb[2].tolist()) == {3, 0} or set(nb[2].tolist()) == {3, 1}
    nb, d = knn_graph(x[:2], 3)
    assert nb.tolist() == [[1, -1, -1], [0, -1, -1]] and np.isinf(d[:, 1:]).all()
