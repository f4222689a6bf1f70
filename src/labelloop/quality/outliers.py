"""Outliers: items unlike anything else in the data, by density in embedding space.

An item's *distance score* is the mean distance to its ``n_neighbors`` nearest other items; its
*density ratio* compares that with the same score of its neighbours (a simplified local outlier
factor: around 1 inside a cluster, well above 1 for an item far from its neighbourhood). An
item is an outlier when its score lies above ``Q3 + iqr_factor * IQR`` of all scores (Tukey's
fence, robust to the outliers themselves), or among the top ``contamination`` share if given.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from labelloop.exceptions import EmptyInputError, InputError


def find_outliers(
    features: Any,
    *,
    n_neighbors: int = 10,
    metric: str = "cosine",
    contamination: float | None = None,
    iqr_factor: float = 3.0,
    index: Any = None,
) -> pd.DataFrame:
    """Score every item by how isolated it is in embedding space.

    Returns a DataFrame (one row per item, ``index`` if given) with ``score`` (mean distance to
    the nearest neighbours; higher = more isolated), ``density_ratio`` (score over the mean
    score of its neighbours), ``nearest`` (position of the closest other item),
    ``nearest_distance``, ``is_outlier`` and ``rank`` (1 = most isolated). ``attrs['threshold']``
    holds the score above which items are outliers.

    >>> out = find_outliers(embeddings)                      # doctest: +SKIP
    >>> out.query("is_outlier").sort_values("rank")          # doctest: +SKIP
    """
    import scipy.sparse as sp

    if sp.issparse(features):
        features = features.toarray()
    F = np.asarray(features, dtype=np.float64)
    if F.ndim != 2:
        raise InputError(f"features must be a 2-D items x dimensions array, got shape {F.shape}")
    n = F.shape[0]
    if n == 0:
        raise EmptyInputError("no items: features has no rows")
    if n < 3:
        raise InputError(f"need at least 3 items to find outliers, got {n}")
    if not np.all(np.isfinite(F)):
        raise InputError("features hold NaN or infinite values")
    if n_neighbors < 1:
        raise InputError(f"n_neighbors must be at least 1, got {n_neighbors}")
    if metric not in ("cosine", "euclidean"):
        raise InputError(f"metric must be 'cosine' or 'euclidean', got {metric!r}")
    if contamination is not None and not 0.0 < contamination < 0.5:
        raise InputError(f"contamination must lie in (0, 0.5), got {contamination}")
    if index is not None and len(index) != n:
        raise InputError(f"index has {len(index)} entries for {n} items")
    from sklearn.neighbors import NearestNeighbors

    X = F
    if metric == "cosine":
        X = F / np.maximum(np.linalg.norm(F, axis=1, keepdims=True), 1e-12)
    k = min(n_neighbors, n - 1)
    dist, ind = NearestNeighbors(n_neighbors=k + 1).fit(X).kneighbors(X)
    # drop each item itself (the first hit unless an exact duplicate came first)
    not_self = ind != np.arange(n)[:, None]
    pos = np.cumsum(not_self, axis=1) - 1
    take = not_self & (pos < k)
    r, c = np.nonzero(take)
    D = np.zeros((n, k))
    nbr = np.zeros((n, k), dtype=np.int64)
    D[r, pos[r, c]] = dist[r, c]
    nbr[r, pos[r, c]] = ind[r, c]
    if metric == "cosine":
        D = D**2 / 2.0  # unit vectors: squared euclidean / 2 = cosine distance
    score = D.mean(axis=1)
    ratio = score / np.maximum(score[nbr].mean(axis=1), 1e-12)
    if contamination is not None:
        m = max(1, int(round(contamination * n)))
        threshold = float(np.sort(score)[::-1][m - 1])
        is_out = score >= threshold
    else:
        q1, q3 = np.percentile(score, [25, 75])
        threshold = float(q3 + iqr_factor * (q3 - q1))
        is_out = score > threshold
    order = np.argsort(-score, kind="stable")
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(1, n + 1)
    out = pd.DataFrame(
        {
            "score": score,
            "density_ratio": ratio,
            "nearest": nbr[:, 0],
            "nearest_distance": D[:, 0],
            "is_outlier": is_out,
            "rank": rank,
        },
        index=pd.RangeIndex(n) if index is None else pd.Index(index),
    )
    out.attrs["threshold"] = threshold
    return out
