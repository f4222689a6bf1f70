"""Aggregate a project's votes in its store and write the final labels back.

``aggregate_project(DIR, method="ds")`` reads every vote (``repo.votes_frame``), treats votes of
``gold`` sources as known truths (honeypots) rather than voters, fits the method (per tag, with
the project's taxonomy, for multi-label projects) and replaces the project's final labels
(``repo.write_labels``) with label, confidence and the posterior over classes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from labelloop.exceptions import SchemaError


def gold_from_store(session: Any, project_id: int) -> dict[int, Any]:
    """Known truths per item id: the votes of sources of kind ``gold``."""
    from labelloop.store import repo

    df = repo.votes_frame(session, project_id, kinds=["gold"])
    return dict(zip(df["item_id"].astype(int), df["label"], strict=True))


def aggregate_project(directory: str | Path, *, method: str = "ds", gold: str | Path | None = None, params: dict | None = None) -> dict[str, Any]:
    """Aggregate the votes of the project in ``directory``; returns a summary dict
    (``method``, ``n_items``, ``n_votes``, ``n_sources``, ``mean_confidence``, ``skills``)."""
    from labelloop.aggregate import MultiLabelAggregator, get_aggregator
    from labelloop.project import Project
    from labelloop.store import repo
    from labelloop.votes import MultiLabelVotes, VoteMatrix

    with Project.open(directory) as proj, proj.session() as s:
        schema = proj.schema
        truths = gold_from_store(s, proj.id)
        if gold is not None:
            from labelloop.aggregate.files import read_gold

            g = read_gold(gold)
            ids = repo.item_ids_by_external(s, proj.id, [str(x) for x in g["task"]])
            for ext, lab in zip(g["task"], g["label"], strict=True):
                if str(ext) in ids:
                    truths[ids[str(ext)]] = lab
        if schema.is_multi:
            votes = MultiLabelVotes.from_store(s, proj.id)
            agg = MultiLabelAggregator(method=method, taxonomy=schema.taxonomy, params=params)
            g_ml = {i: (v if isinstance(v, list) else [v]) for i, v in truths.items()}
            agg.fit(votes, gold=g_ml or None)
            frame = agg.to_frame().rename(columns={"task": "item_id"})
            frame["probs"] = [dict(zip(agg.tags_, map(float, row), strict=True)) for row in agg.probas_]
            n_votes = next(iter(votes.per_tag.values())).n_votes if votes.per_tag else 0
            n_sources = len(votes.sources)
            skills = agg.skills_.reset_index()
            name = method
        else:
            vm = VoteMatrix.from_store(s, proj.id, classes=schema.classes or None)
            known = {str(c) for c in vm.classes}
            bad = sorted({str(v) for v in truths.values() if str(v) not in known})
            if bad:
                raise SchemaError(f"gold labels {', '.join(bad[:5])} are not among the project's classes {sorted(known)}")
            est = get_aggregator(method, **(params or {})).fit(vm, gold=truths or None)
            classes = [str(c) for c in est.classes_]
            frame = pd.DataFrame({"item_id": est.items_.astype(int), "label": est.labels_, "confidence": est.confidence_})
            frame["probs"] = [dict(zip(classes, map(float, row), strict=True)) for row in est.probas_]
            # items with a gold answer but no other vote still get their known label
            only_gold = sorted(set(truths) - set(frame["item_id"].tolist()))
            if only_gold:
                extra = pd.DataFrame(
                    {
                        "item_id": only_gold,
                        "label": [truths[i] for i in only_gold],
                        "confidence": 1.0,
                        "probs": [{c: float(c == str(truths[i])) for c in classes} for i in only_gold],
                    }
                )
                frame = pd.concat([frame, extra], ignore_index=True)
            n_votes, n_sources = vm.n_votes, vm.n_sources
            skills = est.skills_.reset_index()
            name = f"auto:{est.chosen_}" if hasattr(est, "chosen_") else est.name
        repo.write_labels(s, proj.id, frame[["item_id", "label", "confidence", "probs"]], method=name)
    return {
        "method": name,
        "n_items": int(len(frame)),
        "n_votes": int(n_votes),
        "n_sources": int(n_sources),
        "n_gold": len(truths),
        "mean_confidence": float(np.mean(frame["confidence"])) if len(frame) else float("nan"),
        "skills": skills,
    }
