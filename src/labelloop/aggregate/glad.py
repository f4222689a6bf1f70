"""GLAD (Whitehill et al. 2009): source ability times item difficulty.

P(answer correct) = sigmoid(alpha_s * beta_i) with ability ``alpha_s`` (negative = adversarial)
and inverse difficulty ``beta_i = exp(b_i) > 0``; wrong answers are uniform over the other
classes. EM: the E-step is the same bincount kernel as Dawid-Skene; the M-step runs a few
L-BFGS steps on all alphas and b's at once with an analytic, vectorised gradient and Gaussian
priors (no per-item Python loops).
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit

from labelloop.aggregate._base import Aggregator
from labelloop.aggregate._kernels import (
    Votes,
    correct_prob,
    count,
    normalize_log,
    segsum,
    symmetric_log_conf,
)
from labelloop.aggregate.dawid_skene import _check_common, _init_post, _m_prior
from labelloop.exceptions import InputError


def _log_sig(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """log sigmoid(x), log(1 - sigmoid(x)), stable."""
    return -np.logaddexp(0.0, -x), -np.logaddexp(0.0, x)


class GLAD(Aggregator):
    """GLAD: per-source ability ``alpha`` and per-item difficulty ``beta`` (``skills_.skill``
    is alpha; ``difficulty_`` is 1 / beta per item).

    Parameters: ``max_iter``, ``tol`` (EM), ``m_step_iter`` (L-BFGS steps per M-step),
    ``alpha_prior_mean``/``alpha_prior_var`` and ``beta_prior_mean``/``beta_prior_var``
    (Gaussian priors on alpha and on log beta), ``class_prior`` (uniform by default, as in the
    original GLAD), ``init``.
    """

    name = "glad"
    iterative = True

    def __init__(
        self,
        *,
        max_iter: int = 100,
        tol: float = 1e-5,
        m_step_iter: int = 10,
        alpha_prior_mean: float = 1.0,
        alpha_prior_var: float = 1.0,
        beta_prior_mean: float = 1.0,
        beta_prior_var: float = 1.0,
        class_prior: str | np.ndarray = "uniform",
        prior_smoothing: float = 1.0,
        init: str = "mv",
    ):
        self.max_iter = max_iter
        self.tol = tol
        self.m_step_iter = m_step_iter
        self.alpha_prior_mean = alpha_prior_mean
        self.alpha_prior_var = alpha_prior_var
        self.beta_prior_mean = beta_prior_mean
        self.beta_prior_var = beta_prior_var
        self.class_prior = class_prior
        self.prior_smoothing = prior_smoothing
        self.init = init

    # ------------------------------------------------------------------ kernels
    @staticmethod
    def _vote_loglik(v: Votes, x: np.ndarray) -> np.ndarray:
        ls, lf = _log_sig(x)
        lf = lf - np.log(max(v.K - 1, 1))
        return lf[:, None] + v.onehot() * (ls - lf)[:, None]

    def _m_step(self, v: Votes, p: np.ndarray, alpha: np.ndarray, b: np.ndarray):
        """Block Newton steps: exact for the (convex) alpha block, Gauss-Newton for log beta.

        Both blocks are diagonal (each alpha_s / b_i only meets its own votes), so one step is
        a handful of bincounts; steps are clipped to keep the iteration stable.
        """
        S, N = v.n_sources, v.n_items
        va, vb = self.alpha_prior_var, self.beta_prior_var
        ma, mb = self.alpha_prior_mean, self.beta_prior_mean
        si, ii = v.s, v.i
        for _ in range(self.m_step_iter):
            eb = np.exp(b)[ii]
            x = alpha[si] * eb
            sig = expit(x)
            r, w = p - sig, sig * (1.0 - sig)
            g = -np.bincount(si, weights=r * eb, minlength=S) + (alpha - ma) / va
            h = np.bincount(si, weights=w * eb * eb, minlength=S) + 1.0 / va
            alpha = alpha - np.clip(g / h, -2.0, 2.0)
            x = alpha[si] * eb
            sig = expit(x)
            r, w = p - sig, sig * (1.0 - sig)
            g = -np.bincount(ii, weights=r * x, minlength=N) + (b - mb) / vb
            h = np.bincount(ii, weights=w * x * x, minlength=N) + 1.0 / vb
            b = np.clip(b - np.clip(g / h, -1.0, 1.0), -8.0, 8.0)
        return alpha, b

    def _fit(self, v: Votes, gold: np.ndarray) -> np.ndarray:
        _check_common(self, v.K)
        if self.alpha_prior_var <= 0 or self.beta_prior_var <= 0 or self.m_step_iter < 1:
            raise InputError("prior variances must be > 0 and m_step_iter >= 1")
        post = _init_post(self, v, gold)
        alpha = np.full(v.n_sources, float(self.alpha_prior_mean))
        b = np.full(v.n_items, float(self.beta_prior_mean))
        converged = False
        for _ in range(self.max_iter):
            alpha, b = self._m_step(v, correct_prob(v, post), alpha, b)
            prior = _m_prior(self, post)
            x = alpha[v.s] * np.exp(b[v.i])
            logp = np.log(prior)[None, :] + segsum(v.i, self._vote_loglik(v, x), v.n_items)
            post, logz = normalize_log(logp)
            g = gold >= 0
            if g.any():
                gi = np.flatnonzero(g)
                logz[gi] = logp[gi, gold[gi]]
            post = self._clamp(post, gold)
            if self._record(-float(logz.sum()) / v.n):
                converged = True
                break
        self._alpha, self._logbeta, self._prior = alpha, b, prior
        n = count(v.s, v.n_sources)
        sig = expit(alpha[v.s] * np.exp(b[v.i]))
        self._acc = np.where(n > 0, segsum(v.s, sig, v.n_sources) / np.maximum(n, 1), expit(alpha))
        self._log_conf = symmetric_log_conf(self._acc, v.K)
        self.difficulty_ = np.exp(-b)
        if not converged:
            self._warn_not_converged()
        return post

    def _source_params(self) -> dict[str, np.ndarray]:
        return {"log_conf": self._log_conf, "alpha": self._alpha}

    def _answer_log_conf(self, v: Votes, params: dict[str, np.ndarray]) -> np.ndarray:
        acc = expit(params["alpha"][v.s] * np.exp(self._logbeta[v.i]))
        return symmetric_log_conf(acc, v.K)

    def _skills(self):
        return self._alpha.copy(), self._acc.copy()
