"""Engines and sessions. Nothing is built at import time.

SQLite gets WAL mode, foreign keys and a busy timeout on every connection; PostgreSQL is used
when the URL says so (``postgresql://`` is mapped to the psycopg 3 driver).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from labelloop.exceptions import ConfigError, StoreError


def normalize_url(url: str) -> str:
    url = str(url)
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    if "://" not in url:  # a plain path means a SQLite file
        url = "sqlite:///" + str(Path(url).resolve())
    return url


def sqlite_url(path: str | Path) -> str:
    return "sqlite:///" + str(Path(path).resolve())


def make_engine(url: str, **kwargs) -> Engine:
    url = normalize_url(url)
    try:
        if url.startswith("sqlite"):
            engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, **kwargs)

            @event.listens_for(engine, "connect")
            def _sqlite_pragmas(dbapi_conn, _record):  # pragma: no cover - trivial
                cur = dbapi_conn.cursor()
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA foreign_keys=ON")
                cur.execute("PRAGMA synchronous=NORMAL")
                cur.execute("PRAGMA busy_timeout=30000")
                cur.close()

        else:
            kwargs.setdefault("pool_pre_ping", True)
            engine = create_engine(url, **kwargs)
    except ImportError as exc:
        raise ConfigError(f"cannot use database URL {url!r}: driver missing ({exc}); pip install 'labelloop[postgres]'") from exc
    except Exception as exc:
        raise ConfigError(f"invalid database URL {url!r}: {exc}") from exc
    return engine


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session that commits on success and rolls back on any error."""
    session = factory()
    try:
        yield session
        session.commit()
    except Exception:
        session.rollback()
        raise
    finally:
        session.close()


def check_connection(engine: Engine) -> None:
    from sqlalchemy import text

    try:
        with engine.connect() as c:
            c.execute(text("select 1"))
    except Exception as exc:
        raise StoreError(f"cannot connect to the database at {engine.url.render_as_string(hide_password=True)}: {exc.__class__.__name__}: {str(exc).splitlines()[0]}") from exc
