"""Aggregate answer files: read ``task, worker, label`` tables and gold, write labels and skills.

This is what ``labelloop aggregate ANSWERS.csv`` runs; it is also handy from Python::

    from labelloop.aggregate.files import aggregate_file
    result = aggregate_file("answers.csv", method="ds", gold="gold.csv")
    result.labels.to_csv("labels.csv", index=False)   # task, label, confidence
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from labelloop.aggregate._base import Aggregator
from labelloop.exceptions import EmptyInputError, InputError, SchemaError
from labelloop.votes import VoteMatrix


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV / TSV / JSONL / Parquet table as strings, with clear errors."""
    p = Path(path)
    if not p.exists():
        raise InputError("file not found", path=p)
    if p.is_dir():
        raise InputError("is a folder, not a table of answers (a project folder needs labelloop.toml)", path=p)
    if p.stat().st_size == 0:
        raise EmptyInputError("file is empty", path=p)
    suffix = p.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            df = pd.read_parquet(p).astype("string").astype(object)
        elif suffix in (".jsonl", ".ndjson"):
            df = pd.read_json(p, lines=True, dtype=False).astype("string").astype(object)
        else:
            sep = "\t" if suffix in (".tsv", ".tab") else ","
            df = pd.read_csv(p, sep=sep, dtype=str, skipinitialspace=True)
    except pd.errors.EmptyDataError:
        raise EmptyInputError("file has no columns", path=p) from None
    except (pd.errors.ParserError, ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot parse table: {str(exc).splitlines()[0]}", path=p) from None
    df = df.where(df.notna(), None)
    for c in df.columns:
        if df[c].dtype == object:
            df[c] = df[c].map(lambda x: x.strip() if isinstance(x, str) else x).replace("", None)
    if len(df) == 0:
        raise EmptyInputError("table has a header but no rows", path=p)
    return df


def read_gold(path: str | Path) -> pd.DataFrame:
    """Gold table with ``task, label`` (or ``question, truth``) columns."""
    from labelloop.votes import TASK_COLUMNS, TRUTH_COLUMNS, _pick

    df = read_table(path)
    t = _pick(df.columns, TASK_COLUMNS, "gold task", path)
    lab = _pick(df.columns, TRUTH_COLUMNS, "gold label", path)
    bad = df[t].isna() | df[lab].isna()
    if bad.all():
        raise InputError(f"gold columns '{t}' and '{lab}' hold no complete row", path=path)
    return df.loc[~bad, [t, lab]].rename(columns={t: "task", lab: "label"})


@dataclass
class AggregationResult:
    labels: pd.DataFrame  # task, label, confidence
    skills: pd.DataFrame  # source, skill, accuracy, n_answers
    estimator: Aggregator
    votes: VoteMatrix

    @property
    def method(self) -> str:
        return getattr(self.estimator, "chosen_", None) or self.estimator.name


def aggregate_file(
    answers: str | Path | pd.DataFrame,
    *,
    method: str = "ds",
    gold: str | Path | pd.DataFrame | None = None,
    classes: list[Any] | None = None,
    params: dict[str, Any] | None = None,
) -> AggregationResult:
    """Aggregate an answers table (path or DataFrame) with one method; ``classes`` restricts
    the allowed labels (a label outside them is a SchemaError)."""
    from labelloop.aggregate import get_aggregator

    est = get_aggregator(method, **(params or {}))
    path = answers if not isinstance(answers, pd.DataFrame) else None
    df = answers if isinstance(answers, pd.DataFrame) else read_table(answers)
    vm = VoteMatrix.from_answers(df, classes=classes, path=path)
    gold_df = None
    if gold is not None:
        gold_df = gold if isinstance(gold, pd.DataFrame) else read_gold(gold)
        known = {str(c) for c in vm.classes}
        outside = sorted({str(x) for x in gold_df.iloc[:, 1] if str(x) not in known})
        if outside:
            raise SchemaError(
                f"gold labels {', '.join(outside[:5])} are not among the answer labels {', '.join(sorted(known))}"
            )
    est.fit(vm, gold=gold_df)
    labels = pd.DataFrame({"task": est.items_, "label": est.labels_, "confidence": est.confidence_})
    skills = est.skills_.reset_index()
    return AggregationResult(labels=labels, skills=skills, estimator=est, votes=vm)
