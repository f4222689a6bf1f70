"""Vector indexes with one interface: exact (numpy/BLAS reference), faiss, hnswlib, annoy, auto.

>>> from labelloop.index import get_index
>>> index = get_index("auto").build(vectors, ids)          # doctest: +SKIP
>>> ids, dist = index.search(queries, k=10)                 # doctest: +SKIP

Distances: smaller is closer; ``cosine`` = 1 - cosine similarity, ``l2`` = squared Euclidean,
``ip`` = minus the inner product. Results are padded with id -1 / distance inf when fewer than
``k`` items are indexed. See :mod:`labelloop.index.base`.
"""

from __future__ import annotations

from typing import Any

from labelloop.exceptions import ConfigError
from labelloop.index.base import METRICS, PAD_ID, ExactIndex, VectorIndex, load_index
from labelloop.index.knn import knn_graph

BACKENDS = ("auto", "exact", "faiss-flat", "faiss-ivf", "faiss-hnsw", "hnswlib", "annoy")
ALIASES = {"faiss": "faiss-hnsw", "numpy": "exact", "brute": "exact", "hnsw": "hnswlib"}

__all__ = [
    "ALIASES",
    "BACKENDS",
    "METRICS",
    "PAD_ID",
    "ExactIndex",
    "VectorIndex",
    "available_backends",
    "get_index",
    "knn_graph",
    "load_index",
]


def get_index(backend: str = "auto", *, metric: str = "cosine", **params: Any) -> VectorIndex:
    """A new, empty index. ``faiss`` means ``faiss-hnsw``; parameters go to the backend."""
    from labelloop.index import backends as b

    name = ALIASES.get(backend, backend)
    classes = {
        "auto": b.AutoIndex,
        "exact": ExactIndex,
        "faiss-flat": b.FaissFlatIndex,
        "faiss-ivf": b.FaissIVFIndex,
        "faiss-hnsw": b.FaissHNSWIndex,
        "hnswlib": b.HnswlibIndex,
        "annoy": b.AnnoyIndex,
    }
    cls = classes.get(name)
    if cls is None:
        raise ConfigError(f"unknown index backend {backend!r}; choose one of {', '.join(BACKENDS)} (or faiss = faiss-hnsw)")
    try:
        return cls(metric=metric, **params)
    except TypeError as exc:
        raise ConfigError(f"bad parameters for index backend {name!r}: {exc}") from exc


def available_backends() -> list[str]:
    """Backends whose library is importable here."""
    import importlib.util

    need = {"faiss-flat": "faiss", "faiss-ivf": "faiss", "faiss-hnsw": "faiss", "hnswlib": "hnswlib", "annoy": "annoy"}
    return [n for n in BACKENDS if n not in need or importlib.util.find_spec(need[n]) is not None]
