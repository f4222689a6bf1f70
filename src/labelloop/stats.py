"""Project statistics: items, votes, label distribution, imbalance, sources."""

from __future__ import annotations

from typing import Any


def project_stats(project) -> dict[str, Any]:
    from labelloop.store import repo

    with project.session() as s:
        items = repo.count_items(s, project.id)
        votes = repo.count_votes(s, project.id)
        labels = repo.label_counts(s, project.id)
        sources = repo.sources_frame(s, project.id)
        n_final = len(repo.labels_frame(s, project.id))
    counts = [c for c in labels.values() if c > 0]
    imbalance = (max(counts) / min(counts)) if counts else None
    by_kind: dict[str, int] = {}
    for kind, n in zip(sources["kind"], sources["votes"], strict=True):
        by_kind[kind] = by_kind.get(kind, 0) + int(n)
    schema = project.schema
    return {
        "project": project.name,
        "task": project.task,
        "data": project.data_type,
        "items": int(items),
        "votes": int(votes),
        "labelled_items": int(n_final),
        "labels": labels,
        "classes": list(schema.classes),
        "imbalance_ratio": None if imbalance is None else round(float(imbalance), 3),
        "sources": [
            {"name": r.name, "kind": r.kind, "version": r.version, "votes": int(r.votes)} for r in sources.itertuples()
        ],
        "votes_by_kind": by_kind,
        "taxonomy_tags": len(schema.taxonomy) if schema.taxonomy is not None else 0,
    }
