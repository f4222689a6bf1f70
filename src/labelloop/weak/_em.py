"""EM for the label model: one-coin Dawid-Skene over LF votes, plus each LF's coverage.

Every labeling function is read twice:

- *what it says*: a one-coin Dawid-Skene source (accuracy ``acc_j`` when it votes, wrong votes
  spread evenly), the model the aggregation engine fits for crowd answers;
- *whether it speaks*: its firing rate given the true class, ``cov[c, j] = P(LF j votes | y=c)``.
  Abstaining is informative for LFs (a spam keyword stays silent far more often on ham), and
  this view is what pins down the class balance when most LFs vote for one class only.

The two views enter the posterior as a product of experts. Human sources use only the first
view: a human's missing vote carries no information. Kernels are pure numpy, in log space, over
the dense items x sources code matrix ``L`` (``-1`` = no vote).
"""

from __future__ import annotations

import numpy as np

TINY = 1e-300


def normalize_log(logp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row-wise softmax of log scores; returns (probabilities, log normaliser per row)."""
    m = logp.max(axis=1, keepdims=True)
    e = np.exp(logp - m)
    z = e.sum(axis=1, keepdims=True)
    return e / z, (np.log(z) + m)[:, 0]


def vote_share(L: np.ndarray, K: int, empty: np.ndarray | None = None) -> np.ndarray:
    """[n, K] share of votes per class; rows without votes get ``empty`` (default uniform)."""
    counts = np.stack([(L == k).sum(axis=1) for k in range(K)], axis=1).astype(np.float64)
    z = counts.sum(1, keepdims=True)
    fill = np.full(K, 1.0 / K) if empty is None else np.asarray(empty, dtype=np.float64)
    return np.where(z > 0, counts / np.where(z > 0, z, 1.0), fill[None, :])


def _onehots(L: np.ndarray, K: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """Float indicators: voted [n, m] and, per class, votes for that class [n, m]."""
    return (L >= 0).astype(np.float64), [(L == k).astype(np.float64) for k in range(K)]


def log_scores(V: np.ndarray, Lk: list[np.ndarray], acc: np.ndarray, cov: np.ndarray,
               informative: np.ndarray, log_prior: np.ndarray) -> np.ndarray:
    """[n, K] unnormalised log posterior given accuracies [m] and coverages [K, m].

    ``V``/``Lk`` are the indicators from :func:`_onehots`."""
    K = log_prior.shape[0]
    acc = np.clip(acc, 1e-9, 1 - 1e-9)
    log_off = np.log((1.0 - acc) / max(K - 1, 1))
    gain = np.log(acc) - log_off
    out = np.empty((V.shape[0], K))
    for k in range(K):
        out[:, k] = Lk[k] @ gain
    out += (V @ log_off)[:, None] + log_prior[None, :]
    if informative.any():
        cv = np.clip(cov[:, informative], 1e-12, 1 - 1e-12)
        Vi = V[:, informative]
        lc, lnc = np.log(cv), np.log1p(-cv)
        out += Vi @ (lc - lnc).T + lnc.sum(axis=1)[None, :]
    return out


def m_step(V: np.ndarray, Lk: list[np.ndarray], post: np.ndarray, *, alpha: float, beta: float,
           smoothing: float) -> tuple[np.ndarray, np.ndarray]:
    """MAP accuracies (Beta(alpha, beta) prior) and coverages (``smoothing`` pseudo-counts)."""
    correct = sum(post[:, k] @ Lk[k] for k in range(post.shape[1]))
    n_votes = V.sum(axis=0)
    a0, b0 = alpha - 1.0, beta - 1.0
    acc = (correct + a0) / np.maximum(n_votes + a0 + b0, 1e-12)
    acc = np.where(n_votes + a0 + b0 > 0, acc, 0.5)
    mass = post.sum(axis=0)
    cov = (post.T @ V + smoothing) / (mass[:, None] + 2.0 * smoothing)
    return acc, cov


def fit_em(
    L: np.ndarray,
    K: int,
    *,
    informative: np.ndarray,
    init_post: np.ndarray,
    alpha: float,
    beta: float,
    smoothing: float,
    class_prior: np.ndarray | None,
    prior_smoothing: float,
    gold: np.ndarray,
    max_iter: int,
    tol: float,
) -> dict:
    """EM from ``init_post``; ``gold`` [n] clamps known items (``-1`` = unknown).

    Returns the posterior, accuracies, coverages, prior, loss history (mean negative
    log-likelihood per item) and whether it converged.
    """
    n = L.shape[0]
    V, Lk = _onehots(L, K)
    gi = np.flatnonzero(gold >= 0)

    def clamp(p):
        if gi.size:
            p = p.copy()
            p[gi] = 0.0
            p[gi, gold[gi]] = 1.0
        return p

    post = clamp(init_post)
    hist: list[float] = []
    converged = False
    for _ in range(max_iter):
        acc, cov = m_step(V, Lk, post, alpha=alpha, beta=beta, smoothing=smoothing)
        if class_prior is None:
            pr = post.sum(0) + prior_smoothing
            prior = pr / pr.sum()
        else:
            prior = class_prior
        logp = log_scores(V, Lk, acc, cov, informative, np.log(np.maximum(prior, TINY)))
        post, logz = normalize_log(logp)
        post = clamp(post)
        loss = -float(logz.sum()) / max(n, 1)
        hist.append(loss)
        if len(hist) >= 2 and abs(hist[-2] - loss) <= tol * max(1.0, abs(hist[-2])):
            converged = True
            break
    return {"post": post, "acc": acc, "cov": cov, "prior": prior, "hist": hist, "converged": converged}


def posterior(L: np.ndarray, params: dict, informative: np.ndarray) -> np.ndarray:
    """Posteriors for new votes ``L`` (columns aligned with the fitted sources)."""
    V, Lk = _onehots(L, params["prior"].shape[0])
    logp = log_scores(V, Lk, params["acc"], params["cov"], informative, np.log(np.maximum(params["prior"], TINY)))
    return normalize_log(logp)[0]
