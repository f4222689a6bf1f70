"""Approximate index backends (faiss, hnswlib, annoy) and ``auto``; each imported lazily.

All follow the distance convention of :mod:`labelloop.index.base`. Removal: faiss flat/IVF
delete natively; faiss HNSW and hnswlib mark ids deleted and skip them during graph search;
annoy cannot change a built forest, so it filters removed ids (fetching extra neighbours) and
rebuilds its trees on the next search after an ``add`` or when a tenth of it was removed.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from labelloop.exceptions import ConfigError, InputError, require
from labelloop.index.base import ExactIndex, VectorIndex, _normalize


def _faiss():
    return require("faiss", package="faiss-cpu", extra="index", purpose="faiss vector indexes")


class _FaissBase(VectorIndex):
    def _faiss_metric(self):
        faiss = _faiss()
        return faiss.METRIC_L2 if self.metric == "l2" else faiss.METRIC_INNER_PRODUCT

    def _convert(self, d: np.ndarray) -> np.ndarray:
        if self.metric == "cosine":
            return 1.0 - d
        if self.metric == "ip":
            return -d
        return d

    def _search(self, q, k):
        labels = self._index_search(q, k)
        d, i = labels
        return i, self._convert(d)

    def _index_search(self, q, k):
        return self._index.search(q, k)

    def _save(self, path: Path):
        _faiss().write_index(self._index, str(path / "faiss.index"))

    def _load(self, path: Path, state: dict):
        self._index = _faiss().read_index(str(path / "faiss.index"))
        self._after_load(state)

    def _after_load(self, state: dict) -> None:
        pass


class FaissFlatIndex(_FaissBase):
    """faiss ``IndexFlat`` (exact, multi-threaded BLAS) under an id map."""

    backend = "faiss-flat"

    def _build(self, x, ids):
        faiss = _faiss()
        flat = faiss.IndexFlat(x.shape[1], self._faiss_metric())
        self._index = faiss.IndexIDMap2(flat)
        self._index.add_with_ids(x, ids)

    def _add(self, x, ids):
        self._index.add_with_ids(x, ids)

    def _remove(self, ids):
        self._index.remove_ids(_faiss().IDSelectorBatch(ids))


class FaissIVFIndex(_FaissBase):
    """faiss ``IndexIVFFlat``: ``nlist`` k-means cells (default ``4*sqrt(n)``), ``nprobe`` searched."""

    backend = "faiss-ivf"

    def __init__(self, *, metric: str = "cosine", nlist: int | None = None, nprobe: int = 16, train_size: int = 100_000, random_state: int = 0):
        super().__init__(metric=metric, nlist=nlist, nprobe=int(nprobe), train_size=int(train_size), random_state=int(random_state))

    def _build(self, x, ids):
        faiss = _faiss()
        n, d = x.shape
        nlist = self.params.get("nlist") or int(4 * math.sqrt(n))
        nlist = int(max(1, min(nlist, n // 39 if n >= 39 else 1)))
        quant = faiss.IndexFlat(d, self._faiss_metric())
        index = faiss.IndexIVFFlat(quant, d, nlist, self._faiss_metric())
        rng = np.random.default_rng(self.params["random_state"])
        sample = x if n <= self.params["train_size"] else x[rng.choice(n, self.params["train_size"], replace=False)]
        index.cp.seed = self.params["random_state"]
        index.train(sample)
        index.add_with_ids(x, ids)
        index.nprobe = min(int(self.params["nprobe"]), nlist)
        self._index = index
        self._quant = quant
        self.params["nlist"] = nlist

    def _add(self, x, ids):
        self._index.add_with_ids(x, ids)

    def _remove(self, ids):
        self._index.remove_ids(_faiss().IDSelectorBatch(ids))

    def set_nprobe(self, nprobe: int) -> None:
        self.params["nprobe"] = int(nprobe)
        self._index.nprobe = min(int(nprobe), self._index.nlist)

    def _after_load(self, state):
        self._index.nprobe = min(int(self.params.get("nprobe", 16)), self._index.nlist)


class FaissHNSWIndex(_FaissBase):
    """faiss ``IndexHNSWFlat`` (``M`` links, ``ef_construction``, ``ef_search``) under an id map.

    Removed ids are skipped at search time through an id selector.
    """

    backend = "faiss-hnsw"

    def __init__(self, *, metric: str = "cosine", M: int = 32, ef_construction: int = 80, ef_search: int = 64):
        super().__init__(metric=metric, M=int(M), ef_construction=int(ef_construction), ef_search=int(ef_search))
        self._deleted = np.zeros(0, dtype=np.int64)

    def _build(self, x, ids):
        faiss = _faiss()
        hnsw = faiss.IndexHNSWFlat(x.shape[1], self.params["M"], self._faiss_metric())
        hnsw.hnsw.efConstruction = self.params["ef_construction"]
        hnsw.hnsw.efSearch = self.params["ef_search"]
        self._index = faiss.IndexIDMap2(hnsw)
        self._index.add_with_ids(x, ids)
        self._deleted = np.zeros(0, dtype=np.int64)

    def _add(self, x, ids):
        if self._deleted.size and np.isin(ids, self._deleted).any():
            # the graph keeps removed nodes (skipped by id): bring such ids back by a rebuild
            self._rebuild_with(x, ids)
            return
        self._index.add_with_ids(x, ids)

    def _rebuild_with(self, x, ids):
        faiss = _faiss()
        live = self._ids
        old = np.vstack([self._index.reconstruct(int(i)) for i in live]) if live.size else np.zeros((0, x.shape[1]), np.float32)
        self._build(np.concatenate([old, x]).astype(np.float32), np.concatenate([live, ids]))
        del faiss

    def _remove(self, ids):
        self._deleted = np.union1d(self._deleted, ids)

    def set_ef(self, ef: int) -> None:
        self.params["ef_search"] = int(ef)

    def _index_search(self, q, k):
        faiss = _faiss()
        params = faiss.SearchParametersHNSW()
        params.efSearch = max(int(self.params["ef_search"]), k)
        sel = None
        if self._deleted.size:
            batch = faiss.IDSelectorBatch(self._deleted)
            sel = faiss.IDSelectorNot(batch)
            params.sel = sel
            self._keep = (batch, sel)  # the C++ selector must outlive the search
        return self._index.search(q, k, params=params)

    def _state(self):
        return {"deleted": self._deleted.tolist()}

    def _after_load(self, state):
        self._deleted = np.asarray(state.get("deleted", []), dtype=np.int64)


class HnswlibIndex(VectorIndex):
    """hnswlib HNSW graph (``M``, ``ef_construction``, ``ef_search``); removal marks ids deleted."""

    backend = "hnswlib"

    def __init__(self, *, metric: str = "cosine", M: int = 32, ef_construction: int = 80, ef_search: int = 64, num_threads: int = -1, random_state: int = 100):
        super().__init__(metric=metric, M=int(M), ef_construction=int(ef_construction), ef_search=int(ef_search), num_threads=int(num_threads), random_state=int(random_state))

    def _space(self) -> str:
        return "l2" if self.metric == "l2" else "ip"

    def _new(self, dim: int, capacity: int):
        hnswlib = require("hnswlib", extra="index", purpose="hnswlib vector indexes")
        idx = hnswlib.Index(space=self._space(), dim=dim)
        idx.init_index(max_elements=capacity, ef_construction=self.params["ef_construction"], M=self.params["M"], random_seed=self.params["random_state"])
        idx.set_ef(self.params["ef_search"])
        idx.set_num_threads(self.params["num_threads"] if self.params["num_threads"] > 0 else _cpu_count())
        return idx

    def _build(self, x, ids):
        self._index = self._new(x.shape[1], max(16, x.shape[0]))
        self._index.add_items(x, ids)

    def _add(self, x, ids):
        need = self._index.get_current_count() + x.shape[0]
        if need > self._index.get_max_elements():
            self._index.resize_index(max(need, int(self._index.get_max_elements() * 1.5)))
        self._index.add_items(x, ids)

    def _remove(self, ids):
        for i in ids.tolist():
            self._index.mark_deleted(int(i))

    def set_ef(self, ef: int) -> None:
        self.params["ef_search"] = int(ef)
        self._index.set_ef(int(ef))

    def _search(self, q, k):
        ef = max(self.params["ef_search"], k)
        self._index.set_ef(ef)
        while True:
            try:
                labels, d = self._index.knn_query(q, k=k)
                break
            except RuntimeError:
                # too few live neighbours reachable for this ef: widen the search
                if ef >= len(self) + k:
                    raise
                ef = min(ef * 2, len(self) + k)
                self._index.set_ef(ef)
        self._index.set_ef(max(self.params["ef_search"], 1))
        labels = labels.astype(np.int64)
        if self.metric == "cosine":
            return labels, d
        if self.metric == "ip":
            return labels, d - 1.0
        return labels, d

    def _save(self, path):
        self._index.save_index(str(path / "hnswlib.bin"))

    def _load(self, path, state):
        hnswlib = require("hnswlib", extra="index", purpose="hnswlib vector indexes")
        idx = hnswlib.Index(space=self._space(), dim=self.dim)
        idx.load_index(str(path / "hnswlib.bin"))
        idx.set_ef(self.params["ef_search"])
        self._index = idx


class AnnoyIndex(VectorIndex):
    """Spotify annoy random-projection forest (``n_trees``; ``search_k`` = -1 means annoy's default).

    Annoy cannot change a built forest: removed ids are filtered at search time, and the forest
    is rebuilt lazily after ``add`` or when more than ``rebuild_fraction`` of it was removed.
    """

    backend = "annoy"

    def __init__(self, *, metric: str = "cosine", n_trees: int = 50, search_k: int = -1, rebuild_fraction: float = 0.1, random_state: int = 42):
        super().__init__(metric=metric, n_trees=int(n_trees), search_k=int(search_k), rebuild_fraction=float(rebuild_fraction), random_state=int(random_state))
        self._index = None

    def _annoy_metric(self):
        return {"cosine": "angular", "l2": "euclidean", "ip": "dot"}[self.metric]

    def _build_forest(self, x: np.ndarray, ids: np.ndarray) -> None:
        annoy = require("annoy", extra="index", purpose="annoy vector indexes")
        idx = annoy.AnnoyIndex(x.shape[1], self._annoy_metric())
        idx.set_seed(self.params["random_state"])
        from labelloop.progress import progress

        for i in progress(range(x.shape[0]), total=x.shape[0], desc="annoy add", unit="vec"):
            idx.add_item(i, x[i])
        idx.build(self.params["n_trees"], n_jobs=-1)
        self._index = idx
        self._x = x
        self._pos_ids = ids.copy()  # annoy item i -> our id, -1 once removed
        self._dirty = False

    def _build(self, x, ids):
        self._build_forest(x, ids)

    def _add(self, x, ids):
        self._x = np.concatenate([self._x, x])
        self._pos_ids = np.concatenate([self._pos_ids, ids])
        self._dirty = True

    def _remove(self, ids):
        self._pos_ids = np.where(np.isin(self._pos_ids, ids), -1, self._pos_ids)
        removed = int((self._pos_ids < 0).sum())
        if removed > self.params["rebuild_fraction"] * self._pos_ids.size:
            self._dirty = True

    def _refresh(self) -> None:
        if self._dirty:
            live = self._pos_ids >= 0
            self._build_forest(np.ascontiguousarray(self._x[live]), self._pos_ids[live])

    def _search(self, q, k):
        self._refresh()
        n_removed = int((self._pos_ids < 0).sum())
        fetch = k + n_removed
        out_i = np.full((q.shape[0], k), -1, dtype=np.int64)
        out_d = np.full((q.shape[0], k), np.inf, dtype=np.float32)
        for r in range(q.shape[0]):
            pos, dist = self._index.get_nns_by_vector(q[r], fetch, search_k=self.params["search_k"], include_distances=True)
            pos = np.asarray(pos, dtype=np.int64)
            ids = self._pos_ids[pos] if pos.size else pos
            keep = ids >= 0
            ids, dist = ids[keep][:k], np.asarray(dist, dtype=np.float32)[keep][:k]
            out_i[r, : ids.size] = ids
            out_d[r, : ids.size] = dist
        if self.metric == "cosine":
            out_d = np.where(np.isfinite(out_d), out_d * out_d / 2.0, np.inf)
        elif self.metric == "l2":
            out_d = np.where(np.isfinite(out_d), out_d * out_d, np.inf)
        else:
            out_d = np.where(np.isfinite(out_d), -out_d, np.inf)
        return out_i, out_d

    def _save(self, path):
        self._refresh()
        self._index.save(str(path / "annoy.ann"))
        np.save(path / "annoy_pos_ids.npy", self._pos_ids)
        np.save(path / "annoy_vectors.npy", self._x)

    def _load(self, path, state):
        annoy = require("annoy", extra="index", purpose="annoy vector indexes")
        idx = annoy.AnnoyIndex(self.dim, self._annoy_metric())
        idx.load(str(path / "annoy.ann"))
        self._index = idx
        self._pos_ids = np.load(path / "annoy_pos_ids.npy")
        self._x = np.load(path / "annoy_vectors.npy")
        self._dirty = False


def _cpu_count() -> int:
    import os

    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover
        return max(1, os.cpu_count() or 1)


class AutoIndex(VectorIndex):
    """Exact search below ``exact_below`` vectors; above, an HNSW graph whose search breadth is
    raised until recall@``k_calibrate`` on ``n_calibrate`` sampled data points (measured against
    exact search) reaches ``recall_target``. From ``ivf_above`` vectors on, faiss IVF instead
    (its ``nprobe`` raised the same way): an HNSW graph's build time grows faster than the data
    (on 2 cores, minutes at 100k x 384 and about an hour at 1M), while IVF trains k-means on a
    sample and builds 1M x 384 in about two minutes; its searches are slower than the graph's
    but still thousands per second.

    After ``build``: ``backend_`` names the chosen backend, ``index_`` is it, and
    ``recall_estimate_`` the measured recall (1.0 for exact).
    """

    backend = "auto"

    def __init__(self, *, metric: str = "cosine", recall_target: float = 0.95, exact_below: int = 50_000, ivf_above: int | None = 500_000, k_calibrate: int = 10, n_calibrate: int = 200, prefer: tuple[str, ...] = ("faiss-hnsw", "hnswlib", "faiss-ivf"), random_state: int = 0):
        if not 0 < recall_target <= 1:
            raise InputError(f"recall_target must be in (0, 1], got {recall_target}")
        super().__init__(metric=metric, recall_target=float(recall_target), exact_below=int(exact_below), ivf_above=None if ivf_above is None else int(ivf_above), k_calibrate=int(k_calibrate), n_calibrate=int(n_calibrate), prefer=tuple(prefer), random_state=int(random_state))
        self.index_: VectorIndex | None = None

    def _prep(self, x):
        return x  # the chosen backend prepares vectors itself

    def _choose(self, n: int) -> str:
        import importlib.util

        prefer = list(self.params["prefer"])
        big = self.params.get("ivf_above")
        if big is not None and n >= big and "faiss-ivf" in prefer:
            prefer.remove("faiss-ivf")
            prefer.insert(0, "faiss-ivf")  # build time dominates at this size
        for name in prefer:
            mod = {"faiss-hnsw": "faiss", "faiss-ivf": "faiss", "hnswlib": "hnswlib"}.get(name, name)
            if importlib.util.find_spec(mod) is not None:
                return name
        return "exact"

    def _build(self, x, ids):
        from labelloop.index import get_index

        n = x.shape[0]
        if n < self.params["exact_below"]:
            self.index_ = ExactIndex(metric=self.metric).build(x, ids)
            self.backend_, self.recall_estimate_ = "exact", 1.0
            return
        name = self._choose(n)
        self.index_ = get_index(name, metric=self.metric).build(x, ids)
        self.backend_ = name
        self.recall_estimate_ = 1.0 if name == "exact" else self._calibrate(x, ids)

    def _calibrate(self, x, ids) -> float:
        """Raise the search breadth until recall@k on sampled data points reaches the target.

        Each sampled point is itself indexed; it is left out of both the exact and the
        approximate neighbour lists so it cannot inflate the recall.
        """
        rng = np.random.default_rng(self.params["random_state"])
        n = x.shape[0]
        k = min(self.params["k_calibrate"], n - 1)
        sample = rng.choice(n, min(self.params["n_calibrate"], n), replace=False)
        q = x[sample]
        self_ids = ids[sample][:, None]
        truth, _ = ExactIndex(metric=self.metric).build(x, ids).search(q, k + 1) if n <= 200_000 else _exact_topk(x, ids, q, k + 1, self.metric)
        truth = [row[row != s][:k] for row, s in zip(truth, self_ids[:, 0], strict=True)]
        idx = self.index_
        knob = {"faiss-hnsw": ("set_ef", 16, 4096), "hnswlib": ("set_ef", 16, 4096), "faiss-ivf": ("set_nprobe", 1, int(idx.params.get("nlist") or 1))}[self.backend_]
        setter, value, cap = knob
        recall = 0.0
        while True:
            getattr(idx, setter)(value)
            got, _ = idx.search(q, k + 1)
            recall = float(np.mean([np.intersect1d(g[g != s][:k], t).size / max(t.size, 1) for g, t, s in zip(got, truth, self_ids[:, 0], strict=True)]))
            if recall >= self.params["recall_target"] or value >= cap:
                break
            value = min(int(value * 1.5) + 1, cap)
        self.tuned_ = {setter.removeprefix("set_"): value}
        return recall

    def _add(self, x, ids):
        self.index_.add(x, ids)

    def _remove(self, ids):
        self.index_.remove(ids)

    def _search(self, q, k):
        return self.index_.search(q, k)

    def save(self, path):
        if self.index_ is None:
            raise InputError("cannot save an empty index")
        return self.index_.save(path)


def _exact_topk(x, ids, q, k, metric):
    """Exact top-k of a few queries over a large matrix without copying it."""
    from labelloop.index.base import distances_from_scores

    xx = _normalize(x) if metric == "cosine" else x
    qq = _normalize(q) if metric == "cosine" else q
    best_d = np.full((qq.shape[0], 0), np.inf, dtype=np.float32)
    best_i = np.zeros((qq.shape[0], 0), dtype=np.int64)
    for s in range(0, xx.shape[0], 100_000):
        blk = xx[s : s + 100_000]
        d = distances_from_scores(qq @ blk.T, metric, (qq * qq).sum(1), (blk * blk).sum(1)).astype(np.float32)
        cand_d = np.concatenate([best_d, d], axis=1)
        cand_i = np.concatenate([best_i, np.broadcast_to(ids[s : s + blk.shape[0]], d.shape)], axis=1)
        top = np.argsort(cand_d, axis=1, kind="stable")[:, :k]
        best_d = np.take_along_axis(cand_d, top, axis=1)
        best_i = np.take_along_axis(cand_i, top, axis=1)
    return best_i, best_d


def check_backend(name: str) -> None:
    """Raise ConfigError naming the valid backends when ``name`` is not one."""
    from labelloop.index import BACKENDS

    if name not in BACKENDS:
        raise ConfigError(f"unknown index backend {name!r}; choose one of {', '.join(BACKENDS)}")
