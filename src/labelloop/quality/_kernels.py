"""Numeric kernels for label-error detection. Private: inputs are trusted (validated upstream).

Notation: ``y`` int codes of the given (possibly noisy) labels, ``P`` [n, k] probabilities of the
true class given the item, ``T`` [k, k] the noise matrix ``T[i, j] = P(given = i | true = j)``.
"""

from __future__ import annotations

import numpy as np

_EPS = 1e-12
#: temperatures tried when calibrating probabilities against the given labels
TEMPERATURES = (0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 4.0, 6.0, 8.0)


def per_class_thresholds(y: np.ndarray, P: np.ndarray) -> np.ndarray:
    """Confident-learning thresholds: the mean probability of class j over items labelled j."""
    k = P.shape[1]
    counts = np.bincount(y, minlength=k)
    sums = np.bincount(y, weights=P[np.arange(len(y)), y], minlength=k)
    return np.where(counts > 0, sums / np.maximum(counts, 1), 1.0)


def confident_joint(y: np.ndarray, P: np.ndarray, *, calibrate: bool = True) -> np.ndarray:
    """Counts ``C[i, j]`` of items labelled i that are confidently class j.

    An item counts towards the class j with the largest probability among the classes whose
    probability reaches their per-class threshold; items reaching no threshold are not counted.
    Calibrated: each row is rescaled to the number of items with that given label.
    """
    n, k = P.shape
    thr = per_class_thresholds(y, P)
    above = P >= thr[None, :] - 1e-9
    masked = np.where(above, P, -np.inf)
    guess = masked.argmax(axis=1)
    has = above.any(axis=1)
    C = np.zeros((k, k))
    np.add.at(C, (y[has], guess[has]), 1.0)
    if calibrate:
        counts = np.bincount(y, minlength=k).astype(float)
        rows = C.sum(axis=1, keepdims=True)
        C = np.where(rows > 0, C / np.maximum(rows, _EPS) * counts[:, None], np.diag(counts))
    return C


def sharpen(P: np.ndarray, temperature: float) -> np.ndarray:
    """``softmax(temperature * log P)`` row-wise (temperature > 1 sharpens)."""
    L = np.log(np.clip(P, 1e-12, 1.0)) * temperature
    L -= L.max(axis=1, keepdims=True)
    Q = np.exp(L)
    return Q / Q.sum(axis=1, keepdims=True)


def fit_noise_matrix(y: np.ndarray, Q: np.ndarray, *, n_iter: int = 50, diag_prior: float = 1.0) -> np.ndarray:
    """EM estimate of ``T[i, j] = P(given = i | true = j)`` with ``Q`` as the prior over the true
    class of each item; a Dirichlet pseudo-count favours the diagonal (labels mostly right)."""
    k = Q.shape[1]
    T = np.full((k, k), 0.1 / max(k - 1, 1))
    np.fill_diagonal(T, 0.9)
    prior = np.full((k, k), 0.01)
    prior[np.diag_indices(k)] += diag_prior
    for _ in range(n_iter):
        post = Q * T[y, :]
        post /= np.maximum(post.sum(axis=1, keepdims=True), _EPS)
        C = np.zeros((k, k))
        np.add.at(C, y, post)
        C += prior
        T = C / C.sum(axis=0, keepdims=True)
    return T


def noisy_log_likelihood(y: np.ndarray, Q: np.ndarray, T: np.ndarray) -> float:
    """Mean log P(given label | item) under ``P(given = i | x) = sum_j T[i, j] Q[x, j]``."""
    return float(np.log((T[y, :] * Q).sum(axis=1) + 1e-300).mean())


def combine_log_linear(logs: list[np.ndarray], weights) -> np.ndarray:
    """``softmax(sum_s w_s log P_s)``: a product of experts with exponents ``weights``."""
    L = sum(w * lg for w, lg in zip(weights, logs, strict=True))
    L = L - L.max(axis=1, keepdims=True)
    Q = np.exp(L)
    return Q / Q.sum(axis=1, keepdims=True)


def calibrated_posterior(
    y: np.ndarray, sources: list[np.ndarray], *, grid=TEMPERATURES
) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[float, ...]]:
    """Combine probability sources into one posterior over each item's true class.

    The exponent of each source (a temperature for one source, a product-of-experts weight for
    several) is chosen by maximum likelihood of the *given* labels under the noise model
    ``P(given | x) = T Q(x)``, with ``T`` fitted by EM for each candidate. The posterior given the
    label is then ``P(true = j | x, given = i) ∝ Q[x, j] T'[i, j]``, ``T'`` being ``T`` with each
    class's flip rate spread evenly (:func:`spread_off_diagonal`).

    Returns ``(posterior, Q, T, weights)``.
    """
    logs = [np.log(np.clip(S, 1e-6, 1.0)) for S in sources]
    if len(sources) == 1:
        candidates = [(t,) for t in grid]
    else:
        coarse = (0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0) if len(sources) == 2 else (0.0, 0.5, 1.0, 2.0, 3.0)
        import itertools

        candidates = [w for w in itertools.product(coarse, repeat=len(sources)) if sum(w) > 0]
    best = None
    for w in candidates:
        Q = combine_log_linear(logs, w)
        T = fit_noise_matrix(y, Q, n_iter=20)
        v = noisy_log_likelihood(y, Q, T)
        if best is None or v > best[0] + 1e-12:
            best = (v, w, Q)
    _, w, Q = best
    T = fit_noise_matrix(y, Q, n_iter=50)
    post = Q * spread_off_diagonal(T)[y, :]
    post /= np.maximum(post.sum(axis=1, keepdims=True), _EPS)
    return post, Q, T, tuple(float(x) for x in w)


def spread_off_diagonal(T: np.ndarray) -> np.ndarray:
    """``T`` with each true class's flip rate ``1 - T[j, j]`` spread evenly over the other labels.

    The posterior uses this form: with tens of wrong labels, the fitted pattern of *which* label a
    class flips to mostly echoes the model's own confusions between similar classes (ambiguous
    items whose label is right), and trusting it ranks those items above clear contradictions
    (measured on the Made With ML label-error benchmark, see BENCHMARKS.md). With two classes it
    changes nothing.
    """
    k = T.shape[0]
    if k < 3:
        return T
    diag = np.diag(T)
    S = np.repeat(((1.0 - diag) / (k - 1))[None, :], k, axis=0)
    np.fill_diagonal(S, diag)
    return S


def expected_f1_cut(e: np.ndarray, *, min_score: float = 0.0) -> np.ndarray:
    """Flag the top-N items by error probability ``e``, N maximising the expected F1.

    With calibrated ``e``, flagging the N most suspect items has expected true positives
    ``sum(top-N e)`` out of ``sum(e)`` expected errors, so F1 ≈ 2 TP / (N + sum(e)). Items with
    ``e < min_score`` are never flagged.
    """
    n = e.shape[0]
    flags = np.zeros(n, dtype=bool)
    if n == 0:
        return flags
    order = np.argsort(-e, kind="stable")
    cs = np.cumsum(e[order])
    total = cs[-1]
    if total <= 0:
        return flags
    f1 = 2.0 * cs / (np.arange(1, n + 1) + total)
    m = int(np.argmax(f1)) + 1
    chosen = order[:m]
    flags[chosen[e[chosen] >= min_score]] = True
    return flags


def prune_by_noise_rate(y: np.ndarray, e: np.ndarray, C: np.ndarray) -> np.ndarray:
    """Confident learning's prune by noise rate: for each given class i, flag its
    ``round(sum_{j != i} C[i, j])`` items with the highest error score ``e``."""
    flags = np.zeros(y.shape[0], dtype=bool)
    for i in range(C.shape[0]):
        idx = np.flatnonzero(y == i)
        m = int(round(C[i].sum() - C[i, i]))
        if m <= 0 or idx.size == 0:
            continue
        top = idx[np.argsort(-e[idx], kind="stable")[: min(m, idx.size)]]
        flags[top] = True
    return flags


def knn_label_probs(
    neighbor_idx: np.ndarray, y: np.ndarray, k: int, *, smoothing: float = 1.0
) -> np.ndarray:
    """Label distribution among each item's neighbours (``neighbor_idx`` [n, m], -1 = none),
    smoothed towards uniform with ``smoothing`` pseudo-votes."""
    n = neighbor_idx.shape[0]
    valid = neighbor_idx >= 0
    lab = np.where(valid, y[np.where(valid, neighbor_idx, 0)], -1)
    counts = np.zeros((n, k))
    rows = np.repeat(np.arange(n), neighbor_idx.shape[1])
    flat = lab.ravel()
    ok = flat >= 0
    np.add.at(counts, (rows[ok], flat[ok]), 1.0)
    return (counts + smoothing / k) / (counts.sum(axis=1, keepdims=True) + smoothing)
