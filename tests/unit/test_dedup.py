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


# ---------------------------------------------------------------- images: candidates + verification
def _scene(seed: int, side: int = 64) -> np.ndarray:
    """A small synthetic picture: a few random filled shapes on a grey background."""
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(seed)
    im = Image.new("L", (side, side), 90)
    dr = ImageDraw.Draw(im)
    for _ in range(4):
        x0, y0 = rng.integers(0, side - 16, 2).tolist()
        x1, y1 = x0 + int(rng.integers(8, 24)), y0 + int(rng.integers(8, 24))
        shape = dr.ellipse if rng.random() < 0.5 else dr.rectangle
        shape([x0, y0, x1, y1], fill=int(rng.integers(0, 256)))
    return np.asarray(im.convert("RGB"))


def _crop_resize(img: np.ndarray, box, size) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.fromarray(img).crop(box).resize(size, Image.BILINEAR))


def test_crop_windows_are_the_direct_crop_and_resize():
    from labelloop.dedup.images import (
        _crop_windows,
        _crops,
        _normalise,
        _window_ncc,
        _window_params,
    )

    rng = np.random.default_rng(0)
    t = rng.random((3, 32, 32)).astype(np.float32)
    scales, pos = (1.0, 0.9, 0.8), (0.0, 0.5, 1.0)
    got = _crops(t, scales, pos, 24)
    ref = []
    for s in scales:
        w = _crop_windows(32, 24, s, pos)
        ref += [np.einsum("oh,nhw,pw->nop", w[a], t, w[b]).reshape(3, -1) for a in range(len(w)) for b in range(len(w))]
    np.testing.assert_allclose(got, _normalise(np.stack(ref, 1)), atol=1e-5)
    # the window table used by the refinement describes the same windows in the same order
    params = _window_params(32, scales, pos)
    target = got[1, 7]
    for w in (0, 5, 7, 18):
        ncc = _window_ncc(t[[1]], params[[w]], target[None])[0]
        np.testing.assert_allclose(ncc, got[1, w] @ target, atol=1e-5)


def test_content_box_trims_uniform_borders_only():
    from labelloop.dedup.images import _content_box

    g = np.full((40, 50), 200.0)
    g[10:20, 5:30] = 30
    assert _content_box(g) == (10, 20, 5, 30)
    assert _content_box(np.full((8, 8), 7.0)) == (0, 8, 0, 8)  # blank: nothing to trim to
    noisy = np.random.default_rng(0).uniform(0, 255, (30, 30))
    assert _content_box(noisy) == (0, 30, 0, 30)  # no uniform border: the whole image


def test_aligned_similarity_of_copies_and_of_different_pictures():
    from labelloop.dedup.images import aligned_similarity, image_thumbnails

    a, b = _scene(1), _scene(2)
    imgs = [
        a,
        _jpeg(a, 50),  # 1: re-encoded
        _crop_resize(a, (3, 3, 61, 61), (64, 64)),  # 2: centre crop
        _crop_resize(a, (0, 6, 58, 64), (50, 50)),  # 3: corner crop and smaller
        np.asarray(a[::-1]),  # 4: upside down: another picture
        b,  # 5: another picture
        np.full((20, 20, 3), 128, np.uint8),  # 6, 7: flat, same grey at other sizes
        np.full((30, 30, 3), 128, np.uint8),
        np.full((30, 30, 3), 20, np.uint8),  # 8: flat, darker
    ]
    th = image_thumbnails(imgs)
    pairs = [(0, 0), (0, 1), (0, 2), (0, 3), (2, 3), (0, 4), (0, 5), (6, 7), (6, 8), (0, 6)]
    s = dict(zip(pairs, aligned_similarity(th, pairs).tolist(), strict=True))
    assert s[(0, 0)] == pytest.approx(1.0, abs=1e-5)
    assert min(s[(0, 1)], s[(0, 2)], s[(0, 3)], s[(2, 3)]) > 0.97
    assert max(s[(0, 4)], s[(0, 5)]) < 0.8
    assert s[(6, 7)] == 1.0 and s[(6, 8)] == 0.0 and s[(0, 6)] < 0.5
    assert aligned_similarity(th, np.zeros((0, 2), np.int64)).shape == (0,)


def test_image_near_duplicates_find_planted_copies_of_scenes():
    from labelloop.dedup.images import image_near_duplicate_pairs

    imgs = [_scene(s) for s in range(40)]
    planted = {40: 3, 41: 7, 42: 7, 43: 20}
    imgs += [_jpeg(imgs[3], 40), _crop_resize(imgs[7], (4, 2, 60, 58), (64, 64)), _crop_resize(imgs[7], (0, 0, 64, 64), (32, 32)), _jpeg(_crop_resize(imgs[20], (5, 5, 64, 64), (48, 48)), 70)]
    pairs, scores, thr = image_near_duplicate_pairs(imgs, threshold=0.95, return_scores=True)
    assert thr == 0.95 and (scores >= 0.95).all()
    expected = groups_from_pairs(len(imgs), list(planted.items()))
    assert expected == [[3, 40], [7, 41, 42], [20, 43]]
    assert groups_from_pairs(len(imgs), pairs) == expected
    # the same through find_duplicates, with perceptual hashes as extra candidates
    dup = find_duplicates(images=imgs, image_threshold=0.95)
    assert dup.groups == expected and set(dup.pairs) == {"image"}


def test_image_threshold_auto_and_bad_input():
    from labelloop.dedup.images import (
        calibrate_threshold,
        image_near_duplicate_pairs,
        image_thumbnails,
    )

    imgs = [_scene(s) for s in range(30)]
    t1 = calibrate_threshold(imgs, sample=30)
    assert 0.5 < t1 < 1.0 and t1 == calibrate_threshold(imgs, sample=30)  # seeded: repeatable
    with pytest.raises(InputError, match="threshold"):
        image_near_duplicate_pairs(imgs, threshold=1.5)
    with pytest.raises(InputError, match="'auto'"):
        image_near_duplicate_pairs(imgs, threshold="high")
    with pytest.raises(InputError, match="thumbnails"):
        image_near_duplicate_pairs(imgs, thumbs=image_thumbnails(imgs[:3]), threshold=0.9)
    with pytest.raises(InputError, match="0..29"):
        image_near_duplicate_pairs(imgs, threshold=0.9, extra_candidates=[(0, 30)])
    with pytest.raises(InputError, match="no images"):
        calibrate_threshold([])


def test_digit_copies_verified_after_alignment():
    """Real scanned digits (8x8, upscaled) with planted JPEG / crop / resize copies: different
    people's handwriting of a digit correlates highly, the copies after alignment more so: both
    the auto threshold and a strict fixed one keep the copies and leave the look-alikes."""
    pytest.importorskip("imagehash")
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    imgs = [np.asarray(Image.fromarray((im * 255 / 16).astype(np.uint8)).resize((64, 64), Image.BICUBIC).convert("RGB")) for im in digits.images[-400:]]
    rng = np.random.default_rng(5)
    planted = {}
    for i, src in enumerate(rng.choice(len(imgs), 30, replace=False).tolist()):
        kind = i % 3
        copy = _jpeg(imgs[src], 50) if kind == 0 else _crop_resize(imgs[src], (2, 4, 60, 62), (64, 64)) if kind == 1 else _crop_resize(imgs[src], (0, 0, 64, 64), (44, 44))
        planted[len(imgs)] = src
        imgs.append(copy)
    true = {tuple(sorted((c, s))) for c, s in planted.items()}

    def pr(groups):
        found = {(g[a], g[b]) for g in groups for a in range(len(g)) for b in range(a + 1, len(g))}
        return len(found & true) / max(len(found), 1), len(found & true) / len(true)

    auto_precision, recall = pr(find_duplicates(images=imgs).groups)
    assert recall >= 0.95 and auto_precision >= 0.9, (auto_precision, recall)
    precision, recall = pr(find_duplicates(images=imgs, image_threshold=0.995).groups)
    assert precision >= 0.9 and recall >= 0.9, (precision, recall)
    phash_precision, _ = pr(find_duplicates(images=imgs, image_threshold=None, phash_distance=6).groups)
    assert phash_precision < precision  # unverified perceptual hashes confuse handwritings


def test_refinement_reaches_off_centre_crops():
    """An 85% crop taken off-centre sits between grid windows; the pattern search must walk to
    it. (Moving the window by its corner, it stalled at 0.96 on these digit crops.)"""
    from PIL import Image
    from sklearn.datasets import load_digits

    from labelloop.dedup.images import aligned_similarity, image_thumbnails

    digits = load_digits()
    for idx in (0, 7, 42, 130):
        src = np.asarray(Image.fromarray((digits.images[idx] * 255 / 16).astype(np.uint8)).resize((64, 64), Image.BICUBIC).convert("RGB"))
        imgs = [src] + [src[y : y + 54, x : x + 54] for x, y in ((3, 5), (7, 1), (0, 9), (10, 10))]
        th = image_thumbnails(imgs)
        pairs = [(0, i) for i in range(1, len(imgs))]
        sim = aligned_similarity(th, pairs)
        assert sim.min() > 0.995, (idx, sim)
        assert (sim >= aligned_similarity(th, pairs, refine_above=2.0)).all()  # never worse than the grid
