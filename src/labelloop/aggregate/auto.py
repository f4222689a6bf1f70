"""``auto``: pick an aggregation method per data set without ground truth.

Each candidate is fitted on the votes minus a held-out share and scored by the log-likelihood
of the held-out answers: for a held-out answer ``l`` of source ``s`` on item ``i``,
``log sum_k P_train(true = k | item i) P(answer l | true k, source s)``. This is a proper
scoring rule on data the method did not see, so a method that explains how sources answer
(and not only which label wins) scores higher, and over-fitted confusion matrices are
penalised. Every item keeps at least one training vote. The best mean score wins; the winner is
refitted on all votes (and gold) and its learned state is exposed on this estimator.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.special import logsumexp

from labelloop.aggregate._base import Aggregator, as_vote_matrix, gold_codes
from labelloop.aggregate._kernels import Votes
from labelloop.exceptions import ConvergenceWarning, EmptyInputError, InputError
from labelloop.votes import VoteMatrix

DEFAULT_CANDIDATES = ("mv", "wawa", "onecoin", "ds", "glad", "mace")


def heldout_loglik(est: Aggregator, train: VoteMatrix, held: VoteMatrix, *, gold: Any = None) -> float:
    """Mean log-likelihood of the votes in ``held`` under ``est`` fitted on ``train``.

    Both matrices share item, source and class vocabularies (see ``VoteMatrix.subset_votes``).
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(train, gold=gold)
    S = train.n_sources
    seen = np.bincount(train.source_idx, minlength=S) > 0
    s = np.where(seen[held.source_idx], held.source_idx, S)  # unseen sources use the pooled source
    v = Votes(held.item_idx, s, held.labels, held.soft, held.n_items, S + 1, held.n_classes)
    log_conf = est._answer_log_conf(v, est._pooled_params())  # [n, K, K]
    Q = v.onehot()
    # log P(answer distribution | true k), then mix over the training posterior of the item
    ll_k = np.einsum("nl,nkl->nk", Q, log_conf)
    with np.errstate(divide="ignore"):
        lp = np.log(np.clip(est.probas_[v.i], 1e-300, None))
    return float(logsumexp(lp + ll_k, axis=1).mean())


def split_votes(vm: VoteMatrix, n_folds: int, rng: np.random.Generator) -> np.ndarray:
    """Fold number per vote; ``-1`` marks one anchor vote per item that is never held out."""
    fold = rng.integers(0, n_folds, size=vm.n_votes)
    order = rng.permutation(vm.n_votes)
    _, first = np.unique(vm.item_idx[order], return_index=True)
    fold[order[first]] = -1
    return fold


class Auto(Aggregator):
    """Choose the method with the best held-out answer log-likelihood (no ground truth needed).

    After ``fit``: ``chosen_`` (method name), ``scores_`` (name -> mean held-out log-likelihood
    per answer), ``estimator_`` (the refitted winner) and the winner's learned state
    (``probas_``, ``labels_``, ``skills_`` ...).
    """

    name = "auto"

    def __init__(self, *, candidates: Sequence[str] = DEFAULT_CANDIDATES, n_folds: int = 3, random_state: int | None = 0):
        self.candidates = candidates
        self.n_folds = n_folds
        self.random_state = random_state

    def fit(self, votes: Any, *, gold: Any = None) -> Auto:
        from labelloop.aggregate import get_aggregator

        vm = as_vote_matrix(votes)
        if vm.n_votes == 0:
            raise EmptyInputError("no votes to aggregate")
        names = [str(c).lower() for c in self.candidates]
        if not names or "auto" in names:
            raise InputError("candidates must name at least one method other than 'auto'")
        if self.n_folds < 2:
            raise InputError(f"n_folds must be at least 2, got {self.n_folds}")
        for n in names:
            get_aggregator(n)  # validates the name
        g = gold_codes(vm, gold)
        rng = np.random.default_rng(self.random_state)
        fold = split_votes(vm, self.n_folds, rng)
        scores: dict[str, list[float]] = {n: [] for n in names}
        for f in range(self.n_folds):
            held_mask = fold == f
            if not held_mask.any():
                continue
            train, held = vm.subset_votes(~held_mask), vm.subset_votes(held_mask)
            for n in names:
                scores[n].append(heldout_loglik(get_aggregator(n), train, held, gold=g))
        self.scores_ = {n: (float(np.mean(s)) if s else float("-inf")) for n, s in scores.items()}
        self.chosen_ = max(names, key=lambda n: self.scores_[n]) if any(scores.values()) else "mv"
        est = get_aggregator(self.chosen_).fit(vm, gold=g)
        self.estimator_ = est
        for attr in (
            "classes_", "items_", "sources_", "n_answers_", "gold_", "n_iter_", "loss_history_",
            "converged_", "probas_", "codes_", "labels_", "confidence_", "confusions_", "skills_",
        ):
            setattr(self, attr, getattr(est, attr))
        return self

    def predict_proba(self, votes: Any) -> np.ndarray:
        self._check_fitted()
        return self.estimator_.predict_proba(votes)

    def _pooled_params(self):
        return self.estimator_._pooled_params()

    def _answer_log_conf(self, v, params):
        return self.estimator_._answer_log_conf(v, params)


__all__ = ["Auto", "heldout_loglik", "split_votes"]
