"""Votes to truth: one aggregation engine for crowd answers, gold, models and labeling functions.

Every estimator follows one contract (see :class:`Aggregator`)::

    from labelloop.aggregate import DawidSkene
    from labelloop.votes import VoteMatrix

    votes = VoteMatrix.from_answers(df)          # task, worker, label
    ds = DawidSkene().fit(votes, gold={"q1": "cat"})
    ds.labels_, ds.confidence_, ds.probas_, ds.skills_

``get_aggregator(name)`` maps the CLI names (mv, wawa, zbs, onecoin, ds, glad, mace, auto) to
estimators.
"""

from __future__ import annotations

from typing import Any

from labelloop.aggregate._base import Aggregator, as_vote_matrix, gold_codes
from labelloop.aggregate.agreement import (
    agreement_summary,
    cohen_kappa,
    cohen_kappa_matrix,
    fleiss_kappa,
    item_entropy,
    krippendorff_alpha,
)
from labelloop.aggregate.auto import Auto
from labelloop.aggregate.dawid_skene import DawidSkene, OneCoinDawidSkene
from labelloop.aggregate.glad import GLAD
from labelloop.aggregate.mace import MACE
from labelloop.aggregate.majority import MajorityVote, Wawa, ZeroBasedSkill
from labelloop.aggregate.multilabel import MultiLabelAggregator, enforce_taxonomy
from labelloop.aggregate.quality import honeypot_accuracy, source_quality
from labelloop.exceptions import InputError

AGGREGATORS: dict[str, type[Aggregator]] = {
    "mv": MajorityVote,
    "wawa": Wawa,
    "zbs": ZeroBasedSkill,
    "onecoin": OneCoinDawidSkene,
    "ds": DawidSkene,
    "glad": GLAD,
    "mace": MACE,
}


def get_aggregator(name: str, **params: Any) -> Aggregator:
    """A fresh estimator for a method name (``mv``, ``wawa``, ``zbs``, ``onecoin``, ``ds``,
    ``glad``, ``mace``, ``auto``) with keyword hyperparameters."""
    key = str(name).strip().lower()
    if key == "auto":
        return Auto(**params)
    cls = AGGREGATORS.get(key)
    if cls is None:
        raise InputError(f"unknown aggregation method {name!r}; choose one of {', '.join([*AGGREGATORS, 'auto'])}")
    return cls(**params)


def add_model_votes(votes, probs, *, name: str = "model", items=None):
    """Add a classifier's ``predict_proba`` as one more (soft) voter; aggregators such as
    Dawid-Skene then learn its weight (confusion matrix) like any annotator's."""
    return as_vote_matrix(votes).with_source(name, probs, items=items)


__all__ = [
    "AGGREGATORS",
    "GLAD",
    "MACE",
    "Aggregator",
    "Auto",
    "DawidSkene",
    "MajorityVote",
    "MultiLabelAggregator",
    "OneCoinDawidSkene",
    "Wawa",
    "ZeroBasedSkill",
    "add_model_votes",
    "agreement_summary",
    "as_vote_matrix",
    "cohen_kappa",
    "cohen_kappa_matrix",
    "enforce_taxonomy",
    "fleiss_kappa",
    "get_aggregator",
    "gold_codes",
    "honeypot_accuracy",
    "item_entropy",
    "krippendorff_alpha",
    "source_quality",
]
