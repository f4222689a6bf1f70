"""Calibrate the verification threshold of image near-duplicate detection on images and copies
that have nothing to do with any benchmark data.

Images: (a) patches of scikit-learn's two bundled sample photos (``load_sample_images``: a
temple and a flower), 48-128 px, and (b) synthetic sketches: random strokes and ellipses drawn
on a 10-16 px canvas and upscaled to 32-96 px (small, blurry, mostly-blank images, the hard
case for correlation). Copies: the transform family near-duplicate detection promises to catch,
drawn at random per copy: JPEG re-encoding at quality 40-95, a crop keeping 80-100% of each side
at a random position, and a resize to 50-100% of the size (each copy gets one or two of them).

Reported per kind: the aligned similarity of the copies to their sources, the best aligned
similarity of different images among each other's candidates, and what the ``threshold="auto"``
rule (a percentile of the similarity of *its own* random copies of the images) picks, with the
share of the independent copies it catches and the different pairs it accepts. The photo
patches may overlap, so some "different" pairs are in fact crops of each other. Usage: ``python benchmarks/calibrate_image_dedup.py [--n 400] [--seed 0]``;
results go to ``benchmarks/results/image_dedup_calibration.json``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parent / "results" / "image_dedup_calibration.json"


def photo_patches(n: int, rng) -> list[np.ndarray]:
    from sklearn.datasets import load_sample_images

    photos = load_sample_images().images
    out = []
    for _ in range(n):
        ph = photos[int(rng.integers(len(photos)))]
        side = int(rng.integers(48, 129))
        y, x = int(rng.integers(0, ph.shape[0] - side)), int(rng.integers(0, ph.shape[1] - side))
        out.append(np.ascontiguousarray(ph[y : y + side, x : x + side]))
    return out


def sketches(n: int, rng) -> list[np.ndarray]:
    from PIL import Image, ImageDraw

    out = []
    for _ in range(n):
        c = int(rng.integers(10, 17))
        im = Image.new("L", (c, c), 0)
        dr = ImageDraw.Draw(im)
        for _ in range(int(rng.integers(1, 4))):
            pts = [tuple(int(v) for v in rng.integers(0, c, 2)) for _ in range(int(rng.integers(2, 5)))]
            dr.line(pts, fill=int(rng.integers(120, 256)), width=int(rng.integers(1, 3)))
        if rng.random() < 0.5:
            a, b = sorted(rng.integers(0, c, 2).tolist()), sorted(rng.integers(0, c, 2).tolist())
            dr.ellipse([a[0], b[0], a[1] + 1, b[1] + 1], outline=int(rng.integers(120, 256)))
        side = int(rng.integers(32, 97))
        out.append(np.asarray(im.resize((side, side), Image.BICUBIC).convert("RGB")))
    return out


def main():
    from labelloop.dedup.images import (
        AUTO_PERCENTILE,
        aligned_similarity,
        calibrate_threshold,
        candidate_pairs,
        image_thumbnails,
        random_copy,
    )

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=400, help="source images of each kind")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    result = {"n_per_kind": args.n, "seed": args.seed, "auto_percentile": AUTO_PERCENTILE, "kinds": {}}
    for kind, make in (("photo patches", photo_patches), ("sketches", sketches)):
        src = make(args.n, rng)
        copies = [np.asarray(random_copy(im, rng)) for im in src]
        th = image_thumbnails(src + copies)
        n = len(src)
        pos = aligned_similarity(th, np.stack([np.arange(n), np.arange(n, 2 * n)], axis=1))
        # the best aligned similarity of each image to a *different* image among its candidates
        cand = candidate_pairs(th, k=10, min_similarity=-1.0)
        root = np.r_[np.arange(n), np.arange(n)]
        cand = cand[root[cand[:, 0]] != root[cand[:, 1]]]
        neg = aligned_similarity(th, cand)
        # the auto rule, calibrated on the sources with its own random copies (another seed)
        auto = calibrate_threshold(src, seed=args.seed + 1)
        row = {
            "copies": n,
            "copy_similarity_percentiles_0_1_5_50": np.percentile(pos, [0, 1, 5, 50]).round(5).tolist(),
            "different_pairs_checked": int(cand.shape[0]),
            "different_similarity_percentiles_50_99_100": np.percentile(neg, [50, 99, 100]).round(5).tolist() if neg.size else [],
            "auto_threshold": round(auto, 5),
            "auto_recall_of_copies": float(np.mean(pos >= auto - 1e-6)),
            "auto_different_pairs_accepted": int(np.sum(neg >= auto - 1e-6)),
        }
        result["kinds"][kind] = row
        print(kind, json.dumps(row), flush=True)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
