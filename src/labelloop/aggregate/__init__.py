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


def add_model_votes(
    votes,
    probs,
    *,
    name: str = "model",
    items=None,
    mode: str = "binned",
    bins: tuple[float, ...] = (0.7, 0.9),
):
    """Add a classifier's ``predict_proba`` [n_items, n_classes] as voters (NaN rows: no vote).

    ``mode``:

    - ``"binned"`` (default): the model's argmax answers, split into one source per confidence
      bin (``name[<0.7]``, ``name[0.7-0.9]``, ``name[>=0.9]`` for the default ``bins``). Each
      bin gets its own learned confusion matrix, so the model's weight in the consensus is
      learned and grows with its confidence only as far as its answers earn it;
    - ``"hard"``: one source with the argmax answers;
    - ``"soft"``: one soft-voting source (expected log-likelihood of its probabilities).
    """
    import numpy as np

    vm = as_vote_matrix(votes)
    if mode == "soft":
        return vm.with_source(name, probs, items=items)
    if mode not in ("hard", "binned"):
        raise InputError(f"mode must be 'binned', 'hard' or 'soft', got {mode!r}")
    probs = np.asarray(probs, dtype=np.float64)
    n = vm.n_items if items is None else len(items)
    if probs.shape != (n, vm.n_classes):
        raise InputError(f"probabilities must have shape ({n}, {vm.n_classes}), got {probs.shape}")
    missing = np.isnan(probs).any(axis=1)
    filled = np.where(missing[:, None], 0.0, probs)
    codes = np.where(missing, -1, filled.argmax(axis=1))
    if mode == "hard":
        return vm.with_hard_source(name, codes, items=items)
    edges = sorted(float(b) for b in bins)
    conf = filled.max(axis=1)
    which = np.searchsorted(edges, conf, side="right")
    names = [f"{name}[<{edges[0]:g}]"] if edges else [name]
    names += [f"{name}[{a:g}-{b:g}]" for a, b in zip(edges[:-1], edges[1:], strict=True)]
    if edges:
        names.append(f"{name}[>={edges[-1]:g}]")
    for b, label in enumerate(names):
        part = np.where(which == b, codes, -1)
        if (part >= 0).any():
            vm = vm.with_hard_source(label, part, items=items)
    return vm


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
