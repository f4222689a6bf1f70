"""Importers: files and folders into a project's store, streaming, idempotent, all-or-nothing.

Every import runs in two passes:

1. *validate*: stream the whole input once, checking UTF-8, columns, ids (empty, duplicated),
   labels against the schema, images. Any problem raises ``InputError`` with the file and line
   and nothing has been written.
2. *write*: upsert items by external id in batches, each batch in one transaction. The rows
   come from the first pass when they fit in :data:`ROW_CACHE_BYTES` (parsing is most of the
   cost of a small file), else the input is streamed again (memory stays bounded on millions
   of rows). Re-importing the same file changes nothing; an interrupted import can simply be
   run again and finishes without duplicates.

Labels that come with the data are stored as votes of an ``import`` source, never as truth.
"""

from __future__ import annotations

import array
import hashlib
import json
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from labelloop.exceptions import (
    DuplicateIdError,
    EmptyInputError,
    InputError,
    InvalidImageError,
    MissingColumnError,
    SchemaError,
)
from labelloop.io.tables import columns_of, guess_format, iter_records, load_json_records
from labelloop.progress import progress
from labelloop.schema import LabelSchema, Taxonomy

IMPORT_FORMATS = ("auto", "csv", "tsv", "json", "jsonl", "parquet", "folder", "madewithml", "answers", "gold")
IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp", ".tif", ".tiff"}
ID_COLUMNS = ("id", "external_id", "item_id", "uid", "key", "comment_id")
TEXT_COLUMNS = ("text", "content", "sentence", "body", "description", "title")
LABEL_COLUMNS = ("label", "labels", "tag", "tags", "class", "category", "target")
IMAGE_COLUMNS = ("image", "image_path", "path", "file", "filename", "source-ref")
ANSWER_TASK = ("task", "question")
ANSWER_WORKER = ("worker", "annotator", "worker_id")
ANSWER_LABEL = ("label", "answer")
# pass 1 keeps the parsed rows for pass 2 while their estimated size stays under this
ROW_CACHE_BYTES = 96 << 20
_ROW_OVERHEAD = 450  # bytes of a Row and its containers, beyond the text and content


@dataclass
class Row:
    """One normalised input record."""

    line: int
    external_id: str
    text: str | None = None
    image: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)
    # (source name, source kind, label value[, confidence]) votes carried by the record
    votes: list[tuple] = field(default_factory=list)
    content: bytes | None = None  # what the content hash is computed from


@dataclass
class RowSource:
    """What a plug-in format reader returns: a restartable row stream and how to check it."""

    rows: Callable[[], Iterator[Row]]
    per_item_unique: bool = True  # False: one row per answer, several rows per item
    allow_no_content: bool = False  # rows may name items without text/image (answers only)
    label: str = ""  # the format's name in reports


# Formats added by plug-in modules (``labelloop.io.formats``): name -> reader. A reader is
# called as ``reader(path, project=, schema=, source_name=, id_col=, text_col=, label_col=,
# image_col=)`` and returns a :class:`RowSource`; the two-pass import below does the rest.
FORMAT_READERS: dict[str, Callable[..., RowSource]] = {}


def register_reader(name: str, reader: Callable[..., RowSource]) -> None:
    FORMAT_READERS[name] = reader


def import_formats() -> tuple[str, ...]:
    """Every importable format: the built-in ones and those registered by plug-ins."""
    _load_plugins()
    return IMPORT_FORMATS + tuple(f for f in FORMAT_READERS if f not in IMPORT_FORMATS)


def _load_plugins() -> None:
    import importlib

    try:
        importlib.import_module("labelloop.io.formats")
    except ModuleNotFoundError as exc:
        if exc.name != "labelloop.io.formats":
            raise


@dataclass
class ImportReport:
    path: str
    format: str
    rows: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    votes: int = 0
    sources: list[str] = field(default_factory=list)
    classes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["rows_per_s"] = round(self.rows_per_s, 1)
        return d


# ---------------------------------------------------------------------- helpers
def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _pick(columns: list[str], explicit: str | None, candidates: Iterable[str], what: str, path, required: bool) -> list[str] | None:
    lower = {c.lower(): c for c in columns}
    if explicit:
        names = [c.strip() for c in explicit.split(",") if c.strip()]
        missing = [n for n in names if n not in columns and n.lower() not in lower]
        if missing:
            raise MissingColumnError(f"{what} column {', '.join(repr(m) for m in missing)} not found; columns are: {', '.join(columns)}", path=path)
        return [n if n in columns else lower[n.lower()] for n in names]
    for c in candidates:
        if c in lower:
            return [lower[c]]
    if required:
        raise MissingColumnError(
            f"no {what} column found (looked for {', '.join(candidates)}); choose one with --{what}-col; columns are: {', '.join(columns)}",
            path=path,
        )
    return None


def _is_missing(v: Any) -> bool:
    if v is None:
        return True
    if v.__class__ is str:
        return not v.strip()
    if isinstance(v, float):
        return v != v  # NaN
    return False


def _jsonable(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, (bytes, bytearray)):
        return v.decode("utf-8", "replace")
    if isinstance(v, float) and np.isnan(v):
        return None
    if hasattr(v, "isoformat"):
        return v.isoformat()
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    return v


def _id_text(v: Any) -> str:
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    return str(v).strip()


# ---------------------------------------------------------------------- row sources
def table_rows(path: Path, fmt: str, *, id_col=None, text_col=None, label_col=None, image_col=None,
               data_type="text", source_name: str) -> tuple[Callable[[], Iterator[Row]], list[str]]:
    cols = columns_of(path, fmt)
    if not cols:
        raise EmptyInputError("no columns found", path=path)
    idc = _pick(cols, id_col, ID_COLUMNS, "id", path, required=False)
    if data_type == "image":
        imgc = _pick(cols, image_col, IMAGE_COLUMNS, "image", path, required=True)
        txtc = _pick(cols, text_col, (), "text", path, required=False)
    else:
        imgc = _pick(cols, image_col, (), "image", path, required=False) if image_col else None
        txtc = _pick(cols, text_col, TEXT_COLUMNS, "text", path, required=True)
    labc = _pick(cols, label_col, LABEL_COLUMNS, "label", path, required=False)
    if labc and len(labc) > 1:
        raise InputError("give one label column", path=path)
    used = set((idc or []) + (txtc or []) + (imgc or []) + (labc or []))
    base = path.parent

    def rows() -> Iterator[Row]:
        for line, rec in iter_records(path, fmt):
            if idc:
                raw_id = rec.get(idc[0])
                if raw_id.__class__ is str and raw_id:  # the common case (CSV), without the generic checks
                    ext = raw_id.strip()
                    if not ext:
                        raise InputError(f"empty id in column '{idc[0]}'", path=path, line=line)
                else:
                    if _is_missing(raw_id):
                        raise InputError(f"empty id in column '{idc[0]}'", path=path, line=line)
                    ext = _id_text(raw_id)
            else:
                ext = str(line)
            text = None
            if txtc:
                first = rec.get(txtc[0]) if len(txtc) == 1 else None
                if first.__class__ is str and first.strip():
                    text = first
                else:
                    parts = [rec.get(c) for c in txtc]
                    parts = [str(p) for p in parts if not _is_missing(p)]
                    text = ". ".join(parts) if len(txtc) > 1 else (parts[0] if parts else None)
                if text is None and data_type == "text":
                    raise InputError(f"item '{ext}' has no text in column {', '.join(txtc)}", path=path, line=line)
            image = None
            content = (text or "").encode("utf-8")
            if imgc:
                ref = rec.get(imgc[0])
                if _is_missing(ref):
                    raise InputError(f"item '{ext}' has no image in column '{imgc[0]}'", path=path, line=line)
                ip = Path(str(ref))
                ip = ip if ip.is_absolute() else (base / ip)
                image = str(ip.resolve())
                content = _image_bytes(ip, path, line)
            votes = []
            if labc:
                v = rec.get(labc[0])
                if not _is_missing(v) and not (isinstance(v, list) and not v):
                    votes.append((source_name, "import", v))
            fields = {k: _jsonable(v) for k, v in rec.items() if k not in used}
            yield Row(line=line, external_id=ext, text=text, image=image, fields=fields, votes=votes, content=content)

    return rows, cols


def _image_bytes(ip: Path, path, line) -> bytes:
    from PIL import Image, UnidentifiedImageError

    if not ip.is_file():
        raise InputError(f"image file not found: {ip}", path=path, line=line)
    data = ip.read_bytes()
    try:
        import io

        with Image.open(io.BytesIO(data)) as im:
            im.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise InvalidImageError(f"{ip.name} is not a readable image ({exc.__class__.__name__})", path=ip) from None
    return data


def folder_rows(root: Path, *, source_name: str) -> Callable[[], Iterator[Row]]:
    """Images in a folder: flat, or one sub-folder per class (the sub-folder name is the label)."""
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
    if not files:
        raise EmptyInputError(f"no image files ({', '.join(sorted(IMAGE_EXTENSIONS))}) in the folder", path=root)

    def rows() -> Iterator[Row]:
        for n, p in enumerate(files, start=1):
            rel = p.relative_to(root)
            data = _image_bytes(p, root, None)
            votes = [(source_name, "import", rel.parts[0])] if len(rel.parts) > 1 else []
            yield Row(line=n, external_id=rel.as_posix(), image=str(p.resolve()), fields={"file": rel.as_posix()}, votes=votes, content=data)

    return rows


def madewithml_rows(path: Path, *, source_name: str) -> Callable[[], Iterator[Row]]:
    """Made With ML ``projects.json``: {id, created_on, title, description, tags[]}."""
    def rows() -> Iterator[Row]:
        for n, rec in enumerate(load_json_records(path), start=1):
            if _is_missing(rec.get("id")):
                raise InputError(f"record {n} has no 'id'", path=path, line=n)
            title, desc = rec.get("title") or "", rec.get("description") or ""
            if not (title or desc):
                raise InputError(f"project {rec['id']} has neither title nor description", path=path, line=n)
            text = f"{title}. {desc}".strip() if desc else title
            tags = rec.get("tags")
            if tags is not None and not isinstance(tags, list):
                raise InputError(f"project {rec['id']}: 'tags' must be a list", path=path, line=n)
            fields = {k: _jsonable(v) for k, v in rec.items() if k not in ("id", "tags")}
            votes = [(source_name, "import", tags)] if tags else []
            yield Row(line=n, external_id=_id_text(rec["id"]), text=text, fields=fields, votes=votes, content=text.encode())

    return rows


def answers_rows(path: Path, fmt: str, *, kind: str = "human") -> Callable[[], Iterator[Row]]:
    """Crowd answers ``task,worker,label`` (or ``question,worker,answer``): one source per worker."""
    cols = columns_of(path, fmt)
    t = _pick(cols, None, ANSWER_TASK, "task", path, required=True)[0]
    w = _pick(cols, None, ANSWER_WORKER, "worker", path, required=True)[0]
    lab = _pick(cols, None, ANSWER_LABEL, "label", path, required=True)[0]

    def rows() -> Iterator[Row]:
        for line, rec in iter_records(path, fmt):
            for c, what in ((t, "task"), (w, "worker"), (lab, "label")):
                if _is_missing(rec.get(c)):
                    raise InputError(f"empty {what} in column '{c}'", path=path, line=line)
            ext = _id_text(rec[t])
            yield Row(line=line, external_id=ext, votes=[(_id_text(rec[w]), kind, _id_text(rec[lab]))], content=None)

    return rows


def gold_rows(path: Path, fmt: str) -> Callable[[], Iterator[Row]]:
    """Gold answers for honeypots: ``id,label`` (also ``task,label`` / ``question,truth``)."""
    cols = columns_of(path, fmt)
    i = _pick(cols, None, ("id", "task", "question", "item_id", "external_id"), "id", path, required=True)[0]
    lab = _pick(cols, None, ("label", "truth", "gold", "answer"), "label", path, required=True)[0]

    def rows() -> Iterator[Row]:
        for line, rec in iter_records(path, fmt):
            if _is_missing(rec.get(i)) or _is_missing(rec.get(lab)):
                raise InputError(f"gold rows need both '{i}' and '{lab}'", path=path, line=line)
            yield Row(line=line, external_id=_id_text(rec[i]), votes=[("gold", "gold", rec[lab])], content=None)

    return rows


# ---------------------------------------------------------------------- the import
def detect_format(path: Path) -> str:
    if path.is_dir():
        return "folder"
    fmt = guess_format(path)
    if fmt is None:
        raise InputError("cannot tell the format from the file name; pass --format", path=path)
    if fmt == "json":
        try:
            recs = load_json_records(path)
        except InputError:
            return "json"
        if recs and all(k in recs[0] for k in ("tags", "title")):
            return "madewithml"
    if fmt in ("csv", "tsv"):
        cols = {c.lower() for c in columns_of(path, fmt)}
        if cols & set(ANSWER_TASK) and cols & set(ANSWER_WORKER) and cols & set(ANSWER_LABEL) and len(cols) <= 4:
            return "answers"
    return fmt


def import_file(
    project,
    source: str | Path,
    *,
    fmt: str = "auto",
    id_col: str | None = None,
    text_col: str | None = None,
    label_col: str | None = None,
    image_col: str | None = None,
    taxonomy: str | Path | Taxonomy | None = None,
    unknown: str | None = None,
    source_name: str | None = None,
    batch_size: int = 5000,
    on_batch: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import ``source`` (a file, folder or URL) into ``project``. See the module docstring."""
    from labelloop.io.sources import local_path

    known = import_formats()
    if fmt not in known:
        raise InputError(f"unknown format '{fmt}'; one of {', '.join(known)}")
    path = local_path(source, suffix=".json" if fmt == "madewithml" else "")
    if fmt in FORMAT_READERS:
        schema = project.schema
        if unknown is not None:
            schema.unknown = unknown  # type: ignore[assignment]
            schema.__post_init__()
        if taxonomy is not None:
            schema.taxonomy = taxonomy if isinstance(taxonomy, Taxonomy) else Taxonomy.load(taxonomy)
        src = FORMAT_READERS[fmt](path, project=project, schema=schema, source_name=source_name, id_col=id_col,
                                  text_col=text_col, label_col=label_col, image_col=image_col)
        return _run_import(project, src.rows, schema, path, str(source), fmt, per_item_unique=src.per_item_unique,
                           allow_no_content=src.allow_no_content, batch_size=batch_size, on_batch=on_batch)
    if fmt == "auto":
        fmt = detect_format(path)
    if path.is_dir() and fmt != "folder":
        raise InputError(f"a folder can only be imported with --format folder, not {fmt}", path=path)
    if fmt == "folder" and not path.is_dir():
        raise InputError("--format folder needs a folder of images", path=path)
    if path.is_file() and path.stat().st_size == 0:
        raise EmptyInputError("file is empty", path=path)
    tfmt = guess_format(path) or "csv"
    name = source_name or ("import:authors" if fmt == "madewithml" else f"import:{path.stem if path.is_file() else path.name}")

    schema = project.schema
    if taxonomy is not None:
        schema.taxonomy = taxonomy if isinstance(taxonomy, Taxonomy) else Taxonomy.load(taxonomy)
    if unknown is not None:
        schema.unknown = unknown  # type: ignore[assignment]
        schema.__post_init__()

    allow_no_content = fmt in ("answers", "gold")
    if fmt == "folder":
        make_rows = folder_rows(path, source_name=name)
    elif fmt == "madewithml":
        make_rows = madewithml_rows(path, source_name=name)
    elif fmt == "answers":
        make_rows = answers_rows(path, tfmt)
    elif fmt == "gold":
        make_rows = gold_rows(path, tfmt)
    else:
        make_rows, _ = table_rows(path, fmt, id_col=id_col, text_col=text_col, label_col=label_col, image_col=image_col,
                                  data_type=project.data_type, source_name=name)

    return _run_import(project, make_rows, schema, path, str(source), fmt, per_item_unique=fmt not in ("answers",),
                       allow_no_content=allow_no_content, batch_size=batch_size, on_batch=on_batch)


def _run_import(project, make_rows, schema: LabelSchema, path: Path, source: str, fmt: str, *, per_item_unique: bool,
                allow_no_content: bool, batch_size: int, on_batch) -> ImportReport:
    report = ImportReport(path=source, format=fmt)
    t0 = time.perf_counter()
    # ---- pass 1: validate everything before writing anything
    cache: list[Row] = []
    total = _validate(make_rows, schema, path, per_item_unique=per_item_unique, cache=cache)
    if total == 0:
        raise EmptyInputError("no records to import", path=path)
    if len(cache) == total:  # everything fitted: pass 2 needs no second parse
        make_rows = cache.__iter__
    cache = None  # type: ignore[assignment]
    # ---- pass 2: write in batches
    from sqlalchemy import select
    from sqlalchemy.exc import IntegrityError

    from labelloop.store import repo
    from labelloop.store.models import Item

    sources_seen: dict[str, int] = {}
    batch: list[Row] = []
    bar = progress(total=total, desc=f"import {path.name}", unit="rows")
    n_batches = 0
    with project.session() as s:
        # a project with no items yet needs no look-up of existing ids (items are only ever added
        # by imports, and this one checked its own ids for duplicates)
        state = {"empty": not s.scalar(select(Item.id).where(Item.project_id == project.id).limit(1))}

    # PostgreSQL's COPY runs on the driver's cursor, whose errors SQLAlchemy does not wrap
    integrity_errors = (IntegrityError, project.engine.dialect.dbapi.IntegrityError)

    def write(batch: list[Row]) -> None:
        if state["empty"]:
            try:
                _write_batch(project, batch, schema, report, sources_seen, allow_no_content, repo, assume_new=True)
                return
            except integrity_errors:
                # someone else added items meanwhile: this batch was rolled back whole; redo it
                # with the look-up, as every later batch will
                state["empty"] = False
        _write_batch(project, batch, schema, report, sources_seen, allow_no_content, repo)

    try:
        for row in make_rows():
            batch.append(row)
            if len(batch) >= batch_size:
                write(batch)
                n_batches += 1
                if n_batches in (1, 4, 16, 64):
                    _refresh_statistics(project)
                bar.update(len(batch))
                if on_batch:
                    on_batch(report.rows)
                batch = []
        if batch:
            write(batch)
            bar.update(len(batch))
            if on_batch:
                on_batch(report.rows)
    finally:
        bar.close()
    report.seconds = time.perf_counter() - t0
    report.sources = sorted(sources_seen)
    report.classes = list(schema.classes)
    return report


def _validate(make_rows, schema: LabelSchema, path: Path, *, per_item_unique: bool, cache: list[Row] | None = None) -> int:
    """Pass 1: every check that can fail, with no writes. Returns the number of rows.

    ``cache`` receives the rows while they fit in :data:`ROW_CACHE_BYTES`; once they do not,
    it is emptied and left so (the caller streams the input again).
    """
    import copy

    probe = copy.deepcopy(schema)
    hashes = array.array("q")
    pairs = array.array("q")
    n = 0
    checked: set[str] = set()
    room = ROW_CACHE_BYTES if cache is not None else -1
    bar = progress(desc=f"check {path.name}", unit="rows")
    try:
        for row in make_rows():
            n += 1
            if room >= 0:
                room -= _ROW_OVERHEAD + len(row.external_id) + len(row.text or "") + len(row.content or b"") + 64 * len(row.fields)
                if room >= 0:
                    cache.append(row)  # type: ignore[union-attr]
                else:
                    cache.clear()  # type: ignore[union-attr]
            if not row.external_id:
                raise InputError("empty id", path=path, line=row.line)
            if len(row.external_id) > 512:
                raise InputError("id longer than 512 characters", path=path, line=row.line)
            h = _h64(row.external_id)
            if per_item_unique:
                hashes.append(h)
            else:
                for src, *_ in row.votes:
                    pairs.append(_h64((row.external_id, src)))
            for vote in row.votes:
                value = vote[2]
                if value.__class__ is str and value in checked:
                    continue  # labels repeat: a string the schema took once it takes again
                try:
                    probe.normalize(value)
                except SchemaError as exc:
                    raise SchemaError(f"{path}:{row.line}: {exc}") from None
                if value.__class__ is str:
                    checked.add(value)
            if n % 10000 == 0:
                bar.update(10000)
        bar.update(n % 10000)
    finally:
        bar.close()
    for arr, what in ((hashes, "id"), (pairs, "answer of one worker for task")):
        if len(arr):
            a = np.frombuffer(arr, dtype=np.int64)
            s = np.sort(a)
            d = s[1:][s[1:] == s[:-1]]
            for h in np.unique(d)[:100]:  # a hash collision is not a duplicate: the rescan tells
                _raise_duplicate(make_rows, int(h), what, path, per_item_unique)
    return n


def _raise_duplicate(make_rows, h: int, what: str, path: Path, per_item_unique: bool):
    """Rescan for the rows whose key hashes to ``h``; raise if two of them have the same key."""
    first: dict[Any, int] = {}
    for row in make_rows():
        keys = [row.external_id] if per_item_unique else [(row.external_id, v[0]) for v in row.votes]
        for key in keys:
            if _h64(key) != h:
                continue
            if key in first:
                ext = key if per_item_unique else key[0]
                raise DuplicateIdError(
                    f"duplicate {what} '{ext}' (lines {first[key]} and {row.line}); ids must be unique within a file",
                    path=path,
                    line=row.line,
                )
            first[key] = row.line


# Keys are only compared within one import (one process), so Python's own 64-bit hash of the
# string serves: it is several times cheaper than a cryptographic digest, and a collision only
# costs a rescan (see _raise_duplicate).
_h64 = hash


def _refresh_statistics(project) -> None:
    """PostgreSQL plans the external-id lookups from table statistics; a table that was empty
    when the import began would otherwise be scanned sequentially for every batch (quadratic)."""
    if project.engine.dialect.name != "postgresql":
        return
    with project.engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE items")
        conn.exec_driver_sql("ANALYZE votes")
        conn.commit()


def _write_batch(project, batch: list[Row], schema: LabelSchema, report: ImportReport, sources_seen: dict[str, int], allow_no_content: bool, repo,
                 *, assume_new: bool = False) -> None:
    """Upsert one batch of rows and their votes in a single transaction.

    ``assume_new``: the project had no items when the import began, so no id is looked up; an id
    that exists after all fails the batch on the unique constraint (and nothing of it is kept).
    The report is only updated once the batch is written, so a failed batch can be redone.
    """
    from sqlalchemy import bindparam, func, select, update

    from labelloop.store.models import Item, utcnow

    with project.session() as s:
        pid = project.id
        ext_ids = list(dict.fromkeys(r.external_id for r in batch))
        existing = {} if assume_new else _existing(s, pid, ext_ids)
        counts = {"inserted": 0, "updated": 0, "unchanged": 0, "votes": 0}
        new_rows, changed = [], []
        created: set[str] = set()
        now = utcnow()
        if s.get_bind().dialect.name == "sqlite":  # as SQLAlchemy stores it, without sqlite3's per-row adapter
            now = now.strftime("%Y-%m-%d %H:%M:%S.%f")
        for r in batch:
            if r.external_id in created:
                continue
            if r.content is None and allow_no_content:  # answers/gold: the item may not exist yet
                if r.external_id not in existing:
                    created.add(r.external_id)
                    new_rows.append((pid, r.external_id, None, None, "{}", content_hash(r.external_id.encode()), 0.0, now))
                continue
            chash = content_hash(r.content or b"")
            if r.external_id in existing:
                if existing[r.external_id][1] != chash:
                    changed.append({"iid": existing[r.external_id][0], "text": r.text, "image": r.image, "fields": r.fields, "h": chash})
                    counts["updated"] += 1
                else:
                    counts["unchanged"] += 1
                continue
            created.add(r.external_id)
            new_rows.append((pid, r.external_id, r.text, r.image, json.dumps(r.fields, ensure_ascii=False) if r.fields else "{}", chash, 0.0, now))
            counts["inserted"] += 1
        ids = {ext: v[0] for ext, v in existing.items()}
        has_votes = any(r.votes for r in batch)
        if new_rows:
            before = (s.scalar(select(func.coalesce(func.max(Item.id), 0))) or 0) if has_votes else 0
            repo.bulk_insert(s, "items", ("project_id", "external_id", "text", "image", "fields", "content_hash", "priority", "created_at"), new_rows)
            if has_votes:  # the new ids are only needed to attach votes
                q = select(Item.external_id, Item.id).where(Item.project_id == pid, Item.id > before)
                ids.update((ext, iid) for ext, iid in s.execute(q) if ext in created)
        if changed:
            s.connection().execute(
                update(Item).where(Item.id == bindparam("iid")).values(text=bindparam("text"), image=bindparam("image"), fields=bindparam("fields"), content_hash=bindparam("h")),
                changed,
            )
        fresh = {ids[e] for e in created} if has_votes else set()
        # votes, grouped by source
        by_source: dict[tuple[str, str], dict[int, tuple[Any, Any]]] = {}
        normalized: dict[str, Any] = {}  # the same label strings, normalised once per batch
        for r in batch:
            for src, kind, value, *conf in r.votes:
                if value.__class__ is str:
                    norm = normalized[value] if value in normalized else normalized.setdefault(value, schema.normalize(value))
                else:
                    norm = schema.normalize(value)
                if norm is None or norm == []:
                    continue
                by_source.setdefault((src, kind), {})[ids[r.external_id]] = (norm, conf[0] if conf else None)
        new_sources: dict[str, int] = {}
        for (src, kind), votes in by_source.items():
            if src not in sources_seen and src not in new_sources:
                new_sources[src] = repo.get_or_create_source(s, pid, src, kind).id
            counts["votes"] += repo.upsert_votes(s, pid, sources_seen.get(src) or new_sources[src], [(iid, v, c) for iid, (v, c) in votes.items()], fresh_items=fresh)
        project.save_schema(s, schema)
    sources_seen.update(new_sources)
    for k, v in counts.items():  # only now: the transaction has committed
        setattr(report, k, getattr(report, k) + v)
    report.rows += len(batch)


def _existing(s, pid: int, ext_ids: list[str]) -> dict[str, tuple[int | None, str]]:
    from sqlalchemy import select

    from labelloop.store.models import Item

    out: dict[str, tuple[int | None, str]] = {}
    for i in range(0, len(ext_ids), 2000):
        chunk = ext_ids[i : i + 2000]
        q = select(Item.external_id, Item.id, Item.content_hash).where(Item.project_id == pid, Item.external_id.in_(chunk))
        for ext, iid, h in s.execute(q):
            out[ext] = (iid, h)
    return out


def dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False)
