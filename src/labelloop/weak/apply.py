"""Apply labeling functions to data: a DataFrame, an iterable of records, or a project.

Vectorised LFs (the factories') label the whole table at once; the others run record by record,
over several processes with ``n_jobs > 1``. An LF that raises (or returns a label outside the
classes) on a record is a :class:`LFFailure` naming the LF and the record id: ``strict=True``
stops at the first one with a :class:`~labelloop.exceptions.LabelingFunctionError`; the default
records it, counts the vote as an abstain and goes on.
"""

from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from labelloop.exceptions import EmptyInputError, InputError, LabelingFunctionError
from labelloop.progress import progress
from labelloop.votes import MultiLabelVotes, VoteMatrix
from labelloop.weak.lf import ABSTAIN, LabelingFunction, Record, check_unique_names

_ID_COLUMNS = ("id", "item_id", "external_id", "COMMENT_ID", "comment_id")


@dataclass(frozen=True)
class LFFailure:
    """One record on which one LF failed."""

    lf: str
    record_id: Any
    row: int
    error: str

    def __str__(self) -> str:
        return f"labeling function '{self.lf}' failed on record {self.record_id!r}: {self.error}"


@dataclass
class LFOutputs:
    """What :func:`apply_lfs` returns.

    Single-label: ``L`` is the items x LFs int matrix of class codes (``-1`` = abstain), codes
    index ``classes``. Multi-label: ``sets[j][i]`` is the frozenset of tags LF ``j`` gave item
    ``i`` (``None`` = abstain), ``classes`` is the tag list, and :meth:`votes` gives one binary
    vote matrix per tag; ``L`` then holds ``1`` where the LF fired and ``-1`` elsewhere.
    """

    lf_names: list[str]
    item_ids: np.ndarray
    task: str
    classes: list[Any]
    L: np.ndarray
    sets: list[list[frozenset | None]] | None = None
    lf_tags: list[tuple[str, ...] | None] = field(default_factory=list)
    failures: list[LFFailure] = field(default_factory=list)

    @property
    def n_items(self) -> int:
        return int(self.L.shape[0])

    @property
    def n_lfs(self) -> int:
        return int(self.L.shape[1])

    def votes(self) -> VoteMatrix | MultiLabelVotes:
        """The votes as the aggregation engine reads them (sources named ``lf:<name>``)."""
        sources = np.array([f"lf:{n}" for n in self.lf_names], dtype=object)
        if self.task == "single":
            return VoteMatrix.from_dense(self.L, classes=self.classes, items=self.item_ids, sources=sources)
        return multilabel_votes(self.sets or [], self.lf_tags, self.classes, self.item_ids, sources)

    def to_frame(self) -> pd.DataFrame:
        """Long table: one row per non-abstain vote (``item_id, lf, label``)."""
        rows = []
        for j, name in enumerate(self.lf_names):
            if self.task == "single":
                for i in np.flatnonzero(self.L[:, j] != ABSTAIN):
                    rows.append((self.item_ids[i], name, self.classes[self.L[i, j]]))
            else:
                for i, s in enumerate(self.sets[j]):
                    if s is not None:
                        rows.append((self.item_ids[i], name, sorted(s)))
        return pd.DataFrame(rows, columns=["item_id", "lf", "label"])


def multilabel_votes(sets, lf_tags, tags, item_ids, sources) -> MultiLabelVotes:
    """Per-tag binary votes: an LF that fired votes 1 for each tag it gave and 0 for the other
    tags it declares (``lf.tags``); it casts no vote on tags it never speaks about."""
    pos = {t: k for k, t in enumerate(tags)}
    it: list[list[int]] = [[] for _ in tags]
    src: list[list[int]] = [[] for _ in tags]
    lab: list[list[int]] = [[] for _ in tags]
    for j, col in enumerate(sets):
        declared = [pos[t] for t in (lf_tags[j] or ()) if t in pos]
        for i, s in enumerate(col):
            if s is None:
                continue
            given = {pos[t] for t in s if t in pos}
            for k in given:
                it[k].append(i)
                src[k].append(j)
                lab[k].append(1)
            for k in declared:
                if k not in given:
                    it[k].append(i)
                    src[k].append(j)
                    lab[k].append(0)
    items = np.asarray(item_ids, dtype=object)
    per_tag = {
        t: VoteMatrix(np.array(it[k], dtype=np.int64), np.array(src[k], dtype=np.int64),
                      np.array(lab[k], dtype=np.int64), items, sources, [0, 1])
        for t, k in pos.items()
    }
    return MultiLabelVotes(tags=list(tags), per_tag=per_tag, items=items, sources=np.asarray(sources, dtype=object))


# ------------------------------------------------------------------------------ input
def _to_frame(data: Any, id_col: str | None) -> tuple[pd.DataFrame, np.ndarray]:
    if isinstance(data, pd.DataFrame):
        df = data.reset_index(drop=True)
    elif isinstance(data, (str, bytes)) or not isinstance(data, Iterable):
        raise InputError("data must be a DataFrame or an iterable of records (dicts or strings)")
    else:
        rows = []
        for r in data:
            if isinstance(r, str):
                rows.append({"text": r})
            elif isinstance(r, dict):
                rows.append(r)
            elif hasattr(r, "_asdict"):
                rows.append(r._asdict())
            elif hasattr(r, "to_dict"):
                rows.append(r.to_dict())
            else:
                raise InputError(f"cannot read a record from {type(r).__name__}; give dicts or strings")
        df = pd.DataFrame(rows)
    if len(df) == 0:
        raise EmptyInputError("no records to label")
    if id_col is not None:
        if id_col not in df.columns:
            raise InputError(f"id column '{id_col}' not found; columns: {', '.join(map(str, df.columns))}")
        ids = df[id_col].to_numpy(dtype=object)
    else:
        found = next((c for c in _ID_COLUMNS if c in df.columns), None)
        ids = df[found].to_numpy(dtype=object) if found else np.arange(len(df)).astype(object)
    return df, ids


# ------------------------------------------------------------------------------ per-record work
_WORK: dict[str, Any] = {}


def _run_rows(lo: int, hi: int) -> tuple[int, list[list[Any]], list[tuple[int, int, str]]]:
    """Apply every per-record LF to rows [lo, hi) (runs in a worker after fork)."""
    lfs: list[LabelingFunction] = _WORK["lfs"]
    records: list[dict] = _WORK["records"]
    strict: bool = _WORK["strict"]
    outs = [[ABSTAIN] * (hi - lo) for _ in lfs]
    errs: list[tuple[int, int, str]] = []
    for i in range(lo, hi):
        rec = Record(records[i])
        for j, lf in enumerate(lfs):
            try:
                outs[j][i - lo] = lf(rec)
            except Exception as exc:  # an LF is user code: any error is reported, not raised
                errs.append((j, i, f"{type(exc).__name__}: {exc}"))
                if strict:
                    return lo, outs, errs
    return lo, outs, errs


def _per_record(lfs, df, strict, n_jobs, ids) -> tuple[list[list[Any]], list[tuple[int, int, str]]]:
    records = df.to_dict("records")
    n = len(records)
    _WORK.update(lfs=lfs, records=records, strict=strict)
    try:
        use_pool = n_jobs > 1 and n >= 2 * n_jobs and "fork" in mp.get_all_start_methods()
        chunk = max(1, min(2000, -(-n // (n_jobs * 4)))) if use_pool else max(1, min(500, n))
        bounds = [(lo, min(n, lo + chunk)) for lo in range(0, n, chunk)]
        outs: list[list[Any]] = [[ABSTAIN] * n for _ in lfs]
        errs: list[tuple[int, int, str]] = []
        bar = progress(total=n, desc="labeling functions", unit="rec")
        try:
            if use_pool:
                from concurrent.futures import ProcessPoolExecutor

                with ProcessPoolExecutor(n_jobs, mp_context=mp.get_context("fork")) as ex:
                    futs = [ex.submit(_run_rows, lo, hi) for lo, hi in bounds]
                    results = []
                    for (lo, hi), f in zip(bounds, futs, strict=True):
                        results.append(f.result())
                        bar.update(hi - lo)
            else:
                results = []
                for lo, hi in bounds:
                    results.append(_run_rows(lo, hi))
                    bar.update(hi - lo)
                    if strict and results[-1][2]:
                        break
        finally:
            bar.close()
        for lo, part, e in results:
            for j, col in enumerate(part):
                outs[j][lo : lo + len(col)] = col
            errs.extend(e)
        return outs, sorted(errs, key=lambda t: (t[1], t[0]))
    finally:
        _WORK.clear()


# ------------------------------------------------------------------------------ encoding
def _is_abstain(v: Any) -> bool:
    if v is None:
        return True
    if isinstance(v, (int, np.integer)) and not isinstance(v, bool) and int(v) == ABSTAIN:
        return True
    if isinstance(v, (set, frozenset, list, tuple)) and len(v) == 0:
        return True
    return False


def _py(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v


class _Encoder:
    def __init__(self, task: str, classes: Sequence[Any] | None):
        self.task = task
        self.learn = classes is None
        self.classes: list[Any] = [] if classes is None else [_py(c) for c in classes]
        self.pos = {c: i for i, c in enumerate(self.classes)}
        self.int_classes = bool(self.classes) and all(isinstance(c, (int, np.integer)) for c in self.classes)

    def single(self, v: Any) -> int:
        v = _py(v)
        if isinstance(v, (set, frozenset, list, tuple)):
            raise ValueError(f"returned several labels {sorted(map(str, v))} in a single-label task")
        code = self.pos.get(v)
        if code is not None:
            return code
        if not self.learn and isinstance(v, int) and not self.int_classes and 0 <= v < len(self.classes):
            return v  # an integer class code
        if self.learn:
            self.pos[v] = len(self.classes)
            self.classes.append(v)
            return self.pos[v]
        raise ValueError(f"returned label {v!r}, which is not one of the classes {self.classes}")

    def multi(self, v: Any) -> frozenset:
        tags = {v} if isinstance(v, str) else set(v) if isinstance(v, (set, frozenset, list, tuple)) else None
        if tags is None:
            raise ValueError(f"returned {v!r}; a multi-label LF returns a set of tags or ABSTAIN")
        tags = {str(_py(t)) for t in tags}
        unknown = [t for t in tags if t not in self.pos]
        if unknown:
            if not self.learn:
                raise ValueError(f"returned tags {sorted(unknown)} that are not in the tag list")
            for t in sorted(unknown):
                self.pos[t] = len(self.classes)
                self.classes.append(t)
        return frozenset(tags)


# ------------------------------------------------------------------------------ public
def apply_lfs(
    lfs: Sequence[LabelingFunction],
    data: Any,
    *,
    task: str = "single",
    classes: Sequence[Any] | None = None,
    id_col: str | None = None,
    strict: bool = False,
    n_jobs: int = 1,
) -> LFOutputs:
    """Apply ``lfs`` to ``data`` (a DataFrame, or an iterable of dicts or strings).

    ``classes``: the class values (single-label) or tags (multi-label); an LF may return a value
    or its integer code. Without it, classes are learned from what the LFs return (and from the
    tags multi-label LFs declare). ``id_col`` names the record id column used in failure
    reports (default: ``id``/``item_id``/... if present, else the row number). ``n_jobs``: worker
    processes for the LFs that have no vectorised form (``-1`` = all cores).
    """
    if task not in ("single", "multi"):
        raise InputError(f"task must be 'single' or 'multi', got {task!r}")
    lfs = list(lfs)
    if not lfs:
        raise InputError("no labeling functions given")
    check_unique_names(lfs)
    if n_jobs == -1:
        n_jobs = os.cpu_count() or 1
    if n_jobs < 1:
        raise InputError(f"n_jobs must be >= 1 or -1, got {n_jobs}")
    df, ids = _to_frame(data, id_col)
    n, m = len(df), len(lfs)
    raw: list[list[Any] | None] = [None] * m
    fail: list[tuple[int, int, str]] = []

    vec_idx = [j for j, lf in enumerate(lfs) if lf.vectorized is not None and not lf.pre]
    rec_idx = [j for j in range(m) if j not in set(vec_idx)]
    if vec_idx:
        bar = progress(total=len(vec_idx), desc="vectorised LFs", unit="lf")
        try:
            for j in vec_idx:
                try:
                    out = list(lfs[j].vectorized(df))
                    if len(out) != n:
                        raise ValueError(f"vectorised form gave {len(out)} outputs for {n} records")
                    raw[j] = out
                except Exception:
                    rec_idx.append(j)  # find the failing record(s) one by one
                bar.update(1)
        finally:
            bar.close()
    if rec_idx:
        rec_idx.sort()
        outs, errs = _per_record([lfs[j] for j in rec_idx], df, strict, n_jobs, ids)
        for jj, j in enumerate(rec_idx):
            raw[j] = outs[jj]
        fail.extend((rec_idx[jj], i, e) for jj, i, e in errs)

    enc = _Encoder(task, classes)
    if task == "multi":
        for lf in lfs:  # tags an LF declares are part of the vocabulary
            for t in lf.tags or ():
                if t not in enc.pos and enc.learn:
                    enc.pos[t] = len(enc.classes)
                    enc.classes.append(t)
    L = np.full((n, m), ABSTAIN, dtype=np.int64)
    sets: list[list[frozenset | None]] | None = [[None] * n for _ in range(m)] if task == "multi" else None
    failed = {(j, i) for j, i, _ in fail}
    for j in range(m):
        col = raw[j]
        for i, v in enumerate(col):
            if (j, i) in failed or _is_abstain(v):
                continue
            try:
                if task == "single":
                    L[i, j] = enc.single(v)
                else:
                    sets[j][i] = enc.multi(v)
                    L[i, j] = 1
            except ValueError as exc:
                fail.append((j, i, str(exc)))
                failed.add((j, i))
    failures = [LFFailure(lfs[j].name, _py(ids[i]), i, e) for j, i, e in sorted(fail, key=lambda t: (t[1], t[0]))]
    if strict and failures:
        f = failures[0]
        raise LabelingFunctionError(
            str(f) + " (run without strict mode to record failures and go on)", lf=f.lf, record_id=f.record_id
        )
    classes_out = list(enc.classes)
    if task == "single" and not classes_out:
        classes_out = [0, 1]
    return LFOutputs(
        lf_names=[lf.name for lf in lfs],
        item_ids=ids,
        task=task,
        classes=classes_out,
        L=L,
        sets=sets,
        lf_tags=[lf.tags for lf in lfs],
        failures=failures,
    )


class LFApplier:
    """The applier as an object: ``LFApplier(lfs, task=..., classes=...).apply(df)``."""

    def __init__(self, lfs: Sequence[LabelingFunction], *, task: str = "single",
                 classes: Sequence[Any] | None = None, strict: bool = False, n_jobs: int = 1):
        self.lfs = list(lfs)
        self.task = task
        self.classes = classes
        self.strict = strict
        self.n_jobs = n_jobs

    def apply(self, data: Any, *, id_col: str | None = None) -> LFOutputs:
        return apply_lfs(self.lfs, data, task=self.task, classes=self.classes, id_col=id_col,
                         strict=self.strict, n_jobs=self.n_jobs)
