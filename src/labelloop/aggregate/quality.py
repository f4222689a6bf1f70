"""Quality control of sources: honeypot accuracy, spammers, sources against the consensus.

- :func:`honeypot_accuracy`: per source, accuracy on gold items with a Wilson interval;
- :func:`source_quality`: per source, agreement with a consensus against its chance level
  (``kappa``, with a Wilson interval), flags for sources that answer at chance level
  (``spammer``) or significantly against the consensus (``against_consensus``), a suggested
  vote weight (the log-odds weight that is optimal for independent one-coin sources) and an
  ``action`` (keep / block).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from labelloop.aggregate._base import Aggregator, as_vote_matrix, gold_codes
from labelloop.aggregate._kernels import segsum, wilson_interval
from labelloop.exceptions import InputError


def honeypot_accuracy(votes: Any, gold: Any, *, z: float = 1.959963984540054) -> pd.DataFrame:
    """Per source: ``n_gold`` answers on gold items, ``n_correct``, ``accuracy`` and a Wilson
    ``ci_low``/``ci_high`` (95% by default). Sources without gold answers get NaN."""
    vm = as_vote_matrix(votes)
    g = gold_codes(vm, gold)
    if not (g >= 0).any():
        raise InputError("no gold item has votes: check that gold task ids match the answers")
    on_gold = g[vm.item_idx] >= 0
    S = vm.n_sources
    n = np.bincount(vm.source_idx[on_gold], minlength=S)
    if vm.soft is None:
        ok = (vm.labels[on_gold] == g[vm.item_idx[on_gold]]).astype(float)
    else:
        ok = vm.soft[np.flatnonzero(on_gold), g[vm.item_idx[on_gold]]]
    k = np.bincount(vm.source_idx[on_gold], weights=ok, minlength=S)
    lo, hi = wilson_interval(k, n, z)
    with np.errstate(invalid="ignore", divide="ignore"):
        acc = np.where(n > 0, k / np.maximum(n, 1), np.nan)
    return pd.DataFrame(
        {"n_gold": n, "n_correct": k, "accuracy": acc, "ci_low": lo, "ci_high": hi},
        index=pd.Index(vm.sources, name="source"),
    )


def source_quality(
    votes: Any,
    aggregator: Aggregator | None = None,
    *,
    gold: Any = None,
    min_answers: int = 20,
    spam_kappa: float = 0.2,
    z: float = 1.959963984540054,
) -> pd.DataFrame:
    """Per-source quality table against the consensus of ``aggregator`` (fitted here with
    Dawid-Skene if not given or not fitted).

    Columns: ``n_answers``, ``agreement`` (share of answers equal to the consensus label),
    ``chance`` (agreement expected from the source's own answer distribution and the consensus
    class balance), ``kappa`` = (agreement - chance) / (1 - chance) with ``kappa_low`` /
    ``kappa_high`` from a Wilson interval, ``accuracy`` (the aggregator's estimate),
    ``spammer`` (at least ``min_answers`` answers and kappa below ``spam_kappa``),
    ``against_consensus`` (kappa_high < 0), ``weight`` (suggested, 0 for flagged sources) and
    ``action``; plus honeypot columns when ``gold`` is given.
    """
    vm = as_vote_matrix(votes)
    if aggregator is None:
        from labelloop.aggregate.dawid_skene import DawidSkene

        aggregator = DawidSkene()
    if not hasattr(aggregator, "probas_") or aggregator.probas_.shape[0] != vm.n_items:
        aggregator.fit(vm, gold=gold)
    S, K = vm.n_sources, vm.n_classes
    codes = aggregator.codes_
    Q = vm.vote_probs()
    n = np.bincount(vm.source_idx, minlength=S).astype(float)
    agree = np.bincount(vm.source_idx, weights=Q[np.arange(vm.n_votes), codes[vm.item_idx]], minlength=S)
    ans_dist = segsum(vm.source_idx, Q, S)
    ans_dist = ans_dist / np.maximum(ans_dist.sum(1, keepdims=True), 1e-12)
    # consensus class share over the items each source answered
    cons = np.zeros((vm.n_votes, K))
    cons[np.arange(vm.n_votes), codes[vm.item_idx]] = 1.0
    cons_dist = segsum(vm.source_idx, cons, S) / np.maximum(n, 1)[:, None]
    chance = np.clip((ans_dist * cons_dist).sum(1), 0.0, 1 - 1e-9)
    lo, hi = wilson_interval(agree, n, z)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(n > 0, agree / np.maximum(n, 1), np.nan)
        kappa = (rate - chance) / (1 - chance)
        k_lo = (lo - chance) / (1 - chance)
        k_hi = (hi - chance) / (1 - chance)
    acc = aggregator.skills_["accuracy"].to_numpy(dtype=float)
    against = np.nan_to_num(k_hi, nan=1.0) < 0
    spammer = (n >= min_answers) & (np.nan_to_num(kappa, nan=1.0) < spam_kappa) & ~against
    a = np.clip(acc, 1e-3, 1 - 1e-3)
    weight = np.maximum(np.log((K - 1) * a / (1 - a)), 0.0)
    weight = np.where(spammer | against, 0.0, weight)
    out = pd.DataFrame(
        {
            "n_answers": n.astype(np.int64),
            "agreement": rate,
            "chance": chance,
            "kappa": kappa,
            "kappa_low": k_lo,
            "kappa_high": k_hi,
            "accuracy": acc,
            "spammer": spammer,
            "against_consensus": against,
            "weight": weight,
            "action": np.where(spammer | against, "block", "keep"),
        },
        index=pd.Index(vm.sources, name="source"),
    )
    if gold is not None and (gold_codes(vm, gold) >= 0).any():
        hp = honeypot_accuracy(vm, gold, z=z)
        out["gold_n"] = hp["n_gold"].to_numpy()
        out["gold_accuracy"] = hp["accuracy"].to_numpy()
        out["gold_ci_low"] = hp["ci_low"].to_numpy()
        out["gold_ci_high"] = hp["ci_high"].to_numpy()
    return out
