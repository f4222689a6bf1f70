"""The embedder protocol, shared helpers (device choice, normalisation, batching).

An embedder turns items (texts, image paths or PIL images) into float32 vectors of shape
``[n, dim]`` with unit L2 norm, so a dot product is a cosine similarity. Every embedder has a
``name`` and a ``fingerprint``: the fingerprint changes whenever the vectors it would produce
change (other weights, another fitted vocabulary), and it keys the on-disk cache.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from labelloop.exceptions import InputError


@runtime_checkable
class Embedder(Protocol):
    """What every embedder provides (built-in or from the ``labelloop.embedders`` entry point)."""

    name: str
    modality: str  # "text" or "image"

    @property
    def dim(self) -> int: ...

    @property
    def fingerprint(self) -> str: ...

    def encode(self, items: Sequence[Any], *, batch_size: int | None = None) -> np.ndarray: ...


def l2_normalize(x: np.ndarray, *, copy: bool = True) -> np.ndarray:
    """Rows scaled to unit L2 norm (zero rows stay zero), as float32."""
    x = np.array(x, dtype=np.float32, copy=copy)
    if x.ndim != 2:
        raise InputError(f"expected a 2-D array of vectors, got shape {x.shape}")
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    np.divide(x, norms, out=x, where=norms > 0)
    return x


def select_device(device: str | None = None) -> str:
    """``device`` if given, else ``cuda`` when a GPU is visible, ``mps`` on Apple, else ``cpu``."""
    if device not in (None, "auto"):
        return str(device)
    try:
        import torch
    except ImportError:
        return "cpu"
    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return "cpu"


def select_precision(device: str, precision: str | None = None) -> str:
    """``fp16`` on a CUDA device, ``fp32`` elsewhere, unless ``precision`` says otherwise."""
    if precision not in (None, "auto"):
        if precision not in ("fp32", "fp16", "bf16"):
            raise InputError(f"precision must be auto, fp32, fp16 or bf16, got {precision!r}")
        return precision
    return "fp16" if str(device).startswith("cuda") else "fp32"


def default_batch_size(device: str, *, base: int = 64, per_gib: int = 32, cap: int = 1024) -> int:
    """A batch size that grows with free accelerator memory; ``base`` on CPU."""
    if not str(device).startswith("cuda"):
        return base
    try:
        import torch

        free, _total = torch.cuda.mem_get_info()
    except Exception:  # pragma: no cover - only on GPU machines
        return base
    return int(max(base, min(cap, per_gib * free / 2**30)))


def validate_items(items: Any) -> list:
    if isinstance(items, (str, bytes)):
        raise InputError("encode() takes a sequence of items, not a single string; wrap it in a list")
    try:
        out = list(items)
    except TypeError as exc:
        raise InputError(f"encode() takes a sequence of items, got {type(items).__name__}") from exc
    return out


def validate_texts(items: Any) -> list[str]:
    out = validate_items(items)
    for i, t in enumerate(out):
        if not isinstance(t, str):
            if t is None or (isinstance(t, float) and np.isnan(t)):
                out[i] = ""
            else:
                raise InputError(f"item {i} is a {type(t).__name__}, not a text; this embedder takes strings")
    return out


def validate_batch_size(batch_size: int | None, default: int) -> int:
    if batch_size is None:
        return default
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise InputError(f"batch_size must be a positive integer, got {batch_size!r}")
    return int(batch_size)


def hash_file(path: str, *, chunk: int = 1 << 20) -> str:
    h = hashlib.sha1()
    with open(path, "rb") as fh:
        while True:
            block = fh.read(chunk)
            if not block:
                break
            h.update(block)
    return h.hexdigest()


def content_hash(item: Any) -> str:
    """A stable SHA-1 of an item's content: a text's UTF-8 bytes, an image file's bytes, an array's bytes."""
    import os

    if isinstance(item, str):
        return hashlib.sha1(item.encode("utf-8")).hexdigest()
    if isinstance(item, bytes):
        return hashlib.sha1(item).hexdigest()
    if isinstance(item, os.PathLike):
        return hash_file(os.fspath(item))
    if isinstance(item, np.ndarray):
        h = hashlib.sha1(str((item.shape, item.dtype.str)).encode())
        h.update(np.ascontiguousarray(item).tobytes())
        return h.hexdigest()
    tobytes = getattr(item, "tobytes", None)  # PIL images
    if callable(tobytes):
        h = hashlib.sha1(str((getattr(item, "size", None), getattr(item, "mode", None))).encode())
        h.update(tobytes())
        return h.hexdigest()
    raise InputError(f"cannot hash an item of type {type(item).__name__}; give texts, paths, arrays or PIL images")


def content_hashes(items: Sequence[Any], modality: str = "text") -> list[str]:
    """Content hashes for items; for images, a ``str`` item is a file path (its bytes are hashed)."""
    from pathlib import Path

    out = []
    for it in items:
        if modality == "image" and isinstance(it, str):
            it = Path(it)
        out.append(content_hash(it))
    return out


class BaseEmbedder:
    """Validation, batching and normalisation around a subclass's ``_encode(items, batch_size)``."""

    name: str = "base"
    modality: str = "text"
    default_batch: int = 64

    @property
    def dim(self) -> int:  # pragma: no cover - overridden
        raise NotImplementedError

    @property
    def fingerprint(self) -> str:
        return self.name

    def _validate(self, items: Any) -> list:
        return validate_texts(items) if self.modality == "text" else validate_items(items)

    def _encode(self, items: list, batch_size: int) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def encode(self, items: Sequence[Any], *, batch_size: int | None = None) -> np.ndarray:
        """Vectors for ``items``: float32 ``[n, dim]``, each row of unit L2 norm."""
        items = self._validate(items)
        bs = validate_batch_size(batch_size, self.default_batch)
        if not items:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = self._encode(items, bs)
        return l2_normalize(out, copy=False)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"
