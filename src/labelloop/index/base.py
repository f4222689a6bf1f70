"""The vector index interface and the exact (numpy/BLAS) reference index.

Distance convention, the same for every backend (smaller is closer):

- ``cosine``: ``1 - cos(q, x)`` in ``[0, 2]`` (vectors are L2-normalised on the way in);
- ``l2``: squared Euclidean distance ``||q - x||^2``;
- ``ip``: negative inner product ``-<q, x>``.

``search(queries, k)`` returns ``(ids, distances)``, both ``[n_queries, k]``, sorted by
distance, always aligned row for row and column for column; where fewer than ``k`` items are
indexed the rows are padded with id ``-1`` and distance ``inf``. Ids are non-negative integers
chosen by the caller (``build(vectors)`` without ids numbers rows ``0..n-1``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from labelloop.exceptions import ConfigError, InputError, NotFoundError

METRICS = ("cosine", "l2", "ip")
PAD_ID = -1


def _as_vectors(x: Any, dim: int | None, what: str = "vectors") -> np.ndarray:
    try:
        arr = np.asarray(x, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{what} must be a numeric array: {exc}") from exc
    if arr.ndim == 1 and arr.size and dim is not None and arr.size == dim:
        arr = arr[None, :]
    if arr.ndim != 2:
        raise InputError(f"{what} must be a 2-D array [n, dim], got shape {arr.shape}")
    if dim is not None and arr.shape[0] and arr.shape[1] != dim:
        raise InputError(f"{what} have {arr.shape[1]} dimensions; the index holds {dim}-d vectors")
    if arr.size and not np.isfinite(arr).all():
        raise InputError(f"{what} contain NaN or infinite values")
    return np.ascontiguousarray(arr)


def _as_ids(ids: Any, n: int) -> np.ndarray:
    arr = np.asarray(ids)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise InputError(f"ids must be a 1-D sequence of {n} integers, got shape {arr.shape}")
    if n and not np.issubdtype(arr.dtype, np.integer):
        raise InputError(f"ids must be integers, got {arr.dtype}; map other keys to integer ids first")
    arr = arr.astype(np.int64)
    if n and arr.min() < 0:
        raise InputError("ids must be non-negative (-1 marks padding in search results)")
    if np.unique(arr).size != n:
        raise InputError("ids must be unique")
    return arr


def _normalize(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)


class VectorIndex:
    """Shared validation and id bookkeeping; backends implement the ``_`` methods."""

    backend = "base"

    def __init__(self, *, metric: str = "cosine", **params: Any):
        if metric not in METRICS:
            raise InputError(f"metric must be one of {', '.join(METRICS)}, got {metric!r}")
        self.metric = metric
        self.params = dict(params)
        self.dim: int | None = None
        self._ids = np.zeros(0, dtype=np.int64)  # live ids, in insertion order

    # ------------------------------------------------------------------ public API
    def __len__(self) -> int:
        return int(self._ids.size)

    @property
    def ids(self) -> np.ndarray:
        """Live ids (a copy)."""
        return self._ids.copy()

    def build(self, vectors, ids=None) -> VectorIndex:
        """Replace the contents with ``vectors`` (ids default to ``0..n-1``). Returns self."""
        x = _as_vectors(vectors, None)
        if x.shape[0] == 0:
            raise InputError("cannot build an index from zero vectors")
        ids = np.arange(x.shape[0], dtype=np.int64) if ids is None else _as_ids(ids, x.shape[0])
        self.dim = int(x.shape[1])
        x = self._prep(x)
        self._build(x, ids)
        self._ids = ids.copy()
        return self

    def add(self, vectors, ids) -> VectorIndex:
        """Add vectors under new ids (an id already present is an error)."""
        x = _as_vectors(vectors, self.dim)
        ids = _as_ids(ids, x.shape[0])
        if x.shape[0] == 0:
            return self
        if self.dim is None:
            return self.build(x, ids)
        clash = np.intersect1d(ids, self._ids)
        if clash.size:
            raise InputError(f"ids already in the index: {clash[:5].tolist()}; remove them first")
        self._add(self._prep(x), ids)
        self._ids = np.concatenate([self._ids, ids])
        return self

    def remove(self, ids, *, missing: str = "raise") -> int:
        """Remove ids; returns how many were removed. ``missing='ignore'`` skips unknown ids."""
        arr = np.unique(np.asarray(ids, dtype=np.int64).ravel())
        present = np.isin(arr, self._ids)
        if not present.all() and missing == "raise":
            raise NotFoundError(f"ids not in the index: {arr[~present][:5].tolist()}")
        arr = arr[present]
        if arr.size:
            self._remove(arr)
            self._ids = self._ids[~np.isin(self._ids, arr)]
        return int(arr.size)

    def search(self, queries, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """``k`` nearest ids and distances per query, aligned, best first (see module docstring)."""
        if self.dim is None:
            raise NotFoundError("the index is empty; build() it first")
        if not isinstance(k, (int, np.integer)) or k < 1:
            raise InputError(f"k must be a positive integer, got {k!r}")
        q = self._prep(_as_vectors(queries, self.dim, "queries"))
        nq = q.shape[0]
        ids = np.full((nq, k), PAD_ID, dtype=np.int64)
        dist = np.full((nq, k), np.inf, dtype=np.float32)
        kk = min(int(k), len(self))
        if nq and kk:
            got_ids, got_d = self._search(q, kk)
            got_ids = np.asarray(got_ids, dtype=np.int64)
            got_d = np.asarray(got_d, dtype=np.float32)
            bad = got_ids < 0
            if bad.any():
                got_d[bad] = np.inf
            w = got_ids.shape[1]
            if w > 1 and not (got_d[:, 1:] >= got_d[:, :-1]).all():
                # only re-sort when a backend returned a row out of order (most never do)
                order = np.argsort(got_d, axis=1, kind="stable")
                got_ids = np.take_along_axis(got_ids, order, axis=1)
                got_d = np.take_along_axis(got_d, order, axis=1)
            ids[:, :w] = got_ids
            dist[:, :w] = got_d
            if bad.any():
                dist[ids < 0] = np.inf
        return ids, dist

    def save(self, path: str | os.PathLike) -> Path:
        """Write the index to folder ``path`` (created); read it back with :func:`load_index`."""
        if self.dim is None:
            raise InputError("cannot save an empty index")
        p = Path(path)
        p.mkdir(parents=True, exist_ok=True)
        np.save(p / "ids.npy", self._ids)
        self._save(p)
        meta = {"backend": self.backend, "metric": self.metric, "dim": self.dim, "count": len(self), "params": self.params, "state": self._state()}
        (p / "index.json").write_text(json.dumps(meta, indent=2, default=_json_default))
        return p

    @classmethod
    def load(cls, path: str | os.PathLike) -> VectorIndex:
        return load_index(path)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(metric={self.metric!r}, n={len(self)}, dim={self.dim})"

    # ------------------------------------------------------------------ backend hooks
    def _prep(self, x: np.ndarray) -> np.ndarray:
        return _normalize(x) if self.metric == "cosine" else x

    def _build(self, x: np.ndarray, ids: np.ndarray) -> None:  # pragma: no cover
        raise NotImplementedError

    def _add(self, x: np.ndarray, ids: np.ndarray) -> None:  # pragma: no cover
        raise NotImplementedError

    def _remove(self, ids: np.ndarray) -> None:  # pragma: no cover
        raise NotImplementedError

    def _search(self, q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover
        raise NotImplementedError

    def _save(self, path: Path) -> None:  # pragma: no cover
        raise NotImplementedError

    def _load(self, path: Path, state: dict) -> None:  # pragma: no cover
        raise NotImplementedError

    def _state(self) -> dict:
        return {}


def _json_default(o):
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    return str(o)


def distances_from_scores(scores: np.ndarray, metric: str, qn: np.ndarray | None = None, xn: np.ndarray | None = None) -> np.ndarray:
    """Inner products -> distances in the shared convention."""
    if metric == "cosine":
        return 1.0 - scores
    if metric == "ip":
        return -scores
    return np.maximum(qn[:, None] + xn[None, :] - 2.0 * scores, 0.0)


class ExactIndex(VectorIndex):
    """Brute force over a numpy matrix with BLAS; the reference every backend is tested against.

    ``chunk`` queries are scored at a time (memory ``chunk * n * 4`` bytes).
    """

    backend = "exact"

    def __init__(self, *, metric: str = "cosine", chunk: int = 1024):
        super().__init__(metric=metric, chunk=int(chunk))
        self._x = np.zeros((0, 0), dtype=np.float32)
        self._xn = np.zeros(0, dtype=np.float32)

    def _build(self, x, ids):
        self._x = x.copy()
        self._xn = (x * x).sum(1)

    def _add(self, x, ids):
        self._x = np.concatenate([self._x, x])
        self._xn = np.concatenate([self._xn, (x * x).sum(1)])

    def _remove(self, ids):
        keep = ~np.isin(self._ids, ids)
        self._x = self._x[keep]
        self._xn = self._xn[keep]

    @property
    def vectors(self) -> np.ndarray:
        """The stored (for cosine: normalised) vectors, row ``i`` under ``ids[i]``."""
        return self._x

    def _search(self, q, k):
        n = self._x.shape[0]
        chunk = max(1, int(self.params.get("chunk", 1024)) * 4096 // max(n, 4096))
        out_i = np.empty((q.shape[0], k), dtype=np.int64)
        out_d = np.empty((q.shape[0], k), dtype=np.float32)
        qn_all = (q * q).sum(1) if self.metric == "l2" else None
        for s in range(0, q.shape[0], chunk):
            qs = q[s : s + chunk]
            d = distances_from_scores(qs @ self._x.T, self.metric, None if qn_all is None else qn_all[s : s + chunk], self._xn)
            if k < n:
                part = np.argpartition(d, k - 1, axis=1)[:, :k]
            else:
                part = np.broadcast_to(np.arange(n), (qs.shape[0], n)).copy()
            pd = np.take_along_axis(d, part, axis=1)
            order = np.argsort(pd, axis=1, kind="stable")
            out_i[s : s + chunk] = self._ids[np.take_along_axis(part, order, axis=1)]
            out_d[s : s + chunk] = np.take_along_axis(pd, order, axis=1)
        return out_i, out_d

    def _save(self, path):
        np.save(path / "vectors.npy", self._x)

    def _load(self, path, state):
        self._x = np.load(path / "vectors.npy", mmap_mode="r")
        self._x = np.ascontiguousarray(self._x)
        self._xn = (self._x * self._x).sum(1)


def load_index(path: str | os.PathLike) -> VectorIndex:
    """Read an index written by ``save``."""
    from labelloop.index import get_index

    p = Path(path)
    meta_path = p / "index.json"
    if not meta_path.exists():
        raise ConfigError(f"{p} is not a saved index (no index.json); build one with `labelloop index`")
    meta = json.loads(meta_path.read_text())
    idx = get_index(meta["backend"], metric=meta["metric"], **meta.get("params", {}))
    idx.dim = int(meta["dim"])
    idx._ids = np.load(p / "ids.npy").astype(np.int64)
    idx._load(p, meta.get("state", {}))
    return idx
