"""Embedders: MiniLM (ours vs sentence-transformers), device/precision rules, TF-IDF without
torch, image embedders, plug-ins."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from labelloop.embed import available_embedders, get_embedder, select_device, select_precision
from labelloop.exceptions import ConfigError, InputError, MissingDependencyError

REPO = Path(__file__).resolve().parents[2]
TEXTS = [
    "Convolutional networks for image classification",
    "a",
    "Transformers and attention for machine translation of long documents, with many tokens " * 5,
    "Reinforcement learning agents play Atari games",
    "",
]


@pytest.fixture(scope="module")
def minilm():
    pytest.importorskip("torch")
    return get_embedder("minilm", show_progress=False)


def test_minilm_matches_sentence_transformers(minilm):
    st = pytest.importorskip("sentence_transformers")
    from labelloop.embed.text import minilm_path

    ref = st.SentenceTransformer(str(minilm_path()), device="cpu").encode(TEXTS, normalize_embeddings=True)
    got = minilm.encode(TEXTS, batch_size=2)
    assert got.shape == (5, 384) and got.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    assert minilm.backend == "native"
    assert (got * ref).sum(1).min() > 1 - 1e-5


def test_order_is_kept_despite_length_bucketing(minilm):
    order = [3, 0, 4, 2, 1]
    a = minilm.encode(TEXTS, batch_size=2)
    b = minilm.encode([TEXTS[i] for i in order], batch_size=3)
    np.testing.assert_allclose(b, a[order], atol=1e-5)


@pytest.mark.parametrize("precision", ["fp16", "bf16"])
def test_half_precision_path_close_to_fp32(minilm, precision):
    half = get_embedder("minilm", precision=precision, show_progress=False)
    assert half.precision == precision
    a, b = minilm.encode(TEXTS), half.encode(TEXTS)
    assert (a * b).sum(1).min() > 1 - 1e-2


def test_sentence_transformers_backend_agrees(minilm):
    st = get_embedder("minilm", backend="sentence-transformers", show_progress=False)
    assert st.backend == "sentence-transformers"
    assert (st.encode(TEXTS) * minilm.encode(TEXTS)).sum(1).min() > 1 - 1e-5
    assert st.fingerprint == minilm.fingerprint


def test_device_and_precision_rules():
    import torch

    assert select_device("cpu") == "cpu"
    assert select_device("auto") == ("cuda" if torch.cuda.is_available() else select_device(None))
    assert select_precision("cuda") == "fp16"
    assert select_precision("cuda:1") == "fp16"
    assert select_precision("cpu") == "fp32"
    assert select_precision("cpu", "bf16") == "bf16"
    with pytest.raises(InputError):
        select_precision("cpu", "int3")


def test_input_validation(minilm):
    with pytest.raises(InputError, match="single string"):
        minilm.encode("just one text")
    with pytest.raises(InputError, match="not a text"):
        minilm.encode(["ok", 3])
    with pytest.raises(InputError, match="batch_size"):
        minilm.encode(["ok"], batch_size=0)
    assert minilm.encode([]).shape == (0, 384)


def test_tfidf_embeds_related_texts_closer():
    emb = get_embedder("tfidf", n_components=8)
    corpus = ["cats and dogs", "dogs and cats play", "stock market prices", "market prices fall", "cats purr"]
    v = emb.encode(corpus)
    assert v.shape == (5, 8)
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    sim = v @ v.T
    assert sim[0, 1] > sim[0, 2] and sim[2, 3] > sim[2, 0]
    fp = emb.fingerprint
    assert emb.encode(["cats"]).shape == (1, 8)
    assert emb.fingerprint == fp  # fitted once; encode does not refit


def test_tfidf_without_fit_has_no_fingerprint():
    from labelloop.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        _ = get_embedder("tfidf").fingerprint


def test_auto_falls_back_to_tfidf_without_torch(tmp_path):
    code = textwrap.dedent(
        """
        import sys

        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split('.')[0] in ('torch', 'transformers', 'sentence_transformers'):
                    raise ModuleNotFoundError(name)
                return None

        sys.meta_path.insert(0, Block())
        from labelloop.embed import get_embedder
        e = get_embedder('auto', n_components=4)
        v = e.encode(['one text', 'another text', 'a third one'])
        print(e.name, v.shape)
        try:
            get_embedder('minilm').encode(['x'])
        except Exception as exc:
            print(type(exc).__name__)
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={"PYTHONPATH": str(REPO / "src"), "LABELLOOP_QUIET": "1"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[:2] == ["tfidf (3, 4)", "MissingDependencyError"]


def test_histogram_embedder_on_digits():
    from sklearn.datasets import load_digits

    digits = load_digits()
    emb = get_embedder("histogram", modality="image")
    assert emb is not None and emb.dim == 8 * 4 * 4 + 8 * 8 * 9
    imgs = [img for img in digits.images[:400]]
    v = emb.encode(imgs)
    assert v.shape == (400, emb.dim)
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    sim = v @ v.T
    np.fill_diagonal(sim, -np.inf)
    nn_acc = float((digits.target[:400][sim.argmax(1)] == digits.target[:400]).mean())
    assert nn_acc > 0.85  # HOG alone separates 8x8 digits well


def test_histogram_reads_files_and_rejects_non_images(tmp_path):
    from PIL import Image

    from labelloop.exceptions import InvalidImageError

    red = tmp_path / "red.png"
    Image.new("RGB", (20, 30), (255, 0, 0)).save(red)
    (tmp_path / "bad.png").write_text("not an image")
    emb = get_embedder("histogram")
    v = emb.encode([str(red), Image.new("RGB", (20, 30), (255, 0, 0)), np.zeros((5, 5), np.uint8)])
    np.testing.assert_allclose(v[0], v[1], atol=1e-6)
    assert v[0] @ v[2] < 0.9
    with pytest.raises(InvalidImageError, match="bad.png"):
        emb.encode([str(tmp_path / "bad.png")])


def test_torch_image_embedder_with_a_tiny_local_network():
    torch = pytest.importorskip("torch")
    from labelloop.embed.image import TorchImageEmbedder, make_preprocess

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv2d(8, 16, 3, stride=2))
    emb = TorchImageEmbedder(net, name="tiny", preprocess=make_preprocess(32), device="auto", show_progress=False)
    assert emb.device == select_device() and emb.dim == 16
    rng = np.random.default_rng(0)
    imgs = [rng.integers(0, 255, (40, 48, 3), dtype=np.uint8) for _ in range(5)]
    a = emb.encode(imgs, batch_size=2)
    b = emb.encode(imgs, batch_size=5)
    assert a.shape == (5, 16)
    np.testing.assert_allclose(a, b, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
    half = TorchImageEmbedder(net, name="tiny", preprocess=make_preprocess(32), precision="bf16", show_progress=False)
    assert (half.encode(imgs) * a).sum(1).min() > 0.98


# timm and open_clip models loaded from local weights: tests/unit/test_embed_vision.py


def test_missing_vision_package_gives_install_hint(monkeypatch):
    import importlib

    real = importlib.import_module

    def fake(name, *a, **k):
        if name in ("timm", "open_clip"):
            raise ImportError(f"No module named {name!r}")
        return real(name, *a, **k)

    monkeypatch.setattr(importlib, "import_module", fake)
    with pytest.raises(MissingDependencyError, match="pip install timm"):
        get_embedder("timm:resnet18:/nowhere.pth")
    with pytest.raises(MissingDependencyError, match="open_clip_torch"):
        get_embedder("clip:ViT-B-32:/nowhere.pt")


def test_plugin_entry_point(tmp_path, monkeypatch):
    pkg = tmp_path / "myreid"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(textwrap.dedent(
        """
        import numpy as np
        class ReId:
            name = "reid"
            modality = "image"
            dim = 3
            def __init__(self, scale=1.0, spec=None):
                self.scale = scale
                self.spec = spec
            @property
            def fingerprint(self):
                return f"reid-{self.scale}"
            def encode(self, items, *, batch_size=None):
                v = np.array([[len(str(i)), 1.0, self.scale] for i in items], dtype=np.float32)
                return v / np.linalg.norm(v, axis=1, keepdims=True)
        """
    ))
    dist = tmp_path / "myreid-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: myreid\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[labelloop.embedders]\nreid = myreid:ReId\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert "reid" in available_embedders()
    emb = get_embedder("reid", scale=2.0)
    assert emb.fingerprint == "reid-2.0"
    assert emb.encode(["ab"]).shape == (1, 3)
    assert get_embedder("reid:market1501").spec == "market1501"
    with pytest.raises(ConfigError, match="reid"):
        get_embedder("no-such-model")


def test_out_of_memory_halves_the_batch(minilm, monkeypatch):
    import torch

    real = minilm._forward
    seen = []

    def flaky(enc):
        n = enc["input_ids"].shape[0]
        seen.append(n)
        if n > 2:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")
        return real(enc)

    monkeypatch.setattr(minilm, "_forward", flaky)
    got = minilm.encode(TEXTS, batch_size=5)
    monkeypatch.undo()
    np.testing.assert_allclose(got, minilm.encode(TEXTS), atol=1e-5)
    assert seen == [5, 2, 3, 1, 2]  # halved until each part fits, order of the output kept
    assert minilm.default_batch <= 2
    minilm.default_batch = 64


def test_batch_size_follows_free_gpu_memory(monkeypatch):
    import torch

    from labelloop.embed.base import default_batch_size

    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda: (8 * 2**30, 16 * 2**30))
    assert default_batch_size("cuda", base=64, per_gib=32, cap=1024) == 256
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda: (80 * 2**30, 80 * 2**30))
    assert default_batch_size("cuda", base=64, per_gib=32, cap=1024) == 1024
    assert default_batch_size("cpu", base=64) == 64
