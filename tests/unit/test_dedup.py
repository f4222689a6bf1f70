"""Duplicates: exact, perceptual, embedding near-duplicates, groups, keep-one, leakage."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from labelloop.dedup import (
    UnionFind,
    exact_pairs,
    find_duplicates,
    group_labels,
    groups_from_pairs,
    hamming_pairs,
    image_hashes,
    keep_one,
    leakage,
    near_duplicate_pairs,
    normalize_text,
)
from labelloop.exceptions import InputError


def test_union_find_and_groups_from_pairs_agree_by_hand():
    pairs = [(0, 1), (1, 2), (4, 5), (6, 6)]
    expected = [[0, 1, 2], [4, 5]]
    assert groups_from_pairs(7, pairs) == expected
    uf = UnionFind(7)
    for a, b in pairs:
        uf.union(a, b)
    assert uf.groups() == expected
    assert group_labels(7, expected).tolist() == [0, 0, 0, -1, 1, 1, -1]
    with pytest.raises(InputError):
        groups_from_pairs(3, [(0, 3)])


def test_exact_text_duplicates_after_normalisation():
    texts = ["Deep  Learning, for NLP!", "deep learning for nlp", "Deep learning for CV", "", "", "x"]
    assert normalize_text(texts[0]) == "deep learning for nlp"
    dup = find_duplicates(texts=texts)
    assert dup.groups == [[0, 1]]  # empty texts are not duplicates of each other
    assert find_duplicates(texts=texts, normalize=False).groups == []
    assert exact_pairs(["a", "b", "a", "a"]).tolist() == [[0, 2], [0, 3]]


def test_hamming_pairs_match_brute_force():
    rng = np.random.default_rng(0)
    base = rng.integers(0, 2**63, size=300, dtype=np.uint64)
    flips = []
    for i in range(60):  # plant copies with 0..4 flipped bits
        bits = rng.choice(64, size=i % 5, replace=False)
        v = base[i]
        for b in bits:
            v ^= np.uint64(1) << np.uint64(int(b))
        flips.append(v)
    h = np.concatenate([base, np.array(flips, dtype=np.uint64)])
    got = {tuple(p) for p in hamming_pairs(h, 4).tolist()}
    brute = set()
    for i in range(h.size):
        for j in range(i + 1, h.size):
            if bin(int(h[i]) ^ int(h[j])).count("1") <= 4:
                brute.add((i, j))
    assert got == brute
    assert {(i, 300 + i) for i in range(60)} <= got


def test_embedding_near_duplicates_chain_beyond_k():
    rng = np.random.default_rng(1)
    base = rng.normal(size=(50, 16)).astype(np.float32)
    # a chain of 8 near-copies of item 0: larger than k=3, still one group
    copies = base[0] + 0.01 * rng.normal(size=(8, 16)).astype(np.float32)
    x = np.concatenate([base, copies])
    pairs = near_duplicate_pairs(x, threshold=0.99, k=3)
    groups = groups_from_pairs(x.shape[0], pairs)
    assert groups == [[0] + list(range(50, 58))]
    assert (pairs[:, 0] < pairs[:, 1]).all()
    with pytest.raises(InputError):
        near_duplicate_pairs(x, threshold=1.5)


def test_keep_one_policies():
    groups = [[0, 2, 3], [4, 5]]
    texts = ["a", "b", "ccc", "cc", "dd", "d"]
    keep, drop = keep_one(groups, 6)
    assert keep.tolist() == [0, 1, 4] and drop.tolist() == [2, 3, 5]
    keep, _ = keep_one(groups, 6, policy="longest", texts=texts)
    assert keep.tolist() == [1, 2, 4]
    keep, _ = keep_one(groups, 6, policy="shortest", texts=texts)
    assert keep.tolist() == [0, 1, 5]
    keep, _ = keep_one(groups, 6, policy=[0, 0, 0, 9, 0, 1])
    assert keep.tolist() == [1, 3, 5]
    keep, _ = keep_one(groups, 6, policy="longest", texts=texts, labelled=[False, False, False, True, False, False])
    assert keep.tolist() == [1, 3, 4]  # the labelled copy wins over the longer one
    keep, _ = keep_one(groups, 6, policy=lambda g: g[-1])
    assert keep.tolist() == [1, 3, 5]
    with pytest.raises(InputError):
        keep_one(groups, 6, policy="longest")


def test_leakage_exact_and_near():
    tr_h, te_h = ["h1", "h2", "h3"], ["h9", "h2", "h8"]
    tr_v = np.eye(3, dtype=np.float32)
    te_v = np.array([[1, 0.01, 0], [0, 0, 1], [1, 1, 1]], dtype=np.float32)
    out = leakage(train_hashes=tr_h, test_hashes=te_h, train_vectors=tr_v, test_vectors=te_v, threshold=0.99)
    assert [(r["test"], r["train"], r["kind"]) for r in out] == [(0, 0, "near"), (1, 1, "exact")]
    with pytest.raises(InputError):
        leakage(train_hashes=tr_h)


def _jpeg(img: np.ndarray, quality: int):
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="JPEG", quality=quality)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


def test_perceptual_duplicates_of_digit_images():
    pytest.importorskip("imagehash")
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    imgs = []
    for im in digits.images[:150]:
        g = (im * 255 / 16).astype(np.uint8)
        imgs.append(np.asarray(Image.fromarray(g).resize((64, 64), Image.BICUBIC).convert("RGB")))
    planted = {}
    for i in range(0, 40, 2):
        src = imgs[i]
        if i % 4 == 0:
            copy = _jpeg(src, 60)
        else:
            copy = np.asarray(Image.fromarray(src).resize((48, 48), Image.BILINEAR).resize((64, 64)))
        planted[len(imgs)] = i
        imgs.append(copy)
    h = image_hashes(imgs)
    assert h.dtype == np.uint64
    dup = find_duplicates(images=imgs, phash_distance=6)
    found = {(g[0], m) for g in dup.groups for m in g[1:]}
    recall = np.mean([(src, copy) in found or any(src in g and copy in g for g in dup.groups) for copy, src in planted.items()])
    assert recall >= 0.9


def test_made_with_ml_planted_text_duplicates(shared_data):
    df = pd.read_csv(shared_data / "madewithml" / "dataset.csv")
    texts = (df.title + ". " + df.description.fillna("")).tolist()[:300]
    rng = np.random.default_rng(0)
    planted = {}
    for i in rng.choice(len(texts), 30, replace=False).tolist():
        t = texts[i]
        kind = len(planted) % 3
        copy = t.upper() if kind == 0 else ("  ".join(t.split()) if kind == 1 else t.replace(".", " !").replace(",", ""))
        planted[len(texts)] = i
        texts.append(copy)
    dup = find_duplicates(texts=texts)
    found = {frozenset(g) for g in dup.groups}
    assert all(any({i, c} <= g for g in found) for c, i in planted.items())
    keep, drop = dup.keep_one()
    assert set(drop.tolist()) >= set(planted)  # the copies (later positions) are the ones dropped
