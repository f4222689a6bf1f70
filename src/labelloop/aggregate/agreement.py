"""Inter-annotator agreement over a vote matrix (hard votes; soft votes use their argmax).

- :func:`cohen_kappa_matrix`: Cohen's kappa for every pair of sources on the items both
  labelled (NaN where a pair shares fewer than ``min_overlap`` items);
- :func:`fleiss_kappa`: Fleiss' kappa, allowing a different number of votes per item (items with
  fewer than two votes are skipped);
- :func:`krippendorff_alpha`: Krippendorff's alpha for nominal data (missing votes allowed);
- :func:`item_entropy`: entropy (nats) of each item's vote distribution.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from labelloop.aggregate._base import as_vote_matrix
from labelloop.votes import VoteMatrix


def _counts(vm: VoteMatrix) -> np.ndarray:
    """Items x classes hard vote counts (one vote per item and source; the last one wins)."""
    L = vm.to_dense()
    out = np.zeros((vm.n_items, vm.n_classes))
    r, c = np.nonzero(L >= 0)
    np.add.at(out, (r, L[r, c]), 1.0)
    return out


def cohen_kappa(a: np.ndarray, b: np.ndarray, n_classes: int | None = None) -> float:
    """Cohen's kappa of two aligned label-code arrays (NaN if chance agreement is 1)."""
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    if a.size == 0:
        return float("nan")
    k = n_classes or int(max(a.max(), b.max())) + 1
    po = float(np.mean(a == b))
    pe = float(np.dot(np.bincount(a, minlength=k) / a.size, np.bincount(b, minlength=k) / b.size))
    if pe >= 1.0:
        return float("nan")
    return (po - pe) / (1.0 - pe)


def cohen_kappa_matrix(votes, *, min_overlap: int = 1) -> pd.DataFrame:
    """Pairwise Cohen's kappa (sources x sources DataFrame; diagonal 1 where defined)."""
    vm = as_vote_matrix(votes)
    L = vm.to_dense()
    S = vm.n_sources
    out = np.full((S, S), np.nan)
    has = L >= 0
    for x in range(S):
        for y in range(x, S):
            both = has[:, x] & has[:, y]
            if both.sum() < min_overlap or not both.any():
                continue
            kap = cohen_kappa(L[both, x], L[both, y], vm.n_classes)
            out[x, y] = out[y, x] = kap
    idx = pd.Index(vm.sources, name="source")
    return pd.DataFrame(out, index=idx, columns=idx)


def fleiss_kappa(votes) -> float:
    """Fleiss' kappa over items with at least two votes (variable votes per item allowed)."""
    vm = as_vote_matrix(votes)
    n = _counts(vm)
    m = n.sum(1)
    keep = m >= 2
    n, m = n[keep], m[keep]
    if n.shape[0] == 0:
        return float("nan")
    p_i = ((n * (n - 1)).sum(1)) / (m * (m - 1))
    p_bar = p_i.mean()
    p_j = n.sum(0) / m.sum()
    pe = float((p_j**2).sum())
    if pe >= 1.0:
        return float("nan")
    return float((p_bar - pe) / (1.0 - pe))


def krippendorff_alpha(votes) -> float:
    """Krippendorff's alpha, nominal metric, from the coincidence matrix."""
    vm = as_vote_matrix(votes)
    n = _counts(vm)
    m = n.sum(1)
    keep = m >= 2
    n, m = n[keep], m[keep]
    if n.shape[0] == 0:
        return float("nan")
    # coincidences: o_ck = sum_i n_ic (n_ik - [c == k]) / (m_i - 1)
    o = np.einsum("ic,ik->ck", n / (m - 1)[:, None], n) - np.diag((n / (m - 1)[:, None]).sum(0))
    n_c = o.sum(1)
    total = n_c.sum()
    d_o = total - np.trace(o)
    d_e = (total**2 - (n_c**2).sum()) / (total - 1)
    if d_e <= 0:
        return float("nan")
    return float(1.0 - d_o / d_e)


def item_entropy(votes, *, normalized: bool = False) -> np.ndarray:
    """Entropy of each item's vote distribution (nats; ``normalized`` divides by log K)."""
    vm = as_vote_matrix(votes)
    c = vm.class_counts()
    tot = c.sum(1, keepdims=True)
    p = np.divide(c, tot, out=np.zeros_like(c), where=tot > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -np.where(p > 0, p * np.log(p), 0.0).sum(1)
    if normalized and vm.n_classes > 1:
        h = h / np.log(vm.n_classes)
    return h


def agreement_summary(votes) -> dict[str, float]:
    """Fleiss' kappa, Krippendorff's alpha, mean pairwise Cohen's kappa and mean item entropy."""
    vm = as_vote_matrix(votes)
    ck = cohen_kappa_matrix(vm).to_numpy()
    off = ck[~np.eye(ck.shape[0], dtype=bool)]
    off = off[np.isfinite(off)]
    return {
        "fleiss_kappa": fleiss_kappa(vm),
        "krippendorff_alpha": krippendorff_alpha(vm),
        "mean_cohen_kappa": float(off.mean()) if off.size else float("nan"),
        "mean_item_entropy": float(item_entropy(vm).mean()),
    }
