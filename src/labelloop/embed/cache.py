"""On-disk embedding cache keyed by (model fingerprint, item content hash), memory-mapped.

Layout under the cache root, one folder per model fingerprint::

    <root>/<fingerprint>/vectors.f32   raw float32 rows, appended
    <root>/<fingerprint>/hashes.npy    content hash of each row (``S40``)
    <root>/<fingerprint>/meta.json     {"fingerprint", "dim", "count"}

``meta.json`` is written last, so a run cut off mid-way leaves a consistent cache (rows past
``count`` are ignored and overwritten). :func:`cached_encode` embeds only items whose hash is
not in the cache yet, in chunks written as they finish, so a large data set streams through
(``out=`` writes the result to a memory-mapped file instead of RAM).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from labelloop.embed.base import Embedder, content_hashes
from labelloop.exceptions import ConfigError, InputError
from labelloop.progress import progress

_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def _key(h) -> bytes:
    """Cache key of a content hash: its first 40 characters (SHA-1 hex length; longer hashes
    such as SHA-256 are cut to 160 bits, still collision-free in practice)."""
    b = h.encode() if isinstance(h, str) else bytes(h)
    return b[:40]


class EmbeddingCache:
    """Vectors per (fingerprint, content hash) under ``root``."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        self._index: dict[str, dict[bytes, int]] = {}

    def _dir(self, fingerprint: str) -> Path:
        return self.root / _SAFE.sub("_", fingerprint)

    def meta(self, fingerprint: str) -> dict | None:
        p = self._dir(fingerprint) / "meta.json"
        if not p.exists():
            return None
        try:
            meta = json.loads(p.read_text())
        except ValueError as exc:
            raise ConfigError(f"embedding cache {p} is damaged; delete its folder to rebuild it") from exc
        if meta.get("fingerprint") != fingerprint:
            raise ConfigError(f"embedding cache {p} belongs to {meta.get('fingerprint')!r}, not {fingerprint!r}")
        return meta

    def count(self, fingerprint: str) -> int:
        m = self.meta(fingerprint)
        return 0 if m is None else int(m["count"])

    def _hash_index(self, fingerprint: str) -> dict[bytes, int]:
        if fingerprint not in self._index:
            m = self.meta(fingerprint)
            if m is None or m["count"] == 0:
                self._index[fingerprint] = {}
            else:
                hashes = np.load(self._dir(fingerprint) / "hashes.npy")[: m["count"]]
                self._index[fingerprint] = {h: i for i, h in enumerate(hashes.tolist())}
        return self._index[fingerprint]

    def lookup(self, fingerprint: str, hashes: Sequence[str]) -> np.ndarray:
        """Row of each hash in the cache, -1 where absent."""
        idx = self._hash_index(fingerprint)
        return np.fromiter((idx.get(_key(h), -1) for h in hashes), dtype=np.int64, count=len(hashes))

    def vectors(self, fingerprint: str) -> np.ndarray:
        """All cached rows as a read-only memory map ``[count, dim]``."""
        m = self.meta(fingerprint)
        if m is None or m["count"] == 0:
            return np.zeros((0, 0 if m is None else m["dim"]), dtype=np.float32)
        return np.memmap(self._dir(fingerprint) / "vectors.f32", dtype=np.float32, mode="r", shape=(m["count"], m["dim"]))

    def append(self, fingerprint: str, hashes: Sequence[str], vectors: np.ndarray) -> None:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[0] != len(hashes):
            raise InputError(f"append needs one vector per hash: {len(hashes)} hashes, vectors {vectors.shape}")
        if not len(hashes):
            return
        d = self._dir(fingerprint)
        d.mkdir(parents=True, exist_ok=True)
        m = self.meta(fingerprint) or {"fingerprint": fingerprint, "dim": int(vectors.shape[1]), "count": 0}
        if m["dim"] != vectors.shape[1]:
            raise ConfigError(f"cache {d} holds {m['dim']}-d vectors, got {vectors.shape[1]}-d for the same model")
        count = int(m["count"])
        vpath = d / "vectors.f32"
        with open(vpath, "ab") as fh:
            fh.truncate(count * m["dim"] * 4)  # drop rows of a run that was cut off
            fh.seek(0, os.SEEK_END)
            fh.write(vectors.tobytes())
        new = np.asarray([_key(h) for h in hashes], dtype="S40")
        old = np.load(d / "hashes.npy")[:count] if count else np.zeros(0, dtype="S40")
        tmp = d / "hashes.tmp.npy"
        np.save(tmp, np.concatenate([old, new]))
        os.replace(tmp, d / "hashes.npy")
        m["count"] = count + len(new)
        tmpm = d / "meta.tmp.json"
        tmpm.write_text(json.dumps(m))
        os.replace(tmpm, d / "meta.json")
        idx = self._index.get(fingerprint)
        if idx is not None:
            for i, h in enumerate(new.tolist()):
                idx[h] = count + i


def cached_encode(
    embedder: Embedder,
    items: Sequence[Any],
    *,
    cache: EmbeddingCache | str | os.PathLike | None = None,
    hashes: Sequence[str] | None = None,
    batch_size: int | None = None,
    chunk_size: int = 8192,
    out: str | os.PathLike | None = None,
) -> np.ndarray:
    """``embedder.encode(items)`` through the cache: only items not cached yet are embedded.

    ``hashes`` are the items' content hashes (computed when omitted: SHA-1 of a text, of an image
    file's bytes). Identical items are embedded once. ``out`` names a file for a memory-mapped
    ``[n, dim]`` float32 result (for data larger than RAM); otherwise an array is returned.
    Without ``cache`` this is plain ``encode``.
    """
    items = list(items)
    if hashes is None:
        hashes = content_hashes(items, getattr(embedder, "modality", "text"))
    elif len(hashes) != len(items):
        raise InputError(f"got {len(hashes)} hashes for {len(items)} items")
    if int(chunk_size) < 1:
        raise InputError(f"chunk_size must be >= 1, got {chunk_size}")
    if cache is None:
        vec = embedder.encode(items, batch_size=batch_size)
        return _to_out(vec, out)
    if not isinstance(cache, EmbeddingCache):
        cache = EmbeddingCache(cache)
    fit = getattr(embedder, "fit", None)
    if callable(fit) and not getattr(embedder, "is_fitted", True):
        fit(items)  # a corpus-dependent embedder (TF-IDF) is fitted before its fingerprint exists
    fp = embedder.fingerprint
    rows = cache.lookup(fp, hashes)
    missing = np.flatnonzero(rows < 0)
    if missing.size:
        first: dict[str, int] = {}
        for i in missing.tolist():
            first.setdefault(hashes[i], i)
        todo = list(first.values())
        with progress(total=len(todo), desc=f"embed {getattr(embedder, 'name', 'items')} (new)", unit="item") as bar:
            for s in range(0, len(todo), chunk_size):
                part = todo[s : s + chunk_size]
                vec = embedder.encode([items[i] for i in part], batch_size=batch_size)
                cache.append(fp, [hashes[i] for i in part], vec)
                bar.update(len(part))
        rows = cache.lookup(fp, hashes)
    stored = cache.vectors(fp)
    dim = stored.shape[1]
    if out is not None:
        res = np.lib.format.open_memmap(os.fspath(out), mode="w+", dtype=np.float32, shape=(len(items), dim))
        for s in range(0, len(items), 65536):
            res[s : s + 65536] = stored[rows[s : s + 65536]]
        res.flush()
        return res
    if len(items) == 0:
        return np.zeros((0, embedder.dim), dtype=np.float32)
    return np.asarray(stored[rows], dtype=np.float32)


def _to_out(vec: np.ndarray, out) -> np.ndarray:
    if out is None:
        return vec
    res = np.lib.format.open_memmap(os.fspath(out), mode="w+", dtype=np.float32, shape=vec.shape)
    res[:] = vec
    res.flush()
    return res
