"""Diversity: k-center greedy (core-set), k-means clusters, and the cold start.

The first batch, before any label exists, is chosen for diversity: the item nearest each
k-means centroid (or k-center greedy), never a random draw.
"""

from __future__ import annotations

import numpy as np

from labelloop.select.base import QueryStrategy, check_pool


def _sqdist(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Squared Euclidean distances, rows of A x rows of B, clipped at 0."""
    aa = np.einsum("ij,ij->i", A, A)[:, None]
    bb = np.einsum("ij,ij->i", B, B)[None, :]
    return np.maximum(aa + bb - 2.0 * A @ B.T, 0.0)


def kcenter_greedy(X: np.ndarray, n: int, *, centers: np.ndarray | None = None, rng=None) -> np.ndarray:
    """Greedy k-center: repeatedly take the point farthest from every chosen/labelled center.

    ``centers`` are already-covered points (e.g. the labelled items). Without them the first
    point is the one nearest the data mean (deterministic, central).
    """
    X = np.asarray(X, dtype=np.float64)
    m = X.shape[0]
    n = min(n, m)
    chosen: list[int] = []
    if centers is not None and len(centers):
        mind = _sqdist(X, np.asarray(centers, dtype=np.float64)).min(axis=1)
    else:
        first = int(np.argmin(_sqdist(X, X.mean(axis=0, keepdims=True))[:, 0]))
        chosen.append(first)
        mind = _sqdist(X, X[first : first + 1])[:, 0]
    while len(chosen) < n:
        nxt = int(np.argmax(mind))
        chosen.append(nxt)
        mind = np.minimum(mind, _sqdist(X, X[nxt : nxt + 1])[:, 0])
        mind[nxt] = -1.0
    return np.asarray(chosen, dtype=np.int64)


def kmeans_medoids(
    X: np.ndarray, n: int, *, sample_weight: np.ndarray | None = None, random_state=None
) -> np.ndarray:
    """Run k-means with n clusters and return the item nearest each centroid (distinct)."""
    from sklearn.cluster import KMeans

    X = np.asarray(X, dtype=np.float64)
    n = min(n, X.shape[0])
    if n == X.shape[0]:
        return np.arange(n, dtype=np.int64)
    seed = int(np.random.default_rng(random_state).integers(2**31 - 1))
    km = KMeans(n_clusters=n, n_init=3, random_state=seed)
    km.fit(X, sample_weight=sample_weight)
    D = _sqdist(km.cluster_centers_, X)
    chosen: list[int] = []
    taken = np.zeros(X.shape[0], dtype=bool)
    for c in np.argsort(D.min(axis=1)):
        row = np.where(taken, np.inf, D[c])
        j = int(np.argmin(row))
        taken[j] = True
        chosen.append(j)
    return np.asarray(chosen, dtype=np.int64)


class CoreSet(QueryStrategy):
    """Core-set by k-center greedy: cover the pool, counting labelled items as covered."""

    needs_model = False

    def _select(self, model, X, n, X_labeled, y_labeled, rng):
        return kcenter_greedy(X, n, centers=X_labeled, rng=rng)


class ClusterDiversity(QueryStrategy):
    """The item nearest each of n k-means centroids of the pool."""

    needs_model = False

    def _select(self, model, X, n, X_labeled, y_labeled, rng):
        return kmeans_medoids(X, n, random_state=rng)


def cold_start(X_pool, n: int, *, method: str = "kmeans", random_state=None) -> np.ndarray:
    """The first batch to label, chosen for diversity before any label exists.

    ``method``: ``"kmeans"`` (item nearest each centroid) or ``"kcenter"`` (k-center greedy).
    """
    from labelloop.exceptions import InputError

    X, n = check_pool(X_pool, n)
    if n == 0:
        return np.empty(0, dtype=np.int64)
    if method == "kmeans":
        return kmeans_medoids(X, n, random_state=random_state)
    if method == "kcenter":
        return kcenter_greedy(X, n)
    raise InputError(f"unknown cold-start method {method!r}; use 'kmeans' or 'kcenter'")


class TypiClust(QueryStrategy):
    """TypiClust (Hacohen et al. 2022), for small budgets: the most *typical* item of each of
    the largest clusters that hold no labelled item yet.

    The pool plus the labelled items are clustered into ``n_labeled + n`` k-means clusters
    (at most ``max_clusters``); clusters are visited largest first, skipping those already
    covered by a label; in each, the item with the highest typicality (inverse mean distance
    to its ``k`` nearest neighbours in the cluster) is chosen.
    """

    needs_model = False

    def __init__(self, *, k: int = 20, max_clusters: int = 500):
        self.k = k
        self.max_clusters = max_clusters

    def _select(self, model, X, n, X_labeled, y_labeled, rng):
        from sklearn.cluster import KMeans

        nl = 0 if X_labeled is None else X_labeled.shape[0]
        allX = X if nl == 0 else np.vstack([X, X_labeled])
        n_clusters = int(min(allX.shape[0], self.max_clusters, nl + n))
        seed = int(rng.integers(2**31 - 1))
        lab = KMeans(n_clusters=n_clusters, n_init=1, random_state=seed).fit_predict(allX)
        pool_lab = lab[: X.shape[0]]
        covered = np.bincount(lab[X.shape[0]:], minlength=n_clusters)
        sizes = np.bincount(pool_lab, minlength=n_clusters)
        order = np.lexsort((-sizes, covered))  # uncovered first, then largest
        chosen: list[int] = []
        for c in order:
            if len(chosen) >= n:
                break
            members = np.flatnonzero(pool_lab == c)
            if members.size == 0:
                continue
            if members.size == 1:
                chosen.append(int(members[0]))
                continue
            kk = min(self.k, members.size - 1)
            D = np.sqrt(_sqdist(X[members], X[members]))
            knn = np.sort(D, axis=1)[:, 1 : kk + 1].mean(axis=1)
            chosen.append(int(members[np.argmin(knn)]))
        if len(chosen) < n:  # fewer non-empty clusters than n: fill with the farthest points
            rest = np.setdiff1d(np.arange(X.shape[0]), chosen)
            extra = kcenter_greedy(X[rest], n - len(chosen), centers=X[chosen] if chosen else X_labeled)
            chosen.extend(rest[extra].tolist())
        return np.asarray(chosen, dtype=np.int64)
