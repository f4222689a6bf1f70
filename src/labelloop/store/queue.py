"""The labelling queue: leases, overlap, honeypots, answers, live aggregate and annotator skill.

Invariants (tested under concurrency on SQLite and PostgreSQL):

* an item is handed to at most ``overlap + q_extra + q_review`` annotators at once
  (``items.q_taken`` counts live leases plus answers; ``items.q_open`` says whether another may be
  handed out; ``q_extra`` is what dynamic overlap added, ``q_review`` what a re-labelling request
  added, see :func:`requeue_items`);
* never the same item twice to one annotator (``assignments`` is unique per item and user);
* a lease that expires gives its slot back; a late answer is accepted only while a slot is free;
* honeypots (items with a gold answer) are handed out at ``honeypot_rate``, through the same
  response as any other item, and never enter the regular queue.

Every write runs in one short transaction: on SQLite the :class:`Database` opens it with
``BEGIN IMMEDIATE`` behind an in-process lock (no busy-wait retries); on PostgreSQL the pick is
``SELECT ... FOR UPDATE SKIP LOCKED``.
"""

from __future__ import annotations

import math
import random
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass, field, fields
from datetime import timedelta
from typing import Any

from sqlalchemy import (
    and_,
    bindparam,
    case,
    delete,
    event,
    exists,
    false,
    func,
    insert,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from labelloop.exceptions import AccessError, ConflictError, InputError, NotFoundError, SchemaError
from labelloop.schema import LabelSchema
from labelloop.store.fastsql import Raw
from labelloop.store.models import (
    AnnotatorStat,
    Assignment,
    Item,
    Label,
    Prediction,
    Source,
    User,
    Vote,
    utcnow,
)

A = Assignment


# ---------------------------------------------------------------------- settings
@dataclass
class QueueSettings:
    """Per-project queue settings, stored in ``projects.settings``."""

    overlap: int = 1  # distinct annotators per item
    max_overlap: int = 0  # dynamic overlap: ask up to this many while unsure (0 = same as overlap)
    confidence_target: float = 0.9  # ...until the aggregate reaches this confidence
    honeypot_rate: float = 0.0  # share of handed-out items that are honeypots
    lease_seconds: int = 600  # an unanswered item goes back to the queue after this
    honeypot_min: int = 3  # honeypots answered before an annotator can be paused
    pause_below: float = 0.5  # ...when their honeypot accuracy is below this
    prior_accuracy: float = 0.8  # accuracy assumed for a new annotator
    model_accuracy: float = 0.7  # accuracy given to model predictions and other machine voters
    blind: bool = False  # hide model pre-labels (to measure how much they bias people)
    mode: str = "label"  # label | accept_reject
    retrain_every: int = 50  # the worker runs a round every K new answers
    worker_loop: bool = True  # the worker's round also retrains the model (pre-labels, priorities)
    loop_embed_model: str = "auto"  # features for that model: "auto" (sentence embeddings when installed) or "tfidf"
    media_roots: list[str] = field(default_factory=list)  # extra folders images may be served from

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> QueueSettings:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in (d or {}).items() if k in names})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def ceiling(self) -> int:
        return max(self.overlap, self.max_overlap)


def validate_settings(values: dict[str, Any]) -> dict[str, Any]:
    """Check settings values (from the CLI or the admin API); returns them typed."""
    names = {f.name: f for f in fields(QueueSettings)}
    out: dict[str, Any] = {}
    for k, v in values.items():
        if v is None:
            continue
        if k not in names:
            raise InputError(f"unknown setting '{k}'; known: {', '.join(sorted(names))}")
        try:
            if k in ("overlap", "max_overlap", "lease_seconds", "honeypot_min", "retrain_every"):
                if isinstance(v, bool) or float(v) != int(v):
                    raise ValueError
                v = int(v)
            elif k in ("confidence_target", "honeypot_rate", "pause_below", "prior_accuracy", "model_accuracy"):
                if isinstance(v, bool):
                    raise ValueError
                v = float(v)
            elif k in ("blind", "worker_loop"):
                if not isinstance(v, bool):
                    raise ValueError
            elif k in ("mode", "loop_embed_model"):
                if not isinstance(v, str):
                    raise ValueError
                v = str(v)
            elif k == "media_roots":
                if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
                    raise ValueError
        except (TypeError, ValueError):
            raise InputError(f"setting '{k}' has an invalid value {v!r}") from None
        out[k] = v
    checks = [
        ("overlap", lambda x: 1 <= x <= 50, "between 1 and 50"),
        ("max_overlap", lambda x: 0 <= x <= 50, "between 0 and 50"),
        ("lease_seconds", lambda x: 5 <= x <= 7 * 86400, "between 5 and 604800"),
        ("honeypot_min", lambda x: 1 <= x <= 1000, "between 1 and 1000"),
        ("retrain_every", lambda x: 1 <= x <= 10**7, "at least 1"),
        ("honeypot_rate", lambda x: 0.0 <= x <= 0.5, "between 0 and 0.5"),
        ("confidence_target", lambda x: 0.5 <= x <= 1.0, "between 0.5 and 1"),
        ("pause_below", lambda x: 0.0 <= x <= 1.0, "between 0 and 1"),
        ("prior_accuracy", lambda x: 0.0 < x < 1.0, "strictly between 0 and 1"),
        ("model_accuracy", lambda x: 0.0 < x < 1.0, "strictly between 0 and 1"),
        ("mode", lambda x: x in ("label", "accept_reject"), "'label' or 'accept_reject'"),
    ]
    for k, ok, what in checks:
        if k in out and not ok(out[k]):
            raise InputError(f"setting '{k}' must be {what}, got {out[k]!r}")
    return out


# ---------------------------------------------------------------------- database
class Database:
    """Engines for the server: reads plus serialised short write transactions.

    On SQLite every write transaction starts with ``BEGIN IMMEDIATE`` (so two writers never
    both read and then fail to upgrade their lock) behind a process-wide lock (so threads queue
    instead of sleeping in SQLite's busy handler); other processes are held off by the database
    lock and the busy timeout.
    """

    # SQLite: seconds between checkpoints of the write-ahead log by a background thread. By
    # default the connection whose commit fills the log past 1000 pages copies it into the
    # database file and syncs it, within that request's transaction (on the event loop for
    # run_now), which stalls every annotator behind it; here commits never checkpoint.
    CHECKPOINT_SECONDS = 0.5

    def __init__(self, url: str, *, pool_size: int = 20):
        from labelloop.store.engine import make_engine, normalize_url, session_factory

        url = normalize_url(url)
        self.url = url
        self.sqlite = url.startswith("sqlite")
        self.postgres = url.startswith("postgresql")
        kw = {"pool_size": pool_size, "max_overflow": pool_size}
        self.engine = make_engine(url, **kw)
        self._checkpointer: _Checkpointer | None = None
        if self.sqlite:
            self.write_engine = make_engine(url, **kw)

            @event.listens_for(self.write_engine, "connect")
            def _autocommit(dbapi_conn, _rec):  # pragma: no cover - trivial
                dbapi_conn.isolation_level = None

            @event.listens_for(self.write_engine, "begin")
            def _begin_immediate(conn):  # pragma: no cover - trivial
                conn.connection.dbapi_connection.execute("BEGIN IMMEDIATE")

            self._lock: Any = threading.Lock()
            # the same, but BEGIN IMMEDIATE fails at once when another process holds the write
            # lock, instead of waiting in the busy handler (see run_now)
            self.nowait_engine = make_engine(url, pool_size=2, max_overflow=2)

            @event.listens_for(self.nowait_engine, "connect")
            def _nowait(dbapi_conn, _rec):  # pragma: no cover - trivial
                dbapi_conn.isolation_level = None
                dbapi_conn.execute("PRAGMA busy_timeout=0")

            event.listen(self.nowait_engine, "begin", _begin_immediate)
            path = self.engine.url.database
            if path and path != ":memory:" and not path.startswith("file:"):
                for eng in (self.engine, self.write_engine, self.nowait_engine):
                    event.listen(eng, "connect", _no_autocheckpoint)
                self._checkpointer = _Checkpointer(path, self.CHECKPOINT_SECONDS)
        else:
            self.write_engine = self.engine
            self.nowait_engine = None
            self._lock = nullcontext()
        self._waiting = 0  # threads queued for the write lock (run_now lets them go first)
        self._count_lock = threading.Lock()
        self._read = session_factory(self.engine)
        self._write = session_factory(self.write_engine)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        if not self.sqlite:
            yield
            return
        with self._count_lock:
            self._waiting += 1
        try:
            self._lock.acquire()
        finally:
            with self._count_lock:
                self._waiting -= 1
        try:
            yield
        finally:
            self._lock.release()

    @contextmanager
    def writing(self) -> Iterator[Session]:
        from labelloop.store.engine import transaction

        with self._locked(), transaction(self._write) as s:
            yield s

    @contextmanager
    def core(self) -> Iterator[Any]:
        """A Core connection in one write transaction (cheaper than a Session): the hot path."""
        with self._locked(), self.write_engine.begin() as conn:
            yield conn

    def run_core(self, fn: Callable[[Any], Any]) -> Any:
        """``fn(conn)`` in one :meth:`core` transaction; returns what it returns."""
        with self.core() as conn:
            return fn(conn)

    def run_now(self, fn: Callable[[Any], Any]) -> Any:
        """``fn(conn)`` in one write transaction if that needs no waiting, else :data:`NOT_NOW`.

        For a caller on an event loop (the server's hot path): on SQLite, when no thread holds
        or waits for the write lock and no other process holds the database's, the short
        transaction runs right there, which saves a hand-off to a worker thread and back; when
        it would have to wait, nothing is done and the caller goes to a thread (:meth:`run_core`).
        Always NOT_NOW on PostgreSQL (network round trips: threads overlap them).
        """
        if self.nowait_engine is None or self._waiting or not self._lock.acquire(blocking=False):
            return NOT_NOW
        try:
            conn = self.nowait_engine.connect()
            try:
                tx = conn.begin()
            except (OperationalError, sqlite3.OperationalError) as exc:
                if "locked" in str(exc) or "busy" in str(exc):  # another process is writing
                    conn.close()
                    return NOT_NOW
                raise
            try:
                out = fn(conn)
                tx.commit()
                return out
            finally:
                if tx.is_active:
                    tx.rollback()
                conn.close()
        finally:
            self._lock.release()

    @contextmanager
    def reading(self) -> Iterator[Session]:
        from labelloop.store.engine import transaction

        with transaction(self._read) as s:
            yield s

    def dispose(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.stop()
        self.engine.dispose()
        if self.write_engine is not self.engine:
            self.write_engine.dispose()
        if self.nowait_engine is not None:
            self.nowait_engine.dispose()


NOT_NOW = object()  # Database.run_now: the transaction would have had to wait


def _no_autocheckpoint(dbapi_conn, _rec) -> None:  # pragma: no cover - trivial
    dbapi_conn.execute("PRAGMA wal_autocheckpoint=0")


class _Checkpointer:
    """Checkpoints a SQLite database's write-ahead log every ``seconds`` from its own thread.

    PASSIVE checkpoints wait for nobody: writers go on appending to the log meanwhile, and
    frames a reader still needs are left for the next round (SQLite restarts the log once a
    checkpoint has copied all of it). The sqlite3 module releases the GIL while SQLite copies
    and syncs, so request handling goes on as well. A final checkpoint runs at :meth:`stop`.
    """

    def __init__(self, path: str, seconds: float):
        self.path = path
        self.seconds = seconds
        self.rounds = 0
        self.error: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sqlite-checkpoint", daemon=True)
        self._thread.start()

    def _checkpoint(self, conn) -> None:
        try:
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            self.rounds += 1
            self.error = None
        except sqlite3.Error as exc:  # busy or locked: try again next round
            self.error = str(exc)

    def _run(self) -> None:
        conn = sqlite3.connect(self.path, timeout=0, check_same_thread=False, isolation_level=None)
        try:
            while not self._stop.wait(self.seconds):
                self._checkpoint(conn)
            self._checkpoint(conn)
        finally:
            conn.close()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)


# ---------------------------------------------------------------------- context
@dataclass
class QueueContext:
    """What the queue functions need to know about one project."""

    project_id: int
    schema: LabelSchema
    settings: QueueSettings
    postgres: bool = False
    _sources: dict[int, int] = field(default_factory=dict, repr=False)  # user id -> source id
    _reaped_at: float = 0.0
    _open_count: tuple[float, int] = (0.0, 0)
    _open_count_ttl: float = 0.0  # seconds: 20x the last count's duration (see open_count)
    _progress: dict[int, tuple[float, int, int]] = field(default_factory=dict, repr=False)  # user -> (time, done, mine_open)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    # The server sets this to run ``fn(session)`` in a background thread with its own read
    # session: the progress counts (open_count, user_progress) are then refreshed there and the
    # hot path only reads their cache. Without it (library use) they are counted inline.
    background: Callable[[Callable[[Session], None]], None] | None = field(default=None, repr=False)
    _refreshing: set = field(default_factory=set, repr=False)  # keys of background refreshes under way

    def refresh_later(self, key: Any, fn: Callable[[Session], None]) -> bool:
        """Run ``fn`` in the background unless a refresh of ``key`` is already under way;
        False when there is no background runner (the caller counts inline)."""
        if self.background is None:
            return False
        with self._lock:
            if key in self._refreshing:
                return True
            self._refreshing.add(key)

        def run(s: Session) -> None:
            try:
                fn(s)
            finally:
                with self._lock:
                    self._refreshing.discard(key)

        try:
            self.background(run)
        except Exception:  # e.g. the runner is shutting down: count inline this time
            with self._lock:
                self._refreshing.discard(key)
            return False
        return True


def _open_expr(ctx: QueueContext, taken):
    """SQL expression: may the item be handed out again, given ``taken`` slots in use."""
    return taken < ctx.settings.overlap + Item.q_extra + Item.q_review


# ---------------------------------------------------------------------- leasing
def reap_expired(s: Session, ctx: QueueContext, *, now=None, min_interval: float = 1.0) -> int:
    """Expire leases past their time and give their slots back (at most once per interval)."""
    t = time.monotonic()
    if min_interval and t - ctx._reaped_at < min_interval:
        return 0
    ctx._reaped_at = t
    now = now or utcnow()
    # only the rows this transaction really moves from leased to expired give their slot back
    # (two servers reaping at once on PostgreSQL: the second finds them expired already)
    rows = Raw(s).all(
        "UPDATE assignments SET state = 'expired', updated_at = :now WHERE project_id = :pid AND state = 'leased' "
        "AND lease_expires_at < :now RETURNING item_id, is_honeypot",
        now=now, pid=ctx.project_id,
    )
    _release_slots(s, ctx, [r[0] for r in rows if not r[1]])
    return len(rows)


def _release_slots(s: Session, ctx: QueueContext, item_ids: list[int]) -> None:
    if not item_ids:
        return
    stmt = (
        update(Item)
        .where(Item.id == bindparam("iid"))
        .values(q_taken=Item.q_taken - 1, q_open=_open_expr(ctx, Item.q_taken - 1))
        .execution_options(synchronize_session=False)
    )
    conn = s.connection() if isinstance(s, Session) else s
    conn.execute(stmt, [{"iid": i} for i in item_ids])


def active_lease(s: Session, ctx: QueueContext, user_id: int, now=None, *, exclude: int | None = None) -> tuple[int, bool] | None:
    now = now or utcnow()
    r = Raw(s)
    row = r.one(
        "SELECT item_id, is_honeypot FROM assignments WHERE user_id = :uid AND project_id = :pid AND state = 'leased' "
        "AND lease_expires_at > :now AND item_id <> :ex ORDER BY id LIMIT 1",
        uid=user_id, pid=ctx.project_id, now=now, ex=exclude or 0,
    )
    return (row[0], bool(row[1])) if row else None


def _pick_honeypot(s: Session, ctx: QueueContext, user_id: int, rng: random.Random) -> int | None:
    seen = exists().where(A.item_id == Vote.item_id, A.user_id == user_id)
    ids = s.scalars(
        select(Vote.item_id)
        .join(Source, Source.id == Vote.source_id)
        .where(Source.project_id == ctx.project_id, Source.kind == "gold", ~seen)
        .limit(2000)
    ).all()
    return rng.choice(ids) if ids else None


_PICK = (
    "SELECT i.id FROM items i WHERE i.project_id = :pid AND i.q_open = :t AND NOT EXISTS "
    "(SELECT 1 FROM assignments a WHERE a.item_id = i.id AND a.user_id = :uid AND a.state <> 'expired') "
    "ORDER BY i.priority DESC, i.id LIMIT 1"
)


def _pick_queue(s: Session, ctx: QueueContext, user_id: int) -> int | None:
    """The first open item (by priority) this user never had; PostgreSQL skips rows locked by
    concurrent picks (``FOR UPDATE SKIP LOCKED``) so two annotators never race for one slot."""
    sql = _PICK + (" FOR UPDATE OF i SKIP LOCKED" if ctx.postgres else "")
    return Raw(s).scalar(sql, pid=ctx.project_id, t=True, uid=user_id)


def _lease(s: Session, ctx: QueueContext, user_id: int, item_id: int, honeypot: bool, now) -> None:
    r = Raw(s)
    expires = now + timedelta(seconds=ctx.settings.lease_seconds)
    if not honeypot:
        r.execute("UPDATE items SET q_taken = q_taken + 1, q_open = (q_taken + 1 < :ov + q_extra + q_review) WHERE id = :iid",
                  ov=ctx.settings.overlap, iid=item_id)
    r.execute(
        "INSERT INTO assignments (project_id, item_id, user_id, state, is_honeypot, lease_expires_at, created_at, updated_at) "
        "VALUES (:pid, :iid, :uid, 'leased', :hp, :exp, :now, :now) "
        "ON CONFLICT (item_id, user_id) DO UPDATE SET state = 'leased', is_honeypot = excluded.is_honeypot, "
        "lease_expires_at = excluded.lease_expires_at, updated_at = excluded.updated_at, answered_at = NULL, honeypot_correct = NULL "
        "WHERE assignments.state = 'expired'",
        pid=ctx.project_id, iid=item_id, uid=user_id, hp=honeypot, exp=expires, now=now,
    )


def next_item(s: Session, ctx: QueueContext, user_id: int, *, rng: random.Random | None = None, after: int | None = None) -> int | None:
    """Lease the next item for ``user_id`` (or return the one already leased); None when done.

    ``after``: the item the user is working on now; another item is leased beside it (so the UI
    can prefetch), at most two at a time.
    """
    rng = rng or random
    now = utcnow()
    reap_expired(s, ctx, now=now)
    cur = active_lease(s, ctx, user_id, now, exclude=after)
    if cur is not None:
        return cur[0]
    item_id, honeypot = None, False
    if ctx.settings.honeypot_rate > 0 and rng.random() < ctx.settings.honeypot_rate:
        item_id = _pick_honeypot(s, ctx, user_id, rng)
        honeypot = item_id is not None
    if item_id is None:
        item_id = _pick_queue(s, ctx, user_id)
    if item_id is None:
        return None
    _lease(s, ctx, user_id, item_id, honeypot, now)
    return item_id


def item_payload(s: Session, ctx: QueueContext, item_id: int, *, full: bool = False) -> dict[str, Any]:
    """What an annotator sees: the content and, unless blind, the model's pre-label.

    Nothing here depends on whether the item is a honeypot; ``full`` (reviewers) adds the
    external id, the fields and every vote.
    """
    r = Raw(s)
    row = r.one("SELECT id, text, image FROM items WHERE id = :iid AND project_id = :pid", iid=item_id, pid=ctx.project_id)
    if row is None:
        raise NotFoundError(f"item {item_id} is not in this project")
    out: dict[str, Any] = {"item_id": row[0], "text": row[1], "has_image": row[2] is not None, "prelabel": None}
    if not ctx.settings.blind:
        pred = r.one("SELECT label, confidence FROM predictions WHERE item_id = :iid ORDER BY created_at DESC, id DESC LIMIT 1", iid=item_id)
        if pred is None:
            pred = r.one(
                "SELECT v.value, v.confidence FROM votes v JOIN sources s ON s.id = v.source_id WHERE v.item_id = :iid AND s.kind = 'prelabel' LIMIT 1",
                iid=item_id,
            )
        if pred is not None:
            out["prelabel"] = {"label": r.json(pred[0]), "confidence": pred[1]}
    if full:
        ext, fields_ = s.execute(select(Item.external_id, Item.fields).where(Item.id == item_id)).one()
        out["external_id"] = ext
        out["fields"] = fields_
        out["votes"] = [
            {"source": n, "kind": k, "label": v, "comment": c}
            for n, k, v, c in s.execute(
                select(Source.name, Source.kind, Vote.value, Vote.comment).join(Source, Source.id == Vote.source_id).where(Vote.item_id == item_id).order_by(Source.name)
            )
        ]
        lab = s.execute(select(Label.value, Label.confidence, Label.method).where(Label.item_id == item_id)).first()
        out["final"] = None if lab is None else {"label": lab[0], "confidence": lab[1], "method": lab[2]}
    return out


# ---------------------------------------------------------------------- answers
def normalize_answer(schema: LabelSchema, value: Any) -> Any:
    """Apply the taxonomy (aliases -> tags, parents added) and check the label is allowed."""
    if schema.is_multi:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise SchemaError("a multi-label answer is a list of tags, e.g. [\"nlp\", \"transformers\"]")
        if len(value) > 200:
            raise SchemaError("too many tags in one answer (at most 200)")
        norm = schema.normalize(value, learn=False)
        known = set(schema.classes) | (set(schema.taxonomy.parents) if schema.taxonomy else set())
        unknown = [t for t in norm if known and t not in known]
        if unknown:
            raise SchemaError(f"unknown tag(s) {', '.join(unknown)}; pick tags of the project (aliases are accepted)")
        return norm
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        raise SchemaError("a single-label answer is one class name (a string)")
    value = str(value)
    if len(value) > 500:
        raise SchemaError("label longer than 500 characters")
    label = schema.normalize(value, learn=False)
    if label is None or (schema.classes and label not in schema.classes):
        raise SchemaError(f"label '{value}' is not one of the classes {schema.classes}")
    return label


def human_source_id(s: Session, ctx: QueueContext, user_id: int, user_name: str) -> int:
    """The id of the user's ``human`` source in this project, created when missing.

    Only ids of committed sources are cached (see :func:`ensure_human_source`).
    """
    sid = ctx._sources.get(user_id)
    if sid is not None:
        return sid
    name = f"user:{user_name}"
    row = s.execute(select(Source.id, Source.kind).where(Source.project_id == ctx.project_id, Source.name == name)).first()
    if row is not None:
        if row.kind != "human":
            raise ConflictError(f"source '{name}' exists with kind '{row.kind}'")
        return row.id
    try:
        with s.begin_nested():
            res = s.execute(insert(Source).values(project_id=ctx.project_id, name=name, kind="human", user_id=user_id, meta={}, created_at=utcnow()))
            return res.inserted_primary_key[0]
    except IntegrityError:  # created at the same moment by another request of this user
        return s.scalar(select(Source.id).where(Source.project_id == ctx.project_id, Source.name == name))


def cached_source_id(ctx: QueueContext, user_id: int) -> int | None:
    """The user's committed ``human`` source id if this process knows it already."""
    return ctx._sources.get(user_id)


def ensure_human_source(db: Database, ctx: QueueContext, user) -> int:
    """Create (in its own committed transaction) and cache the user's source id."""
    sid = ctx._sources.get(user.id)
    if sid is None:
        with db.writing() as s:
            sid = human_source_id(s, ctx, user.id, user.name)
        ctx._sources[user.id] = sid
    return sid


def gold_value(s: Session, ctx: QueueContext, item_id: int) -> Any:
    return s.scalar(
        select(Vote.value).join(Source, Source.id == Vote.source_id).where(Vote.item_id == item_id, Source.kind == "gold", Source.project_id == ctx.project_id).limit(1)
    )


def same_label(a: Any, b: Any) -> bool:
    if isinstance(a, list) or isinstance(b, list):
        return sorted(a or []) == sorted(b or [])
    return a == b


@dataclass
class AnswerResult:
    item_id: int
    paused: str | None = None
    label: Any = None
    answers: int | None = None  # the annotator's answers in this project, after this one


def submit_answer(
    s: Session, ctx: QueueContext, user, item_id: int, label: Any, *, comment: str | None = None, seconds: float | None = None,
    source_id: int | None = None,
) -> AnswerResult:
    """Record ``user``'s (already normalised) answer on ``item_id``; see the module docstring.

    One short transaction: the item row is locked on PostgreSQL (answers on one item take
    turns), the vote upserted, the assignment closed, the annotator's stats and weight updated
    (pausing them past the honeypot threshold) and the item's live aggregate rewritten.
    """
    r = Raw(s)
    now = utcnow()
    pid = ctx.project_id
    st = ctx.settings
    item = r.one("SELECT project_id, q_done, q_extra, q_review FROM items WHERE id = :iid" + (" FOR UPDATE" if ctx.postgres else ""), iid=item_id)
    if item is None or item[0] != pid:
        raise NotFoundError(f"item {item_id} is not in this project")
    a = r.one("SELECT id, state, is_honeypot FROM assignments WHERE item_id = :iid AND user_id = :uid", iid=item_id, uid=user.id)
    honeypot = bool(a[2]) if a is not None else False
    if a is None:
        if not user.can_review:
            raise ConflictError(f"item {item_id} is not assigned to you; fetch one with GET /next")
    elif a[1] == "done":
        raise ConflictError(f"you already answered item {item_id}; use undo to change your last answer")
    elif a[1] == "skipped":
        raise ConflictError(f"you skipped item {item_id}")
    elif a[1] == "expired" and not honeypot:
        n = r.rowcount("UPDATE items SET q_taken = q_taken + 1, q_open = (q_taken + 1 < :ov + q_extra + q_review) WHERE id = :iid AND q_open = :t",
                       ov=st.overlap, iid=item_id, t=True)
        if n == 0:
            raise ConflictError(f"your lease on item {item_id} expired and it went to someone else; fetch the next item")

    sid = source_id if source_id is not None else human_source_id(s, ctx, user.id, user.name)
    others = [
        _V(kind=k, user_id=u, value=r.json(v), weight=w)
        for k, u, v, w in r.all(
            "SELECT s.kind, s.user_id, v.value, st.weight FROM votes v JOIN sources s ON s.id = v.source_id "
            "LEFT JOIN annotator_stats st ON st.user_id = s.user_id AND st.project_id = :pid "
            "WHERE v.item_id = :iid AND v.source_id <> :sid AND s.kind <> 'prelabel'",
            pid=pid, iid=item_id, sid=sid,
        )
    ]
    if not any(v.kind == "model" for v in others):
        pred = r.scalar("SELECT label FROM predictions WHERE item_id = :iid ORDER BY created_at DESC, id DESC LIMIT 1", iid=item_id)
        if pred is not None:
            others.append(_V(kind="model", user_id=None, value=r.json(pred), weight=None))

    correct = None
    if honeypot:
        gold = r.scalar("SELECT v.value FROM votes v JOIN sources s ON s.id = v.source_id WHERE v.item_id = :iid AND s.kind = 'gold' LIMIT 1", iid=item_id)
        correct = same_label(label, r.json(gold))
    peer = [v.value for v in others if v.kind == "human" and v.user_id != user.id]
    agree = same_label(label, _majority(peer)) if peer else None

    # annotator stats: one upsert; the weight is the smoothed honeypot accuracy
    dh, dc = int(honeypot), int(bool(correct))
    p5 = 5 * st.prior_accuracy
    secs = float(min(max(seconds or 0.0, 0.0), 3600.0))
    stats = r.one(
        "INSERT INTO annotator_stats (project_id, user_id, answers, honeypots, honeypots_correct, peer_checks, peer_agree, seconds, weight, updated_at) "
        "VALUES (:pid, :uid, 1, :dh, :dc, :pc, :pa, :secs, (:dc + :p5) / (:dh + 5.0), :now) "
        "ON CONFLICT (project_id, user_id) DO UPDATE SET answers = annotator_stats.answers + 1, "
        "honeypots = annotator_stats.honeypots + :dh, honeypots_correct = annotator_stats.honeypots_correct + :dc, "
        "peer_checks = annotator_stats.peer_checks + :pc, peer_agree = annotator_stats.peer_agree + :pa, "
        "seconds = annotator_stats.seconds + :secs, "
        "weight = (annotator_stats.honeypots_correct + :dc + :p5) / (annotator_stats.honeypots + :dh + 5.0), updated_at = :now "
        "RETURNING answers, honeypots, honeypots_correct, weight",
        pid=pid, uid=user.id, dh=dh, dc=dc, pc=int(agree is not None), pa=int(bool(agree)), secs=secs, p5=p5, now=now,
    )
    r.execute(
        "INSERT INTO votes (project_id, item_id, source_id, value, seconds, comment, created_at) VALUES (:pid, :iid, :sid, :j_value, :secs, :comment, :now) "
        "ON CONFLICT (item_id, source_id) DO UPDATE SET value = excluded.value, seconds = excluded.seconds, comment = excluded.comment, created_at = excluded.created_at",
        pid=pid, iid=item_id, sid=sid, j_value=label, secs=seconds, comment=comment, now=now,
    )
    if a is not None:
        r.execute("UPDATE assignments SET state = 'done', answered_at = :now, updated_at = :now, honeypot_correct = :c WHERE id = :aid",
                  now=now, c=correct, aid=a[0])

    # live aggregate of the item (and dynamic overlap)
    votes = others + [_V(kind="human", user_id=user.id, value=label, weight=float(stats[3]))]
    weights = [
        (v.weight if v.weight is not None else st.prior_accuracy) if v.kind == "human" else 0.99 if v.kind == "gold" else st.model_accuracy
        for v in votes
    ]
    agg = aggregate_votes(ctx.schema, votes, weights, st)
    if a is not None and not honeypot:
        q_done, q_extra = item[1] + 1, item[2]
        # dynamic overlap asks one more answer once every answer asked (overlap, earlier extras and
        # a review's re-labelling request) is in and the aggregate is still unsure
        bump = (agg is not None and st.max_overlap > st.overlap and agg[1] < st.confidence_target
                and q_done >= st.overlap + q_extra + item[3] and q_extra < st.max_overlap - st.overlap)
        if bump:
            r.execute("UPDATE items SET q_done = q_done + 1, q_extra = q_extra + 1, q_open = (q_taken < :ov + q_extra + q_review + 1) WHERE id = :iid",
                      ov=st.overlap, iid=item_id)
        else:
            r.execute("UPDATE items SET q_done = q_done + 1 WHERE id = :iid", iid=item_id)
    if agg is not None:
        value, conf, probs = agg
        r.execute(
            "INSERT INTO labels (item_id, project_id, value, confidence, probabilities, method, updated_at) "
            "VALUES (:iid, :pid, :j_value, :conf, :j_probs, 'live', :now) "
            "ON CONFLICT (item_id) DO UPDATE SET value = excluded.value, confidence = excluded.confidence, "
            "probabilities = excluded.probabilities, method = excluded.method, updated_at = excluded.updated_at",
            iid=item_id, pid=pid, j_value=value, conf=float(conf), j_probs={k: float(x) for k, x in probs.items()}, now=now,
        )
    paused = None
    hp, hc = int(stats[1]), int(stats[2])
    if honeypot and hp >= st.honeypot_min and hc / hp < st.pause_below:
        paused = (
            f"Your labelling is paused: {hc} of your last {hp} quality-check answers matched the expected answer "
            f"(below {st.pause_below:.0%}). An admin will review your work and resume your account."
        )
        r.execute("UPDATE users SET paused_reason = :msg WHERE id = :uid", msg=paused, uid=user.id)
    return AnswerResult(item_id=item_id, paused=paused, label=label, answers=int(stats[0]))


@dataclass
class _V:
    kind: str
    user_id: int | None
    value: Any
    weight: float | None


def _votes_for(s: Session, ctx: QueueContext, item_id: int) -> list[_V]:
    rows = s.execute(
        select(Source.kind, Source.user_id, Vote.value)
        .join(Source, Source.id == Vote.source_id)
        .where(Vote.item_id == item_id)
    ).all()
    out = [_V(kind=k, user_id=u, value=v, weight=None) for k, u, v in rows if k != "prelabel"]
    if not any(v.kind == "model" for v in out):
        pred = s.scalar(select(Prediction.label).where(Prediction.item_id == item_id).order_by(Prediction.created_at.desc(), Prediction.id.desc()).limit(1))
        if pred is not None:
            out.append(_V(kind="model", user_id=None, value=pred, weight=None))
    return out


def _weights(s: Session, ctx: QueueContext, votes: list[_V]) -> list[float]:
    users = sorted({v.user_id for v in votes if v.kind == "human" and v.user_id is not None})
    acc: dict[int, float] = {}
    if users:
        acc = dict(s.execute(select(AnnotatorStat.user_id, AnnotatorStat.weight).where(AnnotatorStat.project_id == ctx.project_id, AnnotatorStat.user_id.in_(users))).all())
    out = []
    for v in votes:
        if v.kind == "human":
            out.append(acc.get(v.user_id, ctx.settings.prior_accuracy))
        elif v.kind == "gold":
            out.append(0.99)
        else:
            out.append(ctx.settings.model_accuracy)
    return out


def _majority(values: list[Any]) -> Any:
    counts: dict[str, tuple[int, Any]] = {}
    for v in values:
        key = repr(sorted(v)) if isinstance(v, list) else repr(v)
        n, _ = counts.get(key, (0, v))
        counts[key] = (n + 1, v)
    return max(sorted(counts.items()), key=lambda kv: kv[1][0])[1][1]


def aggregate_votes(schema: LabelSchema, votes: list[_V], accuracies: list[float], settings: QueueSettings) -> tuple[Any, float, dict] | None:
    """Posterior of the one-coin model with known voter accuracies (a weighted vote in log-odds).

    Single-label: a vote for ``c`` by a voter of accuracy ``a`` multiplies the odds of ``c`` by
    ``a (K-1) / (1-a)``. Multi-label: the same per tag with K = 2 (a voter who answered without a
    tag votes against it). Returns (label, confidence, probabilities) or None without votes.
    """
    if not votes:
        return None
    acc = [min(max(a, 0.01), 0.99) for a in accuracies]
    if schema.is_multi:
        tags = sorted({t for v in votes for t in (v.value or [])})
        if not tags:
            return [], 1.0, {}
        probs = {}
        for t in tags:
            z = 0.0
            for v, a in zip(votes, acc, strict=True):
                w = math.log(a / (1 - a))
                z += w if t in (v.value or []) else -w
            probs[t] = 1.0 / (1.0 + math.exp(-z))
        label = [t for t in tags if probs[t] > 0.5]
        conf = min(max(p, 1 - p) for p in probs.values())
        return label, conf, probs
    values = [str(v.value) for v in votes]
    k = max(len(schema.classes), len(set(values)), 2)
    score: dict[str, float] = {}
    for val, a in zip(values, acc, strict=True):
        score[val] = score.get(val, 0.0) + math.log(a * (k - 1) / (1 - a))
    m = max(score.values())
    z = sum(math.exp(x - m) for x in score.values()) + (k - len(score)) * math.exp(-m)
    probs = {c: math.exp(x - m) / z for c, x in score.items()}
    best = min(score, key=lambda c: (-score[c], c))
    return best, probs[best], probs


def _write_label(s: Session, ctx: QueueContext, item_id: int, value: Any, conf: float, probs: dict, method: str = "live") -> None:
    """Insert or update the final label of one item (an upsert, safe under concurrency)."""
    vals = {"value": value, "confidence": float(conf), "probabilities": {k: float(v) for k, v in probs.items()}, "method": method, "updated_at": utcnow()}
    if s.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    stmt = dialect_insert(Label).values(item_id=item_id, project_id=ctx.project_id, **vals)
    s.execute(stmt.on_conflict_do_update(index_elements=[Label.item_id], set_=vals))


def _lock_item(s: Session, ctx: QueueContext, item_id: int) -> None:
    """PostgreSQL: answers on one item take turns (SQLite writers are serialised anyway)."""
    if ctx.postgres:
        s.execute(select(Item.id).where(Item.id == item_id).with_for_update())


def _stat_weight(ctx: QueueContext, honeypots: int, correct: int) -> float:
    """Smoothed honeypot accuracy: a Beta prior worth 5 answers at ``prior_accuracy``."""
    p = ctx.settings.prior_accuracy
    return (correct + 5 * p) / (honeypots + 5)


def _update_stats(s: Session, ctx: QueueContext, user_id: int, *, honeypot: bool, correct: bool | None, agree: bool | None,
                  seconds: float | None, now, sign: int = 1) -> str | None:
    row = s.execute(
        select(AnnotatorStat.answers, AnnotatorStat.honeypots, AnnotatorStat.honeypots_correct)
        .where(AnnotatorStat.project_id == ctx.project_id, AnnotatorStat.user_id == user_id)
    ).first()
    if row is None:
        try:
            with s.begin_nested():
                s.execute(insert(AnnotatorStat).values(project_id=ctx.project_id, user_id=user_id, answers=0, honeypots=0, honeypots_correct=0,
                                                       peer_checks=0, peer_agree=0, seconds=0.0, weight=ctx.settings.prior_accuracy, updated_at=now))
        except IntegrityError:
            pass
        hp, hc = 0, 0
    else:
        hp, hc = row.honeypots, row.honeypots_correct
    if honeypot:
        hp += sign
        hc += sign * int(bool(correct))
    weight = _stat_weight(ctx, hp, hc)
    s.execute(
        update(AnnotatorStat)
        .where(AnnotatorStat.project_id == ctx.project_id, AnnotatorStat.user_id == user_id)
        .values(
            answers=AnnotatorStat.answers + sign,
            honeypots=hp,
            honeypots_correct=hc,
            peer_checks=AnnotatorStat.peer_checks + (sign if agree is not None else 0),
            peer_agree=AnnotatorStat.peer_agree + (sign if agree else 0),
            seconds=AnnotatorStat.seconds + sign * float(min(max(seconds or 0.0, 0.0), 3600.0)),
            weight=weight,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    if sign > 0 and honeypot and hp >= ctx.settings.honeypot_min and hc / hp < ctx.settings.pause_below:
        msg = (
            f"Your labelling is paused: {hc} of your last {hp} quality-check answers matched the expected answer "
            f"(below {ctx.settings.pause_below:.0%}). An admin will review your work and resume your account."
        )
        s.execute(update(User).where(User.id == user_id).values(paused_reason=msg).execution_options(synchronize_session=False))
        return msg
    return None


# ---------------------------------------------------------------------- skip / undo
def skip_item(s: Session, ctx: QueueContext, user_id: int, item_id: int) -> None:
    a = s.execute(select(A.id, A.state, A.is_honeypot).where(A.item_id == item_id, A.user_id == user_id, A.project_id == ctx.project_id)).first()
    if a is None or a.state not in ("leased", "expired"):
        raise ConflictError(f"item {item_id} is not leased to you, so it cannot be skipped")
    now = utcnow()
    moved = Raw(s).rowcount("UPDATE assignments SET state = 'skipped', updated_at = :now WHERE id = :aid AND state = :st",
                            now=now, aid=a.id, st=a.state)
    if moved == 0:
        raise ConflictError(f"item {item_id} changed meanwhile; fetch the next item")
    if a.state == "leased" and not a.is_honeypot:
        _release_slots(s, ctx, [item_id])


def undo_last(s: Session, ctx: QueueContext, user) -> tuple[int, Any]:
    """Take back ``user``'s last answer: the item is leased to them again (returned by /next).

    Returns the item id and the answer that was taken back (to pre-fill the form).
    """
    last = s.execute(
        select(A.id, A.item_id, A.is_honeypot, A.honeypot_correct)
        .where(A.user_id == user.id, A.project_id == ctx.project_id, A.state == "done")
        .order_by(A.answered_at.desc(), A.id.desc())
        .limit(1)
    ).first()
    if last is None:
        raise ConflictError("nothing to undo: you have no answers in this project")
    now = utcnow()
    _lock_item(s, ctx, last.item_id)
    # give back what the user holds now (e.g. the prefetched next item)
    held = Raw(s).all(
        "UPDATE assignments SET state = 'expired', updated_at = :now WHERE user_id = :uid AND project_id = :pid AND state = 'leased' "
        "RETURNING item_id, is_honeypot",
        now=now, uid=user.id, pid=ctx.project_id,
    )
    _release_slots(s, ctx, [h[0] for h in held if not h[1]])
    sid = human_source_id(s, ctx, user.id, user.name)
    previous = s.scalar(select(Vote.value).where(Vote.item_id == last.item_id, Vote.source_id == sid))
    s.execute(delete(Vote).where(Vote.item_id == last.item_id, Vote.source_id == sid).execution_options(synchronize_session=False))
    s.execute(
        update(A).where(A.id == last.id)
        .values(state="leased", answered_at=None, honeypot_correct=None, updated_at=now, lease_expires_at=now + timedelta(seconds=ctx.settings.lease_seconds))
        .execution_options(synchronize_session=False)
    )
    if not last.is_honeypot:
        s.execute(update(Item).where(Item.id == last.item_id).values(q_done=Item.q_done - 1).execution_options(synchronize_session=False))
    _update_stats(s, ctx, user.id, honeypot=bool(last.is_honeypot), correct=last.honeypot_correct, agree=None, seconds=None, now=now, sign=-1)
    votes = _votes_for(s, ctx, last.item_id)
    agg = aggregate_votes(ctx.schema, votes, _weights(s, ctx, votes), ctx.settings)
    if agg is None:
        s.execute(delete(Label).where(Label.item_id == last.item_id, Label.method == "live").execution_options(synchronize_session=False))
    else:
        _write_label(s, ctx, last.item_id, *agg)
    return last.item_id, previous


# ---------------------------------------------------------------------- maintenance
def sync_queue(s: Session, ctx: QueueContext) -> dict[str, int]:
    """Recount every item's slots from the assignments and reopen/close them.

    Run at server start and after the overlap changes; gold (honeypot) items are closed.
    """
    pid = ctx.project_id
    live = and_(A.item_id == Item.id, A.is_honeypot == False, A.state.in_(("leased", "done")))  # noqa: E712
    done = and_(A.item_id == Item.id, A.is_honeypot == False, A.state == "done")  # noqa: E712
    taken_q = select(func.count()).where(live).scalar_subquery()
    done_q = select(func.count()).where(done).scalar_subquery()
    # Each UPDATE writes only the rows whose value changes: at server start on a large project
    # almost nothing does, and rewriting every row (a new row version each on PostgreSQL) made
    # start-up take minutes at a million items.
    s.execute(
        update(Item)
        .where(Item.project_id == pid, or_(Item.q_taken != taken_q, Item.q_done != done_q))
        .values(q_taken=taken_q, q_done=done_q)
        .execution_options(synchronize_session=False)
    )
    cap = ctx.settings.ceiling - ctx.settings.overlap
    s.execute(update(Item).where(Item.project_id == pid, Item.q_extra > cap).values(q_extra=cap).execution_options(synchronize_session=False))
    is_open = _open_expr(ctx, Item.q_taken)
    s.execute(
        update(Item)
        .where(Item.project_id == pid, or_(and_(Item.q_open == true(), ~is_open), and_(Item.q_open == false(), is_open)))
        .values(q_open=is_open)
        .execution_options(synchronize_session=False)
    )
    closed = close_gold(s, ctx)
    n_open = s.scalar(select(func.count()).select_from(Item).where(Item.project_id == pid, Item.q_open == true())) or 0
    return {"open": int(n_open), "gold": closed}


#: re-labelling requests come before everything the loop orders (its priorities are ranks and
#: scores far below this); among them, the most suspect first (priority = this + score)
REVIEW_PRIORITY = 1_000_000.0
REVIEW_REASON = "error-relabel"
MAX_EXTRA_ANSWERS = 50


def requeue_items(
    s: Session, project_id: int, settings: QueueSettings, item_ids: list[int], *, extra_answers: int,
    scores: dict[int, float] | None = None, reason: str = REVIEW_REASON,
) -> dict[str, int]:
    """Ask ``extra_answers`` more answers on each item (e.g. a suspected label error), through the
    normal queue: ``/next`` hands it, first, to annotators who have not answered it yet until it
    has that many more answers than now; the live aggregate then uses all its votes.

    The request is stored per item as ``items.q_review`` (extra slots on top of the overlap and
    dynamic overlap), so the queue's invariants (never twice to one annotator, leases, at most
    the asked number of annotators at once) hold unchanged. Asking again never lowers an earlier
    request. Gold (honeypot) items are left alone. ``scores`` (item -> suspicion in [0, 1]) order
    the requests; without one, an item's error-review score (its priority) is used.

    Returns ``{"requeued", "gold_skipped", "open"}``.
    """
    if isinstance(extra_answers, bool) or not isinstance(extra_answers, int) or not 1 <= extra_answers <= MAX_EXTRA_ANSWERS:
        raise InputError(f"extra answers must be an integer between 1 and {MAX_EXTRA_ANSWERS}, got {extra_answers!r}")
    ids = sorted({int(i) for i in item_ids})
    if not ids:
        return {"requeued": 0, "gold_skipped": 0, "open": 0}
    found: dict[int, tuple[float, str | None]] = {}
    gold: set[int] = set()
    gold_q = select(Vote.item_id).join(Source, Source.id == Vote.source_id).where(Source.project_id == project_id, Source.kind == "gold")
    for k in range(0, len(ids), 500):
        chunk = ids[k : k + 500]
        for iid, prio, why in s.execute(select(Item.id, Item.priority, Item.priority_reason).where(Item.project_id == project_id, Item.id.in_(chunk))):
            found[int(iid)] = (float(prio or 0.0), why)
        gold.update(int(i) for i in s.scalars(gold_q.where(Vote.item_id.in_(chunk))))
    missing = [i for i in ids if i not in found]
    if missing:
        raise NotFoundError(f"{len(missing)} item(s) are not in this project (first: {missing[0]})")
    todo = [i for i in ids if i not in gold]

    def score(i: int) -> float:
        if scores is not None and i in scores:
            return float(scores[i])
        prio, why = found[i]
        if why == "error-review":
            return prio
        if why == reason and prio >= REVIEW_PRIORITY:  # asked before: keep its place
            return prio - REVIEW_PRIORITY
        return 0.0

    # extra slots so that the item ends with q_done + extra_answers answers (a live lease counts
    # towards them); computed on the row itself, so a concurrent answer cannot be missed
    want = Item.q_done + extra_answers - settings.overlap - Item.q_extra
    review = case((want > Item.q_review, want), else_=Item.q_review)
    stmt = (
        update(Item)
        .where(Item.id == bindparam("iid"), Item.project_id == project_id)
        .values(q_review=review, q_open=Item.q_taken < settings.overlap + Item.q_extra + review,
                priority=bindparam("p"), priority_reason=reason)
        .execution_options(synchronize_session=False)
    )
    if todo:
        s.connection().execute(stmt, [{"iid": i, "p": REVIEW_PRIORITY + min(max(score(i), 0.0), 1.0)} for i in todo])
    n_open = 0
    for k in range(0, len(todo), 500):
        n_open += s.scalar(select(func.count()).select_from(Item).where(Item.id.in_(todo[k : k + 500]), Item.q_open == true())) or 0
    return {"requeued": len(todo), "gold_skipped": len(ids) - len(todo), "open": int(n_open)}


def close_gold(s: Session, ctx: QueueContext) -> int:
    gold = select(Vote.item_id).join(Source, Source.id == Vote.source_id).where(Source.project_id == ctx.project_id, Source.kind == "gold")
    res = s.execute(update(Item).where(Item.id.in_(gold), Item.q_open == true()).values(q_open=False).execution_options(synchronize_session=False))
    return int(res.rowcount or 0)


def invalidate_open_count(ctx: QueueContext) -> None:
    """The next :func:`open_count` counts again; until it has, requests see the last figure."""
    ctx._open_count = (0.0, ctx._open_count[1])
    ctx._open_count_ttl = 0.0


def open_count(s: Session, ctx: QueueContext, *, ttl: float = 1.0) -> int:
    t, n = ctx._open_count
    now = time.monotonic()
    if now - t < max(ttl, ctx._open_count_ttl):
        return n
    # One request refreshes; the others keep serving the previous figure meanwhile (else every
    # request arriving during a slow count starts another one). The count walks every open
    # item (a full scan on PostgreSQL at a million items), so it is refreshed at most once per
    # 20 times its own duration: at most about 5% of the server's time, whatever the size.
    # On the server it runs in the background (not inside an annotator's write transaction,
    # where 3-10 ms at 100k items on SQLite held up every other annotator), except the first.
    ctx._open_count = (now, n)
    if t > 0.0 or n:  # a figure to serve meanwhile
        if ctx.refresh_later("open_count", lambda bs: _count_open(bs, ctx, now)):
            return n
    return _count_open(s, ctx, now)


def _count_open(s: Session, ctx: QueueContext, started: float) -> int:
    n = int(Raw(s).scalar("SELECT count(*) FROM items WHERE project_id = :pid AND q_open = :t", pid=ctx.project_id, t=True) or 0)
    done = time.monotonic()
    ctx._open_count_ttl = 20 * (done - started)
    ctx._open_count = (done, n)
    return n


def user_progress(s: Session, ctx: QueueContext, user_id: int, *, done: int | None = None, ttl: float = 2.0) -> dict[str, int]:
    """Answers given, and open items not yet handed to this user (counts cached for ``ttl`` s;
    ``done`` passes a fresh answer count, e.g. the one the answer just returned)."""
    now = time.monotonic()
    hit = ctx._progress.get(user_id)
    if hit is not None and now - hit[0] < ttl:
        d, mine_open = hit[1], hit[2]
    elif hit is not None and ctx.refresh_later(("progress", user_id), lambda bs: _count_progress(bs, ctx, user_id)):
        d, mine_open = hit[1], hit[2]  # served from the cache while the background recounts
    else:
        d, mine_open = _count_progress(s, ctx, user_id)
    if done is not None:
        d = done
        ctx._progress[user_id] = (ctx._progress[user_id][0], d, mine_open)
    return {"done": d, "remaining": max(open_count(s, ctx) - mine_open, 0)}


def _count_progress(s: Session, ctx: QueueContext, user_id: int) -> tuple[int, int]:
    now = time.monotonic()
    before = ctx._progress.get(user_id)
    r = Raw(s)
    d = int(r.scalar("SELECT count(*) FROM assignments WHERE user_id = :uid AND project_id = :pid AND state = 'done'",
                     uid=user_id, pid=ctx.project_id) or 0)
    mine_open = int(r.scalar(
        "SELECT count(*) FROM assignments a JOIN items i ON i.id = a.item_id WHERE a.user_id = :uid AND a.project_id = :pid "
        "AND a.state <> 'expired' AND i.q_open = :t", uid=user_id, pid=ctx.project_id, t=True) or 0)
    if len(ctx._progress) > 10_000:
        ctx._progress.clear()
    current = ctx._progress.get(user_id)
    if current is not None and current is not before:  # an answer given meanwhile set a newer figure
        d = current[1]
    ctx._progress[user_id] = (now, d, mine_open)
    return d, mine_open


def iter_labels(db: Database, ctx: QueueContext, *, page: int = 10_000):
    """Every item with its final label, in id order: tuples (external_id, text, image, label,
    confidence, method). See :func:`labelloop.store.repo.label_pages`."""
    from labelloop.store.repo import label_pages

    for rows in label_pages(db.engine, ctx.project_id, page=page):
        for row in rows:
            yield row[1:]


def check_active(user) -> None:
    if user.paused_reason:
        raise AccessError(user.paused_reason)
