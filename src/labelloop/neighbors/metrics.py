"""Retrieval metrics for similarity tasks (re-identification, search): P@k, R@k, mAP, CMC.

Inputs are a ranked relevance matrix ``relevant [n_queries, n_ranked]`` (True where the item
at that rank matches the query), or labels from which it is built by
:func:`relevance_from_labels`. ``n_relevant`` is the number of matching items per query in the
whole gallery (for recall and average precision); by default, those found in the ranking.
"""

from __future__ import annotations

import numpy as np

from labelloop.exceptions import InputError


def relevance_from_labels(query_labels, ranked_labels) -> np.ndarray:
    """``ranked_labels[i, r] == query_labels[i]`` as a boolean matrix."""
    q = np.asarray(query_labels)
    r = np.asarray(ranked_labels)
    if r.ndim != 2 or q.shape[0] != r.shape[0]:
        raise InputError(f"ranked_labels must be [n_queries, n_ranked] with n_queries={q.shape[0]}, got {r.shape}")
    return r == q[:, None]


def _rel(relevant) -> np.ndarray:
    rel = np.asarray(relevant, dtype=bool)
    if rel.ndim != 2:
        raise InputError(f"relevance must be a 2-D [n_queries, n_ranked] array, got shape {rel.shape}")
    return rel


def _nrel(rel: np.ndarray, n_relevant) -> np.ndarray:
    if n_relevant is None:
        return rel.sum(1).astype(np.float64)
    n = np.asarray(n_relevant, dtype=np.float64).reshape(-1)
    if n.shape[0] != rel.shape[0]:
        raise InputError(f"n_relevant needs one count per query ({rel.shape[0]}), got {n.shape[0]}")
    if (n < rel.sum(1)).any():
        raise InputError("n_relevant is smaller than the relevant items found in the ranking")
    return n


def _k(rel: np.ndarray, k: int) -> int:
    if not isinstance(k, (int, np.integer)) or k < 1:
        raise InputError(f"k must be a positive integer, got {k!r}")
    return int(k)


def precision_at_k(relevant, k: int) -> float:
    """Mean over queries of (relevant among the first k) / k."""
    rel = _rel(relevant)
    k = _k(rel, k)
    return float((rel[:, :k].sum(1) / k).mean()) if rel.shape[0] else float("nan")


def recall_at_k(relevant, k: int, n_relevant=None) -> float:
    """Mean over queries with >= 1 relevant item of (relevant among the first k) / n_relevant."""
    rel = _rel(relevant)
    k = _k(rel, k)
    n = _nrel(rel, n_relevant)
    has = n > 0
    return float((rel[has, :k].sum(1) / n[has]).mean()) if has.any() else float("nan")


def average_precision(relevant, n_relevant=None) -> np.ndarray:
    """Average precision per query: sum over hits of precision at the hit's rank, / n_relevant
    (0 for a query with relevant items but no hit; NaN for a query with none)."""
    rel = _rel(relevant)
    n = _nrel(rel, n_relevant)
    hits = np.cumsum(rel, axis=1)
    ranks = np.arange(1, rel.shape[1] + 1)
    s = (rel * (hits / ranks)).sum(1)
    return np.where(n > 0, s / np.maximum(n, 1), np.nan)


def mean_average_precision(relevant, n_relevant=None) -> float:
    ap = average_precision(relevant, n_relevant)
    return float(np.nanmean(ap)) if np.isfinite(ap).any() else float("nan")


def cmc_curve(relevant, max_rank: int | None = None) -> np.ndarray:
    """Cumulative match characteristic: ``cmc[r-1]`` = share of queries with a hit within rank r."""
    rel = _rel(relevant)
    r = rel.shape[1] if max_rank is None else min(_k(rel, max_rank), rel.shape[1])
    first = np.where(rel.any(1), rel.argmax(1), np.iinfo(np.int64).max)
    return np.array([(first < i).mean() for i in range(1, r + 1)], dtype=np.float64)


def retrieval_report(relevant, n_relevant=None, ks=(1, 5, 10)) -> dict:
    """P@k and R@k for each k, mAP and CMC@k in one dict."""
    rel = _rel(relevant)
    cmc = cmc_curve(rel)
    out = {"n_queries": int(rel.shape[0]), "mAP": mean_average_precision(rel, n_relevant)}
    for k in ks:
        out[f"P@{k}"] = precision_at_k(rel, k)
        out[f"R@{k}"] = recall_at_k(rel, k, n_relevant)
        out[f"CMC@{k}"] = float(cmc[min(k, cmc.size) - 1]) if cmc.size else float("nan")
    return out
