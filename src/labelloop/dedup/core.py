"""Duplicates: exact (content hash), perceptual image hashes, embedding near-duplicates,
union-find groups, a keep-one policy and a train/test leakage check.

Every finder returns *pairs* of item positions; :func:`groups_from_pairs` merges pairs into
groups (connected components, i.e. union-find over the pairs) so that if ``a~b`` and ``b~c``
then ``{a, b, c}`` is one group. Groups are lists of positions, sorted, each of size >= 2,
ordered by their first member.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from labelloop.exceptions import InputError

_PUNCT = re.compile(r"[^\w\s]+", re.UNICODE)
_SPACE = re.compile(r"\s+")


# ---------------------------------------------------------------- grouping
class UnionFind:
    """Disjoint sets over ``0..n-1`` with path halving and union by size."""

    def __init__(self, n: int):
        self.parent = np.arange(int(n), dtype=np.int64)
        self.size = np.ones(int(n), dtype=np.int64)

    def find(self, a: int) -> int:
        p = self.parent
        while p[a] != a:
            p[a] = p[p[a]]
            a = p[a]
        return int(a)

    def union(self, a: int, b: int) -> int:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return ra
        if self.size[ra] < self.size[rb]:
            ra, rb = rb, ra
        self.parent[rb] = ra
        self.size[ra] += self.size[rb]
        return ra

    def groups(self) -> list[list[int]]:
        roots = np.array([self.find(i) for i in range(self.parent.size)], dtype=np.int64)
        return _groups_from_labels(roots)


def _groups_from_labels(labels: np.ndarray) -> list[list[int]]:
    order = np.argsort(labels, kind="stable")
    sl = labels[order]
    cuts = np.flatnonzero(np.r_[True, sl[1:] != sl[:-1], True])
    out = [sorted(order[a:b].tolist()) for a, b in zip(cuts[:-1], cuts[1:], strict=True) if b - a >= 2]
    out.sort(key=lambda g: g[0])
    return out


def groups_from_pairs(n: int, pairs) -> list[list[int]]:
    """Merge pairs of positions into groups (vectorised union-find: connected components)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    p = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    if p.size and (p.min() < 0 or p.max() >= n):
        raise InputError(f"pair positions must lie in 0..{n - 1}")
    if n == 0 or p.size == 0:
        return []
    g = coo_matrix((np.ones(p.shape[0], dtype=np.int8), (p[:, 0], p[:, 1])), shape=(n, n))
    _, labels = connected_components(g, directed=False)
    return _groups_from_labels(labels)


def group_labels(n: int, groups: Sequence[Sequence[int]]) -> np.ndarray:
    """Group number per position (-1 for items in no group)."""
    lab = np.full(int(n), -1, dtype=np.int64)
    for g, members in enumerate(groups):
        lab[np.asarray(members, dtype=np.int64)] = g
    return lab


# ---------------------------------------------------------------- exact
def normalize_text(text: str) -> str:
    """Lower case, Unicode NFKC, punctuation removed, runs of spaces collapsed."""
    t = unicodedata.normalize("NFKC", text or "").lower()
    t = _PUNCT.sub(" ", t)
    return _SPACE.sub(" ", t).strip()


def text_keys(texts: Sequence[str], *, normalize: bool = True) -> list[str]:
    """SHA-1 of each text (after :func:`normalize_text` when ``normalize``); "" for an empty text,
    which :func:`exact_pairs` never pairs."""
    from labelloop.progress import progress

    out = []
    for t in progress(texts, total=len(texts), desc="hash texts", unit="text"):
        t = "" if t is None or (isinstance(t, float) and t != t) else str(t)
        t = normalize_text(t) if normalize else t
        out.append(hashlib.sha1(t.encode("utf-8")).hexdigest() if t.strip() else "")
    return out


def exact_pairs(keys: Sequence) -> np.ndarray:
    """Pairs ``(first, other)`` of positions with equal keys (content hashes); empty keys skipped."""
    arr = np.asarray([str(k) if k is not None else "" for k in keys], dtype=object)
    if arr.size == 0:
        return np.zeros((0, 2), dtype=np.int64)
    codes: dict[str, int] = {}
    pairs = []
    for i, k in enumerate(arr.tolist()):
        if not k:
            continue
        j = codes.setdefault(k, i)
        if j != i:
            pairs.append((j, i))
    return np.asarray(pairs, dtype=np.int64).reshape(-1, 2)


# ---------------------------------------------------------------- perceptual hashes
def image_hashes(images: Sequence[Any], *, method: str = "phash", hash_size: int = 8) -> np.ndarray:
    """64-bit perceptual hashes (``phash``, ``dhash``, ``ahash`` or ``whash``) as ``uint64``."""
    from labelloop.embed.image import load_image
    from labelloop.exceptions import require

    imagehash = require("imagehash", extra="image", purpose="perceptual image hashes")
    fn = {"phash": imagehash.phash, "dhash": imagehash.dhash, "ahash": imagehash.average_hash, "whash": imagehash.whash}.get(method)
    if fn is None:
        raise InputError(f"method must be phash, dhash, ahash or whash, got {method!r}")
    if hash_size != 8:
        raise InputError("only 64-bit hashes (hash_size=8) are supported")
    out = np.empty(len(images), dtype=np.uint64)
    from labelloop.progress import progress

    for i, im in enumerate(progress(images, total=len(images), desc="perceptual hashes", unit="img")):
        bits = fn(load_image(im, "RGB"), hash_size=hash_size).hash.ravel()
        out[i] = np.uint64(int("".join("1" if b else "0" for b in bits), 2))
    return out


def _popcount64(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.uint64)
    x = x - ((x >> np.uint64(1)) & np.uint64(0x5555555555555555))
    x = (x & np.uint64(0x3333333333333333)) + ((x >> np.uint64(2)) & np.uint64(0x3333333333333333))
    x = (x + (x >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
    return ((x * np.uint64(0x0101010101010101)) >> np.uint64(56)).astype(np.int64)


def hamming_pairs(hashes, max_distance: int = 4, *, max_bucket: int = 5000) -> np.ndarray:
    """Pairs of 64-bit hashes within ``max_distance`` differing bits.

    Multi-index hashing: split the 64 bits into ``max_distance + 1`` blocks; by the pigeonhole
    principle two hashes that close agree exactly on at least one block, so only items sharing a
    block value are compared. Buckets larger than ``max_bucket`` (degenerate hashes, e.g. blank
    images) are compared in full only within exact-hash groups.
    """
    h = np.asarray(hashes, dtype=np.uint64).ravel()
    md = int(max_distance)
    if md < 0 or md > 63:
        raise InputError(f"max_distance must be in 0..63, got {max_distance}")
    n = h.size
    if n < 2:
        return np.zeros((0, 2), dtype=np.int64)
    nblocks = md + 1
    edges = np.linspace(0, 64, nblocks + 1).astype(int)
    found = []
    for b in range(nblocks):
        lo, hi = edges[b], edges[b + 1]
        mask = np.uint64((1 << (hi - lo)) - 1)
        key = (h >> np.uint64(lo)) & mask
        order = np.argsort(key, kind="stable")
        sk = key[order]
        cuts = np.flatnonzero(np.r_[True, sk[1:] != sk[:-1], True])
        for a, z in zip(cuts[:-1], cuts[1:], strict=True):
            m = z - a
            if m < 2:
                continue
            members = order[a:z]
            if m > max_bucket:
                found.append(_same_value_pairs(members, h[members]))
                continue
            iu, ju = np.triu_indices(m, 1)
            d = _popcount64(h[members[iu]] ^ h[members[ju]])
            ok = d <= md
            if ok.any():
                found.append(np.stack([members[iu[ok]], members[ju[ok]]], axis=1))
    if not found:
        return np.zeros((0, 2), dtype=np.int64)
    p = np.concatenate(found)
    p = np.sort(p, axis=1)
    return np.unique(p, axis=0)


def _same_value_pairs(members: np.ndarray, values: np.ndarray) -> np.ndarray:
    order = np.argsort(values, kind="stable")
    sv = values[order]
    same = np.flatnonzero(sv[1:] == sv[:-1])
    return np.stack([members[order[same]], members[order[same + 1]]], axis=1) if same.size else np.zeros((0, 2), dtype=np.int64)


def image_pairs(images: Sequence[Any], *, phash_distance: int | None = 4, threshold: float | str | None = "auto", k: int = 10) -> dict[str, np.ndarray]:
    """Image duplicate pairs by kind of evidence: ``{"image": verified near-identical pairs}``
    (close perceptual hashes are verified like any other candidate), or ``{"phash": pairs}``
    taken unverified when ``threshold`` is None."""
    from labelloop.dedup.images import image_near_duplicate_pairs

    ph = hamming_pairs(image_hashes(images), phash_distance) if phash_distance is not None else None
    if threshold is None:
        return {} if ph is None else {"phash": ph}
    return {"image": image_near_duplicate_pairs(images, threshold=threshold, k=k, extra_candidates=ph)}


# ---------------------------------------------------------------- embeddings
def near_duplicate_pairs(vectors, *, threshold: float = 0.95, k: int = 10, index: str | Any = "auto", batch: int = 16384) -> np.ndarray:
    """Pairs ``(i, j)``, ``i < j``, whose cosine similarity is >= ``threshold``.

    Each item's ``k`` nearest neighbours come from a vector index (``auto`` = exact below 50k
    items, HNSW above, IVF from 500k; or an already built index whose ids are the positions). A group larger
    than ``k`` still comes out whole: its members are chained through overlapping neighbour lists.
    """
    from labelloop.index import VectorIndex, get_index

    x = np.asarray(vectors, dtype=np.float32)
    if x.ndim != 2:
        raise InputError(f"vectors must be 2-D [n, dim], got shape {x.shape}")
    if not -1.0 <= float(threshold) <= 1.0:
        raise InputError(f"threshold is a cosine similarity in [-1, 1], got {threshold}")
    n = x.shape[0]
    if n < 2:
        return np.zeros((0, 2), dtype=np.int64)
    if isinstance(index, VectorIndex):
        ix = index
    else:
        ix = get_index(index, metric="cosine").build(x)
    kk = min(int(k) + 1, n)
    found = []
    from labelloop.progress import progress

    with progress(total=n, desc="near duplicates", unit="item") as bar:
        for s in range(0, n, batch):
            ids, d = ix.search(x[s : s + batch], kk)
            sim = 1.0 - d
            rows = np.repeat(np.arange(s, s + ids.shape[0]), kk).reshape(ids.shape)
            ok = (ids >= 0) & (sim >= float(threshold) - 1e-6) & (ids != rows)
            if ok.any():
                found.append(np.stack([rows[ok], ids[ok]], axis=1))
            bar.update(ids.shape[0])
    if not found:
        return np.zeros((0, 2), dtype=np.int64)
    p = np.sort(np.concatenate(found), axis=1)
    return np.unique(p, axis=0)


# ---------------------------------------------------------------- all together
@dataclass
class Duplicates:
    """Groups of duplicate positions and the pairs that formed them, by kind of evidence."""

    n: int
    groups: list[list[int]]
    pairs: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def labels(self) -> np.ndarray:
        return group_labels(self.n, self.groups)

    def keep_one(self, policy: str | Callable | Sequence[float] = "first", **kw) -> tuple[np.ndarray, np.ndarray]:
        return keep_one(self.groups, self.n, policy=policy, **kw)


def find_duplicates(
    *,
    texts: Sequence[str] | None = None,
    images: Sequence[Any] | None = None,
    vectors=None,
    hashes: Sequence[str] | None = None,
    threshold: float | None = 0.95,
    normalize: bool = True,
    phash_distance: int | None = 4,
    image_threshold: float | str | None = "auto",
    k: int = 10,
    index: str = "auto",
) -> Duplicates:
    """Duplicates from every kind of evidence given, merged into groups.

    - ``hashes``: exact content hashes (equal hash -> duplicate);
    - ``texts``: exact match after :func:`normalize_text` (case, spacing, punctuation) when
      ``normalize``, byte-exact otherwise;
    - ``images``: near-identical after alignment (:mod:`labelloop.dedup.images`: candidates
      from an index of grey thumbnails plus perceptual hashes within ``phash_distance`` bits,
      each verified by its aligned correlation >= ``image_threshold``, ``"auto"`` calibrated
      on the images themselves); with ``image_threshold=None`` perceptual hashes within
      ``phash_distance`` bits count as duplicates unverified (None for both: skip);
    - ``vectors``: cosine similarity >= ``threshold`` (None: skip).
    """
    sizes = {name: len(v) for name, v in (("texts", texts), ("images", images), ("vectors", vectors), ("hashes", hashes)) if v is not None}
    if not sizes:
        raise InputError("give at least one of texts, images, vectors or hashes")
    if len(set(sizes.values())) != 1:
        raise InputError(f"inputs differ in length: {sizes}")
    n = next(iter(sizes.values()))
    pairs: dict[str, np.ndarray] = {}
    if hashes is not None:
        pairs["hash"] = exact_pairs(hashes)
    if texts is not None:
        pairs["text"] = exact_pairs(text_keys(texts, normalize=normalize))
    if images is not None:
        pairs.update(image_pairs(images, phash_distance=phash_distance, threshold=image_threshold, k=k))
    if vectors is not None and threshold is not None:
        pairs["embedding"] = near_duplicate_pairs(vectors, threshold=threshold, k=k, index=index)
    allp = np.concatenate([p for p in pairs.values()] or [np.zeros((0, 2), np.int64)])
    return Duplicates(n=n, groups=groups_from_pairs(n, allp), pairs=pairs)


def keep_one(groups: Sequence[Sequence[int]], n: int, *, policy: str | Callable | Sequence[float] = "first", texts: Sequence[str] | None = None, labelled: Sequence[bool] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Which item of each group to keep: returns ``(keep, drop)`` position arrays over all ``n``.

    ``policy``: ``first`` (lowest position), ``longest``/``shortest`` text (needs ``texts``),
    a sequence of per-item priorities (highest kept), or a callable ``group -> kept position``.
    ``labelled`` (per item) is preferred over everything else: a labelled copy is never dropped
    in favour of an unlabelled one.
    """
    drop: list[int] = []
    if isinstance(policy, str) and policy not in ("first", "longest", "shortest"):
        raise InputError(f"policy must be first, longest, shortest, priorities or a callable, got {policy!r}")
    if isinstance(policy, str) and policy in ("longest", "shortest") and texts is None:
        raise InputError(f"policy {policy!r} needs the texts")
    prio = None
    if not isinstance(policy, str) and not callable(policy):
        prio = np.asarray(policy, dtype=np.float64)
        if prio.shape[0] != n:
            raise InputError(f"priorities need one value per item ({n}), got {prio.shape[0]}")
    lab = None if labelled is None else np.asarray(labelled, dtype=bool)
    for g in groups:
        members = list(g)
        if lab is not None and lab[members].any():
            members = [m for m in members if lab[m]] + [m for m in members if not lab[m]]
            pool = [m for m in members if lab[m]]
        else:
            pool = members
        if callable(policy):
            chosen = int(policy(list(g)))
            if chosen not in g:
                raise InputError(f"keep-one callable returned {chosen}, not a member of {list(g)}")
        elif prio is not None:
            chosen = max(pool, key=lambda m: (prio[m], -m))
        elif policy == "first":
            chosen = min(pool)
        else:
            sign = 1 if policy == "longest" else -1
            chosen = max(pool, key=lambda m: (sign * len(texts[m] or ""), -m))
        drop.extend(m for m in g if m != chosen)
    drop_arr = np.unique(np.asarray(drop, dtype=np.int64))
    keep_mask = np.ones(int(n), dtype=bool)
    keep_mask[drop_arr] = False
    return np.flatnonzero(keep_mask), drop_arr


def leakage(
    *,
    train_hashes: Sequence[str] | None = None,
    test_hashes: Sequence[str] | None = None,
    train_vectors=None,
    test_vectors=None,
    threshold: float | None = 0.95,
    index: str = "auto",
) -> list[dict]:
    """Items of the test split that also occur in the train split.

    Exact matches by content hash and near matches by cosine similarity >= ``threshold`` (the
    nearest train item of each test item). Returns ``[{"test": j, "train": i, "kind":
    "exact"|"near", "similarity": s}, ...]`` sorted by test position.
    """
    from labelloop.index import get_index

    found: dict[int, dict] = {}
    if (train_hashes is None) != (test_hashes is None) or (train_vectors is None) != (test_vectors is None):
        raise InputError("give hashes for both splits and/or vectors for both splits")
    if train_hashes is None and train_vectors is None:
        raise InputError("give train/test hashes or train/test vectors")
    if train_hashes is not None:
        pos: dict[str, int] = {}
        for i, h in enumerate(train_hashes):
            if h:
                pos.setdefault(str(h), i)
        for j, h in enumerate(test_hashes):
            if h and str(h) in pos:
                found[j] = {"test": j, "train": pos[str(h)], "kind": "exact", "similarity": 1.0}
    if train_vectors is not None and threshold is not None:
        tr = np.asarray(train_vectors, dtype=np.float32)
        te = np.asarray(test_vectors, dtype=np.float32)
        if len(tr) and len(te):
            ids, d = get_index(index, metric="cosine").build(tr).search(te, 1)
            sim = 1.0 - d[:, 0]
            for j in np.flatnonzero(sim >= float(threshold) - 1e-6).tolist():
                if j not in found:
                    found[j] = {"test": j, "train": int(ids[j, 0]), "kind": "near", "similarity": float(sim[j])}
    return [found[j] for j in sorted(found)]
