"""The aggregator contract shared by every truth-inference method.

``fit(votes, *, gold=None)`` validates once at this edge, then hands trusted coordinate arrays
(:class:`~labelloop.aggregate._kernels.Votes`) to the method's private ``_fit``. Afterwards every
aggregator exposes the same learned state:

- ``probas_`` [n_items, n_classes] posterior over classes, ``labels_`` (class values),
  ``codes_`` (class codes), ``confidence_`` (max posterior), ``items_``, ``classes_``;
- ``skills_``: a DataFrame indexed by source with ``skill`` (the method's own skill measure),
  ``accuracy`` (estimated probability of a correct answer) and ``n_answers``;
- ``confusions_`` [n_sources, K, K]: P(answer | true class) per source (one-coin methods give
  symmetric matrices);
- ``n_iter_``, ``loss_history_`` (mean negative log-likelihood per vote for EM methods),
  ``converged_``; a :class:`~labelloop.exceptions.ConvergenceWarning` when ``max_iter`` stops EM.

``predict_proba(votes)`` applies the learned source parameters to another vote matrix with the
same classes (e.g. new items); votes of sources never seen in ``fit`` use the answer-weighted
average source.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from labelloop.aggregate._kernels import Votes, normalize_rows, symmetric_log_conf
from labelloop.exceptions import ConvergenceWarning, InputError, NotFittedError, SchemaError
from labelloop.votes import VoteMatrix

#: EM shows a progress bar (unless quiet) from this many votes on
PROGRESS_MIN_VOTES = 1_000_000


def as_vote_matrix(votes: Any) -> VoteMatrix:
    """Accept a VoteMatrix, an answers DataFrame or a dense ``L`` matrix."""
    if isinstance(votes, VoteMatrix):
        return votes
    if isinstance(votes, pd.DataFrame):
        return VoteMatrix.from_answers(votes)
    if isinstance(votes, np.ndarray | list):
        return VoteMatrix.from_dense(np.asarray(votes))
    raise InputError(
        f"votes must be a VoteMatrix, an answers DataFrame (task, worker, label) or a dense "
        f"items x sources matrix, got {type(votes).__name__}"
    )


def gold_codes(vm: VoteMatrix, gold: Any) -> np.ndarray:
    """Known true class codes per item (``-1`` where unknown).

    ``gold`` may be a mapping or Series ``item id -> class value``, a DataFrame with
    ``task, label`` (or ``question, truth``) columns, or an int array of codes aligned with items.
    Gold items that have no votes are ignored (nothing to aggregate there).
    """
    out = np.full(vm.n_items, -1, dtype=np.int64)
    if gold is None:
        return out
    if isinstance(gold, np.ndarray) and np.issubdtype(gold.dtype, np.integer):
        if gold.shape != (vm.n_items,):
            raise InputError(f"gold codes must have shape ({vm.n_items},), got {gold.shape}")
        if gold.size and (gold.min() < -1 or gold.max() >= vm.n_classes):
            raise SchemaError(f"gold codes must lie in [-1, {vm.n_classes})")
        return gold.astype(np.int64)
    if isinstance(gold, pd.DataFrame):
        from labelloop.votes import TASK_COLUMNS, TRUTH_COLUMNS, _pick

        if len(gold) == 0:
            return out
        t = _pick(gold.columns, TASK_COLUMNS, "gold task", None)
        lab = _pick(gold.columns, TRUTH_COLUMNS, "gold label", None)
        gold = dict(zip(gold[t].tolist(), gold[lab].tolist(), strict=True))
    elif isinstance(gold, pd.Series):
        gold = gold.to_dict()
    if not isinstance(gold, Mapping):
        raise InputError("gold must be a mapping item -> label, a DataFrame (task, label) or an int code array")
    lookup: dict[Any, int] = {}
    for code, c in enumerate(vm.classes):
        lookup.setdefault(c, code)
        lookup.setdefault(str(c), code)
    pos: dict[Any, int] = {}
    for idx, it in enumerate(vm.items.tolist()):
        pos.setdefault(it, idx)
        pos.setdefault(str(it), idx)
    for item, label in gold.items():
        if label is None or (isinstance(label, float) and np.isnan(label)):
            continue
        code = lookup.get(label, lookup.get(str(label)))
        if code is None:
            raise SchemaError(f"gold label {label!r} for item {item!r} is not one of the classes {vm.classes}")
        p = pos.get(item, pos.get(str(item)))
        if p is not None:
            out[p] = code
    return out


def _trusted(vm: VoteMatrix) -> Votes:
    return Votes(
        i=vm.item_idx,
        s=vm.source_idx,
        lab=vm.labels,
        Q=vm.soft,
        n_items=vm.n_items,
        n_sources=vm.n_sources,
        K=vm.n_classes,
    )


class Aggregator(BaseEstimator):
    """Base class: validation, learned-state bookkeeping, gold clamping, EM driver."""

    #: short name used by :func:`get_aggregator` and the CLI
    name: str = ""
    #: whether the method is an EM/iterative method (has tol / max_iter)
    iterative: bool = False

    # ------------------------------------------------------------------ public API
    def fit(self, votes: Any, *, gold: Any = None) -> Aggregator:
        """Fit on ``votes`` (VoteMatrix, answers DataFrame or dense matrix); returns self.

        ``gold``: known truths for honeypot items (mapping item -> label, DataFrame or code
        array). Their posteriors are fixed to the truth and inform every source's skill.
        """
        vm = as_vote_matrix(votes)
        if vm.n_votes == 0:
            from labelloop.exceptions import EmptyInputError

            raise EmptyInputError("no votes to aggregate")
        g = gold_codes(vm, gold)
        v = _trusted(vm)
        self.classes_ = list(vm.classes)
        self.items_ = vm.items
        self.sources_ = vm.sources
        self.n_answers_ = np.bincount(v.s, minlength=v.n_sources)
        self.gold_ = g
        self.n_iter_ = 0
        self.loss_history_ = []
        self.converged_ = True
        self._bar = None
        if self.iterative and vm.n_votes >= PROGRESS_MIN_VOTES:
            from labelloop.progress import progress

            self._bar = progress(total=getattr(self, "max_iter", None), desc=f"{type(self).__name__} EM", unit="iter")
        try:
            post = self._fit(v, g)
        finally:
            if self._bar is not None:
                self._bar.close()
            del self._bar
        post = self._clamp(post, g)
        self._set_outputs(post)
        return self

    def fit_predict(self, votes: Any, *, gold: Any = None) -> np.ndarray:
        """Fit and return ``labels_`` (class values per item)."""
        return self.fit(votes, gold=gold).labels_

    def fit_predict_proba(self, votes: Any, *, gold: Any = None) -> np.ndarray:
        return self.fit(votes, gold=gold).probas_

    def predict_proba(self, votes: Any) -> np.ndarray:
        """Posteriors for the items of ``votes`` using the learned source parameters."""
        self._check_fitted()
        vm = as_vote_matrix(votes)
        if list(vm.classes) != list(self.classes_):
            raise SchemaError(f"votes have classes {vm.classes} but the aggregator was fitted on {self.classes_}")
        pos = {name: j for j, name in enumerate(self.sources_.tolist())}
        S = len(self.sources_)
        src = np.array([pos.get(name, S) for name in vm.sources.tolist()], dtype=np.int64)
        v = Votes(i=vm.item_idx, s=src[vm.source_idx], lab=vm.labels, Q=vm.soft, n_items=vm.n_items, n_sources=S + 1, K=vm.n_classes)
        params = self._pooled_params()
        return self._predict(v, params)

    def predict(self, votes: Any) -> np.ndarray:
        p = self.predict_proba(votes)
        return np.asarray(self.classes_)[p.argmax(axis=1)]

    def to_frame(self) -> pd.DataFrame:
        """One row per item: ``task, label, confidence`` plus ``p_<class>`` columns."""
        self._check_fitted()
        df = pd.DataFrame({"task": self.items_, "label": self.labels_, "confidence": self.confidence_})
        for k, c in enumerate(self.classes_):
            df[f"p_{c}"] = self.probas_[:, k]
        return df

    # ------------------------------------------------------------------ for subclasses
    def _fit(self, v: Votes, gold: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _source_params(self) -> dict[str, np.ndarray]:
        """Learned arrays with a leading source axis (pooled for unseen sources)."""
        return {"log_conf": self._log_conf}

    def _predict(self, v: Votes, params: dict[str, np.ndarray]) -> np.ndarray:
        """Generative default: prior times per-source confusions."""
        from labelloop.aggregate._kernels import gather_loglik, normalize_log, segsum

        vv = Votes(v.i, v.s, v.lab, v.Q, v.n_items, params["log_conf"].shape[0], v.K)
        logp = np.log(self._prior)[None, :] + segsum(v.i, gather_loglik(params["log_conf"], vv), v.n_items)
        return normalize_log(logp)[0]

    def _answer_log_conf(self, v: Votes, params: dict[str, np.ndarray]) -> np.ndarray:
        """[n_votes, K, K] log P(answer | true class) per vote (for held-out scoring)."""
        return params["log_conf"][v.s]

    # ------------------------------------------------------------------ helpers
    def _pooled_params(self) -> dict[str, np.ndarray]:
        w = self.n_answers_.astype(np.float64)
        w = w / w.sum() if w.sum() > 0 else np.full_like(w, 1.0 / max(len(w), 1))
        out = {}
        for key, arr in self._source_params().items():
            if key == "log_conf":
                pooled = np.log(np.tensordot(w, np.exp(arr), axes=1))[None]
            else:
                pooled = np.tensordot(w, arr, axes=1)[None]
            out[key] = np.concatenate([arr, pooled], axis=0)
        return out

    @staticmethod
    def _clamp(post: np.ndarray, gold: np.ndarray) -> np.ndarray:
        m = gold >= 0
        if m.any():
            post = post.copy()
            post[m] = 0.0
            post[np.flatnonzero(m), gold[m]] = 1.0
        return post

    def _set_outputs(self, post: np.ndarray) -> None:
        post = normalize_rows(np.clip(post, 0.0, None))
        self.probas_ = post
        self.codes_ = self._argmax(post)
        self.labels_ = np.asarray(self.classes_)[self.codes_]
        self.confidence_ = post[np.arange(post.shape[0]), self.codes_]
        self.confusions_ = np.exp(self._source_params()["log_conf"])
        self.skills_ = self._skills_frame()

    def _argmax(self, post: np.ndarray) -> np.ndarray:
        return post.argmax(axis=1)

    def _skills_frame(self) -> pd.DataFrame:
        skill, acc = self._skills()
        return pd.DataFrame(
            {"skill": skill, "accuracy": acc, "n_answers": self.n_answers_},
            index=pd.Index(self.sources_, name="source"),
        )

    def _skills(self) -> tuple[np.ndarray, np.ndarray]:
        """(method skill, estimated accuracy) per source; default from confusions and prior."""
        conf = np.exp(self._log_conf)
        acc = np.einsum("k,skk->s", self._prior, conf)
        return acc, acc

    def _check_fitted(self) -> None:
        if not hasattr(self, "probas_"):
            raise NotFittedError(f"{type(self).__name__} is not fitted yet; call fit(votes) first")

    def _record(self, loss: float) -> bool:
        """Append a loss; True when converged (relative change below ``tol``)."""
        hist = self.loss_history_
        hist.append(float(loss))
        self.n_iter_ = len(hist)
        bar = getattr(self, "_bar", None)
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{loss:.5f}")
        if len(hist) >= 2:
            prev = hist[-2]
            return abs(prev - loss) <= self.tol * max(1.0, abs(prev))
        return False

    def _warn_not_converged(self) -> None:
        self.converged_ = False
        warnings.warn(
            f"{type(self).__name__} stopped after max_iter={self.max_iter} iterations without "
            f"reaching tol={self.tol}; raise max_iter or tol",
            ConvergenceWarning,
            stacklevel=3,
        )


class _SymmetricMixin:
    """Methods whose sources are one-coin (accuracy only)."""

    def _source_params(self) -> dict[str, np.ndarray]:
        return {"log_conf": symmetric_log_conf(self._acc, len(self.classes_))}
