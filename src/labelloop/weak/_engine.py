"""The aggregation engine's one-coin Dawid-Skene, extended with each LF's firing rate.

:class:`LFDawidSkene` is :class:`labelloop.aggregate.OneCoinDawidSkene` (same contract:
``fit(votes, gold=...)``, ``probas_``, ``skills_``, ``loss_history_``, convergence warning) with
one more view of every *labeling function* source: ``cov[c, s] = P(source s votes | y = c)``.
For LFs, abstaining is informative (a spam keyword stays silent far more often on ham), and this
view pins down the class balance when most LFs only ever vote one class. Sources flagged as not
informative (humans) keep the plain one-coin model: their missing votes carry nothing.

The firing-rate view stays sparse: for item ``i`` and class ``c`` it adds
``sum_s log(1 - cov[c, s])`` (every LF abstains) plus, per vote, ``log cov - log(1 - cov)``.
"""

from __future__ import annotations

import numpy as np

from labelloop.aggregate import OneCoinDawidSkene
from labelloop.aggregate._kernels import (
    Votes,
    correct_prob,
    count,
    gather_loglik,
    normalize_log,
    segsum,
    symmetric_log_conf,
    vote_share,
)
from labelloop.aggregate.dawid_skene import _check_common, _m_prior
from labelloop.exceptions import InputError


class LFDawidSkene(OneCoinDawidSkene):
    """One-coin Dawid-Skene plus per-class firing rates of the informative (LF) sources.

    Extra parameters over :class:`OneCoinDawidSkene`: ``smoothing`` (pseudo-count for each
    firing rate), ``informative`` (bool per source, default all: abstaining is evidence),
    ``votes_count`` (bool per source, default all: its answers enter the one-coin view; a source
    flagged False is read only through its firing rates), ``empty_init`` (starting posterior of
    items without votes; default uniform), ``better_than_random`` and ``max_accuracy`` (a cap on
    every learned accuracy: no source is taken to be perfect).
    """

    name = "lf-onecoin"

    def __init__(
        self,
        *,
        max_iter: int = 200,
        tol: float = 1e-6,
        alpha: float = 2.0,
        beta: float = 1.0,
        class_prior="learn",
        prior_smoothing: float = 1.0,
        init: str = "mv",
        smoothing: float = 1.0,
        informative=None,
        empty_init=None,
        better_than_random: bool = True,
        votes_count=None,
        max_accuracy: float = 1.0,
    ):
        super().__init__(max_iter=max_iter, tol=tol, alpha=alpha, beta=beta, class_prior=class_prior,
                         prior_smoothing=prior_smoothing, init=init)
        self.smoothing = smoothing
        self.informative = informative
        self.empty_init = empty_init
        self.better_than_random = better_than_random
        self.votes_count = votes_count
        self.max_accuracy = max_accuracy

    # ------------------------------------------------------------------ kernels
    @staticmethod
    def _scores(v: Votes, log_conf, cov, inf, prior, n_fitted: int) -> np.ndarray:
        """[n_items, K] log scores: prior + one-coin votes + firing-rate view.

        The firing-rate view adds ``sum_s log(1 - cov[s, c])`` over the fitted informative
        sources (all abstain) plus ``log cov - log(1 - cov)`` for each of their votes."""
        cv = np.clip(cov, 1e-12, 1 - 1e-12)  # [S, K]
        lc, lnc = np.log(cv), np.log1p(-cv)
        w = inf[:, None]
        delta = (lc - lnc) * w
        const = (lnc[:n_fitted] * w[:n_fitted]).sum(axis=0)
        vals = gather_loglik(log_conf, v) + delta[v.s]
        return np.log(np.maximum(prior, 1e-300))[None, :] + const[None, :] + segsum(v.i, vals, v.n_items)

    def _fit(self, v: Votes, gold: np.ndarray) -> np.ndarray:
        _check_common(self, v.K)
        if self.alpha < 1 or self.beta < 1:
            raise InputError("alpha and beta (Beta prior pseudo-counts + 1) must be >= 1")
        if self.smoothing < 0:
            raise InputError(f"smoothing must be >= 0, got {self.smoothing}")
        if not 1.0 / v.K < self.max_accuracy <= 1.0:
            raise InputError(f"max_accuracy must lie in (1/{v.K}, 1], got {self.max_accuracy}")
        S, K = v.n_sources, v.K
        inf = np.ones(S, dtype=bool) if self.informative is None else np.asarray(self.informative, dtype=bool)
        if inf.shape != (S,):
            raise InputError(f"informative must hold one flag per source ({S}), got {inf.shape}")
        if self.init == "mv":
            post = vote_share(v)
            if self.empty_init is not None:
                empty = count(v.i, v.n_items) == 0
                post[empty] = np.asarray(self.empty_init, dtype=np.float64)
        elif self.init == "uniform":
            post = np.full((v.n_items, K), 1.0 / K)
        else:
            raise InputError(f"init must be 'mv' or 'uniform', got {self.init!r}")
        post = self._clamp(post, gold)
        n = count(v.s, S)
        a0, b0 = self.alpha - 1.0, self.beta - 1.0
        g = gold >= 0
        gi = np.flatnonzero(g)
        # a source that only ever votes one class (most LFs): its polarity
        seen = np.zeros((S, K), dtype=bool)
        seen[v.s, v.lab] = True
        pol = np.where(seen.sum(1) == 1, seen.argmax(1), -1)
        uni = np.flatnonzero((pol >= 0) & inf)
        coin = np.ones(S, dtype=bool) if self.votes_count is None else np.asarray(self.votes_count, dtype=bool)
        if coin.shape != (S,):
            raise InputError(f"votes_count must hold one flag per source ({S}), got {coin.shape}")
        converged = False
        # with known items, the first M-step reads them alone (the supervised estimate), so
        # the unlabelled items start from what the labelled ones say, not from the raw votes
        first_w = g.astype(np.float64) if gi.size and (count(v.i, v.n_items)[gi] > 0).any() else None
        for it in range(self.max_iter):
            pw = post if it or first_w is None else post * first_w[:, None]
            nw = n if it or first_w is None else segsum(v.s, first_w[v.i], S)
            correct = segsum(v.s, correct_prob(v, pw), S)
            acc = (correct + a0) / np.maximum(nw + a0 + b0, 1e-12)
            acc = np.where(nw + a0 + b0 > 0, acc, 0.5)
            prior = _m_prior(self, pw)
            fired = segsum(v.s, pw[v.i], S)  # [S, K] posterior mass of the items each source voted on
            cov = (fired + self.smoothing) / (pw.sum(0)[None, :] + 2.0 * self.smoothing)
            acc = np.minimum(acc, self.max_accuracy)
            if self.better_than_random:
                acc = np.maximum(acc, 1.0 / K)
                if uni.size:
                    # an LF fires at least as often on its own class as on any other; where the
                    # fit says otherwise, its firing carries no evidence (pooled rate)
                    own = cov[uni, pol[uni]]
                    bad = uni[own < cov[uni].max(axis=1)]
                    if bad.size:
                        pooled = (fired[bad].sum(1) + self.smoothing) / (pw.sum() + 2.0 * self.smoothing)
                        cov[bad] = pooled[:, None]
            log_conf = symmetric_log_conf(acc, K)
            log_conf[~coin] = 0.0
            logp = self._scores(v, log_conf, cov, inf, prior, S)
            post, logz = normalize_log(logp)
            if gi.size:
                logz = logz.copy()
                logz[gi] = logp[gi, gold[gi]]
            post = self._clamp(post, gold)
            if self._record(-float(logz.sum()) / max(v.n_items, 1)):
                converged = True
                break
        self._acc, self._prior, self._cov, self._inf, self._coin = acc, prior, cov, inf, coin
        self._log_conf = symmetric_log_conf(acc, K)
        self._log_conf[~coin] = 0.0
        if not converged:
            self._warn_not_converged()
        return post

    # ------------------------------------------------------------------ engine hooks
    def _source_params(self) -> dict[str, np.ndarray]:
        return {"log_conf": self._log_conf, "cov": self._cov, "inf": self._inf.astype(np.float64)}

    def _predict(self, v: Votes, params: dict[str, np.ndarray]) -> np.ndarray:
        S = params["log_conf"].shape[0]
        vv = Votes(v.i, v.s, v.lab, v.Q, v.n_items, S, v.K)
        inf = params["inf"] > 0.5
        logp = self._scores(vv, params["log_conf"], params["cov"], inf, self._prior, len(self._acc))
        return normalize_log(logp)[0]
