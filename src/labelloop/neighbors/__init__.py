"""Nearest-neighbour tools: seed-based candidates, label propagation, retrieval metrics."""

from labelloop.neighbors.metrics import (
    average_precision,
    cmc_curve,
    mean_average_precision,
    precision_at_k,
    recall_at_k,
    relevance_from_labels,
    retrieval_report,
)
from labelloop.neighbors.project import read_seeds, similar_project
from labelloop.neighbors.propagation import NeighborPropagation, Propagation
from labelloop.neighbors.seeds import SeedCandidates, seed_candidates

__all__ = [
    "NeighborPropagation",
    "Propagation",
    "SeedCandidates",
    "average_precision",
    "cmc_curve",
    "mean_average_precision",
    "precision_at_k",
    "read_seeds",
    "recall_at_k",
    "relevance_from_labels",
    "retrieval_report",
    "seed_candidates",
    "similar_project",
]
