"""MACE (Hovy et al. 2013): each source is competent with probability ``theta`` and otherwise
answers from its own spamming distribution ``xi``.

P(answer l | true k) = theta_s [l == k] + (1 - theta_s) xi_s[l], i.e. a constrained confusion
matrix, so the E-step is the Dawid-Skene kernel. The M-step counts, per vote, the posterior
probability that the source was competent. Beta(``alpha``, ``beta``) and symmetric Dirichlet
(``smoothing``) pseudo-counts regularise; ``n_restarts`` random restarts (seeded by
``random_state``) are tried beside the majority-vote start and the best likelihood wins.
"""

from __future__ import annotations

import numpy as np
from scipy.special import digamma

from labelloop.aggregate._base import Aggregator
from labelloop.aggregate._kernels import Votes, count, gather_loglik, normalize_log, segsum
from labelloop.aggregate.dawid_skene import _check_common, _init_post, _m_prior
from labelloop.exceptions import InputError


def _log_conf(theta: np.ndarray, xi: np.ndarray, spam: np.ndarray | None = None) -> np.ndarray:
    K = xi.shape[1]
    spam = 1.0 - theta if spam is None else spam
    conf = spam[:, None, None] * xi[:, None, :] + theta[:, None, None] * np.eye(K)[None]
    return np.log(np.maximum(conf, 1e-300))


def _vb_normalize(counts: np.ndarray, prior: np.ndarray | float) -> np.ndarray:
    """Variational-Bayes "normalisation" of Dirichlet counts: exp(E[log p])."""
    a = counts + prior
    return np.exp(digamma(a) - digamma(a.sum(axis=1, keepdims=True)))


class MACE(Aggregator):
    """MACE: competence ``theta`` per source (``skills_.skill``) and a spam distribution
    ``spam_dist_`` [n_sources, K]. ``spammer_score_`` is 1 - theta."""

    name = "mace"
    iterative = True

    def __init__(
        self,
        *,
        max_iter: int = 100,
        tol: float = 1e-5,
        alpha: float = 0.5,
        beta: float = 0.5,
        smoothing: float = 0.5,
        method: str = "em",
        n_restarts: int = 0,
        class_prior: str | np.ndarray = "uniform",
        prior_smoothing: float = 1.0,
        init: str = "mv",
        random_state: int | None = 0,
    ):
        self.max_iter = max_iter
        self.tol = tol
        self.alpha = alpha
        self.beta = beta
        self.smoothing = smoothing
        self.method = method
        self.n_restarts = n_restarts
        self.class_prior = class_prior
        self.prior_smoothing = prior_smoothing
        self.init = init
        self.random_state = random_state

    def _m_step(self, v: Votes, Q: np.ndarray, post: np.ndarray, theta: np.ndarray, spam_w: np.ndarray, xi: np.ndarray, n: np.ndarray):
        # P(competent | T = l, answer l) for every class l of every vote
        ts, ws = theta[v.s][:, None], spam_w[v.s][:, None]
        comp_given_l = ts / np.maximum(ts + ws * xi[v.s], 1e-300)
        c = Q * post[v.i] * comp_given_l  # [n, K] competent mass per answered class
        comp = segsum(v.s, c.sum(1), v.n_sources)
        spam = segsum(v.s, Q - c, v.n_sources)  # [S, K]
        if self.method == "vb":
            ab = _vb_normalize(np.stack([comp, n - comp], axis=1), np.array([self.beta, self.alpha]))
            return ab[:, 0], ab[:, 1], _vb_normalize(spam, self.smoothing)
        theta = (comp + self.beta) / (n + self.alpha + self.beta)
        xi = (spam + self.smoothing) / (spam.sum(1, keepdims=True) + v.K * self.smoothing)
        return theta, 1.0 - theta, xi

    def _run(self, v: Votes, gold: np.ndarray, post: np.ndarray, theta: np.ndarray | None, xi: np.ndarray | None):
        Q = v.onehot()
        n = count(v.s, v.n_sources)
        if theta is None:
            theta = np.full(v.n_sources, 0.5)
            xi = np.full((v.n_sources, v.K), 1.0 / v.K)
            theta, spam_w, xi = self._m_step(v, Q, post, theta, 1.0 - theta, xi, n)
        else:
            spam_w = 1.0 - theta
        hist: list[float] = []
        converged = False
        for _ in range(self.max_iter):
            prior = _m_prior(self, post)
            lc = _log_conf(theta, xi, spam_w)
            logp = np.log(prior)[None, :] + segsum(v.i, gather_loglik(lc, v), v.n_items)
            post, logz = normalize_log(logp)
            g = gold >= 0
            if g.any():
                gi = np.flatnonzero(g)
                logz[gi] = logp[gi, gold[gi]]
            post = self._clamp(post, gold)
            hist.append(-float(logz.sum()) / v.n)
            if getattr(self, "_bar", None) is not None:
                self._bar.update(1)
            if len(hist) >= 2 and abs(hist[-2] - hist[-1]) <= self.tol * max(1.0, abs(hist[-2])):
                converged = True
                break
            theta, spam_w, xi = self._m_step(v, Q, post, theta, spam_w, xi, n)
        return post, theta, spam_w, xi, prior, hist, converged

    def _fit(self, v: Votes, gold: np.ndarray) -> np.ndarray:
        _check_common(self, v.K)
        if self.alpha <= 0 or self.beta <= 0 or self.smoothing <= 0 or self.n_restarts < 0:
            raise InputError("alpha, beta and smoothing must be > 0 and n_restarts >= 0")
        if self.method not in ("vb", "em"):
            raise InputError(f"method must be 'vb' or 'em', got {self.method!r}")
        best = self._run(v, gold, _init_post(self, v, gold), None, None)
        rng = np.random.default_rng(self.random_state)
        for _ in range(self.n_restarts):
            theta = rng.uniform(0.3, 0.9, v.n_sources)
            xi = rng.dirichlet(np.ones(v.K), v.n_sources)
            post = self._clamp(np.full((v.n_items, v.K), 1.0 / v.K), gold)
            cand = self._run(v, gold, post, theta, xi)
            if cand[5][-1] < best[5][-1]:
                best = cand
        post, theta, spam_w, xi, prior, hist, converged = best
        self.loss_history_ = hist
        self.n_iter_ = len(hist)
        self._theta, self._xi, self._prior = theta, xi, prior
        self._log_conf = _log_conf(theta, xi, spam_w)
        self.spam_dist_ = xi
        self.spammer_score_ = 1.0 - theta
        if not converged:
            self._warn_not_converged()
        return post

    def _skills(self):
        conf = np.exp(self._log_conf)
        acc = np.einsum("k,skk->s", self._prior, conf)
        return self._theta.copy(), acc
