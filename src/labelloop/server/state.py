"""What a running server holds: one :class:`Database` per URL and one handle per project."""

from __future__ import annotations

import logging
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labelloop.exceptions import ConfigError, NotFoundError
from labelloop.schema import LabelSchema
from labelloop.server.settings import ServerSettings
from labelloop.store.queue import Database, QueueContext, QueueSettings

log = logging.getLogger(__name__)

SETTINGS_TTL = 5.0  # seconds between re-reads of a project's settings (CLI `configure` while serving)


@dataclass
class ProjectHandle:
    project: Any  # labelloop.project.Project
    db: Database
    ctx: QueueContext
    worker: Any = None
    _read_at: float = field(default_factory=time.monotonic)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def name(self) -> str:
        return self.project.name

    @property
    def id(self) -> int:
        return self.project.id

    def stale(self) -> bool:
        """Whether the settings are due for a re-read (see :meth:`refresh`)."""
        return time.monotonic() - self._read_at >= SETTINGS_TTL

    def refresh(self, *, force: bool = False) -> None:
        """Re-read schema and settings from the store (cheap; at most every few seconds)."""
        if not force and time.monotonic() - self._read_at < SETTINGS_TTL:
            return
        with self._lock:
            if not force and time.monotonic() - self._read_at < SETTINGS_TTL:
                return
            from labelloop.store import repo
            from labelloop.store.queue import sync_queue

            with self.db.reading() as s:
                row = repo.get_project(s, self.id)
                schema = LabelSchema.from_dict(row.label_schema or {"task": row.task_type})
                new = QueueSettings.from_dict(row.settings)
            old = self.ctx.settings
            self.ctx.schema, self.ctx.settings = schema, new
            if (old.overlap, old.max_overlap) != (new.overlap, new.max_overlap) or force:
                with self.db.writing() as s:
                    sync_queue(s, self.ctx)
            self._read_at = time.monotonic()

    def media_roots(self) -> list[Path]:
        roots = [self.project.dir.resolve()]
        for r in self.ctx.settings.media_roots:
            p = Path(r)
            roots.append((p if p.is_absolute() else self.project.dir / p).resolve())
        return roots


class AppState:
    def __init__(self, settings: ServerSettings):
        from labelloop.project import Project

        self.settings = settings
        # one thread for counts the hot path serves from a cache (annotators' progress bars)
        self._counts = ThreadPoolExecutor(max_workers=1, thread_name_prefix="labelloop-counts")
        self.rng = random.Random(settings.seed)
        self.rng_lock = threading.Lock()
        self.projects: dict[str, ProjectHandle] = {}
        self.databases: dict[str, Database] = {}
        if not settings.projects:
            raise ConfigError("no project folder given; serve one with: labelloop serve DIR")
        for d in settings.projects:
            proj = Project.open(Path(d), db=settings.db)
            url = proj.resolved_url
            if url not in self.databases:
                self.databases[url] = Database(url)
            db = self.databases[url]
            if proj.name in self.projects:
                raise ConfigError(f"two project folders are both named '{proj.name}'")
            ctx = QueueContext(project_id=proj.id, schema=LabelSchema(), settings=QueueSettings(), postgres=db.postgres,
                               background=self._background_reader(db))
            handle = ProjectHandle(project=proj, db=db, ctx=ctx)
            handle.refresh(force=True)
            self.projects[proj.name] = handle
        self.auth_db = next(iter(self.databases.values()))
        if len(self.databases) > 1:
            raise ConfigError("all projects of one server must share one database (users and logins live there)")
        self.workers: dict[str, Any] = {}
        from labelloop.server.ratelimit import LoginLimiter

        self.login_limiter = LoginLimiter(per_user=settings.login_failures_per_user, per_ip=settings.login_failures_per_ip,
                                          window_seconds=settings.login_window_seconds)
        self._logins: dict[str, tuple[float, Any]] = {}  # token -> (expiry, CurrentUser)
        self._logins_lock = threading.Lock()

    # a short cache of resolved logins: one query less per request; pausing, resuming and
    # logging out clear it, so it only delays changes made by another process (by LOGIN_TTL)
    LOGIN_TTL = 2.0

    def cached_login(self, token: str):
        hit = self._logins.get(token)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        return None

    def remember_login(self, token: str, user) -> None:
        with self._logins_lock:
            if len(self._logins) > 10_000:
                self._logins.clear()
            # spread over 1-1.5x the TTL: logins made together (a team starting at nine) would
            # otherwise all expire, and be looked up again, in the same instant
            self._logins[token] = (time.monotonic() + self.LOGIN_TTL * (1.0 + 0.5 * random.random()), user)

    def forget_logins(self, *, user_id: int | None = None, token: str | None = None) -> None:
        with self._logins_lock:
            if token is not None:
                self._logins.pop(token, None)
            if user_id is not None:
                for k in [k for k, (_, u) in self._logins.items() if u.id == user_id]:
                    self._logins.pop(k, None)

    def project(self, name: str) -> ProjectHandle:
        h = self.projects.get(name)
        if h is None:
            raise NotFoundError(f"no project named '{name}' on this server")
        return h

    def random(self) -> float:
        with self.rng_lock:
            return self.rng.random()

    def _background_reader(self, db: Database):
        def submit(fn) -> None:
            self._counts.submit(_with_read_session, db, fn)

        return submit

    def close(self) -> None:
        self._counts.shutdown(wait=True, cancel_futures=True)
        for w in self.workers.values():
            w.stop()
        for db in self.databases.values():
            db.dispose()
        for h in self.projects.values():
            h.project.close()


def _with_read_session(db: Database, fn) -> None:
    try:
        with db.reading() as s:
            fn(s)
    except Exception:  # a failed count only leaves the cached figure in place a little longer
        log.exception("background count failed")
