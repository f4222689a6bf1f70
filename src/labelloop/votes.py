"""The vote matrix: every label in labelloop is a vote from a source.

A :class:`VoteMatrix` is a sparse items x sources matrix in coordinate form: for each vote, the
item index, the source index and an integer class code (``-1`` = no vote, never stored). Soft
votes (probabilities, e.g. from a model) are kept beside the hard code. Multi-label data is one
binary :class:`VoteMatrix` per tag (:class:`MultiLabelVotes`).

Aggregators, the weak-supervision label model, agreement and quality all read this one
structure; it is built from a DataFrame of answers, from a dense ``L`` matrix, or from the store.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from labelloop.exceptions import EmptyInputError, InputError, MissingColumnError, SchemaError

ABSTAIN = -1

# Accepted column spellings for answers tables (first match wins).
TASK_COLUMNS = ("task", "question", "item", "item_id", "id")
WORKER_COLUMNS = ("worker", "annotator", "source", "worker_id", "user")
LABEL_COLUMNS = ("label", "answer", "value")
TRUTH_COLUMNS = ("label", "truth", "gold", "answer")


def _pick(columns: Sequence[str], wanted: Sequence[str], what: str, path: object | None) -> str:
    lower = {str(c).strip().lower(): c for c in columns}
    for w in wanted:
        if w in lower:
            return lower[w]
    raise MissingColumnError(
        f"no {what} column: expected one of {', '.join(wanted)}; found {', '.join(map(str, columns))}",
        path=path,
    )


@dataclass
class VoteMatrix:
    """Sparse votes (coordinate form) with their item, source and class vocabularies."""

    item_idx: np.ndarray  # int64 [n_votes]
    source_idx: np.ndarray  # int64 [n_votes]
    labels: np.ndarray  # int64 [n_votes], class codes in [0, n_classes)
    items: np.ndarray  # object [n_items], external item ids
    sources: np.ndarray  # object [n_sources]
    classes: list[Any]  # class values, index = code
    soft: np.ndarray | None = None  # float64 [n_votes, n_classes] probabilities, or None
    _csr_cache: dict = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self):
        self.item_idx = np.asarray(self.item_idx, dtype=np.int64)
        self.source_idx = np.asarray(self.source_idx, dtype=np.int64)
        self.labels = np.asarray(self.labels, dtype=np.int64)
        self.items = np.asarray(self.items, dtype=object)
        self.sources = np.asarray(self.sources, dtype=object)
        self.classes = list(self.classes)
        n = self.item_idx.shape[0]
        if self.source_idx.shape[0] != n or self.labels.shape[0] != n:
            raise ValueError("item_idx, source_idx and labels must have the same length")
        if n and (self.labels.min() < 0 or self.labels.max() >= self.n_classes):
            raise SchemaError(f"class codes must lie in [0, {self.n_classes}); -1 votes are not stored")
        if self.soft is not None:
            self.soft = np.asarray(self.soft, dtype=np.float64)
            if self.soft.shape != (n, self.n_classes):
                raise ValueError(f"soft votes must have shape ({n}, {self.n_classes})")

    # ------------------------------------------------------------------ shape
    @property
    def n_votes(self) -> int:
        return int(self.item_idx.shape[0])

    @property
    def n_items(self) -> int:
        return int(self.items.shape[0])

    @property
    def n_sources(self) -> int:
        return int(self.sources.shape[0])

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    def __repr__(self) -> str:
        return (
            f"VoteMatrix(items={self.n_items}, sources={self.n_sources}, "
            f"classes={self.n_classes}, votes={self.n_votes}{', soft' if self.soft is not None else ''})"
        )

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_dense(
        cls,
        L: np.ndarray,
        *,
        classes: Sequence[Any] | None = None,
        items: Sequence[Any] | None = None,
        sources: Sequence[Any] | None = None,
        n_classes: int | None = None,
    ) -> VoteMatrix:
        """From an int matrix ``L`` (items x sources, ``-1`` = no vote), e.g. LF outputs."""
        L = np.asarray(L)
        if L.ndim != 2:
            raise InputError(f"L must be a 2-D items x sources matrix, got shape {L.shape}")
        if not np.issubdtype(L.dtype, np.integer):
            if np.issubdtype(L.dtype, np.floating) and np.all(np.isfinite(L)) and np.all(L == np.round(L)):
                L = L.astype(np.int64)
            else:
                raise InputError("L must hold integer class codes (-1 for abstain)")
        if L.size and L.min() < -1:
            raise InputError("L may only hold class codes >= 0 and -1 for abstain")
        if classes is None:
            k = n_classes if n_classes is not None else (int(L.max()) + 1 if L.size and L.max() >= 0 else 2)
            classes = list(range(max(k, 2)))
        elif L.size and L.max() >= len(classes):
            raise SchemaError(f"L holds class code {int(L.max())} but only {len(classes)} classes given")
        rows, cols = np.nonzero(L != ABSTAIN)
        return cls(
            item_idx=rows,
            source_idx=cols,
            labels=L[rows, cols],
            items=np.arange(L.shape[0]) if items is None else items,
            sources=[f"source_{j}" for j in range(L.shape[1])] if sources is None else sources,
            classes=classes,
        )

    @classmethod
    def from_answers(
        cls,
        df: pd.DataFrame,
        *,
        classes: Sequence[Any] | None = None,
        path: object | None = None,
        task_col: str | None = None,
        worker_col: str | None = None,
        label_col: str | None = None,
    ) -> VoteMatrix:
        """From a table ``task, worker, label`` (``question, worker, answer`` also accepted)."""
        if df is None or len(df.columns) == 0 or len(df) == 0:
            raise EmptyInputError("answers table is empty", path=path)
        t = task_col or _pick(df.columns, TASK_COLUMNS, "task", path)
        w = worker_col or _pick(df.columns, WORKER_COLUMNS, "worker", path)
        lab = label_col or _pick(df.columns, LABEL_COLUMNS, "label", path)
        for col, what in ((t, "task"), (w, "worker"), (lab, "label")):
            bad = df[col].isna()
            if bad.all():
                raise InputError(f"{what} column '{col}' is empty (all values missing)", path=path)
            if bad.any():
                first = int(np.flatnonzero(bad.to_numpy())[0])
                raise InputError(
                    f"{what} column '{col}' has {int(bad.sum())} missing values (first at data row {first + 1})",
                    path=path,
                    line=first + 2,
                )
        task_codes, items = pd.factorize(df[t], sort=True)
        worker_codes, sources = pd.factorize(df[w], sort=True)
        if classes is None:
            label_codes, uniq = pd.factorize(df[lab], sort=True)
            classes = list(uniq)
        else:
            classes = list(classes)
            lookup = {c: i for i, c in enumerate(classes)}
            lookup.update({str(c): i for i, c in enumerate(classes)})
            raw = df[lab].tolist()
            label_codes = np.empty(len(raw), dtype=np.int64)
            for i, v in enumerate(raw):
                code = lookup.get(v, lookup.get(str(v)))
                if code is None:
                    raise SchemaError(f"label {v!r} at data row {i + 1} is not one of the classes {classes}")
                label_codes[i] = code
        return cls(
            item_idx=task_codes,
            source_idx=worker_codes,
            labels=label_codes,
            items=np.asarray(items, dtype=object),
            sources=np.asarray(sources, dtype=object),
            classes=classes,
        )

    @classmethod
    def from_store(
        cls,
        session: Any,
        project_id: int,
        *,
        kinds: Sequence[str] | None = None,
        exclude_kinds: Sequence[str] = ("gold",),
        classes: Sequence[Any] | None = None,
    ) -> VoteMatrix:
        """The votes of a single-label project (items are store item ids).

        ``kinds`` keeps only those source kinds; ``exclude_kinds`` drops some (gold answers are
        truths, not voters, by default). Classes default to the project's schema; a vote
        outside them is a SchemaError.
        """
        from labelloop.store import repo

        df = repo.votes_frame(session, project_id, kinds=kinds)
        if exclude_kinds:
            df = df[~df["source_kind"].isin(list(exclude_kinds))]
        if len(df) == 0:
            raise EmptyInputError("the project has no votes to aggregate; import labels or answers first")
        if classes is None:
            schema = repo.get_project(session, project_id).label_schema or {}
            classes = list(schema.get("classes") or []) or None
        if df["label"].map(lambda x: isinstance(x, list)).any():
            raise SchemaError("the project has multi-label votes; use MultiLabelVotes.from_store")
        return cls.from_answers(
            df[["item_id", "source", "label"]].rename(columns={"item_id": "task", "source": "worker"}),
            classes=classes,
        )

    # ------------------------------------------------------------------ views
    def to_dense(self) -> np.ndarray:
        """Items x sources int matrix with ``-1`` for no vote (last vote wins on repeats)."""
        L = np.full((self.n_items, self.n_sources), ABSTAIN, dtype=np.int64)
        L[self.item_idx, self.source_idx] = self.labels
        return L

    def onehot(self) -> sp.csr_matrix:
        """Sparse items x (sources * classes) indicator; soft votes contribute probabilities."""
        key = "onehot"
        if key not in self._csr_cache:
            k = self.n_classes
            if self.soft is None:
                rows, cols = self.item_idx, self.source_idx * k + self.labels
                data = np.ones(self.n_votes)
            else:
                rows = np.repeat(self.item_idx, k)
                cols = (self.source_idx[:, None] * k + np.arange(k)[None, :]).ravel()
                data = self.soft.ravel()
            self._csr_cache[key] = sp.csr_matrix((data, (rows, cols)), shape=(self.n_items, self.n_sources * k))
        return self._csr_cache[key]

    def class_counts(self) -> np.ndarray:
        """Items x classes vote counts (soft votes add their probabilities)."""
        k = self.n_classes
        counts = np.zeros((self.n_items, k))
        if self.soft is None:
            np.add.at(counts, (self.item_idx, self.labels), 1.0)
        else:
            np.add.at(counts, self.item_idx, self.soft)
        return counts

    def vote_probs(self) -> np.ndarray:
        """[n_votes, n_classes] one-hot of hard votes, or the soft probabilities."""
        if self.soft is not None:
            return self.soft
        out = np.zeros((self.n_votes, self.n_classes))
        out[np.arange(self.n_votes), self.labels] = 1.0
        return out

    def votes_per_item(self) -> np.ndarray:
        return np.bincount(self.item_idx, minlength=self.n_items)

    def votes_per_source(self) -> np.ndarray:
        return np.bincount(self.source_idx, minlength=self.n_sources)

    def item_index(self, ids: Sequence[Any]) -> np.ndarray:
        pos = {v: i for i, v in enumerate(self.items.tolist())}
        try:
            return np.array([pos[i] for i in ids], dtype=np.int64)
        except KeyError as exc:
            raise InputError(f"item {exc.args[0]!r} has no votes") from None

    # ------------------------------------------------------------------ combining
    def with_source(self, name: str, probs: np.ndarray, *, items: Sequence[Any] | None = None) -> VoteMatrix:
        """Add a soft-voting source (e.g. a model's ``predict_proba``) as one more voter.

        ``probs`` is [n_items, n_classes] aligned with ``self.items`` (or with ``items``).
        Rows of NaN mean "no vote". Hard votes become one-hot soft votes.
        """
        probs = np.asarray(probs, dtype=np.float64)
        idx = np.arange(self.n_items) if items is None else self.item_index(items)
        if probs.shape != (idx.shape[0], self.n_classes):
            raise InputError(f"probabilities must have shape ({idx.shape[0]}, {self.n_classes}), got {probs.shape}")
        keep = ~np.isnan(probs).any(axis=1)
        idx, probs = idx[keep], probs[keep]
        if np.any(probs < -1e-9) or np.any(np.abs(probs.sum(1) - 1) > 1e-6):
            raise InputError("model probabilities must be non-negative and sum to 1 per row")
        if name in set(self.sources.tolist()):
            raise InputError(f"source '{name}' already votes in this matrix")
        return VoteMatrix(
            item_idx=np.concatenate([self.item_idx, idx]),
            source_idx=np.concatenate([self.source_idx, np.full(idx.shape[0], self.n_sources)]),
            labels=np.concatenate([self.labels, probs.argmax(1)]),
            items=self.items,
            sources=np.append(self.sources, np.array([name], dtype=object)),
            classes=self.classes,
            soft=np.vstack([self.vote_probs(), probs]),
        )

    def with_hard_source(self, name: str, codes: np.ndarray, *, items: Sequence[Any] | None = None) -> VoteMatrix:
        """Add one hard-voting source: ``codes`` (class codes, ``-1`` = no vote) aligned with
        ``self.items`` (or with ``items``)."""
        codes = np.asarray(codes)
        idx = np.arange(self.n_items) if items is None else self.item_index(items)
        if codes.shape != (idx.shape[0],) or not np.issubdtype(codes.dtype, np.integer):
            raise InputError(f"codes must be {idx.shape[0]} integer class codes (-1 = no vote)")
        if codes.size and (codes.min() < -1 or codes.max() >= self.n_classes):
            raise SchemaError(f"class codes must lie in [-1, {self.n_classes})")
        if name in set(self.sources.tolist()):
            raise InputError(f"source '{name}' already votes in this matrix")
        keep = codes >= 0
        idx, codes = idx[keep], codes[keep].astype(np.int64)
        soft = None
        if self.soft is not None:
            add = np.zeros((idx.shape[0], self.n_classes))
            add[np.arange(idx.shape[0]), codes] = 1.0
            soft = np.vstack([self.soft, add])
        return VoteMatrix(
            item_idx=np.concatenate([self.item_idx, idx]),
            source_idx=np.concatenate([self.source_idx, np.full(idx.shape[0], self.n_sources)]),
            labels=np.concatenate([self.labels, codes]),
            items=self.items,
            sources=np.append(self.sources, np.array([name], dtype=object)),
            classes=self.classes,
            soft=soft,
        )

    def subset_votes(self, mask: np.ndarray) -> VoteMatrix:
        """Keep only the votes where ``mask`` is true (same vocabularies)."""
        mask = np.asarray(mask, dtype=bool)
        return VoteMatrix(
            item_idx=self.item_idx[mask],
            source_idx=self.source_idx[mask],
            labels=self.labels[mask],
            items=self.items,
            sources=self.sources,
            classes=self.classes,
            soft=None if self.soft is None else self.soft[mask],
        )


@dataclass
class MultiLabelVotes:
    """One binary :class:`VoteMatrix` per tag (classes ``[0, 1]``), aligned items and sources.

    Built from per-source tag sets: a source that labelled an item votes 1 for each tag it gave
    and 0 for every other tag (it saw the item and did not choose them).
    """

    tags: list[str]
    per_tag: dict[str, VoteMatrix]
    items: np.ndarray
    sources: np.ndarray

    @classmethod
    def from_tag_sets(cls, records: Sequence[tuple[Any, Any, Sequence[str]]], *, tags: Sequence[str] | None = None) -> MultiLabelVotes:
        """``records``: (item, source, tags) triples."""
        if not records:
            raise EmptyInputError("no multi-label votes")
        items, item_codes = np.unique(np.array([r[0] for r in records], dtype=object), return_inverse=True)
        sources, source_codes = np.unique(np.array([r[1] for r in records], dtype=object), return_inverse=True)
        tagsets = [set(r[2]) for r in records]
        all_tags = sorted(set().union(*tagsets)) if tags is None else list(tags)
        per_tag = {}
        for t in all_tags:
            lab = np.fromiter((1 if t in s else 0 for s in tagsets), dtype=np.int64, count=len(tagsets))
            per_tag[t] = VoteMatrix(item_codes, source_codes, lab, items, sources, [0, 1])
        return cls(tags=all_tags, per_tag=per_tag, items=items, sources=sources)


    @classmethod
    def from_store(
        cls,
        session: Any,
        project_id: int,
        *,
        kinds: Sequence[str] | None = None,
        exclude_kinds: Sequence[str] = ("gold",),
        tags: Sequence[str] | None = None,
    ) -> MultiLabelVotes:
        """The votes of a multi-label project (items are store item ids; tags default to the
        project's tag list plus any tag seen in a vote)."""
        from labelloop.store import repo

        df = repo.votes_frame(session, project_id, kinds=kinds)
        if exclude_kinds:
            df = df[~df["source_kind"].isin(list(exclude_kinds))]
        if len(df) == 0:
            raise EmptyInputError("the project has no votes to aggregate; import labels or answers first")
        records = [
            (int(i), src, list(v) if isinstance(v, list) else [v])
            for i, src, v in zip(df["item_id"], df["source"], df["label"], strict=True)
        ]
        if tags is None:
            schema = repo.get_project(session, project_id).label_schema or {}
            seen = sorted({t for r in records for t in r[2]})
            tags = list(dict.fromkeys([*(schema.get("classes") or []), *seen]))
        return cls.from_tag_sets(records, tags=tags)


def read_answers_table(path, **kwargs) -> pd.DataFrame:
    """Read an answers CSV/TSV/JSONL/Parquet file into a DataFrame with clear errors."""
    from labelloop.io.tables import read_table

    return read_table(path, **kwargs)


def to_frame(labels: Mapping[Any, Any]) -> pd.DataFrame:
    return pd.DataFrame({"task": list(labels.keys()), "label": list(labels.values())})
