"""Labeling functions on a project in the store.

- :func:`load_lfs` reads the LFs from a Python file (every :class:`LabelingFunction` it
  defines, or its ``LFS`` list);
- :func:`apply_to_project` applies them to every item and stores each LF's votes as the source
  ``lf:<name>`` (kind ``lf``, the LF's version); re-running replaces those votes;
- :func:`summary_project` analyses the stored LF votes (accuracy against the project's gold
  sources, or a gold file);
- :func:`fit_project` fits the :class:`~labelloop.weak.LabelModel` on the stored LF votes (plus
  the human votes, and gold answers as known truths) and writes the labels with their confidence.

Items are records with fields ``id`` (the external id), ``item_id``, ``text``, ``image`` and
every imported extra field (``x.title``...).
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from labelloop.exceptions import EmptyInputError, InputError
from labelloop.weak.lf import LabelingFunction, check_unique_names, collect_lfs

LF_PREFIX = "lf:"


def load_lfs(path: str | Path) -> list[LabelingFunction]:
    """The labeling functions defined in a Python file (its ``LFS`` list if it has one)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"labeling function file not found: {path}")
    mod_name = f"labelloop_user_lfs_{abs(hash(str(path.resolve())))}"
    spec = importlib.util.spec_from_file_location(mod_name, path)
    if spec is None or spec.loader is None:
        raise InputError(f"cannot load {path} as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[mod_name] = module  # so worker processes and pickling find it
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise InputError(f"{path}: loading the labeling functions failed: {type(exc).__name__}: {exc}") from exc
    ns = vars(module)
    lfs = collect_lfs(ns["LFS"]) if "LFS" in ns else collect_lfs(ns)
    if not lfs:
        raise InputError(f"{path} defines no labeling functions; decorate functions with @labeling_function")
    check_unique_names(lfs)
    return lfs


def _records(items: pd.DataFrame) -> pd.DataFrame:
    """Items as LF records: id (external id), item_id, text, image and the extra fields."""
    df = pd.DataFrame({
        "id": items["external_id"].astype(str).to_numpy(),
        "item_id": items["item_id"].astype(int).to_numpy(),
        "text": items["text"].fillna("").astype(str).to_numpy(),
        "image": items["image"].to_numpy(),
    })
    extra = pd.DataFrame([f if isinstance(f, dict) else {} for f in items["fields"]])
    for c in extra.columns:
        if c not in df.columns:
            df[c] = extra[c].to_numpy()
    return df


def apply_to_project(directory: str | Path, lfs: Sequence[LabelingFunction], *, strict: bool = False,
                     n_jobs: int = 1, prune: bool = False) -> dict[str, Any]:
    """Apply ``lfs`` to every item of the project and store their votes (replacing old ones).

    ``prune``: also delete the votes of stored LF sources that are not among ``lfs`` (an LF
    removed from the file). Returns a report: items, per-LF vote counts, pruned sources, and the
    failures (LF, record id, error).
    """
    from labelloop.project import Project
    from labelloop.store import repo
    from labelloop.weak.apply import apply_lfs

    with Project.open(directory) as proj:
        schema = proj.schema
        with proj.session() as s:
            items = repo.items_frame(s, proj.id)
        if len(items) == 0:
            raise EmptyInputError(f"project '{proj.name}' has no items; import data first")
        recs = _records(items)
        task = "multi" if schema.is_multi else "single"
        classes = None if schema.is_multi or not schema.classes else list(schema.classes)
        out = apply_lfs(lfs, recs, task=task, classes=classes, id_col="id", strict=strict, n_jobs=n_jobs)
        counts: dict[str, int] = {}
        with proj.session() as s:
            if not schema.is_multi and not schema.classes:
                for c in out.classes:
                    schema.normalize(str(c), learn=True)
                proj.save_schema(s, schema)
            for j, lf in enumerate(lfs):
                meta = {"lf_kind": lf.kind, "active": True}
                if lf.tags:
                    meta["tags"] = list(lf.tags)
                src = repo.get_or_create_source(s, proj.id, name=LF_PREFIX + lf.name, kind="lf",
                                                version=lf.version, meta=meta)
                rows = []
                if task == "single":
                    col = out.L[:, j]
                    for i in np.flatnonzero(col >= 0):
                        rows.append((int(recs["item_id"][i]), str(out.classes[col[i]]), None))
                else:
                    for i, tagset in enumerate(out.sets[j]):
                        if tagset is not None:
                            tags = schema.normalize(sorted(tagset), learn=True)
                            if tags:
                                rows.append((int(recs["item_id"][i]), tags, None))
                counts[lf.name] = repo.replace_votes(s, proj.id, src, rows)
            if schema.is_multi:
                proj.save_schema(s, schema)
            pruned = []
            if prune:
                keep = {LF_PREFIX + lf.name for lf in lfs}
                srcs = repo.sources_frame(s, proj.id)
                for name in srcs.loc[(srcs["kind"] == "lf") & ~srcs["name"].isin(keep), "name"]:
                    src = repo.get_or_create_source(s, proj.id, name=name, kind="lf", meta={"active": False})
                    repo.replace_votes(s, proj.id, src, [])
                    pruned.append(name)
        return {
            "project": proj.name,
            "n_items": int(len(recs)),
            "votes": counts,
            "pruned": pruned,
            "failures": [{"lf": f.lf, "record_id": f.record_id, "error": f.error} for f in out.failures],
        }


def _stored(s, proj, schema) -> dict[str, Any]:
    """Stored LF votes (and human votes, gold truths) as matrices aligned with the items."""
    from labelloop.store import repo

    items = repo.items_frame(s, proj.id)
    if len(items) == 0:
        raise EmptyInputError(f"project '{proj.name}' has no items; import data first")
    votes = repo.votes_frame(s, proj.id)
    lf_votes = votes[votes["source_kind"] == "lf"]
    srcs = repo.sources_frame(s, proj.id)
    if len(lf_votes) == 0:
        raise EmptyInputError("the project has no labeling function votes; run `labelloop lf apply` first")
    item_ids = items["item_id"].astype(int).to_numpy()
    row_of = {int(i): r for r, i in enumerate(item_ids)}
    lf_names = []
    for name in sorted(srcs.loc[srcs["kind"] == "lf", "name"].tolist()):
        row = repo.get_or_create_source(s, proj.id, name=name, kind="lf")
        if (row.meta or {}).get("active", True):
            lf_names.append(name)
    lf_votes = lf_votes[lf_votes["source"].isin(lf_names)]
    humans = votes[votes["source_kind"] == "human"]
    human_names = sorted(humans["source"].unique())
    gold_votes = votes[votes["source_kind"] == "gold"]
    n = len(item_ids)
    if schema.is_multi:
        tags = sorted(set(schema.classes) | {t for v in votes["label"] for t in (v or [])})
        pos = {t: k for k, t in enumerate(tags)}
        declared = {}
        for name in lf_names:
            row = repo.get_or_create_source(s, proj.id, name=name, kind="lf")
            declared[name] = list((row.meta or {}).get("tags") or [])

        def cube(frame, names, use_declared):
            C = np.full((n, len(names), len(tags)), -1, dtype=np.int8)
            col = {nm: j for j, nm in enumerate(names)}
            for it, src, lab in zip(frame["item_id"], frame["source"], frame["label"], strict=True):
                r, j = row_of[int(it)], col[src]
                if use_declared:
                    for t in declared.get(src, []):
                        if t in pos:
                            C[r, j, pos[t]] = 0
                else:
                    C[r, j, :] = 0
                for t in lab or []:
                    if t in pos:
                        C[r, j, pos[t]] = 1
            return C

        L = cube(lf_votes, lf_names, True)
        H = cube(humans, human_names, False) if human_names else None
        G = None
        if len(gold_votes):
            G = np.full((n, len(tags)), -1, dtype=np.int64)
            for it, lab in zip(gold_votes["item_id"], gold_votes["label"], strict=True):
                G[row_of[int(it)], :] = 0
                for t in lab or []:
                    if t in pos:
                        G[row_of[int(it)], pos[t]] = 1
        classes = tags
    else:
        classes = list(schema.classes) or sorted({str(v) for v in votes["label"]})
        pos = {c: k for k, c in enumerate(classes)}

        def matrix(frame, names):
            M = np.full((n, len(names)), -1, dtype=np.int64)
            if len(frame) == 0:
                return M
            rows = pd.Index(item_ids).get_indexer(frame["item_id"].astype(int).to_numpy())
            cols = pd.Index(names).get_indexer(frame["source"].to_numpy())
            codes = frame["label"].astype(str).map(pos)
            if codes.isna().any():
                bad = frame.loc[codes.isna()].iloc[0]
                raise InputError(f"vote '{bad['label']}' of source '{bad['source']}' is not one of the classes {classes}")
            M[rows, cols] = codes.to_numpy(dtype=np.int64)
            return M

        L = matrix(lf_votes, lf_names)
        H = matrix(humans, human_names) if human_names else None
        G = None
        if len(gold_votes):
            G = np.full(n, -1, dtype=np.int64)
            for it, lab in zip(gold_votes["item_id"], gold_votes["label"], strict=True):
                if str(lab) in pos:
                    G[row_of[int(it)]] = pos[str(lab)]
    versions = dict(zip(srcs["name"], srcs["version"], strict=True))
    return {"items": items, "item_ids": item_ids, "L": L, "H": H, "G": G, "classes": classes,
            "lf_names": lf_names, "human_names": human_names, "versions": versions,
            "lf_votes": lf_votes}


def summary_project(directory: str | Path, *, gold: str | Path | None = None) -> pd.DataFrame:
    """Per-LF coverage, overlaps, conflicts, polarity and (with gold) empirical accuracy.

    Gold: the project's gold sources, or a file with id and label columns (external ids)."""
    from labelloop.project import Project
    from labelloop.weak.analysis import lf_summary
    from labelloop.weak.apply import LFOutputs

    with Project.open(directory) as proj:
        schema = proj.schema
        with proj.session() as s:
            d = _stored(s, proj, schema)
        names = [nm[len(LF_PREFIX):] if nm.startswith(LF_PREFIX) else nm for nm in d["lf_names"]]
        ext = d["items"]["external_id"].astype(str).to_numpy().astype(object)
        g = _gold_from_file(gold, schema) if gold is not None else None
        if schema.is_multi:
            Lc = d["L"]
            sets = [[frozenset(np.array(d["classes"])[Lc[i, j] == 1]) if (Lc[i, j] == 1).any() else None
                     for i in range(Lc.shape[0])] for j in range(Lc.shape[1])]
            out = LFOutputs(lf_names=names, item_ids=ext, task="multi", classes=d["classes"],
                            L=np.where((Lc == 1).any(axis=2), 1, -1), sets=sets,
                            lf_tags=[None] * len(names))
            if g is None and d["G"] is not None:
                G = d["G"]
                g = {ext[i]: list(np.array(d["classes"])[G[i] == 1]) for i in range(len(ext)) if (G[i] >= 0).any()}
        else:
            out = LFOutputs(lf_names=names, item_ids=ext, task="single", classes=d["classes"], L=d["L"])
            if g is None and d["G"] is not None:
                g = d["G"]
        df = lf_summary(out, gold=g)
        df.insert(0, "version", [d["versions"].get(nm) for nm in d["lf_names"]])
        return df


def _gold_from_file(path: str | Path, schema) -> dict[str, Any]:
    from labelloop.io.tables import read_table

    df = read_table(path)
    cols = {str(c).lower(): c for c in df.columns}
    idc = next((cols[c] for c in ("id", "external_id", "item", "task", "question") if c in cols), None)
    labc = next((cols[c] for c in ("label", "truth", "gold", "tags", "tag", "answer") if c in cols), None)
    if idc is None or labc is None:
        raise InputError(f"gold file needs an id column and a label column; found {', '.join(map(str, df.columns))}", path=path)
    out = {}
    for i, lab in zip(df[idc].astype(str), df[labc], strict=True):
        if lab is None or (isinstance(lab, float) and np.isnan(lab)):
            continue
        out[i] = schema.normalize(lab, learn=False) if schema.is_multi else str(lab)
    return out


def fit_project(directory: str | Path, *, use_humans: bool = True, class_balance: Sequence[float] | None = None,
                threshold: float = 0.5) -> dict[str, Any]:
    """Fit the label model on the project's LF votes (with its human votes and gold truths) and
    write every item's label, confidence and class probabilities (method ``label_model``)."""
    from labelloop.project import Project
    from labelloop.store import repo
    from labelloop.weak.label_model import LabelModel

    with Project.open(directory) as proj:
        schema = proj.schema
        with proj.session() as s:
            d = _stored(s, proj, schema)
        H = d["H"] if use_humans else None
        lm = LabelModel(task="multi" if schema.is_multi else "single", threshold=threshold,
                        class_balance=class_balance, cardinality=None if schema.is_multi else len(d["classes"]))
        lm.fit(d["L"], human=H, gold=d["G"])
        P = lm.probas_
        classes = d["classes"]
        if schema.is_multi:
            pred = P >= threshold
            labels = [[classes[k] for k in np.flatnonzero(row)] for row in pred]
            conf = np.where(pred, P, 1 - P).min(axis=1) if P.shape[1] else np.ones(len(P))
            probs = [{c: round(float(p), 6) for c, p in zip(classes, row, strict=True) if p >= 0.01} for row in P]
        else:
            codes = P.argmax(axis=1)
            labels = [classes[k] for k in codes]
            conf = P[np.arange(len(P)), codes]
            probs = [dict(zip(classes, map(float, row), strict=True)) for row in P]
        frame = pd.DataFrame({"item_id": d["item_ids"], "label": labels, "confidence": conf, "probs": probs})
        with proj.session() as s:
            n = repo.write_labels(s, proj.id, frame, method="label_model")
        covered = (d["L"] >= 0).any(axis=tuple(range(1, d["L"].ndim)))
        rep = {"project": proj.name, "n_items": int(n), "n_lfs": len(d["lf_names"]),
               "n_humans": 0 if H is None else len(d["human_names"]),
               "coverage": float(covered.mean()), "mean_confidence": float(np.mean(conf)) if len(conf) else 0.0,
               "converged": bool(lm.converged_), "n_iter": int(lm.n_iter_)}
        if not schema.is_multi:
            rep["class_balance"] = dict(zip(map(str, classes), map(float, lm.class_balance_), strict=True))
            rep["lf_accuracy"] = dict(zip(d["lf_names"], map(float, lm.accuracies_[: len(d["lf_names"])]), strict=True))
        return rep
