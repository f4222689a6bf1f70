"""Small pure numpy kernels shared by the aggregators (they trust their inputs).

Votes arrive in coordinate form: ``i`` (item index), ``s`` (source index), ``l`` (class code)
per vote, plus optional soft votes ``Q`` [n_votes, K]. Sums over the votes of an item or a
source are ``np.bincount`` calls (one per class column), which are linear in the number of votes
and much faster than pandas groupbys.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

TINY = 1e-300


@dataclass
class Votes:
    """The coordinate arrays one fit works on (a trusted, validated view of a VoteMatrix)."""

    i: np.ndarray  # int64 [n]
    s: np.ndarray  # int64 [n]
    lab: np.ndarray  # int64 [n] class codes (argmax of the soft vote when soft)
    Q: np.ndarray | None  # float64 [n, K] soft votes or None
    n_items: int
    n_sources: int
    K: int

    @property
    def n(self) -> int:
        return int(self.i.shape[0])

    def onehot(self) -> np.ndarray:
        """[n, K] vote distribution (one-hot for hard votes)."""
        if self.Q is not None:
            return self.Q
        out = np.zeros((self.n, self.K))
        out[np.arange(self.n), self.lab] = 1.0
        return out


def segsum(idx: np.ndarray, vals: np.ndarray, n_seg: int) -> np.ndarray:
    """Sum rows of ``vals`` (1-D or [n, K]) that share a segment index."""
    if vals.ndim == 1:
        return np.bincount(idx, weights=vals, minlength=n_seg)
    out = np.empty((n_seg, vals.shape[1]))
    for k in range(vals.shape[1]):
        out[:, k] = np.bincount(idx, weights=vals[:, k], minlength=n_seg)
    return out


def count(idx: np.ndarray, n_seg: int) -> np.ndarray:
    return np.bincount(idx, minlength=n_seg).astype(np.float64)


def normalize_log(logp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row-wise softmax of log scores; returns (probabilities, log normaliser per row)."""
    m = logp.max(axis=1, keepdims=True)
    e = np.exp(logp - m)
    z = e.sum(axis=1, keepdims=True)
    return e / z, (np.log(z) + m)[:, 0]


def normalize_rows(x: np.ndarray) -> np.ndarray:
    """Rows scaled to sum to one; an all-zero row becomes uniform."""
    z = x.sum(axis=1, keepdims=True)
    k = x.shape[1]
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(z > 0, x / np.where(z > 0, z, 1.0), 1.0 / k)
    return out


def correct_prob(v: Votes, post: np.ndarray) -> np.ndarray:
    """Per vote, the posterior probability that the vote names the true class."""
    if v.Q is None:
        return post[v.i, v.lab]
    return np.einsum("nk,nk->n", v.Q, post[v.i])


def gather_loglik(log_conf: np.ndarray, v: Votes) -> np.ndarray:
    """[n, K] log P(observed vote | true class k) from per-source confusions [S, K, K]."""
    K = v.K
    if v.Q is None:
        flat = log_conf.reshape(-1)
        base = v.s * (K * K) + v.lab
        out = np.empty((v.n, K))
        for k in range(K):
            out[:, k] = flat[base + k * K]
        return out
    # soft votes: expected log-likelihood under the vote distribution
    return np.einsum("nl,nkl->nk", v.Q, log_conf[v.s])


def confusion_counts(v: Votes, post: np.ndarray) -> np.ndarray:
    """Expected counts [S, K(true), K(observed)] of each source's answers given posteriors."""
    K, S = v.K, v.n_sources
    out = np.empty((S, K, K))
    if v.Q is None:
        idx = v.s * K + v.lab
        for k in range(K):
            out[:, k, :] = np.bincount(idx, weights=post[v.i, k], minlength=S * K).reshape(S, K)
        return out
    P = post[v.i]
    for k in range(K):
        for j in range(K):
            out[:, k, j] = np.bincount(v.s, weights=P[:, k] * v.Q[:, j], minlength=S)
    return out


def vote_share(v: Votes, weights: np.ndarray | None = None) -> np.ndarray:
    """[n_items, K] (weighted) share of votes per class; items without weight are uniform."""
    Q = v.onehot()
    if weights is not None:
        Q = Q * weights[v.s][:, None]
    return normalize_rows(segsum(v.i, Q, v.n_items))


def symmetric_log_conf(acc: np.ndarray, K: int) -> np.ndarray:
    """[S, K, K] log confusion of a one-coin source with accuracy ``acc`` [S]."""
    acc = np.clip(acc, 1e-6, 1 - 1e-6)
    off = np.log((1.0 - acc) / max(K - 1, 1))
    out = np.repeat(off[:, None, None], K, axis=1).repeat(K, axis=2)
    idx = np.arange(K)
    out[:, idx, idx] = np.log(acc)[:, None]
    return out


def wilson_interval(k: np.ndarray, n: np.ndarray, z: float = 1.959963984540054) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for a binomial proportion (NaN where ``n == 0``)."""
    k = np.asarray(k, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = k / n
        denom = 1 + z * z / n
        centre = (p + z * z / (2 * n)) / denom
        half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    lo = np.where(n > 0, np.clip(centre - half, 0, 1), np.nan)
    hi = np.where(n > 0, np.clip(centre + half, 0, 1), np.nan)
    return lo, hi
