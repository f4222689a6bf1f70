"""Near-duplicate images in two stages: candidate pairs from a vector index, then verification
after alignment.

A copy of an image (re-encoded as JPEG, resized, cropped a little) is *pixel-wise* the same
picture once it is brought to the same scale and position; two different pictures of the same
kind of thing (two people's handwriting of a "3", two photos of the same street) are not. Global
descriptors (perceptual hashes, colour/gradient histograms, neural embeddings) cannot tell these
apart when the pictures are small or similar, so a threshold on them trades precision for
recall. Dedup tools therefore split the work:

1. **Candidates** (high recall, cheap): every image is reduced to a small grey thumbnail,
   zero-mean and unit-norm, so that the inner product of two thumbnails is their normalised
   cross-correlation (NCC). The full-image thumbnails go into a vector index; each image then
   queries it with its full thumbnail, centre crops of itself (a cropped copy is found from the
   matching crop of its source) and the thumbnail of its content box (uniform borders trimmed).
   Neighbours above a loose similarity become candidate pairs (callers may add more, e.g.
   close perceptual hashes).
2. **Verification** (high precision): each candidate pair is compared after alignment: one image
   is cropped at a small grid of scales and positions, resampled to a common size, the best
   window refined by a pattern search, and the best NCC against the other (uncropped) image is
   taken, both ways round. Only pairs whose best aligned NCC reaches ``threshold`` are kept;
   ``"auto"`` takes the NCC that 99% of random copies of the collection's own images reach.

The work is linear in the number of images plus the number of candidate pairs (at most ``k``
per query), never quadratic.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from labelloop.exceptions import InputError

# Thumbnail side used for verification and the side the aligned crops are resampled to.
THUMB = 32
ALIGNED = 24
# Side of the candidate descriptor (16 x 16 = 256-d vectors).
DESCRIPTOR = 16
# Centre-crop fractions tried when aligning (a copy cropped to 80-100% of its source), and the
# crop-window positions tried at each fraction (fractions of the free margin: left/centre/right).
ALIGN_SCALES = (1.0, 0.95, 0.9, 0.85, 0.8)
ALIGN_POSITIONS = (0.0, 0.5, 1.0)
# Centre crops each image uses as extra queries in the candidate stage.
QUERY_SCALES = (0.9, 0.8)
# ``threshold="auto"``: the aligned similarity that this share of synthetic copies of the
# input's own images still reaches (1st percentile: 99% of such copies are caught).
AUTO_PERCENTILE = 1.0
AUTO_SAMPLE = 256


@dataclass
class ImageThumbnails:
    """Grey thumbnails of a set of images: ``full`` ``[n, THUMB, THUMB]`` of the whole image and
    ``box`` of the content box (uniform borders trimmed), float32 in [0, 1]."""

    full: np.ndarray
    box: np.ndarray

    def __len__(self) -> int:
        return self.full.shape[0]


def _content_box(gray: np.ndarray) -> tuple[int, int, int, int]:
    """``(top, bottom, left, right)`` of what differs from a uniform border; the whole image when
    the border is not uniform (a photo) or nothing differs from it (a blank image)."""
    h, w = gray.shape
    ring = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    bg = float(np.median(ring))
    span = float(gray.max() - gray.min())
    tol = max(0.1 * span, 2.0)  # JPEG ringing and noise stay below a tenth of the range
    if span == 0 or np.mean(np.abs(ring - bg) <= tol) < 0.9:
        return 0, h, 0, w
    mask = np.abs(gray - bg) > tol
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    if rows.size == 0:
        return 0, h, 0, w
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def image_thumbnails(images: Sequence[Any], *, size: int = THUMB) -> ImageThumbnails:
    """Grey ``size x size`` thumbnails of each image and of its content box (area resampling)."""
    from PIL import Image

    from labelloop.embed.image import load_image
    from labelloop.progress import progress

    n = len(images)
    full = np.empty((n, size, size), dtype=np.float32)
    box = np.empty((n, size, size), dtype=np.float32)
    for i, item in enumerate(progress(images, total=n, desc="image thumbnails", unit="img")):
        im = load_image(item, "L")
        g = np.asarray(im, dtype=np.float32)
        top, bottom, left, right = _content_box(g)
        full[i] = np.asarray(im.resize((size, size), Image.BOX if min(im.size) >= size else Image.BILINEAR), dtype=np.float32) / 255.0
        crop = im.crop((left, top, right, bottom))
        box[i] = np.asarray(crop.resize((size, size), Image.BOX if min(crop.size) >= size else Image.BILINEAR), dtype=np.float32) / 255.0
    return ImageThumbnails(full=full, box=box)


def _resample_matrix(n_in: int, n_out: int, start: float, length: float) -> np.ndarray:
    """``[n_out, n_in]`` linear interpolation taking the window ``[start, start + length)`` (in
    input pixels) to ``n_out`` samples; with it, crop + resize is ``R_y @ image @ R_x.T``."""
    centres = start + (np.arange(n_out) + 0.5) * (length / n_out) - 0.5
    centres = np.clip(centres, 0, n_in - 1)
    lo = np.floor(centres).astype(np.int64)
    hi = np.minimum(lo + 1, n_in - 1)
    frac = centres - lo
    m = np.zeros((n_out, n_in), dtype=np.float32)
    m[np.arange(n_out), lo] += 1 - frac
    m[np.arange(n_out), hi] += frac
    return m


def _small_matmuls():
    """BLAS limited to one thread: these products are small (32 x 32 thumbnails), and a
    multi-threaded BLAS spends longer synchronising its threads than multiplying (4-5x slower
    measured on a busy 2-core machine)."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


def _normalise(x: np.ndarray) -> np.ndarray:
    """Zero mean, unit norm over the last axis, in place; flat vectors become all zero."""
    x -= x.mean(axis=-1, keepdims=True)
    norm = np.sqrt(np.einsum("...d,...d->...", x, x))[..., None]
    flat = norm <= 1e-6
    norm[flat] = 1.0
    x /= norm
    if flat.any():
        x *= ~flat
    return x


def _crop_windows(side: int, out: int, scale: float, positions: Sequence[float]) -> np.ndarray:
    """Resampling matrices ``[n_positions, out, side]`` of the crop windows of one scale along
    one axis (a single centred window at scale 1)."""
    length = scale * side
    starts = [0.0] if scale >= 1.0 else [p * (side - length) for p in positions]
    return np.stack([_resample_matrix(side, out, st, length) for st in starts])


def _crops(thumbs: np.ndarray, scales: Sequence[float], positions: Sequence[float], out: int) -> np.ndarray:
    """Every crop window of each thumbnail, resampled to ``out x out`` and normalised:
    ``[n, n_windows, out*out]``. At each scale every vertical window position is combined with
    every horizontal one; windows are ordered by scale (so scale 1 first when it comes first).

    Crop + resize is linear and separable, so all windows are two matrix products: one GEMM for
    the rows of every window at once, one per scale for the columns.
    """
    n, h, w = thumbs.shape
    ys = [_crop_windows(h, out, s, positions) for s in scales]
    xs = [_crop_windows(w, out, s, positions) for s in scales]
    ry = np.concatenate(ys).reshape(-1, h)  # [sum(c)*out, h]
    rows = (ry @ thumbs.transpose(1, 0, 2).reshape(h, n * w)).reshape(-1, out, n, w)
    counts = [wy.shape[0] * wx.shape[0] for wy, wx in zip(ys, xs, strict=True)]
    out_arr = np.empty((n, sum(counts), out * out), dtype=np.float32)
    at_y = at_w = 0
    for wy, wx, cnt in zip(ys, xs, counts, strict=True):
        c_y, c_x = wy.shape[0], wx.shape[0]
        block = rows[at_y : at_y + c_y].reshape(c_y * out * n, w) @ wx.reshape(c_x * out, w).T
        # [c_y, out_y, n, c_x, out_x] -> [n, c_y, c_x, out_y, out_x]
        block = block.reshape(c_y, out, n, c_x, out).transpose(2, 0, 3, 1, 4)
        out_arr[:, at_w : at_w + cnt] = block.reshape(n, cnt, out * out)
        at_y += c_y
        at_w += cnt
    return _normalise(out_arr)


def descriptors(thumbs: ImageThumbnails, *, size: int = DESCRIPTOR) -> np.ndarray:
    """Candidate-stage vectors of the whole images: normalised ``size x size`` thumbnails."""
    return _crops(thumbs.full, (1.0,), (0.5,), size)[:, 0]


def query_descriptors(thumbs: ImageThumbnails, *, size: int = DESCRIPTOR, scales: Sequence[float] = QUERY_SCALES) -> np.ndarray:
    """Extra queries per image: its centre crops at ``scales`` and its content box:
    ``[n, len(scales) + 1, size*size]``."""
    crops = _crops(thumbs.full, tuple(scales), (0.5,), size)
    box = _crops(thumbs.box, (1.0,), (0.5,), size)
    return np.concatenate([crops, box], axis=1)


def candidate_pairs(thumbs: ImageThumbnails, *, k: int = 10, min_similarity: float = 0.5, index: str | Any = "auto") -> np.ndarray:
    """Pairs ``(i, j)``, ``i < j``, worth verifying: ``j`` among the ``k`` nearest full-image
    descriptors of one of ``i``'s queries (whole image, centre crops, content box) with NCC >=
    ``min_similarity``, or the other way round."""
    from labelloop.index import get_index

    n = len(thumbs)
    if n < 2:
        return np.zeros((0, 2), dtype=np.int64)
    with _small_matmuls():
        base = descriptors(thumbs)
        queries = np.concatenate([base[:, None], query_descriptors(thumbs)], axis=1)
    ix = get_index(index, metric="ip").build(base) if isinstance(index, str) else index
    kk = min(int(k) + 1, n)
    nq = queries.shape[1]
    ids, d = ix.search(queries.reshape(n * nq, -1), kk)
    sim = -d
    rows = np.repeat(np.arange(n), nq * kk).reshape(ids.shape)
    ok = (ids >= 0) & (sim >= float(min_similarity)) & (ids != rows)
    p = np.stack([rows[ok], ids[ok]], axis=1)
    p = np.sort(p, axis=1)
    return np.unique(p, axis=0) if p.size else np.zeros((0, 2), dtype=np.int64)


def _window_params(side: int, scales: Sequence[float], positions: Sequence[float]) -> np.ndarray:
    """``[n_windows, 3]``: (length, start_y, start_x) in thumbnail pixels of each window of
    :func:`_crops`, in the same order."""
    rows = []
    for s in scales:
        length = s * side
        starts = [0.0] if s >= 1.0 else [p * (side - length) for p in positions]
        rows.extend((length, a, b) for a in starts for b in starts)
    return np.asarray(rows, dtype=np.float64)


def _batch_resample(n_in: int, n_out: int, start: np.ndarray, length: np.ndarray) -> np.ndarray:
    """:func:`_resample_matrix` for a batch of windows: ``[r, n_out, n_in]``."""
    r = start.shape[0]
    centres = start[:, None] + (np.arange(n_out) + 0.5)[None, :] * (length / n_out)[:, None] - 0.5
    centres = np.clip(centres, 0, n_in - 1)
    lo = np.floor(centres).astype(np.int64)
    hi = np.minimum(lo + 1, n_in - 1)
    frac = (centres - lo).astype(np.float32)
    # two scatters instead of np.add.at (slow); lo == hi only where frac is 0 at the far edge
    m = np.zeros((r, n_out, n_in), dtype=np.float32)
    np.put_along_axis(m, lo[..., None], (1 - frac)[..., None], axis=2)
    m_hi = np.zeros_like(m)
    np.put_along_axis(m_hi, hi[..., None], frac[..., None], axis=2)
    return m + m_hi


def _window_ncc(thumbs: np.ndarray, params: np.ndarray, target: np.ndarray) -> np.ndarray:
    """NCC of one crop window per row (``params`` = length, y, x) against ``target`` ``[r, d]``."""
    side = thumbs.shape[1]
    ry = _batch_resample(side, ALIGNED, params[:, 1], params[:, 0])
    rx = _batch_resample(side, ALIGNED, params[:, 2], params[:, 0])
    crop = np.matmul(np.matmul(ry, thumbs), rx.transpose(0, 2, 1)).reshape(len(params), -1)
    return np.einsum("rd,rd->r", _normalise(crop), target)


def _refine(thumbs: np.ndarray, params: np.ndarray, score: np.ndarray, target: np.ndarray, rounds: int = 5) -> np.ndarray:
    """Pattern search around the best grid window: move the crop's length and its centre by a
    step either way, keep whatever raises the NCC, halve the steps; ``rounds`` times. The grid
    is coarse (5% of the side apart), and for textured images a pixel of misalignment costs
    more correlation than any re-encoding does. The window moves by its centre, not its corner:
    a length step then keeps the window where it is, so the three moves do not fight each
    other (by the corner, the search stalled on off-centre crops)."""
    side = thumbs.shape[1]
    length = params[:, 0].copy()
    centre = params[:, 1:] + length[:, None] / 2
    score = score.copy()
    step = np.array([0.025 * side, 0.05 * side, 0.05 * side])
    for _ in range(rounds):
        for axis in range(3):
            for sign in (-1.0, 1.0):
                ln, ce = length.copy(), centre.copy()
                if axis == 0:
                    ln = np.clip(ln + sign * step[0], 0.7 * side, side)
                else:
                    ce[:, axis - 1] += sign * step[axis]
                ce = np.clip(ce, ln[:, None] / 2, side - ln[:, None] / 2)
                trial = np.column_stack([ln, ce - ln[:, None] / 2])
                sc = _window_ncc(thumbs, trial, target)
                better = sc > score
                length[better], centre[better], score[better] = ln[better], ce[better], sc[better]
        step = step / 2
    return score


def _whole(thumbs: np.ndarray) -> np.ndarray:
    return _crops(thumbs, (1.0,), (0.5,), ALIGNED)[:, 0]


def aligned_similarity(thumbs: ImageThumbnails, pairs, *, chunk: int = 512, refine_above: float = 0.5, refine_below: float = 1.0) -> np.ndarray:
    """Best NCC of each pair over the alignment search: either image cropped at every scale in
    ``ALIGN_SCALES`` and position in ``ALIGN_POSITIONS`` against the other one whole, or the two
    content boxes against each other. 1.0 for two flat images of the same grey level.

    Each pair is looked at from both sides (cropped image first); sides are processed sorted
    by the cropped image, so the crops of each image are computed about once, however many
    candidates it has. The best grid window is refined (:func:`_refine`) when its NCC lies in
    ``[refine_above, refine_below)``: a caller that only needs to know whether a threshold is
    reached passes a band below it and skips refining pairs already above it.
    """
    p = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    m = p.shape[0]
    best = np.full(m, -1.0, dtype=np.float32)
    if m == 0:
        return best
    windows = _window_params(thumbs.full.shape[1], ALIGN_SCALES, ALIGN_POSITIONS)
    sides = np.concatenate([p, p[:, ::-1]])
    pid = np.concatenate([np.arange(m), np.arange(m)])
    order = np.argsort(sides[:, 0], kind="stable")
    sides, pid = sides[order], pid[order]
    with _small_matmuls():
        for s in range(0, sides.shape[0], chunk):
            _verify_chunk(thumbs, sides[s : s + chunk], pid[s : s + chunk], windows, best, refine_above, refine_below)
    return best


def _verify_chunk(thumbs: ImageThumbnails, part: np.ndarray, ids: np.ndarray, windows: np.ndarray, best: np.ndarray, refine_above: float, refine_below: float) -> None:
    """:func:`aligned_similarity` of one chunk of (cropped, whole) sides, sorted by the first;
    raises ``best[ids]`` to each side's score."""
    anchors, local = np.unique(part[:, 0], return_inverse=True)
    crops = _crops(thumbs.full[anchors], ALIGN_SCALES, ALIGN_POSITIONS, ALIGNED)  # [a, w, d]
    whole_b = _whole(thumbs.full[part[:, 1]])  # [r, d]
    # rows are sorted by anchor: one small product per anchor, no [rows, windows, d] gather
    grid = np.empty((part.shape[0], crops.shape[1]), dtype=np.float32)
    cuts = np.flatnonzero(np.r_[True, local[1:] != local[:-1], True])
    for a, z in zip(cuts[:-1], cuts[1:], strict=True):
        grid[a:z] = whole_b[a:z] @ crops[local[a]].T
    at = grid.argmax(1)
    score = grid[np.arange(len(at)), at]
    todo = (score >= refine_above) & (score < refine_below)
    if todo.any():
        score[todo] = _refine(thumbs.full[part[todo, 0]], windows[at[todo]], score[todo], whole_b[todo])
    box = np.einsum("rd,rd->r", _whole(thumbs.box[part[:, 0]]), _whole(thumbs.box[part[:, 1]]))
    score = np.maximum(score, box)
    flat = ~crops[local, 0].any(1) & ~whole_b.any(1)
    if flat.any():  # no texture to correlate: the same grey level or not
        ma = thumbs.full[part[flat, 0]].mean(axis=(1, 2))
        mb = thumbs.full[part[flat, 1]].mean(axis=(1, 2))
        score[flat] = np.where(np.abs(ma - mb) <= 2 / 255, 1.0, 0.0)
    np.maximum.at(best, ids, score.astype(np.float32))


def random_copy(image: Any, rng: np.random.Generator):
    """A random near-identical copy of ``image`` from the transform family the verification is
    meant to catch: one or two of JPEG re-encoding at quality 40-95, a crop keeping 80-100% of
    each side at a random position, a resize to 50-100% of the size. Returns a PIL image."""
    from PIL import Image

    from labelloop.embed.image import load_image

    im = load_image(image, "RGB")
    for kind in rng.choice(3, size=int(rng.integers(1, 3)), replace=False).tolist():
        w, h = im.size
        if kind == 0:
            buf = io.BytesIO()
            im.save(buf, format="JPEG", quality=int(rng.integers(40, 96)))
            im = Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
        elif kind == 1:
            f = float(rng.uniform(0.8, 1.0))
            cw, ch = max(1, round(w * f)), max(1, round(h * f))
            x, y = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
            im = im.crop((x, y, x + cw, y + ch))
        else:
            f = float(rng.uniform(0.5, 1.0))
            im = im.resize((max(8, round(w * f)), max(8, round(h * f))), Image.BILINEAR)
    return im


def calibrate_threshold(images: Sequence[Any], *, sample: int = AUTO_SAMPLE, percentile: float = AUTO_PERCENTILE, seed: int = 0) -> float:
    """The verification threshold for this collection: make a :func:`random_copy` of up to
    ``sample`` of its images and return the ``percentile``-th percentile of the copies' aligned
    similarity to their sources. Uses no labels; it adapts the threshold to how much the copy
    transforms cost on this kind of image (a JPEG of a smooth scan keeps 0.99+ correlation, of
    a textured photo far less), so that ``100 - percentile`` % of such copies are caught."""
    if len(images) == 0:
        raise InputError("cannot calibrate on no images")
    if not 0.0 <= float(percentile) < 100.0:
        raise InputError(f"percentile must be in [0, 100), got {percentile}")
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(images), size=min(int(sample), len(images)), replace=False)
    src = [images[int(i)] for i in pick]
    copies = [random_copy(im, rng) for im in src]
    th = image_thumbnails(src + copies)
    m = len(src)
    sim = aligned_similarity(th, np.stack([np.arange(m), np.arange(m, 2 * m)], axis=1))
    return float(np.percentile(sim, float(percentile)))


def image_near_duplicate_pairs(images: Sequence[Any], *, threshold: float | str = "auto", k: int = 10, min_similarity: float = 0.5, index: str | Any = "auto", thumbs: ImageThumbnails | None = None, extra_candidates=None, return_scores: bool = False):
    """Pairs ``(i, j)``, ``i < j``, of near-identical images (copies re-encoded, resized or
    cropped to >= 80% of each side): the candidates of :func:`candidate_pairs` whose
    :func:`aligned_similarity` is >= ``threshold``. ``threshold="auto"``:
    :func:`calibrate_threshold` on these images. ``thumbs`` reuses :func:`image_thumbnails`
    already computed for ``images``. ``extra_candidates``: more pairs to verify (e.g. close
    perceptual hashes). ``return_scores``: also the pairs' similarities (lower bounds:
    a pair already over the threshold on the alignment grid is not refined further) and the
    threshold used."""
    if isinstance(threshold, str):
        if threshold != "auto":
            raise InputError(f"threshold must be a number in (0, 1] or 'auto', got {threshold!r}")
    elif not 0.0 < float(threshold) <= 1.0:
        raise InputError(f"threshold is an aligned normalised cross-correlation in (0, 1], got {threshold}")
    if not -1.0 <= float(min_similarity) <= 1.0:
        raise InputError(f"min_similarity is a correlation in [-1, 1], got {min_similarity}")
    if int(k) < 1:
        raise InputError(f"k must be >= 1, got {k}")
    if thumbs is not None and len(thumbs) != len(images):
        raise InputError(f"{len(thumbs)} thumbnails for {len(images)} images")
    t = thumbs if thumbs is not None else image_thumbnails(images)
    thr = calibrate_threshold(images) if threshold == "auto" else float(threshold)
    cand = candidate_pairs(t, k=k, min_similarity=min_similarity, index=index)
    if extra_candidates is not None:
        extra = np.sort(np.asarray(extra_candidates, dtype=np.int64).reshape(-1, 2), axis=1)
        if extra.size and (extra.min() < 0 or extra.max() >= len(t)):
            raise InputError(f"candidate pair positions must lie in 0..{len(t) - 1}")
        extra = extra[extra[:, 0] != extra[:, 1]]
        cand = np.unique(np.concatenate([cand, extra]), axis=0)
    # refining the alignment only matters for pairs just below the threshold (it raised copies
    # of textured calibration images by up to a few hundredths; 0.1 leaves a wide margin)
    score = aligned_similarity(t, cand, refine_above=thr - 0.1, refine_below=thr)
    keep = score >= thr - 1e-6
    if return_scores:
        return cand[keep], score[keep], thr
    return cand[keep]


__all__ = [
    "AUTO_PERCENTILE",
    "ImageThumbnails",
    "aligned_similarity",
    "calibrate_threshold",
    "candidate_pairs",
    "descriptors",
    "image_near_duplicate_pairs",
    "image_thumbnails",
    "query_descriptors",
    "random_copy",
]
