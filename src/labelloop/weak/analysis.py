"""How good are the labeling functions? Coverage, overlaps, conflicts, polarity, accuracy.

For each LF ``j`` over ``n`` items (fractions of all items):

- ``coverage``: items it votes on;
- ``overlaps``: items it votes on where at least one other LF votes too;
- ``conflicts``: items it votes on where another LF votes a different label (multi-label: another
  LF votes the opposite on a tag it voted on);
- ``polarity``: the labels (tags) it ever votes;
- with gold labels: ``correct`` / ``incorrect`` vote counts on gold items and ``emp_accuracy``
  (multi-label: a vote is a (item, tag) the LF gave; correct when the gold tags hold it).

:func:`lf_summary` returns a DataFrame; :func:`summary_table` renders it for the terminal (rich)
and :func:`summary_html` as an HTML fragment for the report.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from labelloop.exceptions import InputError
from labelloop.weak.lf import ABSTAIN


def _gold_codes(gold: Any, item_ids: np.ndarray, classes: Sequence[Any], n: int) -> np.ndarray:
    """Gold as class codes aligned with the items (``-1`` where unknown)."""
    if gold is None:
        return np.full(n, ABSTAIN, dtype=np.int64)
    if isinstance(gold, pd.Series):
        gold = gold.to_dict()
    if isinstance(gold, Mapping):
        pos = {c: k for k, c in enumerate(classes)}
        pos.update({str(c): k for k, c in enumerate(classes)})
        out = np.full(n, ABSTAIN, dtype=np.int64)
        index = {v: i for i, v in enumerate(item_ids.tolist())}
        index.update({str(v): i for i, v in enumerate(item_ids.tolist())})
        for item, lab in gold.items():
            i = index.get(item, index.get(str(item)))
            if i is None or lab is None:
                continue
            code = pos.get(lab, pos.get(str(lab)))
            if code is None:
                raise InputError(f"gold label {lab!r} of item {item!r} is not one of the classes {list(classes)}")
            out[i] = code
        return out
    g = np.asarray(gold)
    if g.shape != (n,):
        raise InputError(f"gold must hold one label per item ({n}), got shape {g.shape}")
    if np.issubdtype(g.dtype, np.integer):
        return g.astype(np.int64)
    return _gold_codes(dict(zip(item_ids.tolist(), g.tolist(), strict=True)), item_ids, classes, n)


def lf_summary(
    L: Any,
    *,
    gold: Any = None,
    lf_names: Sequence[str] | None = None,
    classes: Sequence[Any] | None = None,
) -> pd.DataFrame:
    """Per-LF statistics as a DataFrame indexed by LF name.

    ``L``: the applier's :class:`~labelloop.weak.apply.LFOutputs` or a dense items x LFs int
    matrix (``-1`` = abstain). ``gold``: class codes per item (``-1`` unknown), labels per item,
    or a mapping item id -> label (multi-label: item id -> list of tags); only items with gold
    count for accuracy.
    """
    if hasattr(L, "lf_names") and hasattr(L, "task"):
        if L.task == "multi":
            return _multi_summary(L, gold)
        names, classes, item_ids, M = list(L.lf_names), list(L.classes), L.item_ids, L.L
    else:
        M = np.asarray(L)
        if M.ndim != 2 or not np.issubdtype(M.dtype, np.integer):
            raise InputError("L must be an items x LFs integer matrix (-1 = abstain)")
        names = list(lf_names) if lf_names is not None else [f"lf_{j}" for j in range(M.shape[1])]
        k = int(M.max()) + 1 if M.size and M.max() >= 0 else 2
        classes = list(classes) if classes is not None else list(range(max(k, 2)))
        item_ids = np.arange(M.shape[0]).astype(object)
    n, m = M.shape
    if len(names) != m:
        raise InputError(f"{len(names)} LF names for {m} LF columns")
    V = M != ABSTAIN
    nv = V.sum(axis=1)
    # conflicts: another LF on the same item votes a different label
    K = len(classes)
    per_class = np.stack([(M == k).sum(axis=1) for k in range(K)], axis=1) if K else np.zeros((n, 0))
    df = pd.DataFrame(index=pd.Index(names, name="lf"))
    df["polarity"] = [", ".join(str(classes[c]) for c in np.unique(M[V[:, j], j])) for j in range(m)]
    df["coverage"] = V.mean(axis=0)
    df["overlaps"] = (V & (nv[:, None] > 1)).mean(axis=0)
    conf = np.zeros(m)
    for j in range(m):
        rows = np.flatnonzero(V[:, j])
        if rows.size:
            same = per_class[rows, M[rows, j]]
            conf[j] = float((nv[rows] - same > 0).sum()) / n
    df["conflicts"] = conf
    if gold is not None:
        g = _gold_codes(gold, np.asarray(item_ids, dtype=object), classes, n)
        known = g >= 0
        correct = ((M == g[:, None]) & V & known[:, None]).sum(axis=0)
        incorrect = ((M != g[:, None]) & V & known[:, None]).sum(axis=0)
        df["correct"] = correct
        df["incorrect"] = incorrect
        with np.errstate(invalid="ignore", divide="ignore"):
            df["emp_accuracy"] = np.where(correct + incorrect > 0, correct / (correct + incorrect), np.nan)
    return df


def _multi_summary(out: Any, gold: Any) -> pd.DataFrame:
    names = list(out.lf_names)
    n, m = out.n_items, out.n_lfs
    V = out.L == 1
    nv = V.sum(axis=1)
    votes = out.votes()
    # per item and tag: which LFs vote 1 and which vote 0
    conflict_item = np.zeros((n, m), dtype=bool)
    for t in votes.tags:
        vm = votes.per_tag[t]
        if vm.n_votes == 0:
            continue
        pos = np.zeros(n, dtype=np.int64)
        neg = np.zeros(n, dtype=np.int64)
        np.add.at(pos, vm.item_idx[vm.labels == 1], 1)
        np.add.at(neg, vm.item_idx[vm.labels == 0], 1)
        opp = np.where(vm.labels == 1, neg[vm.item_idx], pos[vm.item_idx]) > 0
        conflict_item[vm.item_idx[opp], vm.source_idx[opp]] = True
    df = pd.DataFrame(index=pd.Index(names, name="lf"))
    pol = []
    for j in range(m):
        tags = sorted(set().union(*[s for s in out.sets[j] if s is not None])) if V[:, j].any() else []
        pol.append(", ".join(tags[:4]) + (f" (+{len(tags) - 4})" if len(tags) > 4 else ""))
    df["polarity"] = pol
    df["coverage"] = V.mean(axis=0)
    df["overlaps"] = (V & (nv[:, None] > 1)).mean(axis=0)
    df["conflicts"] = conflict_item.mean(axis=0)
    if gold is not None:
        if isinstance(gold, pd.Series):
            gold = gold.to_dict()
        if isinstance(gold, Mapping):
            index = {str(v): i for i, v in enumerate(out.item_ids.tolist())}
            gsets: list[set | None] = [None] * n
            for item, tags in gold.items():
                i = index.get(str(item))
                if i is not None and tags is not None:
                    gsets[i] = set(tags)
        else:
            if len(gold) != n:
                raise InputError(f"gold must hold one tag list per item ({n})")
            gsets = [None if g is None else set(g) for g in gold]
        correct = np.zeros(m, dtype=np.int64)
        incorrect = np.zeros(m, dtype=np.int64)
        for j in range(m):
            for i, s in enumerate(out.sets[j]):
                if s is None or gsets[i] is None:
                    continue
                hit = len(s & gsets[i])
                correct[j] += hit
                incorrect[j] += len(s) - hit
        df["correct"] = correct
        df["incorrect"] = incorrect
        with np.errstate(invalid="ignore", divide="ignore"):
            df["emp_accuracy"] = np.where(correct + incorrect > 0, correct / (correct + incorrect), np.nan)
    return df


def overall(df: pd.DataFrame, L: Any) -> dict[str, float]:
    """Totals over all LFs: share of items with at least one / two votes, and with a conflict."""
    M = L.L if hasattr(L, "L") else np.asarray(L)
    V = M != ABSTAIN
    nv = V.sum(axis=1)
    out = {"n_items": int(M.shape[0]), "n_lfs": int(M.shape[1]),
           "coverage": float((nv > 0).mean()), "overlaps": float((nv > 1).mean())}
    if not (hasattr(L, "task") and L.task == "multi"):
        mx = np.where(V, M, ABSTAIN)
        lo = np.where(V, M, np.iinfo(np.int64).max).min(axis=1)
        out["conflicts"] = float(((nv > 1) & (lo != mx.max(axis=1))).mean())
    return out


_PCT = ("coverage", "overlaps", "conflicts", "emp_accuracy")


def _fmt(col: str, v: Any) -> str:
    if col in _PCT:
        return "-" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{100 * float(v):.1f}%"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    return str(v)


def summary_table(df: pd.DataFrame, *, title: str = "Labeling functions"):
    """A rich Table of :func:`lf_summary` for the terminal."""
    from rich.table import Table

    table = Table(title=title, show_lines=False)
    table.add_column("lf", style="bold")
    for c in df.columns:
        table.add_column(c, justify="left" if c == "polarity" else "right")
    for name, row in df.iterrows():
        table.add_row(str(name), *[_fmt(c, row[c]) for c in df.columns])
    return table


def summary_html(df: pd.DataFrame, *, title: str = "Labeling functions") -> str:
    """An HTML fragment (``<section>`` with a ``<table>``) of :func:`lf_summary` for the report."""
    head = "".join(f"<th>{html.escape(c)}</th>" for c in ["lf", *df.columns])
    body = []
    for name, row in df.iterrows():
        cells = "".join(
            f'<td class="{"num" if c != "polarity" else "text"}">{html.escape(_fmt(c, row[c]))}</td>' for c in df.columns
        )
        body.append(f"<tr><td class=\"text\">{html.escape(str(name))}</td>{cells}</tr>")
    return (
        f'<section class="lf-summary"><h2>{html.escape(title)}</h2>\n'
        f'<table class="lf-summary"><thead><tr>{head}</tr></thead>\n<tbody>\n'
        + "\n".join(body)
        + "\n</tbody></table></section>\n"
    )
