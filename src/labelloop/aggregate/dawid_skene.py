"""Dawid-Skene (full confusion matrix per source) and one-coin Dawid-Skene (one accuracy).

Both are EM in log space over the sparse vote matrix: the E-step adds each vote's log
P(answer | true class) into its item's row (a bincount per class), the M-step counts expected
(true class, answer) pairs per source. Dirichlet pseudo-counts (``smoothing`` everywhere plus
``diag_prior`` on the diagonal) keep sources with few answers away from 0/1 probabilities, and
the class prior is learned (class balance) unless fixed. Abstains are simply missing votes; soft
votes (e.g. a model's probabilities) enter with their expected log-likelihood and get their own
learned confusion matrix, which is the model's learned weight.
"""

from __future__ import annotations

import numpy as np

from labelloop.aggregate._base import Aggregator
from labelloop.aggregate._kernels import (
    Votes,
    confusion_counts,
    correct_prob,
    count,
    gather_loglik,
    normalize_log,
    segsum,
    symmetric_log_conf,
    vote_share,
)
from labelloop.exceptions import InputError


def _check_common(est, K: int) -> None:
    if est.max_iter < 1:
        raise InputError(f"max_iter must be at least 1, got {est.max_iter}")
    if est.tol < 0:
        raise InputError(f"tol must be >= 0, got {est.tol}")
    cp = est.class_prior
    if isinstance(cp, str):
        if cp not in ("learn", "uniform"):
            raise InputError(f"class_prior must be 'learn', 'uniform' or an array of {K} probabilities, got {cp!r}")
    else:
        arr = np.asarray(cp, dtype=np.float64)
        if arr.shape != (K,) or np.any(arr <= 0) or abs(arr.sum() - 1) > 1e-6:
            raise InputError(f"class_prior must hold {K} positive probabilities summing to 1")


def _init_post(est, v: Votes, gold: np.ndarray) -> np.ndarray:
    if est.init == "mv":
        post = vote_share(v)
    elif est.init == "uniform":
        post = np.full((v.n_items, v.K), 1.0 / v.K)
    else:
        raise InputError(f"init must be 'mv' or 'uniform', got {est.init!r}")
    return est._clamp(post, gold)


def _m_prior(est, post: np.ndarray) -> np.ndarray:
    K = post.shape[1]
    cp = est.class_prior
    if isinstance(cp, str):
        if cp == "uniform":
            return np.full(K, 1.0 / K)
        p = post.sum(0) + est.prior_smoothing
        return p / p.sum()
    return np.asarray(cp, dtype=np.float64)


def _e_step(est, v: Votes, log_conf: np.ndarray, prior: np.ndarray, gold: np.ndarray):
    logp = np.log(prior)[None, :] + segsum(v.i, gather_loglik(log_conf, v), v.n_items)
    post, logz = normalize_log(logp)
    g = gold >= 0
    if g.any():
        logz = logz.copy()
        gi = np.flatnonzero(g)
        logz[gi] = logp[gi, gold[gi]]
    loss = -float(logz.sum()) / max(v.n, 1)
    return est._clamp(post, gold), loss


class DawidSkene(Aggregator):
    """Dawid-Skene: a full K x K confusion matrix per source, fitted by EM.

    Parameters
    ----------
    max_iter, tol: EM stops when the mean negative log-likelihood per vote changes by less
        than ``tol`` (relative); a ConvergenceWarning is raised at ``max_iter``.
    smoothing: Dirichlet pseudo-count added to every confusion cell.
    diag_prior: extra pseudo-count on the diagonal (belief that sources beat chance); it keeps
        tiny answer sets (a few items per source) from flipping into the mirror-image solution.
    class_prior: ``"learn"`` (class balance, with ``prior_smoothing``), ``"uniform"`` or an array.
    init: ``"mv"`` (start from the vote share) or ``"uniform"``.
    """

    name = "ds"
    iterative = True

    def __init__(
        self,
        *,
        max_iter: int = 100,
        tol: float = 1e-5,
        smoothing: float = 0.01,
        diag_prior: float = 1.0,
        class_prior: str | np.ndarray = "learn",
        prior_smoothing: float = 1.0,
        init: str = "mv",
    ):
        self.max_iter = max_iter
        self.tol = tol
        self.smoothing = smoothing
        self.diag_prior = diag_prior
        self.class_prior = class_prior
        self.prior_smoothing = prior_smoothing
        self.init = init

    def _m_step(self, v: Votes, post: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        counts = confusion_counts(v, post) + self.smoothing
        if self.diag_prior:
            idx = np.arange(v.K)
            counts[:, idx, idx] += self.diag_prior
        log_conf = np.log(np.maximum(counts, 1e-300)) - np.log(np.maximum(counts.sum(2, keepdims=True), 1e-300))
        return log_conf, _m_prior(self, post)

    def _fit(self, v: Votes, gold: np.ndarray) -> np.ndarray:
        _check_common(self, v.K)
        if self.smoothing < 0 or self.diag_prior < 0:
            raise InputError("smoothing and diag_prior must be >= 0")
        post = _init_post(self, v, gold)
        converged = False
        for _ in range(self.max_iter):
            log_conf, prior = self._m_step(v, post)
            post, loss = _e_step(self, v, log_conf, prior, gold)
            if self._record(loss):
                converged = True
                break
        self._log_conf, self._prior = log_conf, prior
        if not converged:
            self._warn_not_converged()
        return post


class OneCoinDawidSkene(Aggregator):
    """One-coin Dawid-Skene: each source has one accuracy; wrong answers are uniform.

    The accuracy has a Beta(``alpha``, ``beta``) prior (MAP), which keeps sources with a handful
    of answers near ``alpha / (alpha + beta)`` until their answers say otherwise.

    The class prior is uniform by default (as in GLAD and MACE): with symmetric noise a learned
    class balance can run away towards the majority answer when sources are biased towards one
    class; pass ``class_prior="learn"`` to learn it.
    """

    name = "onecoin"
    iterative = True

    def __init__(
        self,
        *,
        max_iter: int = 100,
        tol: float = 1e-5,
        alpha: float = 2.0,
        beta: float = 1.0,
        class_prior: str | np.ndarray = "uniform",
        prior_smoothing: float = 1.0,
        init: str = "mv",
    ):
        self.max_iter = max_iter
        self.tol = tol
        self.alpha = alpha
        self.beta = beta
        self.class_prior = class_prior
        self.prior_smoothing = prior_smoothing
        self.init = init

    def _fit(self, v: Votes, gold: np.ndarray) -> np.ndarray:
        _check_common(self, v.K)
        if self.alpha < 1 or self.beta < 1:
            raise InputError("alpha and beta (Beta prior pseudo-counts + 1) must be >= 1")
        post = _init_post(self, v, gold)
        n = count(v.s, v.n_sources)
        a0, b0 = self.alpha - 1.0, self.beta - 1.0
        converged = False
        for _ in range(self.max_iter):
            correct = segsum(v.s, correct_prob(v, post), v.n_sources)
            acc = (correct + a0) / np.maximum(n + a0 + b0, 1e-12)
            acc = np.where(n + a0 + b0 > 0, acc, 0.5)
            prior = _m_prior(self, post)
            log_conf = symmetric_log_conf(acc, v.K)
            post, loss = _e_step(self, v, log_conf, prior, gold)
            if self._record(loss):
                converged = True
                break
        self._acc, self._prior = acc, prior
        self._log_conf = symmetric_log_conf(acc, v.K)
        if not converged:
            self._warn_not_converged()
        return post

    def _skills(self):
        return self._acc.copy(), self._acc.copy()
