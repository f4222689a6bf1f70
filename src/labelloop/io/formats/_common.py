"""Helpers shared by the format modules: atomic output, image paths, vote records."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from labelloop.exceptions import InputError

# Source kinds that are people (annotations); the others are machines (predictions).
HUMAN_KINDS = ("human", "gold", "import")
MACHINE_KINDS = ("lf", "model", "propagation", "prelabel")


@contextlib.contextmanager
def atomic_path(out: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``out``; it replaces ``out`` only if the block succeeds."""
    out = Path(out)
    if out.exists() and out.is_dir():
        raise InputError("output path is a folder; give a file name", path=out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".part")
    try:
        yield tmp
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)


def export_records(project, *, votes: bool) -> Iterator[dict[str, Any]]:
    """Items with final label (and votes), streamed page by page from the store."""
    from labelloop.io.exporters import iter_export_records

    return iter_export_records(project, votes=votes)


def item_count(project) -> int:
    from labelloop.store import repo

    with project.session() as s:
        return repo.count_items(s, project.id)


def resolve_image(ref: str, base: Path, *, where: str, path: Path, line: int | None = None, extra_dirs=()) -> str:
    """An existing local image file for ``ref`` (absolute, relative to ``base``, or a
    Label Studio ``/data/local-files/?d=`` URL under ``LOCAL_FILES_DOCUMENT_ROOT`` or beside, or a
    ``/data/upload/`` URL whose file lies beside)."""
    ref = str(ref).strip()
    candidates: list[Path] = []
    if ref.startswith("file://"):
        ref = ref[len("file://") :]
    if "/data/local-files/?d=" in ref:
        from urllib.parse import unquote

        rel = unquote(ref.split("?d=", 1)[1])
        root = os.environ.get("LOCAL_FILES_DOCUMENT_ROOT")  # Label Studio's own setting
        candidates += ([Path(root) / rel] if root else []) + [Path(rel), base / rel, base.parent / rel]
    p = Path(ref)
    candidates += [p] if p.is_absolute() else [base / p]
    name = Path(ref.split("?", 1)[0]).name
    if name:
        candidates += [base / name, base / "images" / name, base.parent / p, base.parent / "images" / name]
        candidates += [Path(d) / name for d in extra_dirs]
    for c in candidates:
        if c.is_file():
            return str(c.resolve())
    raise InputError(f"{where}: image '{ref}' not found (looked in {base})", path=path, line=line)


def parse_json_cell(value: Any) -> Any:
    """A cell that may hold a JSON list (multi-label answers in CSV/TSV)."""
    if isinstance(value, str) and value.strip().startswith("["):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def chosen_keys(obj: Any) -> list[str] | None:
    """Checkbox / radio answers stored as ``{"cat": true, "dog": false}`` (also ``{"on": true}``
    values): the keys that are chosen, or None if ``obj`` is not of that shape."""
    if not isinstance(obj, dict) or not obj:
        return None
    out = []
    for k, v in obj.items():
        if isinstance(v, dict) and set(v) == {"on"}:
            v = v["on"]
        if not isinstance(v, bool):
            return None
        if v:
            out.append(str(k))
    return out


def label_cell(value: Any) -> str:
    """A label as one table cell: a class name, or a JSON list of tags."""
    if isinstance(value, list):
        return json.dumps(value, ensure_ascii=False)
    return "" if value is None else str(value)


def content_of(rec: dict[str, Any]) -> tuple[str, str]:
    """('text', text) or ('image', path) of an exported record."""
    if rec.get("text") is not None:
        return "text", rec["text"]
    return "image", rec.get("image") or ""
