"""Query strategies: which items people should label next, and the cold start.

Every strategy has ``select(model, X_pool, n, *, X_labeled, y_labeled, random_state)`` returning
row positions into ``X_pool``; scoring strategies implement only ``score()``.
:func:`get_strategy` builds one by name (the names the CLI accepts are :data:`STRATEGIES`).
"""

from __future__ import annotations

from labelloop.exceptions import InputError
from labelloop.select.base import QueryStrategy, ScoringStrategy, top_n
from labelloop.select.committee import QueryByCommittee, mean_kl, vote_entropy
from labelloop.select.diversity import (
    ClusterDiversity,
    CoreSet,
    TypiClust,
    cold_start,
    kcenter_greedy,
    kmeans_medoids,
)
from labelloop.select.expected import ExpectedErrorReduction, VarianceReduction
from labelloop.select.hybrid import (
    Badge,
    DensityWeighted,
    DiverseUncertainty,
    SeedSimilarity,
    gradient_embedding,
)
from labelloop.select.overlap import RepeatOrNew
from labelloop.select.uncertainty import (
    EntropySampling,
    LeastConfidence,
    MarginSampling,
    RandomSampling,
    entropy,
    least_confidence,
    margin,
)

#: strategy names accepted by :func:`get_strategy` and ``labelloop simulate --strategy``
STRATEGIES = {
    "random": RandomSampling,
    "least_confidence": LeastConfidence,
    "margin": MarginSampling,
    "entropy": EntropySampling,
    "qbc": lambda: QueryByCommittee(method="vote_entropy"),
    "qbc_kl": lambda: QueryByCommittee(method="kl"),
    "coreset": CoreSet,
    "typiclust": TypiClust,
    "cluster": ClusterDiversity,
    "hybrid": DiverseUncertainty,
    "balanced": lambda: DiverseUncertainty(balance=True),
    "influence": lambda: DiverseUncertainty(influence=10),
    "badge": Badge,
    "density": DensityWeighted,
    "eer": ExpectedErrorReduction,
    "variance": VarianceReduction,
}

#: the strategy used when none is named (chosen on development seeds, see BENCHMARKS.md)
DEFAULT_STRATEGY = "influence"
#: the one used when none is named and the model trains on spread labels too (``--semi``): the
#: label spreading already carries each answer to the item's neighbours, and on development seeds
#: plain ``hybrid`` batches served that model better than ``influence``'s neighbour-weighted ones
DEFAULT_SEMI_STRATEGY = "hybrid"


def default_strategy(semi: bool = False) -> str:
    """The name of the strategy used when none is named."""
    return DEFAULT_SEMI_STRATEGY if semi else DEFAULT_STRATEGY


def get_strategy(name: str | QueryStrategy | None = None, *, semi: bool = False) -> QueryStrategy:
    """A strategy instance by name (``None`` = the default for a model trained with or without
    pseudo-labels, ``semi``); instances pass through."""
    if name is None:
        name = default_strategy(bool(semi))
    if isinstance(name, QueryStrategy):
        return name
    try:
        factory = STRATEGIES[str(name)]
    except KeyError:
        raise InputError(f"unknown strategy {name!r}; use one of: {', '.join(STRATEGIES)}") from None
    return factory()


__all__ = [
    "Badge",
    "gradient_embedding",
    "DEFAULT_STRATEGY",
    "DEFAULT_SEMI_STRATEGY",
    "default_strategy",
    "STRATEGIES",
    "ClusterDiversity",
    "CoreSet",
    "DensityWeighted",
    "DiverseUncertainty",
    "EntropySampling",
    "ExpectedErrorReduction",
    "LeastConfidence",
    "MarginSampling",
    "QueryByCommittee",
    "QueryStrategy",
    "RandomSampling",
    "RepeatOrNew",
    "ScoringStrategy",
    "SeedSimilarity",
    "TypiClust",
    "VarianceReduction",
    "cold_start",
    "entropy",
    "get_strategy",
    "kcenter_greedy",
    "kmeans_medoids",
    "least_confidence",
    "margin",
    "mean_kl",
    "top_n",
    "vote_entropy",
]
