"""Repository functions: every read and write of the store, each taking ``session`` first.

Functions return plain Python / pandas values so that the numeric core never needs the ORM.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from labelloop.exceptions import InputError, NotFoundError
from labelloop.store.models import (
    SOURCE_KINDS,
    EmbeddingSet,
    Item,
    Label,
    Prediction,
    Project,
    Source,
    Vote,
    utcnow,
)

CHUNK = 500  # ids per IN (...) clause: below SQLite's variable limit, cheap on PostgreSQL


def bulk_insert(session: Session, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> int:
    """Fast executemany straight through the driver (no per-row ORM/Core processing).

    JSON values must already be serialised with ``json.dumps``. Used by imports, where the
    per-row overhead of the ORM dominates the cost of a million-row file.
    """
    if not rows:
        return 0
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        # COPY: one stream instead of a statement per row (several times faster on psycopg)
        with conn.connection.dbapi_connection.cursor() as cur:
            with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for r in rows:
                    copy.write_row(r)
        return len(rows)
    style = conn.dialect.paramstyle
    mark = "?" if style == "qmark" else "%s"
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join([mark] * len(columns))})"
    conn.exec_driver_sql(sql, [tuple(r) for r in rows])
    return len(rows)


def _chunks(seq: Sequence[Any], n: int = CHUNK):
    for i in range(0, len(seq), n):
        yield seq[i : i + n]


# ---------------------------------------------------------------------- projects
def create_project(session: Session, *, name: str, data_type: str, task_type: str, schema: dict, settings: dict) -> Project:
    row = Project(name=name, data_type=data_type, task_type=task_type, label_schema=schema, settings=settings)
    session.add(row)
    session.flush()
    return row


def find_project(session: Session, name: str) -> Project | None:
    return session.scalar(select(Project).where(Project.name == name))


def get_project(session: Session, project_id: int) -> Project:
    row = session.get(Project, project_id)
    if row is None:
        raise NotFoundError(f"project {project_id} does not exist")
    return row


# ---------------------------------------------------------------------- sources
def get_or_create_source(
    session: Session, project_id: int, name: str, kind: str, version: str | None = None, *, user_id: int | None = None, meta: dict | None = None
) -> Source:
    if kind not in SOURCE_KINDS:
        raise InputError(f"unknown source kind '{kind}'; one of {', '.join(SOURCE_KINDS)}")
    row = session.scalar(select(Source).where(Source.project_id == project_id, Source.name == name))
    if row is None:
        row = Source(project_id=project_id, name=name, kind=kind, version=version, user_id=user_id, meta=meta or {})
        session.add(row)
        session.flush()
    else:
        if row.kind != kind:
            raise InputError(f"source '{name}' already exists as kind '{row.kind}', not '{kind}'")
        if version is not None and row.version != version:
            row.version = version
        if meta:
            row.meta = {**(row.meta or {}), **meta}
    return row


def sources_frame(session: Session, project_id: int) -> pd.DataFrame:
    q = (
        select(Source.id, Source.name, Source.kind, Source.version, func.count(Vote.id).label("votes"))
        .join(Vote, Vote.source_id == Source.id, isouter=True)
        .where(Source.project_id == project_id)
        .group_by(Source.id, Source.name, Source.kind, Source.version)
        .order_by(Source.name)
    )
    rows = session.execute(q).all()
    return pd.DataFrame(rows, columns=["source_id", "name", "kind", "version", "votes"])


# ---------------------------------------------------------------------- items
def item_ids_by_external(session: Session, project_id: int, external_ids: Sequence[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for chunk in _chunks(list(external_ids), 2000):
        q = select(Item.external_id, Item.id).where(Item.project_id == project_id, Item.external_id.in_(chunk))
        out.update(dict(session.execute(q).all()))
    return out


def items_frame(session: Session, project_id: int, *, item_ids: Sequence[int] | None = None) -> pd.DataFrame:
    cols = [Item.id, Item.external_id, Item.text, Item.image, Item.content_hash, Item.fields, Item.priority]
    q = select(*cols).where(Item.project_id == project_id).order_by(Item.id)
    if item_ids is not None:
        rows = []
        for chunk in _chunks(list(item_ids)):
            rows.extend(session.execute(q.where(Item.id.in_(chunk))).all())
    else:
        rows = session.execute(q).all()
    return pd.DataFrame(rows, columns=["item_id", "external_id", "text", "image", "content_hash", "fields", "priority"])


def count_items(session: Session, project_id: int) -> int:
    return session.scalar(select(func.count(Item.id)).where(Item.project_id == project_id)) or 0


def set_priorities(session: Session, project_id: int, item_ids: Sequence[int], priorities: Sequence[float], reason: str) -> int:
    """Write the queue order (higher first) the loop computed, e.g. active learning scores."""
    if len(item_ids) != len(priorities):
        raise InputError("item_ids and priorities must have the same length")
    params = [{"iid": int(i), "p": float(p), "r": reason} for i, p in zip(item_ids, priorities, strict=True)]
    if not params:
        return 0
    from sqlalchemy import bindparam

    stmt = (
        update(Item)
        .where(Item.id == bindparam("iid"), Item.project_id == project_id)
        .values(priority=bindparam("p"), priority_reason=bindparam("r"))
        .execution_options(synchronize_session=False)
    )
    session.connection().execute(stmt, params)
    return len(params)


# ---------------------------------------------------------------------- votes
def add_vote(
    session: Session,
    project_id: int,
    source: Source,
    item_id: int,
    value: Any,
    *,
    confidence: float | None = None,
    probabilities: dict | None = None,
    seconds: float | None = None,
    comment: str | None = None,
) -> Vote:
    """Insert or replace the vote of ``source`` on ``item_id``."""
    row = session.scalar(select(Vote).where(Vote.item_id == item_id, Vote.source_id == source.id))
    if row is None:
        row = Vote(project_id=project_id, item_id=item_id, source_id=source.id)
        session.add(row)
    row.value, row.confidence, row.probabilities = value, confidence, probabilities
    row.seconds, row.comment, row.created_at = seconds, comment, utcnow()
    session.flush()
    return row


def upsert_votes(session: Session, project_id: int, source_id: int, rows: Sequence[tuple], *, fresh_items: set[int] | None = None) -> int:
    """Insert or replace many votes of one source: rows are (item_id, value, confidence[, probabilities]).

    ``fresh_items``: items created in this transaction, which cannot have votes to replace yet.
    """
    if not rows:
        return 0
    import json

    item_ids = [int(r[0]) for r in rows]
    old = [i for i in item_ids if fresh_items is None or i not in fresh_items]
    for chunk in _chunks(old, 2000):
        session.execute(delete(Vote).where(Vote.source_id == source_id, Vote.item_id.in_(chunk)).execution_options(synchronize_session=False))
    now = utcnow()
    payload = [
        (
            project_id,
            int(r[0]),
            source_id,
            json.dumps(_jsonable(r[1])),
            None if len(r) < 3 or r[2] is None else float(r[2]),
            json.dumps(_jsonable(r[3])) if len(r) > 3 and r[3] is not None else None,
            now,
        )
        for r in rows
    ]
    return bulk_insert(session, "votes", ("project_id", "item_id", "source_id", "value", "confidence", "probabilities", "created_at"), payload)


def replace_votes(session: Session, project_id: int, source: Source, rows: Iterable[tuple]) -> int:
    """Replace every vote of ``source`` by ``rows`` (item_id, label, confidence[, probabilities])."""
    session.execute(delete(Vote).where(Vote.source_id == source.id).execution_options(synchronize_session=False))
    rows = list(rows)
    seen: set[int] = set()
    for r in rows:
        if int(r[0]) in seen:
            raise InputError(f"source '{source.name}' votes twice on item {r[0]}")
        seen.add(int(r[0]))
    return upsert_votes(session, project_id, source.id, rows) if rows else 0


def votes_frame(session: Session, project_id: int, *, kinds: Sequence[str] | None = None, sources: Sequence[str] | None = None) -> pd.DataFrame:
    q = (
        select(Vote.item_id, Item.external_id, Source.name, Source.kind, Vote.value, Vote.confidence, Vote.created_at)
        .join(Item, Item.id == Vote.item_id)
        .join(Source, Source.id == Vote.source_id)
        .where(Vote.project_id == project_id)
        .order_by(Vote.id)
    )
    if kinds:
        q = q.where(Source.kind.in_(list(kinds)))
    if sources:
        q = q.where(Source.name.in_(list(sources)))
    rows = session.execute(q).all()
    return pd.DataFrame(rows, columns=["item_id", "external_id", "source", "source_kind", "label", "confidence", "created_at"])


def count_votes(session: Session, project_id: int) -> int:
    return session.scalar(select(func.count(Vote.id)).where(Vote.project_id == project_id)) or 0


# ---------------------------------------------------------------------- final labels
def write_labels(session: Session, project_id: int, frame: pd.DataFrame, method: str) -> int:
    """Replace the project's final labels by ``frame`` (item_id, label, confidence[, probs])."""
    missing = {"item_id", "label"} - set(frame.columns)
    if missing:
        raise InputError(f"labels frame lacks columns {sorted(missing)}")
    session.execute(delete(Label).where(Label.project_id == project_id).execution_options(synchronize_session=False))
    now = utcnow()
    has_conf = "confidence" in frame.columns
    has_probs = "probs" in frame.columns
    payload = []
    for rec in frame.to_dict("records"):
        conf = rec.get("confidence") if has_conf else None
        payload.append(
            {
                "item_id": int(rec["item_id"]),
                "project_id": project_id,
                "value": _jsonable(rec["label"]),
                "confidence": None if conf is None or (isinstance(conf, float) and np.isnan(conf)) else float(conf),
                "probabilities": _jsonable(rec.get("probs")) if has_probs else None,
                "method": method,
                "updated_at": now,
            }
        )
    for chunk in _chunks(payload, 5000):
        session.execute(Label.__table__.insert(), chunk)
    return len(payload)


def labels_frame(session: Session, project_id: int) -> pd.DataFrame:
    q = (
        select(Label.item_id, Item.external_id, Label.value, Label.confidence, Label.method)
        .join(Item, Item.id == Label.item_id)
        .where(Label.project_id == project_id)
        .order_by(Label.item_id)
    )
    return pd.DataFrame(session.execute(q).all(), columns=["item_id", "external_id", "label", "confidence", "method"])


# ---------------------------------------------------------------------- predictions
def write_predictions(
    session: Session, project_id: int, model_version: str, item_ids: Sequence[int], probs: np.ndarray, classes: Sequence[Any]
) -> int:
    probs = np.asarray(probs, dtype=float)
    if probs.shape != (len(item_ids), len(classes)):
        raise InputError(f"probabilities must have shape ({len(item_ids)}, {len(classes)}), got {probs.shape}")
    for chunk in _chunks([int(i) for i in item_ids]):
        session.execute(
            delete(Prediction)
            .where(Prediction.model_version == model_version, Prediction.item_id.in_(chunk))
            .execution_options(synchronize_session=False)
        )
    now = utcnow()
    classes = [_jsonable(c) for c in classes]
    best = probs.argmax(axis=1) if len(item_ids) else np.array([], dtype=int)
    payload = [
        {
            "project_id": project_id,
            "item_id": int(iid),
            "model_version": model_version,
            "label": classes[int(b)],
            "confidence": float(p[int(b)]),
            "probabilities": {str(c): float(v) for c, v in zip(classes, p, strict=True)},
            "created_at": now,
        }
        for iid, p, b in zip(item_ids, probs, best, strict=True)
    ]
    for chunk in _chunks(payload, 5000):
        session.execute(Prediction.__table__.insert(), chunk)
    return len(payload)


def predictions_frame(session: Session, project_id: int, model_version: str | None = None) -> pd.DataFrame:
    if model_version is None:
        model_version = session.scalar(
            select(Prediction.model_version).where(Prediction.project_id == project_id).order_by(Prediction.created_at.desc(), Prediction.id.desc()).limit(1)
        )
        if model_version is None:
            return pd.DataFrame(columns=["item_id", "model_version", "label", "confidence", "probabilities"])
    q = select(Prediction.item_id, Prediction.model_version, Prediction.label, Prediction.confidence, Prediction.probabilities).where(
        Prediction.project_id == project_id, Prediction.model_version == model_version
    )
    return pd.DataFrame(session.execute(q).all(), columns=["item_id", "model_version", "label", "confidence", "probabilities"])


# ---------------------------------------------------------------------- embeddings
def record_embedding_set(session: Session, project_id: int, *, model: str, dim: int, path: str, count: int, meta: dict | None = None) -> EmbeddingSet:
    row = session.scalar(select(EmbeddingSet).where(EmbeddingSet.project_id == project_id, EmbeddingSet.model == model))
    if row is None:
        row = EmbeddingSet(project_id=project_id, model=model, dim=dim, path=str(path), count=count, meta=meta or {})
        session.add(row)
    else:
        row.dim, row.path, row.count, row.meta, row.created_at = dim, str(path), count, meta or {}, utcnow()
    session.flush()
    return row


def embedding_sets(session: Session, project_id: int) -> list[EmbeddingSet]:
    return list(session.scalars(select(EmbeddingSet).where(EmbeddingSet.project_id == project_id)))


# ---------------------------------------------------------------------- stats
def label_counts(session: Session, project_id: int) -> dict[str, int]:
    """label -> number of items carrying it: the final label where an item has one, else any vote."""
    counts: dict[str, int] = {}
    final = session.execute(select(Label.item_id, Label.value).where(Label.project_id == project_id)).all()
    labelled = set()
    per_item: dict[int, set[str]] = {}
    for iid, value in final:
        labelled.add(iid)
        per_item.setdefault(iid, set()).update(_as_labels(value))
    q = select(Vote.item_id, Vote.value).where(Vote.project_id == project_id)
    for iid, value in session.execute(q):
        if iid in labelled:
            continue
        per_item.setdefault(iid, set()).update(_as_labels(value))
    for labs in per_item.values():
        for lab in labs:
            counts[lab] = counts.get(lab, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def _as_labels(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v) for v in value]
    return [str(value)]


def _jsonable(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, (list, tuple, set)):
        return [_jsonable(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    return v


_LABELS_SQL = (
    "SELECT i.id, i.external_id, i.text, i.image, l.value, l.confidence, l.method FROM items i "
    "LEFT JOIN labels l ON l.item_id = i.id WHERE i.project_id = :pid"
)


def label_pages(engine, project_id: int, *, page: int = 10_000):
    """Every item of a project with its final label, in id order, ``page`` rows at a time: lists
    of tuples (item id, external id, text, image, label, confidence, method), the label decoded.

    PostgreSQL: one query read through a server-side cursor (one snapshot, a merge join along
    both primary keys). Keyset pages are planned one by one there, and right after a bulk write
    of labels, before autovacuum has refreshed the statistics, each page was planned as a hash
    join of the whole labels table plus a sort (over a second per page, 100 s for 1M labels).
    SQLite: keyset pages, one short read each, so a long export never holds a read snapshot that
    stops the write-ahead log from being checkpointed.
    """
    from labelloop.store.fastsql import Raw, _translate

    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            try:
                cur = conn.connection.dbapi_connection.cursor(name="labelloop_labels")
                cur.itersize = page
                cur.execute(_translate(_LABELS_SQL + " ORDER BY i.id", "postgresql"), {"pid": project_id})
                while rows := cur.fetchmany(page):
                    yield rows  # psycopg has already decoded the JSON label
                cur.close()
            finally:
                conn.rollback()
        return
    last = 0
    while True:
        with engine.connect() as conn:
            r = Raw(conn)
            rows = r.all(_LABELS_SQL + " AND i.id > :last ORDER BY i.id LIMIT :n", pid=project_id, last=last, n=page)
            conn.rollback()
        if not rows:
            return
        yield [(row[0], row[1], row[2], row[3], r.json(row[4]), row[5], row[6]) for row in rows]
        last = rows[-1][0]
