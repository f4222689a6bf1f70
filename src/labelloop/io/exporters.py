"""Exporters: final labels (with confidence, and optionally every vote) as CSV, JSONL or Parquet.

Items are read in id order with keyset pagination, so exports stream at any size.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from labelloop.exceptions import InputError
from labelloop.progress import progress

EXPORT_FORMATS = ("csv", "jsonl", "parquet")
PAGE = 5000

# Formats added by plug-in modules (``labelloop.io.formats``): name -> writer. A writer is
# called as ``writer(project, out, votes=, **options)`` and returns the number of items written.
FORMAT_WRITERS: dict[str, Callable[..., int]] = {}


def register_writer(name: str, writer: Callable[..., int]) -> None:
    FORMAT_WRITERS[name] = writer


def export_formats() -> tuple[str, ...]:
    """Every export format: the built-in ones and those registered by plug-ins."""
    from labelloop.io.importers import _load_plugins

    _load_plugins()
    return EXPORT_FORMATS + tuple(f for f in FORMAT_WRITERS if f not in EXPORT_FORMATS)


def _fmt_from_path(out: Path) -> str | None:
    return {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet", ".pq": "parquet"}.get(out.suffix.lower())


def iter_export_records(project, *, votes: bool = False, page: int = PAGE) -> Iterator[dict[str, Any]]:
    """One record per item: id, text/image, label, confidence, method[, votes]."""
    from sqlalchemy import select

    from labelloop.store.models import Source, Vote
    from labelloop.store.repo import label_pages

    for rows in label_pages(project.engine, project.id, page=page):
        by_item: dict[int, list[dict[str, Any]]] = {}
        if votes:
            ids = [r[0] for r in rows]
            with project.session() as s:
                vq = (
                    select(Vote.item_id, Source.name, Source.kind, Vote.value, Vote.confidence)
                    .join(Source, Source.id == Vote.source_id)
                    .where(Vote.item_id >= ids[0], Vote.item_id <= ids[-1], Vote.project_id == project.id)
                    .order_by(Vote.item_id, Source.name)
                )
                for iid, name, kind, value, conf in s.execute(vq):
                    by_item.setdefault(iid, []).append({"source": name, "kind": kind, "label": value, "confidence": conf})
        for iid, ext, text, image, value, conf, method in rows:
            rec: dict[str, Any] = {"id": ext}
            if text is not None:
                rec["text"] = text
            if image is not None:
                rec["image"] = image
            rec.update({"label": value, "confidence": conf, "method": method})
            if votes:
                rec["votes"] = by_item.get(iid, [])
            yield rec


def export_labels(project, out: str | Path, *, fmt: str | None = None, votes: bool = False, **options: Any) -> int:
    """Write the project's labels to ``out``; returns the number of items written.

    ``options`` go to a plug-in format's writer (see ``FORMAT_WRITERS``).
    """
    out = Path(out)
    fmt = fmt or _fmt_from_path(out)
    known = export_formats()
    if fmt in FORMAT_WRITERS:
        return FORMAT_WRITERS[fmt](project, out, votes=votes, **options)
    if fmt not in EXPORT_FORMATS:
        if fmt is not None and fmt not in known:
            raise InputError(f"unknown export format '{fmt}'; one of {', '.join(known)}")
        raise InputError(f"cannot tell the export format of '{out.name}'; pass --format {'|'.join(known)}")
    if out.exists() and out.is_dir():
        raise InputError("output path is a folder", path=out)
    out.parent.mkdir(parents=True, exist_ok=True)
    from labelloop.store import repo

    with project.session() as s:
        total = repo.count_items(s, project.id)
        multi = project.task == "multi"
    has_text = project.data_type == "text"
    tmp = out.with_name(out.name + ".part")  # never leave a half-written file under the real name
    n = 0
    bar = progress(total=total, desc=f"export {out.name}", unit="items")
    try:
        records = iter_export_records(project, votes=votes)
        if fmt == "jsonl":
            with tmp.open("w", encoding="utf-8") as fh:
                for rec in records:
                    fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
                    n += 1
                    bar.update(1)
        elif fmt == "csv":
            cols = ["id", "text" if has_text else "image", "label", "confidence", "method"] + (["votes"] if votes else [])
            with tmp.open("w", encoding="utf-8", newline="") as fh:
                w = csv.writer(fh)
                w.writerow(cols)
                for rec in records:
                    w.writerow([_cell(rec.get(c), multi) for c in cols])
                    n += 1
                    bar.update(1)
        else:
            n = _write_parquet(tmp, records, has_text=has_text, votes=votes, bar=bar)
        tmp.replace(out)
    finally:
        bar.close()
        tmp.unlink(missing_ok=True)
    return n


def _cell(v: Any, multi: bool) -> Any:
    if v is None:
        return ""
    if isinstance(v, (list, dict)):
        return json.dumps(v, ensure_ascii=False)
    return v


def _write_parquet(path: Path, records: Iterator[dict[str, Any]], *, has_text: bool, votes: bool, bar) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    content = "text" if has_text else "image"
    fields = [("id", pa.string()), (content, pa.string()), ("label", pa.string()), ("confidence", pa.float64()), ("method", pa.string())]
    if votes:
        fields.append(("votes", pa.string()))
    schema = pa.schema(fields)
    writer = pq.ParquetWriter(path, schema)
    n = 0
    buf: dict[str, list] = {f: [] for f, _ in fields}

    def flush():
        if buf["id"]:
            writer.write_table(pa.table(buf, schema=schema))
            for v in buf.values():
                v.clear()

    try:
        for rec in records:
            buf["id"].append(rec["id"])
            buf[content].append(rec.get(content))
            lab = rec.get("label")
            buf["label"].append(None if lab is None else (json.dumps(lab) if isinstance(lab, list) else str(lab)))
            buf["confidence"].append(rec.get("confidence"))
            buf["method"].append(rec.get("method"))
            if votes:
                buf["votes"].append(json.dumps(rec["votes"], ensure_ascii=False))
            n += 1
            bar.update(1)
            if len(buf["id"]) >= PAGE:
                flush()
        flush()
    finally:
        writer.close()
    return n
