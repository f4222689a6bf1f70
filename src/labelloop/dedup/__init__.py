"""Duplicates and leakage: exact hashes, perceptual image hashes, verified near-identical
images, embedding near-duplicates, union-find groups, keep-one policy, train/test leakage."""

from labelloop.dedup.core import (
    Duplicates,
    UnionFind,
    exact_pairs,
    find_duplicates,
    group_labels,
    groups_from_pairs,
    hamming_pairs,
    image_hashes,
    image_pairs,
    keep_one,
    leakage,
    near_duplicate_pairs,
    normalize_text,
    text_keys,
)
from labelloop.dedup.images import (
    aligned_similarity,
    calibrate_threshold,
    image_near_duplicate_pairs,
    image_thumbnails,
)
from labelloop.dedup.project import dedup_project

__all__ = [
    "Duplicates",
    "dedup_project",
    "UnionFind",
    "aligned_similarity",
    "calibrate_threshold",
    "exact_pairs",
    "find_duplicates",
    "group_labels",
    "groups_from_pairs",
    "hamming_pairs",
    "image_hashes",
    "image_near_duplicate_pairs",
    "image_pairs",
    "image_thumbnails",
    "keep_one",
    "leakage",
    "near_duplicate_pairs",
    "normalize_text",
    "text_keys",
]
