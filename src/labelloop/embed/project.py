"""Embeddings and indexes of a project's items, kept under the project folder.

Layout::

    DIR/embeddings/cache/                 per-model cache keyed by content hash (memory-mapped)
    DIR/embeddings/<model>/vectors.npy    float32 [n, dim], row i = item_ids[i]
    DIR/embeddings/<model>/item_ids.npy
    DIR/embeddings/<model>/tfidf.pkl      the fitted TF-IDF model (model ``tfidf`` only)
    DIR/index/<model>/                    a saved vector index over those vectors

The store records each embedding set (model, dim, path, count) so other parts (the loop, the
report, the server) find the vectors.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from labelloop.exceptions import ConfigError, InputError

_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def _hkey(h) -> bytes:
    return str(h).encode()[:64]


def _slug(model: str) -> str:
    return _SAFE.sub("_", model).strip("_") or "model"


@dataclass
class ProjectVectors:
    """Vectors of a project's items: ``vectors[i]`` belongs to ``item_ids[i]``."""

    model: str
    item_ids: np.ndarray
    vectors: np.ndarray
    path: Path

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])


def _items(proj) -> Any:
    from labelloop.store import repo

    with proj.session() as s:
        items = repo.items_frame(s, proj.id)
    if items.empty:
        raise InputError(f"project '{proj.name}' has no items; import some first (labelloop import DIR FILE)")
    return items


def _resolve_model(proj, model: str | None) -> str:
    if model in (None, "", "auto"):
        if proj.data_type == "image":
            return "histogram"
        from labelloop.embed import _torch_text_available

        return "minilm" if _torch_text_available() else "tfidf"
    return model


def embed_project(proj, *, model: str | None = "auto", batch_size: int | None = None, **embedder_kwargs) -> ProjectVectors:
    """Embed every item of ``proj`` (only new or changed items are computed; the rest come from
    the cache) and record the embedding set in the store."""
    from labelloop.embed import get_embedder
    from labelloop.embed.cache import cached_encode
    from labelloop.store import repo

    model = _resolve_model(proj, model)
    items = _items(proj)
    modality = "image" if proj.data_type == "image" else "text"
    if modality == "image":
        if items.image.isna().any():
            missing = items.external_id[items.image.isna()].head(3).tolist()
            raise InputError(f"items without an image: {missing}; an image project needs a file per item")
        data = items.image.tolist()
    else:
        data = items.text.fillna("").astype(str).tolist()
    out_dir = proj.dir / "embeddings" / _slug(model)
    out_dir.mkdir(parents=True, exist_ok=True)
    emb = get_embedder(model, modality=modality, **embedder_kwargs)
    if getattr(emb, "modality", modality) != modality:
        raise ConfigError(f"embedder {model!r} embeds {emb.modality}, but this is a {modality} project")
    if model == "tfidf":
        from labelloop.embed.text import TfidfSvdEmbedder

        saved = out_dir / "tfidf.pkl"
        if saved.exists():
            emb = TfidfSvdEmbedder.load(saved)
        else:
            emb.fit(data)
            emb.save(saved)
    hashes = [f"{h}" for h in items.content_hash.astype(str)]
    vec = cached_encode(emb, data, cache=proj.dir / "embeddings" / "cache", hashes=hashes, batch_size=batch_size, out=out_dir / "vectors.tmp.npy")
    ids = items.item_id.to_numpy(dtype=np.int64)
    dim = int(vec.shape[1])
    del vec
    (out_dir / "vectors.tmp.npy").replace(out_dir / "vectors.npy")
    np.save(out_dir / "item_ids.npy", ids)
    np.save(out_dir / "content_hashes.npy", np.asarray([_hkey(h) for h in hashes], dtype="S64"))
    with proj.session() as s:
        repo.record_embedding_set(s, proj.id, model=model, dim=dim, path=str((out_dir / "vectors.npy").relative_to(proj.dir)), count=int(ids.size),
                                  meta={"fingerprint": emb.fingerprint, "item_ids": str((out_dir / "item_ids.npy").relative_to(proj.dir)), "modality": modality})
    return load_vectors(proj, model)


def load_vectors(proj, model: str | None = None, *, check_current: bool = True) -> ProjectVectors:
    """The project's vectors for ``model`` (default: the most recent embedding set)."""
    from labelloop.store import repo

    with proj.session() as s:
        sets = repo.embedding_sets(s, proj.id)
        rows = [(e.model, e.path, e.meta or {}, e.created_at) for e in sets]
    if model not in (None, "", "auto"):
        rows = [r for r in rows if r[0] == model]
    if not rows:
        what = f"model '{model}'" if model not in (None, "", "auto") else "any model"
        raise ConfigError(f"project '{proj.name}' has no embeddings for {what}; run `labelloop embed {proj.dir}` first")
    name, path, meta, _ = max(rows, key=lambda r: r[3])
    vpath = proj.dir / path
    ipath = proj.dir / meta.get("item_ids", str(Path(path).parent / "item_ids.npy"))
    if not vpath.exists() or not ipath.exists():
        raise ConfigError(f"embedding files for '{name}' are missing under {proj.dir}; run `labelloop embed {proj.dir} --model {name}` again")
    vectors = np.load(vpath, mmap_mode="r")
    item_ids = np.load(ipath)
    if check_current:
        with proj.session() as s:
            n_items = repo.count_items(s, proj.id)
            current = repo.items_frame(s, proj.id)[["item_id", "content_hash"]] if n_items == item_ids.size else None
        stale = n_items != item_ids.size
        hpath = vpath.parent / "content_hashes.npy"
        if not stale and hpath.exists():
            saved = np.load(hpath)
            now = dict(zip(current.item_id.tolist(), current.content_hash.astype(str).tolist(), strict=True))
            stale = any(now.get(int(i)) is None or _hkey(now[int(i)]) != h for i, h in zip(item_ids.tolist(), saved.tolist(), strict=True))
        if stale:
            raise ConfigError(f"the '{name}' embeddings are out of date (items were added or changed since); run `labelloop embed {proj.dir} --model {name}` again")
    return ProjectVectors(model=name, item_ids=item_ids, vectors=vectors, path=vpath)


def index_dir(proj, model: str) -> Path:
    return proj.dir / "index" / _slug(model)


def index_project(proj, *, backend: str = "auto", model: str | None = None, **params):
    """Build a vector index over the project's vectors (ids = item ids) and save it."""
    from labelloop.index import get_index

    pv = load_vectors(proj, model)
    index = get_index(backend, metric="cosine", **params).build(np.asarray(pv.vectors), pv.item_ids)
    path = index_dir(proj, pv.model)
    index.save(path)
    return index, path, pv


def load_project_index(proj, model: str | None = None):
    """The saved index over the current vectors, or None when absent or stale."""
    from labelloop.index import load_index

    pv = load_vectors(proj, model)
    path = index_dir(proj, pv.model)
    if not (path / "index.json").exists():
        return None, pv
    index = load_index(path)
    if len(index) != pv.item_ids.size or (path / "index.json").stat().st_mtime < pv.path.stat().st_mtime:
        return None, pv
    return index, pv
