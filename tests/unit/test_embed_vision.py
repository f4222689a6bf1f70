"""timm and open_clip image embedders loaded from local weights: a small model of each is built
here, its weights saved to a temporary folder and loaded back through labelloop's embedder.

Both libraries need torchvision's Python parts (transforms, model helpers), not its compiled
operators. The torchvision wheel on PyPI is linked against CUDA builds of torch; next to a CPU
torch its native library does not load and ``import torchvision`` then fails while registering
fake kernels for operators that do not exist (``torchvision::nms``). The ``vision`` fixture
imports it anyway in that one case, by skipping those registrations during the import; product
code is untouched and works with any torchvision whose native library loads.

``make install`` puts torchvision, timm and open_clip into ``.venv/vision-packages`` (set
``LABELLOOP_VISION_PACKAGES`` to use another folder), outside site-packages: installed there, a
torchvision that cannot be imported would break transformers' own imports everywhere.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest

from labelloop.embed import get_embedder


def _vision_folder() -> Path:
    return Path(os.environ.get("LABELLOOP_VISION_PACKAGES", Path(sys.prefix) / "vision-packages"))


def _import_torchvision_without_native_ops(torch):
    """Import torchvision, skipping ``torch.library.register_fake`` for ``torchvision::`` ops
    (the fake kernels of its compiled operators, which only matter for tracing those ops)."""
    real = torch.library.register_fake

    def register_fake(op, *args, **kwargs):
        if isinstance(op, str) and op.startswith("torchvision::"):
            return args[0] if args and callable(args[0]) else (lambda fn: fn)
        return real(op, *args, **kwargs)

    for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
        del sys.modules[name]  # drop what the failed import left half-initialised
    torch.library.register_fake = register_fake
    try:
        import torchvision
    finally:
        torch.library.register_fake = real
    return torchvision


@pytest.fixture(scope="module")
def vision():
    """``(timm, open_clip)``, importable here or the tests skip with the reason."""
    torch = pytest.importorskip("torch")
    folder = _vision_folder()
    if folder.is_dir() and str(folder) not in sys.path:
        sys.path.append(str(folder))
    try:
        import torchvision  # noqa: F401
    except ModuleNotFoundError as exc:
        pytest.skip(f"torchvision is not installed ({exc}); run make install or set LABELLOOP_VISION_PACKAGES")
    except RuntimeError as exc:
        if "torchvision::" not in str(exc):
            raise
        _import_torchvision_without_native_ops(torch)
    try:
        import open_clip
        import timm
    except ImportError as exc:
        pytest.skip(f"timm / open_clip are not installed ({exc}); run make install")
    return timm, open_clip


def _images(tmp_path, n=4):
    from PIL import Image

    rng = np.random.default_rng(0)
    paths = []
    for i in range(n):
        p = tmp_path / f"img{i}.png"
        Image.fromarray(rng.integers(0, 256, (40 + 8 * i, 48, 3), dtype=np.uint8)).save(p)
        paths.append(str(p))
    return paths


def _check_embedder(emb, paths, tmp_path):
    from labelloop.embed import cached_encode

    a = emb.encode(paths, batch_size=3)
    assert a.shape == (len(paths), emb.dim) and a.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(emb.encode(paths, batch_size=1), a, atol=1e-5)  # deterministic, batch-independent
    assert (a @ a.T)[~np.eye(len(paths), dtype=bool)].max() < 1 - 1e-4  # different images, different vectors
    calls = []
    real = emb._encode
    emb._encode = lambda items, bs: calls.append(len(items)) or real(items, bs)
    first = cached_encode(emb, paths, cache=tmp_path / "cache")
    again = cached_encode(emb, paths, cache=tmp_path / "cache")
    assert calls == [len(paths)]  # the second run is read from the cache
    np.testing.assert_allclose(first, a, atol=1e-5)
    np.testing.assert_array_equal(again, first)


def test_timm_model_from_local_weights(vision, tmp_path):
    timm, _ = vision
    import torch

    torch.manual_seed(0)
    model = timm.create_model("resnet10t", pretrained=False, num_classes=0)
    model.eval()
    weights = tmp_path / "w" / "model.safetensors"
    weights.parent.mkdir()
    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(weights))
    emb = get_embedder(f"timm:resnet10t:{weights.parent}", device="cpu", show_progress=False)
    assert emb.dim == model.num_features == 512
    paths = _images(tmp_path)
    _check_embedder(emb, paths, tmp_path)
    # the vectors are the saved network's, not a fresh random one's
    x = torch.stack([torch.as_tensor(emb.preprocess(p)) for p in paths[:2]])
    with torch.inference_mode():
        ref = torch.nn.functional.normalize(model(x), dim=1).numpy()
    np.testing.assert_allclose(emb.encode(paths[:2]), ref, atol=1e-4)
    # a .pth file works too, and weights of another architecture are refused
    pth = tmp_path / "w.pth"
    torch.save(model.state_dict(), pth)
    np.testing.assert_allclose(get_embedder(f"timm:resnet10t:{pth}", device="cpu").encode(paths[:2]), ref, atol=1e-4)
    from labelloop.exceptions import ConfigError

    with pytest.raises(ConfigError, match="does not fit"):
        get_embedder(f"timm:resnet18:{pth}", device="cpu")


TINY_CLIP = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 32, "layers": 1, "width": 64, "patch_size": 8, "head_width": 32},
    "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
}


def test_open_clip_model_from_local_weights(vision, tmp_path):
    _, open_clip = vision
    import torch

    cfg = tmp_path / "cfg" / "tiny-clip-test.json"
    cfg.parent.mkdir()
    cfg.write_text(json.dumps(TINY_CLIP))
    open_clip.add_model_config(cfg)
    torch.manual_seed(0)
    model = open_clip.create_model("tiny-clip-test")
    weights = tmp_path / "tiny.pt"
    torch.save(model.state_dict(), weights)
    emb = get_embedder(f"clip:tiny-clip-test:{weights}", device="cpu", show_progress=False)
    assert emb.dim == 32
    paths = _images(tmp_path)
    _check_embedder(emb, paths, tmp_path)
    x = torch.stack([emb.preprocess(p) for p in paths[:2]])
    with torch.inference_mode():
        ref = torch.nn.functional.normalize(model.eval().encode_image(x), dim=1).numpy()
    np.testing.assert_allclose(emb.encode(paths[:2]), ref, atol=1e-4)
    from labelloop.exceptions import ConfigError

    other = tmp_path / "other.pt"
    torch.save({k: v for k, v in model.state_dict().items() if not k.startswith("visual.")}, other)
    with pytest.raises(ConfigError, match="does not fit"):
        get_embedder(f"clip:tiny-clip-test:{other}", device="cpu")
