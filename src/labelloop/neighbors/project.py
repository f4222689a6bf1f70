"""Seed candidates on a project: a seeds file of ``id,label`` (external ids) ranks the rest."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from labelloop.exceptions import InputError, MissingColumnError


def read_seeds(path: str | os.PathLike) -> tuple[list[str], list[str]]:
    """``(external_ids, labels)`` from a CSV with columns ``id,label``."""
    import pandas as pd

    p = Path(path)
    if not p.exists():
        raise InputError("seeds file not found", path=p)
    try:
        df = pd.read_csv(p, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the seeds CSV: {exc}", path=p) from None
    cols = {c.strip().lower(): c for c in df.columns}
    for need in ("id", "label"):
        if need not in cols:
            raise MissingColumnError(f"the seeds file needs columns id,label; it has {', '.join(df.columns)}", path=p)
    ids = df[cols["id"]].str.strip().tolist()
    labels = df[cols["label"]].str.strip().tolist()
    bad = [i + 2 for i, (a, b) in enumerate(zip(ids, labels, strict=True)) if not a or not b]
    if bad:
        raise InputError("empty id or label", path=p, line=bad[0])
    if not ids:
        raise InputError("the seeds file has no rows", path=p)
    return ids, labels


def similar_project(proj, seeds: str | os.PathLike, *, top: int = 50, model: str | None = None, method: str = "knn", target_recall: float = 0.95, write_priorities: bool = True) -> dict:
    """Candidates per label and dissimilar items, by external id; also queued in the store.

    Candidates get queue priority ``1 + score`` (reason ``seed:LABEL``) so they come first in
    the labelling queue, best first.
    """
    from labelloop.embed.project import load_vectors
    from labelloop.neighbors.seeds import SeedCandidates
    from labelloop.store import repo

    seed_ids, seed_labels = read_seeds(seeds)
    pv = load_vectors(proj, model)
    with proj.session() as s:
        items = repo.items_frame(s, proj.id)[["item_id", "external_id"]]
    ext_of = dict(zip(items.item_id.tolist(), items.external_id.astype(str).tolist(), strict=True))
    ext_ids = [ext_of[int(i)] for i in pv.item_ids.tolist()]
    pos = {e: i for i, e in enumerate(ext_ids)}
    unknown = [e for e in seed_ids if e not in pos]
    if unknown:
        raise InputError(f"seed ids not in the project: {unknown[:5]}", path=seeds)
    if proj.schema.classes:
        allowed = set(proj.schema.classes)
        stray = sorted({lab for lab in seed_labels if lab not in allowed})
        if stray:
            from labelloop.exceptions import SchemaError

            raise SchemaError(f"seed labels not in the project's classes ({', '.join(proj.schema.classes)}): {', '.join(stray)}")
    x = np.asarray(pv.vectors, dtype=np.float32)
    rows = np.array([pos[e] for e in seed_ids], dtype=np.int64)
    model_ = SeedCandidates(method=method, target_recall=target_recall).fit(x[rows], seed_labels)
    res = model_.candidates(x, ext_ids, top=top, exclude=seed_ids)
    if write_priorities:
        iid_of = {e: int(i) for e, i in zip(ext_ids, pv.item_ids.tolist(), strict=True)}
        with proj.session() as s:
            for label, cands in res["candidates"].items():
                if cands:
                    repo.set_priorities(s, proj.id, [iid_of[e] for e, _ in cands], [1.0 + sc for _, sc in cands], f"seed:{label}")
    return {
        "candidates": {label: [[e, round(float(sc), 6)] for e, sc in cands] for label, cands in res["candidates"].items()},
        "dissimilar": res["dissimilar"],
        "threshold": res["threshold"],
        "model": pv.model,
    }
