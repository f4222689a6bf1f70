"""Image embedders: colour histogram + HOG (no weights), any torch module, timm, open_clip.

Images may be file paths, PIL images or numpy arrays (``HxW`` grey or ``HxWxC``). timm and
open_clip are imported only when used and load weights from a local file; nothing is
downloaded. ``TorchImageEmbedder`` runs any ``torch.nn.Module`` that maps a batch
``[B, 3, H, W]`` to features (a team's own network plugs in here), with the same device,
precision and batching rules as the text embedders.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from labelloop.embed.base import BaseEmbedder, default_batch_size, select_device, select_precision
from labelloop.exceptions import ConfigError, InputError, InvalidImageError, MissingDependencyError
from labelloop.progress import progress

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def load_image(item: Any, mode: str = "RGB"):
    """A PIL image in ``mode`` from a path, a PIL image or a numpy array."""
    from PIL import Image, UnidentifiedImageError

    if isinstance(item, (str, os.PathLike)):
        try:
            with Image.open(item) as im:
                return im.convert(mode)
        except (UnidentifiedImageError, OSError) as exc:
            raise InvalidImageError(f"cannot read image: {exc}", path=item) from exc
    if isinstance(item, np.ndarray):
        arr = item
        if arr.dtype != np.uint8:
            hi = float(arr.max()) if arr.size else 1.0
            arr = np.clip(arr.astype(np.float64) * (255.0 / (hi if hi > 1 else 1.0)), 0, 255).astype(np.uint8)
        if arr.ndim == 2:
            return Image.fromarray(arr, mode="L").convert(mode)
        if arr.ndim == 3 and arr.shape[2] in (1, 3, 4):
            return Image.fromarray(arr.squeeze(-1) if arr.shape[2] == 1 else arr).convert(mode)
        raise InputError(f"an image array must be HxW or HxWxC, got shape {item.shape}")
    if hasattr(item, "convert"):
        return item.convert(mode)
    raise InputError(f"cannot use a {type(item).__name__} as an image; give a path, a PIL image or an array")


def _hog(gray: np.ndarray, cells: int, bins: int) -> np.ndarray:
    """Histogram of oriented gradients: ``cells x cells`` cells, ``bins`` unsigned orientations."""
    gy, gx = np.gradient(gray)
    mag = np.hypot(gx, gy)
    ang = np.mod(np.arctan2(gy, gx), np.pi)
    b = np.minimum((ang / np.pi * bins).astype(np.int64), bins - 1)
    h, w = gray.shape
    cy = np.minimum(np.arange(h) * cells // h, cells - 1)
    cx = np.minimum(np.arange(w) * cells // w, cells - 1)
    cell = cy[:, None] * cells + cx[None, :]
    flat = (cell * bins + b).ravel()
    hist = np.bincount(flat, weights=mag.ravel(), minlength=cells * cells * bins).reshape(cells * cells, bins)
    norm = np.linalg.norm(hist, axis=1, keepdims=True)
    hist = np.divide(hist, norm + 1e-6)
    return hist.ravel()


class HistogramEmbedder(BaseEmbedder):
    """Colour histogram (HSV, Hellinger) + HOG on a grey resize. Needs no weights or torch.

    ``dim = h_bins*s_bins*v_bins + cells*cells*orientations`` (default 8*4*4 + 8*8*9 = 704).
    """

    modality = "image"
    default_batch = 256

    def __init__(self, *, size: int = 64, h_bins: int = 8, s_bins: int = 4, v_bins: int = 4, cells: int = 8, orientations: int = 9, colour_weight: float = 1.0, name: str = "histogram"):
        self.size, self.h_bins, self.s_bins, self.v_bins = int(size), int(h_bins), int(s_bins), int(v_bins)
        self.cells, self.orientations = int(cells), int(orientations)
        self.colour_weight = float(colour_weight)
        self.name = name

    @property
    def dim(self) -> int:
        return self.h_bins * self.s_bins * self.v_bins + self.cells * self.cells * self.orientations

    @property
    def fingerprint(self) -> str:
        return f"{self.name}-{self.size}-{self.h_bins}x{self.s_bins}x{self.v_bins}-{self.cells}x{self.orientations}-{self.colour_weight:g}"

    def features(self, item: Any) -> np.ndarray:
        from PIL import Image

        im = load_image(item, "RGB").resize((self.size, self.size), Image.BILINEAR)
        hsv = np.asarray(im.convert("HSV"), dtype=np.int64)
        hb = hsv[..., 0] * self.h_bins // 256
        sb = hsv[..., 1] * self.s_bins // 256
        vb = hsv[..., 2] * self.v_bins // 256
        code = (hb * self.s_bins + sb) * self.v_bins + vb
        colour = np.bincount(code.ravel(), minlength=self.h_bins * self.s_bins * self.v_bins).astype(np.float64)
        colour = np.sqrt(colour / max(colour.sum(), 1.0))  # Hellinger: unit L2 norm
        gray = np.asarray(im.convert("L"), dtype=np.float64) / 255.0
        hog = _hog(gray, self.cells, self.orientations)
        hn = np.linalg.norm(hog)
        hog = hog / hn if hn > 0 else hog
        return np.concatenate([self.colour_weight * colour, hog]).astype(np.float32)

    def _encode(self, items: list, batch_size: int) -> np.ndarray:
        out = np.empty((len(items), self.dim), dtype=np.float32)
        with progress(total=len(items), desc=f"embed {self.name}", unit="img") as bar:
            for i, it in enumerate(items):
                out[i] = self.features(it)
                bar.update(1)
        return out


def make_preprocess(size: int = 224, *, crop_pct: float = 0.875, mean=IMAGENET_MEAN, std=IMAGENET_STD) -> Callable[[Any], np.ndarray]:
    """Resize the short side, centre-crop ``size``, scale to [0,1], normalise: ``float32 [3, size, size]``."""
    from PIL import Image

    mean_a = np.asarray(mean, dtype=np.float32)[:, None, None]
    std_a = np.asarray(std, dtype=np.float32)[:, None, None]
    scale = int(round(size / crop_pct)) if crop_pct else size

    def preprocess(item: Any) -> np.ndarray:
        im = load_image(item, "RGB")
        w, h = im.size
        r = scale / min(w, h)
        im = im.resize((max(size, round(w * r)), max(size, round(h * r))), Image.BICUBIC)
        w, h = im.size
        left, top = (w - size) // 2, (h - size) // 2
        im = im.crop((left, top, left + size, top + size))
        arr = np.asarray(im, dtype=np.float32).transpose(2, 0, 1) / 255.0
        return (arr - mean_a) / std_a

    return preprocess


class TorchImageEmbedder(BaseEmbedder):
    """Any torch module mapping ``[B, 3, H, W]`` to ``[B, D]`` (or ``[B, D, h, w]``, average-pooled).

    ``preprocess`` maps one image to a float array/tensor ``[3, H, W]`` (default: 224 crop,
    ImageNet normalisation). ``forward`` (default ``module(x)``) lets a pipeline call e.g.
    ``model.encode_image``. ``name`` and ``weights_id`` form the cache fingerprint.
    """

    modality = "image"

    def __init__(self, module, *, name: str, preprocess: Callable[[Any], Any] | None = None, forward: Callable | None = None, device: str | None = "auto", precision: str | None = "auto", weights_id: str = "", show_progress: bool | None = None):
        try:
            import torch
        except ImportError as exc:
            raise MissingDependencyError("torch", "embed", "neural image embeddings") from exc
        self.name = name
        self.device = select_device(device)
        self.precision = select_precision(self.device, precision)
        self.preprocess = preprocess or make_preprocess()
        self._forward_fn = forward
        self.weights_id = weights_id
        self.show_progress = show_progress
        self.default_batch = default_batch_size(self.device, base=32, per_gib=16, cap=512)
        dtype = {"fp16": torch.float16, "bf16": torch.bfloat16, "fp32": torch.float32}[self.precision]
        self._dtype = dtype
        self.module = module.eval().to(device=self.device, dtype=dtype)
        self._dim: int | None = None

    @property
    def fingerprint(self) -> str:
        return f"{self.name}-{hashlib.sha1(self.weights_id.encode()).hexdigest()[:16]}" if self.weights_id else self.name

    @property
    def dim(self) -> int:
        if self._dim is None:
            from PIL import Image

            self._dim = int(self._run([self.preprocess(Image.new("RGB", (32, 32)))]).shape[1])
        return self._dim

    def _run(self, arrays: list) -> np.ndarray:
        import torch

        x = torch.stack([torch.as_tensor(a) for a in arrays]).to(dtype=self._dtype)
        cuda = str(self.device).startswith("cuda")
        x = x.pin_memory().to(self.device, non_blocking=True) if cuda else x.to(self.device)
        with torch.inference_mode():
            feats = self._forward_fn(self.module, x) if self._forward_fn else self.module(x)
            if isinstance(feats, (tuple, list)):
                feats = feats[0]
            if feats.ndim == 4:
                feats = feats.mean(dim=(2, 3))
            if feats.ndim != 2:
                raise ConfigError(f"{self.name}: the model returned features of shape {tuple(feats.shape)}, expected [B, D]")
        return feats.float().cpu().numpy()

    def _encode(self, items: list, batch_size: int) -> np.ndarray:
        import torch

        chunks = []
        disable = None if self.show_progress is None else not self.show_progress
        with progress(total=len(items), desc=f"embed {self.name}", unit="img", disable=disable) as bar:
            s = 0
            while s < len(items):
                part = items[s : s + batch_size]
                try:
                    chunks.append(self._run([self.preprocess(it) for it in part]))
                except torch.cuda.OutOfMemoryError:  # pragma: no cover - needs a GPU
                    torch.cuda.empty_cache()
                    if batch_size == 1:
                        raise
                    batch_size = max(1, batch_size // 2)
                    continue
                s += len(part)
                bar.update(len(part))
        return np.concatenate(chunks)


def _load_state_dict(path: str | os.PathLike) -> dict:
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"weights file not found: {path}")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        state = load_file(str(path))
    else:
        import torch

        state = torch.load(str(path), map_location="cpu", weights_only=True)
    for key in ("state_dict", "model", "model_state_dict"):
        if isinstance(state, dict) and key in state and isinstance(state[key], dict):
            state = state[key]
    return {k.removeprefix("module."): v for k, v in state.items()}


def timm_embedder(arch: str, weights: str | os.PathLike | None = None, *, device: str | None = "auto", precision: str | None = "auto", name: str | None = None, show_progress: bool | None = None) -> TorchImageEmbedder:
    """A timm model (``num_classes=0``: pooled features) with weights from a local file.

    ``weights`` is a ``.safetensors``/``.pth`` file or a folder holding ``model.safetensors`` or
    ``pytorch_model.bin`` (a Hugging Face timm export). Without weights the network is random
    (only useful for tests).
    """
    timm = _require_vision("timm", "timm")
    model = timm.create_model(arch, pretrained=False, num_classes=0)
    wid = ""
    if weights is not None:
        wpath = Path(weights)
        if wpath.is_dir():
            cands = [wpath / "model.safetensors", wpath / "pytorch_model.bin"]
            found = [c for c in cands if c.exists()]
            if not found:
                raise ConfigError(f"{wpath} holds no model.safetensors or pytorch_model.bin")
            wpath = found[0]
        state = _load_state_dict(wpath)
        try:
            missing, _unexpected = model.load_state_dict(state, strict=False)
        except RuntimeError as exc:  # tensors of the wrong shape: weights of another network
            first = str(exc).split("\n\t")[1] if "\n\t" in str(exc) else str(exc)
            raise ConfigError(f"{wpath} does not fit timm model {arch!r}: {first}") from exc
        if missing:
            raise ConfigError(f"{wpath} does not fit timm model {arch!r}: {len(missing)} missing tensors, e.g. {missing[:3]}")
        st = wpath.stat()
        wid = f"{wpath.name}:{st.st_size}:{int(st.st_mtime)}"
    cfg = getattr(model, "pretrained_cfg", None) or getattr(model, "default_cfg", {}) or {}
    size = int((cfg.get("input_size") or (3, 224, 224))[-1])
    pre = make_preprocess(size, crop_pct=float(cfg.get("crop_pct", 0.875)), mean=cfg.get("mean", IMAGENET_MEAN), std=cfg.get("std", IMAGENET_STD))
    return TorchImageEmbedder(model, name=name or f"timm:{arch}", preprocess=pre, device=device, precision=precision, weights_id=wid, show_progress=show_progress)


def open_clip_embedder(arch: str, weights: str | os.PathLike, *, device: str | None = "auto", precision: str | None = "auto", name: str | None = None, show_progress: bool | None = None) -> TorchImageEmbedder:
    """An open_clip model's image tower with weights from a local checkpoint file."""
    open_clip = _require_vision("open_clip", "open_clip_torch")
    wpath = Path(weights)
    if not wpath.exists():
        raise ConfigError(f"CLIP weights file not found: {wpath}")
    try:
        model, _, preprocess = open_clip.create_model_and_transforms(arch, pretrained=str(wpath))
    except RuntimeError as exc:  # missing or wrongly shaped tensors: another model's checkpoint
        raise ConfigError(f"{wpath} does not fit open_clip model {arch!r}: {str(exc).splitlines()[0]}") from exc
    st = wpath.stat()

    def forward(m, x):
        return m.encode_image(x)

    def pre(item):
        return preprocess(load_image(item, "RGB"))

    return TorchImageEmbedder(model, name=name or f"clip:{arch}", preprocess=pre, forward=forward, device=device, precision=precision, weights_id=f"{wpath.name}:{st.st_size}:{int(st.st_mtime)}", show_progress=show_progress)


def _require_vision(module: str, package: str):
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        hint = "" if "torchvision" not in str(exc) else " (it needs torchvision, which must match your torch build)"
        raise MissingDependencyError(package, None, f"{module} image embeddings{hint}") from exc


__all__ = [
    "HistogramEmbedder",
    "TorchImageEmbedder",
    "load_image",
    "make_preprocess",
    "open_clip_embedder",
    "timm_embedder",
]


