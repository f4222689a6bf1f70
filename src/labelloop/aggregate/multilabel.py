"""Multi-label aggregation: one binary aggregation per tag, made consistent with a taxonomy.

Each tag is a binary :class:`~labelloop.votes.VoteMatrix` (a source that labelled an item votes
1 for the tags it gave and 0 for the others). Any aggregator fits each tag; then, with a
taxonomy, every parent's probability is raised to at least the largest probability among its
descendants, so "a parent is at least as likely as its children" holds for the posteriors and
for the thresholded tag sets.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from labelloop.exceptions import InputError, NotFittedError
from labelloop.schema import Taxonomy
from labelloop.votes import MultiLabelVotes


def enforce_taxonomy(probas: np.ndarray, tags: list[str], taxonomy: Taxonomy) -> np.ndarray:
    """Raise each ancestor's column to the max over its descendants' columns."""
    out = probas.copy()
    col = {t: j for j, t in enumerate(tags)}
    for j, t in enumerate(tags):
        for a in taxonomy.ancestors(t):
            ja = col.get(a)
            if ja is not None:
                np.maximum(out[:, ja], probas[:, j], out=out[:, ja])
    return out


class MultiLabelAggregator(BaseEstimator):
    """Per-tag aggregation with any method (``method`` name or an estimator factory).

    After ``fit``: ``tags_``, ``items_``, ``probas_`` [n_items, n_tags] (P(tag applies)),
    ``labels_`` (list of tag lists, ``probas_ >= threshold``), ``skills_`` (a DataFrame with a
    ``tag`` column beside the per-source skill columns) and ``estimators_`` (tag -> fitted).
    """

    def __init__(self, *, method: str = "ds", taxonomy: Taxonomy | None = None, threshold: float = 0.5, params: Mapping[str, Any] | None = None):
        self.method = method
        self.taxonomy = taxonomy
        self.threshold = threshold
        self.params = params

    def fit(self, votes: MultiLabelVotes, *, gold: Mapping[Any, Any] | None = None) -> MultiLabelAggregator:
        """``gold``: optional mapping item -> list of true tags (honeypots)."""
        from labelloop.aggregate import get_aggregator

        if not isinstance(votes, MultiLabelVotes):
            raise InputError("multi-label aggregation needs MultiLabelVotes (see MultiLabelVotes.from_tag_sets)")
        if not 0.0 < self.threshold < 1.0:
            raise InputError(f"threshold must lie in (0, 1), got {self.threshold}")
        tags = list(votes.tags)
        p = np.zeros((len(votes.items), len(tags)))
        self.estimators_ = {}
        frames = []
        for j, t in enumerate(tags):
            g = None
            if gold is not None:
                g = {item: int(t in set(tt if not isinstance(tt, str) else [tt])) for item, tt in gold.items()}
            est = get_aggregator(self.method, **dict(self.params or {})).fit(votes.per_tag[t], gold=g)
            p[:, j] = est.probas_[:, 1]
            self.estimators_[t] = est
            frames.append(est.skills_.assign(tag=t))
        if self.taxonomy is not None:
            p = enforce_taxonomy(p, tags, self.taxonomy)
        self.tags_ = tags
        self.items_ = votes.items
        self.probas_ = p
        mask = p >= self.threshold
        self.labels_ = [[tags[j] for j in np.flatnonzero(row)] for row in mask]
        self.skills_ = pd.concat(frames) if frames else pd.DataFrame()
        return self

    def fit_predict(self, votes: MultiLabelVotes, *, gold=None) -> list[list[str]]:
        return self.fit(votes, gold=gold).labels_

    def to_frame(self) -> pd.DataFrame:
        if not hasattr(self, "probas_"):
            raise NotFittedError("MultiLabelAggregator is not fitted yet; call fit(votes) first")
        conf = [float(np.mean(np.where(r >= self.threshold, r, 1 - r))) if r.size else 1.0 for r in self.probas_]
        return pd.DataFrame({"task": self.items_, "label": self.labels_, "confidence": conf})
