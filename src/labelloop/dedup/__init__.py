"""Duplicates and leakage: exact hashes, perceptual image hashes, embedding near-duplicates,
union-find groups, keep-one policy, train/test leakage."""

from labelloop.dedup.core import (
    Duplicates,
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
    text_keys,
)
from labelloop.dedup.project import dedup_project

__all__ = [
    "Duplicates",
    "dedup_project",
    "UnionFind",
    "exact_pairs",
    "find_duplicates",
    "group_labels",
    "groups_from_pairs",
    "hamming_pairs",
    "image_hashes",
    "keep_one",
    "leakage",
    "near_duplicate_pairs",
    "normalize_text",
    "text_keys",
]
