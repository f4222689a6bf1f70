"""Hugging Face ``datasets``: export a ``DatasetDict``; import one back.

Export (``--format hf OUT``) saves a ``DatasetDict`` with ``save_to_disk`` to the folder OUT
(Arrow files; ``parquet=True`` also writes ``OUT/<split>.parquet``). Columns: ``id``, ``text``
(or ``image`` as an ``Image`` feature), ``label`` as ``ClassLabel`` (single-label, ``-1`` =
unlabelled) or ``Sequence(ClassLabel)`` (multi-label), ``confidence`` (float32), ``method`` and,
when the aggregate stored them, ``probs`` (the posterior per class, in ``ClassLabel`` order).
With ``votes`` a ``votes`` column holds every vote: a list of ``{source, kind, label,
confidence}`` (multi-label labels as JSON lists). Items with a ``split`` field go to that split,
the others to ``train``.

Import (``--format hf DIR``) reads a folder written by ``save_to_disk`` (a ``DatasetDict`` or a
``Dataset``), or ``<split>.parquet`` files written by ``Dataset.to_parquet`` (a file or a folder): a ``votes`` column gives back every vote; otherwise the ``label`` column (decoded
through its ``ClassLabel`` names) is one vote of source ``hf:<folder name>``. Images embedded in
the dataset are written once, named by their content hash, under ``DIR/media/hf/``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from labelloop.exceptions import InputError, require
from labelloop.io.formats._common import export_records, item_count, resolve_image
from labelloop.io.importers import Row, RowSource, _is_missing, _jsonable
from labelloop.progress import progress


def _datasets():
    return require("datasets", extra="hf", purpose="Hugging Face datasets import/export")


def build_dataset_dict(project, *, votes: bool = False):
    """The project's items, final labels (and votes) as a ``datasets.DatasetDict``."""
    ds = _datasets()
    from labelloop.store import repo

    schema = project.schema
    classes = list(schema.classes)
    is_image = project.data_type == "image"
    from sqlalchemy import select

    from labelloop.store.models import Item, Label

    with project.session() as s:
        items = repo.items_frame(s, project.id)
        q = (select(Item.external_id, Label.probabilities).join(Label, Label.item_id == Item.id)
             .where(Label.project_id == project.id, Label.probabilities.is_not(None)))
        probs_of = {e: p for e, p in s.execute(q) if isinstance(p, dict) and p}
    split_of = {e: (f or {}).get("split") for e, f in zip(items["external_id"], items["fields"], strict=True)}
    cols: dict[str, dict[str, list]] = {}
    bar = progress(total=item_count(project), desc="export hf", unit="items")
    for rec in export_records(project, votes=votes):
        split = str(split_of.get(rec["id"]) or "train")
        c = cols.setdefault(split, {k: [] for k in ("id", "image" if is_image else "text", "label", "confidence", "method")
                                    + (("votes",) if votes else ())})
        c["id"].append(rec["id"])
        c["image" if is_image else "text"].append(rec.get("image") if is_image else rec.get("text"))
        lab = rec.get("label")
        if schema.is_multi:
            for t in lab or []:
                if t not in classes:
                    classes.append(t)
            c["label"].append(list(lab or []))
        else:
            if lab is not None and lab not in classes:
                classes.append(lab)
            c["label"].append(-1 if lab is None else lab)
        c["confidence"].append(rec.get("confidence"))
        c["method"].append(rec.get("method"))
        if votes:
            c["votes"].append([{"source": v["source"], "kind": v["kind"],
                                "label": json.dumps(v["label"], ensure_ascii=False) if isinstance(v["label"], list) else str(v["label"]),
                                "confidence": v.get("confidence")} for v in rec["votes"]])
        bar.update(1)
    bar.close()
    if not cols:
        raise InputError("the project has no items to export")
    for p in probs_of.values():
        classes.extend(str(k) for k in p if str(k) not in classes)
    cl = ds.ClassLabel(names=classes)
    feats = {"id": ds.Value("string"), ("image" if is_image else "text"): ds.Image() if is_image else ds.Value("string"),
             "label": ds.Sequence(cl) if schema.is_multi else cl, "confidence": ds.Value("float32"), "method": ds.Value("string")}
    if probs_of:  # the aggregate's posterior per class, aligned with the ClassLabel names
        feats["probs"] = ds.Sequence(ds.Value("float32"))
    if votes:
        feats["votes"] = [{"source": ds.Value("string"), "kind": ds.Value("string"), "label": ds.Value("string"),
                           "confidence": ds.Value("float64")}]
    features = ds.Features(feats)
    out = {}
    for split, c in cols.items():
        c["label"] = [[cl.str2int(t) for t in v] for v in c["label"]] if schema.is_multi else [v if v == -1 else cl.str2int(v) for v in c["label"]]
        if probs_of:
            c["probs"] = [[float(probs_of[e].get(k, 0.0)) for k in classes] if e in probs_of else None for e in c["id"]]
        out[split] = ds.Dataset.from_dict(c, features=features)
    return ds.DatasetDict(out)


def write_hf(project, out: Path, *, votes: bool = False, parquet: bool = False, **_: Any) -> int:
    """Save the project as a ``DatasetDict`` folder at ``out``; returns the number of items."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError("the hf export writes a folder; the output path is a file", path=out)
    if out.is_dir() and any(out.iterdir()) and not (out / "dataset_dict.json").is_file():
        raise InputError("output folder exists and is not a saved DatasetDict; give a new or empty folder", path=out)
    dd = build_dataset_dict(project, votes=votes)
    from labelloop.progress import is_quiet

    if is_quiet():
        _datasets().disable_progress_bars()
    tmp = out.with_name(out.name + ".part")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        dd.save_to_disk(str(tmp))
        if parquet:
            for split, d in dd.items():
                d.to_parquet(str(tmp / f"{split}.parquet"))
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return sum(len(d) for d in dd.values())


def _store_image(project, data: bytes, name: str) -> str:
    """Images embedded in a dataset are written once, content-addressed, under DIR/media/hf/."""
    import hashlib

    suffix = Path(name).suffix.lower() or ".png"
    target = project.media_dir / "hf" / (hashlib.sha256(data).hexdigest()[:24] + suffix)
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".part")
        tmp.write_bytes(data)
        tmp.replace(target)
    return str(target.resolve())


def read_hf(path: Path, *, project, schema, source_name=None, id_col=None, text_col=None, label_col=None,
            image_col=None) -> RowSource:
    ds = _datasets()
    parquet = [path] if path.suffix == ".parquet" else sorted(path.glob("*.parquet")) if path.is_dir() else []
    if path.is_dir() and ((path / "dataset_dict.json").is_file() or (path / "dataset_info.json").is_file()):
        try:
            loaded = ds.load_from_disk(str(path))
        except (FileNotFoundError, ValueError, OSError) as exc:
            raise InputError(f"not a saved Hugging Face dataset: {exc}", path=path) from None
        splits = dict(loaded.items()) if isinstance(loaded, ds.DatasetDict) else {"train": loaded}
    elif parquet:  # <split>.parquet files written by Dataset.to_parquet (features in their metadata)
        splits = {}
        for f in parquet:
            try:
                splits[f.stem] = ds.Dataset.from_parquet(str(f))
            except Exception as exc:  # noqa: BLE001 - pyarrow raises many types for a bad file
                raise InputError(f"not a readable Parquet file: {exc}", path=f) from None
    else:
        raise InputError("not a saved Hugging Face dataset: --format hf reads a folder written by "
                         "DatasetDict.save_to_disk, or <split>.parquet files", path=path)
    is_image = project.data_type == "image"
    name = source_name or f"hf:{path.resolve().name}"
    checked = {}
    for split, d in splits.items():
        cols = d.column_names
        idc = id_col or ("id" if "id" in cols else None)
        cc = (image_col or "image") if is_image else (text_col or "text")
        if cc not in cols:
            raise InputError(f"split '{split}' has no '{cc}' column (columns: {', '.join(cols)})", path=path)
        lc = label_col or ("label" if "label" in cols else None)
        if lc is not None and lc not in cols:
            raise InputError(f"split '{split}' has no '{lc}' column", path=path)
        if is_image:
            d = d.cast_column(cc, ds.Image(decode=False))
        checked[split] = (d, idc, cc, lc)

    def decode(feature, value):
        if value is None:
            return None
        if isinstance(feature, ds.ClassLabel):
            return None if value == -1 else feature.int2str(int(value))
        inner = getattr(feature, "feature", None)
        if isinstance(feature, (list, ds.Sequence)) or inner is not None:
            f = feature[0] if isinstance(feature, list) else inner
            return [decode(f, v) for v in value]
        return value

    def rows():
        n = 0
        for split, (d, idc, cc, lc) in checked.items():
            lf = d.features[lc] if lc else None
            for k, rec in enumerate(d):
                n += 1
                where = f"split '{split}' row {k + 1}"
                ext = rec.get(idc) if idc else f"{split}-{k + 1}"
                if _is_missing(ext):
                    raise InputError(f"{where}: empty '{idc}'", path=path)
                text = img = content = None
                if is_image and rec[cc] is None:
                    pass  # an item known only by its answers
                elif is_image:
                    v = rec[cc]
                    if v.get("bytes"):
                        img, content = _store_image(project, v["bytes"], v.get("path") or "image.png"), v["bytes"]
                    elif v.get("path"):
                        img = resolve_image(v["path"], path, where=f"{where}: {cc}", path=path)
                        content = Path(img).read_bytes()
                    else:
                        raise InputError(f"{where}: '{cc}' has neither bytes nor a file path", path=path)
                elif rec[cc] is not None:
                    if _is_missing(rec[cc]):
                        raise InputError(f"{where}: empty '{cc}'", path=path)
                    text = str(rec[cc])
                    content = text.encode("utf-8")
                votes: list[tuple] = []
                if "votes" in rec and rec["votes"] is not None:
                    for j, v in enumerate(rec["votes"]):
                        if not isinstance(v, dict) or _is_missing(v.get("source")) or _is_missing(v.get("label")):
                            raise InputError(f"{where}: votes[{j}] needs 'source' and 'label'", path=path)
                        lab = v["label"]
                        if schema.is_multi and isinstance(lab, str) and lab.startswith("["):
                            lab = json.loads(lab)
                        votes.append((str(v["source"]), str(v.get("kind") or "import"), lab, v.get("confidence")))
                elif lc:
                    lab = decode(lf, rec[lc])
                    if lab is not None and lab != []:
                        conf = rec.get("confidence")
                        votes.append((name, "import", lab, None if conf is None else float(conf)))
                skip = {idc, cc, lc, "votes", "confidence", "method", "probs"}
                fields = {k2: _jsonable(v) for k2, v in rec.items() if k2 not in skip}
                fields["split"] = split
                yield Row(line=n, external_id=str(ext), text=text, image=img, fields=fields, votes=votes, content=content)

    return RowSource(rows=rows, allow_no_content=True, label="hf")
