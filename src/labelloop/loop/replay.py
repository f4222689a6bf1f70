"""Replay real crowd work with dynamic overlap.

Given an answers table (``question, worker, answer``) and the truth, :func:`replay` shuffles
each item's real answers into a random order, reveals ``min_answers`` per item, then in waves
asks for one more answer only for the items whose aggregate is least confident (below
``confidence``), refitting the aggregator after each wave. It records answers used vs accuracy
against the truth, so one can read how many answers a target accuracy really needs.

The aggregator is pluggable: any callable ``(VoteMatrix) -> (codes, confidence)`` per item, or
a name understood by :func:`labelloop.aggregate.get_aggregator` (``ds`` by default).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from labelloop.exceptions import InputError
from labelloop.loop._threads import single_threaded


def read_csv_table(path, what: str = "table") -> pd.DataFrame:
    """Read an answers or truth CSV, turning pandas' errors into an :class:`InputError`."""
    from pathlib import Path

    from labelloop.exceptions import EmptyInputError

    p = Path(path)
    if not p.exists():
        raise InputError(f"{what} file not found", path=p)
    try:
        df = pd.read_csv(p)
    except pd.errors.EmptyDataError:
        raise EmptyInputError(f"{what} file is empty", path=p) from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot parse {what} as CSV: {exc}", path=p) from exc
    if len(df) == 0:
        raise EmptyInputError(f"{what} file has no rows", path=p)
    return df


def make_aggregator(method: str | Callable = "ds", **params) -> Callable:
    """A callable ``(VoteMatrix) -> (codes, confidence)`` from a method name or a callable."""
    if callable(method):
        return method

    def agg(vm):
        import warnings

        from labelloop.aggregate import get_aggregator
        from labelloop.exceptions import ConvergenceWarning

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            est = get_aggregator(method, **params).fit(vm)
        return np.asarray(est.codes_), np.asarray(est.confidence_)

    return agg


@dataclass
class ReplayResult:
    curve: list[list[float]]
    total_answers: int
    full_accuracy: float
    n_items: int
    waves: list[dict[str, Any]] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)

    def answers_to_reach(self, accuracy: float) -> int | None:
        for n, acc in self.curve:
            if acc >= accuracy - 1e-12:
                return int(n)
        return None

    def to_dict(self) -> dict[str, Any]:
        reach = self.answers_to_reach(self.full_accuracy)
        return {
            "curve": self.curve,
            "total_answers": self.total_answers,
            "full_accuracy": self.full_accuracy,
            "answers_to_full_accuracy": reach,
            "share_of_answers": None if reach is None else reach / self.total_answers,
            "n_items": self.n_items,
            "waves": self.waves,
            "params": self.params,
        }


def _truth_codes(vm, truth: pd.DataFrame) -> np.ndarray:
    from labelloop.votes import TASK_COLUMNS, TRUTH_COLUMNS, _pick

    t = _pick(truth.columns, TASK_COLUMNS, "truth task", None)
    lab = _pick(truth.columns, TRUTH_COLUMNS, "truth label", None)
    lookup = {str(c): i for i, c in enumerate(vm.classes)}
    pos = {str(it): i for i, it in enumerate(vm.items.tolist())}
    out = np.full(vm.n_items, -1, dtype=np.int64)
    for item, label in zip(truth[t].tolist(), truth[lab].tolist(), strict=True):
        p = pos.get(str(item))
        if p is None:
            continue
        code = lookup.get(str(label))
        out[p] = -2 if code is None else code  # -2: a truth no answer ever gave (always wrong)
    if not (out != -1).any():
        raise InputError("no item of the truth table appears in the answers table; check the task ids")
    return out


@single_threaded
def replay(
    answers: pd.DataFrame,
    truth: pd.DataFrame,
    *,
    aggregator: str | Callable = "ds",
    min_answers: int = 3,
    confidence: float = 0.9999,
    batch: int | None = None,
    max_answers: int | None = None,
    max_per_item: int | None = None,
    selector: str | Callable | None = None,
    random_state: int = 0,
    show_progress: bool | None = None,
) -> ReplayResult:
    """Replay ``answers`` in random order with dynamic overlap; see the module docstring.

    ``batch``: at most this many items get another answer per wave (the least confident first;
    default: a tenth of the items). ``max_answers``: stop after this many answers.
    ``max_per_item``: never reveal more answers than this for one item (items that stay
    uncertain after many answers are often ambiguous; the budget goes further elsewhere).
    ``selector``: another aggregator whose confidence decides which items get more answers
    (default: the same one that produces the labels).
    """
    from labelloop.progress import progress
    from labelloop.votes import VoteMatrix

    if min_answers < 1:
        raise InputError("min_answers must be at least 1")
    if not 0.0 < confidence <= 1.0:
        raise InputError(f"confidence must be in (0, 1], got {confidence}")
    vm = VoteMatrix.from_answers(answers)
    truth_codes = _truth_codes(vm, truth)
    scored = truth_codes != -1
    agg = make_aggregator(aggregator)
    sel = None if selector is None else make_aggregator(selector)
    rng = np.random.default_rng(random_state)
    n_items = vm.n_items
    batch = max(1, n_items // 10) if batch is None else int(batch)
    if batch < 1:
        raise InputError("batch must be at least 1")

    # each item's answers in a random order: position of every vote in its item's queue
    perm = rng.permutation(vm.n_votes)
    order = perm[np.argsort(vm.item_idx[perm], kind="stable")]
    counts = np.bincount(vm.item_idx, minlength=n_items)
    starts = np.r_[0, np.cumsum(counts)[:-1]]
    rank = np.empty(vm.n_votes, dtype=np.int64)
    rank[order] = np.arange(vm.n_votes) - np.repeat(starts, counts)
    revealed = np.minimum(counts, min_answers)  # answers revealed per item
    limit = counts if max_per_item is None else np.minimum(counts, max(int(max_per_item), min_answers))

    def accuracy(codes: np.ndarray) -> float:
        return float(np.mean(codes[scored] == truth_codes[scored]))

    full_codes, _ = agg(vm)
    full_acc = accuracy(full_codes)
    cap = vm.n_votes if max_answers is None else min(int(max_answers), vm.n_votes)
    curve: list[list[float]] = []
    waves: list[dict[str, Any]] = []
    bar = progress(total=vm.n_votes, desc="replay", unit="answer",
                   disable=None if show_progress is None else not show_progress)
    while True:
        mask = rank < revealed[vm.item_idx]
        used = int(mask.sum())
        sub = vm.subset_votes(mask)
        codes, conf = agg(sub)
        if sel is not None:
            conf = sel(sub)[1]
        acc = accuracy(codes)
        curve.append([used, round(acc, 6)])
        bar.n = used
        bar.refresh()
        open_ = (conf < confidence) & (revealed < limit)
        waves.append({"answers_used": used, "accuracy": round(acc, 6), "uncertain_items": int(open_.sum())})
        if not open_.any() or used >= cap:
            break
        cand = np.flatnonzero(open_)
        take = cand[np.argsort(conf[cand], kind="stable")[: min(batch, cap - used)]]
        revealed[take] += 1
    bar.close()
    return ReplayResult(
        curve=curve,
        total_answers=int(vm.n_votes),
        full_accuracy=round(full_acc, 6),
        n_items=int(n_items),
        waves=waves,
        params={"aggregator": aggregator if isinstance(aggregator, str) else getattr(aggregator, "__name__", "custom"),
                "min_answers": min_answers, "max_per_item": max_per_item, "confidence": confidence, "batch": batch, "seed": random_state},
    )
