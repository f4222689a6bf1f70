"""Duplicates in a project: equal content, normalised text, near-identical images (verified
after alignment) and, when the project has embeddings, near-duplicate vectors. Groups are reported by external id and saved to
``DIR/dedup/groups.json``; the project settings keep a summary."""

from __future__ import annotations

import json

import numpy as np


def dedup_project(proj, *, threshold: float | None = 0.95, model: str | None = None, phash_distance: int | None = 4, image_threshold: float | str | None = "auto", k: int = 10) -> dict:
    from labelloop.dedup.core import (
        exact_pairs,
        groups_from_pairs,
        image_pairs,
        near_duplicate_pairs,
        text_keys,
    )
    from labelloop.exceptions import ConfigError, InputError
    from labelloop.store import repo

    with proj.session() as s:
        items = repo.items_frame(s, proj.id)
    if items.empty:
        raise InputError(f"project '{proj.name}' has no items; import some first")
    n = len(items)
    ext = items.external_id.astype(str).tolist()
    pairs = {"content": exact_pairs(items.content_hash.astype(str).tolist())}
    if proj.data_type == "image":
        if items.image.notna().all():
            pairs.update(image_pairs(items.image.tolist(), phash_distance=phash_distance, threshold=image_threshold, k=k))
    else:
        pairs["text"] = exact_pairs(text_keys(items.text.fillna("").astype(str).tolist()))
    used_model = None
    if threshold is not None:
        from labelloop.embed.project import load_vectors

        try:
            pv = load_vectors(proj, model)
        except ConfigError:
            if model not in (None, "", "auto"):
                raise
            pv = None  # no embeddings yet: exact evidence only
        if pv is not None:
            row_of = {int(i): r for r, i in enumerate(items.item_id.tolist())}
            rows = np.array([row_of[int(i)] for i in pv.item_ids.tolist()], dtype=np.int64)
            p = near_duplicate_pairs(np.asarray(pv.vectors, dtype=np.float32), threshold=threshold, k=k)
            pairs["embedding"] = rows[p] if p.size else p
            used_model = pv.model
    allp = np.concatenate(list(pairs.values()))
    groups = groups_from_pairs(n, allp)
    out = {"groups": [[ext[i] for i in g] for g in groups]}
    folder = proj.dir / "dedup"
    folder.mkdir(exist_ok=True)
    (folder / "groups.json").write_text(json.dumps(out, indent=1))
    summary = {"groups": len(groups), "items_in_groups": int(sum(len(g) for g in groups)), "threshold": threshold, "model": used_model,
               "image_threshold": image_threshold if proj.data_type == "image" else None,
               "pairs": {k_: int(v.shape[0]) for k_, v in pairs.items()}, "path": "dedup/groups.json"}
    proj.update_settings(dedup=summary)
    return {**out, "summary": summary}
