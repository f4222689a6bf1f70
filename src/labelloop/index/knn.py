"""k-nearest-neighbour helpers shared by the loop, weak supervision and dataset health."""

from __future__ import annotations

import numpy as np

from labelloop.exceptions import InputError


def knn_graph(vectors, k: int = 10, *, backend: str = "auto", metric: str = "cosine", **params) -> tuple[np.ndarray, np.ndarray]:
    """Each row's ``k`` nearest *other* rows: ``(neighbours [n, k] row positions, distances)``.

    The row itself is left out even when exact duplicates tie with it. Distances follow the
    index convention (cosine: ``1 - similarity``). Rows with fewer than ``k`` others are padded
    with -1 / inf.
    """
    from labelloop.index import get_index

    x = np.asarray(vectors, dtype=np.float32)
    if x.ndim != 2:
        raise InputError(f"vectors must be 2-D [n, dim], got shape {x.shape}")
    if not isinstance(k, (int, np.integer)) or k < 1:
        raise InputError(f"k must be a positive integer, got {k!r}")
    n = x.shape[0]
    if n == 0:
        return np.zeros((0, k), dtype=np.int64), np.zeros((0, k), dtype=np.float32)
    index = get_index(backend, metric=metric, **params).build(x)
    ids, dist = index.search(x, min(int(k) + 1, n) if n > 1 else 1)
    rows = np.arange(n)[:, None]
    is_self = ids == rows
    # drop self where found, else the last (farthest) column
    drop = np.where(is_self.any(1), is_self.argmax(1), ids.shape[1] - 1)
    keep = np.ones_like(ids, dtype=bool)
    keep[np.arange(n), drop] = False
    ids = ids[keep].reshape(n, -1)
    dist = dist[keep].reshape(n, -1)
    out_i = np.full((n, k), -1, dtype=np.int64)
    out_d = np.full((n, k), np.inf, dtype=np.float32)
    out_i[:, : ids.shape[1]] = ids
    out_d[:, : ids.shape[1]] = dist
    return out_i, out_d
