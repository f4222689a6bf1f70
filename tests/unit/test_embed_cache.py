"""The on-disk embedding cache: only new or changed items are embedded again."""

from __future__ import annotations

import numpy as np
import pytest

from labelloop.embed import EmbeddingCache, cached_encode, content_hash
from labelloop.embed.base import BaseEmbedder
from labelloop.exceptions import InputError


class Counting(BaseEmbedder):
    """Deterministic 4-d vectors from a text; counts how many texts it embedded."""

    name = "counting"

    def __init__(self, version="1"):
        self.calls = 0
        self.version = version

    @property
    def dim(self):
        return 4

    @property
    def fingerprint(self):
        return f"counting-v{self.version}"

    def _encode(self, items, batch_size):
        self.calls += len(items)
        return np.array([[len(t) + 1, t.count("a") + 1, hash(t) % 7 + 1, 1.0] for t in items], dtype=np.float32)


def test_second_run_embeds_nothing_and_changed_items_only(tmp_path):
    emb = Counting()
    texts = ["alpha", "beta", "gamma", "alpha"]  # a duplicate is embedded once
    first = cached_encode(emb, texts, cache=tmp_path)
    assert emb.calls == 3
    np.testing.assert_allclose(first, emb.encode(texts))
    emb.calls = 0
    again = cached_encode(emb, texts, cache=tmp_path)
    assert emb.calls == 0
    np.testing.assert_array_equal(again, first)
    changed = ["alpha", "BETA", "gamma", "delta"]
    out = cached_encode(emb, changed, cache=tmp_path, chunk_size=1)
    assert emb.calls == 2
    np.testing.assert_allclose(out, emb.encode(changed))
    assert EmbeddingCache(tmp_path).count("counting-v1") == 5


def test_other_model_version_has_its_own_vectors(tmp_path):
    cached_encode(Counting("1"), ["x", "y"], cache=tmp_path)
    other = Counting("2")
    cached_encode(other, ["x", "y"], cache=tmp_path)
    assert other.calls == 2


def test_cache_is_memory_mapped_and_survives_a_cut_off_write(tmp_path):
    emb = Counting()
    cached_encode(emb, ["a", "b"], cache=tmp_path)
    cache = EmbeddingCache(tmp_path)
    vec = cache.vectors("counting-v1")
    assert isinstance(vec, np.memmap) and vec.shape == (2, 4)
    # a run killed after writing vectors but before meta.json: trailing bytes are ignored
    with open(tmp_path / "counting-v1" / "vectors.f32", "ab") as fh:
        fh.write(b"\x00" * 40)
    out = cached_encode(emb, ["a", "b", "c"], cache=tmp_path)
    np.testing.assert_allclose(out, emb.encode(["a", "b", "c"]))
    assert cache.vectors("counting-v1").shape == (3, 4)


def test_out_file_and_given_hashes(tmp_path):
    emb = Counting()
    texts = [f"text {i}" for i in range(10)]
    hashes = [f"h{i:038d}" for i in range(10)]
    res = cached_encode(emb, texts, cache=tmp_path / "c", hashes=hashes, out=tmp_path / "v.npy")
    assert isinstance(res, np.memmap)
    np.testing.assert_allclose(np.load(tmp_path / "v.npy"), emb.encode(texts))
    with pytest.raises(InputError):
        cached_encode(emb, texts, cache=tmp_path / "c", hashes=hashes[:3])


def test_tfidf_is_fitted_before_caching(tmp_path):
    from labelloop.embed import get_embedder

    emb = get_embedder("tfidf", n_components=3)
    texts = ["red apples", "green apples", "red cars", "fast cars"]
    a = cached_encode(emb, texts, cache=tmp_path)
    assert a.shape == (4, 3)
    assert EmbeddingCache(tmp_path).count(emb.fingerprint) == 4


def test_content_hash_is_stable():
    assert content_hash("abc") == "a9993e364706816aba3e25717850c26c9cd0d89d"
    assert content_hash(np.zeros((2, 2), np.uint8)) != content_hash(np.zeros((4,), np.uint8))
