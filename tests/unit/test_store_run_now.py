"""Database.run_now: the server's hot path runs its short write transaction on the event loop
only when that needs no waiting; otherwise it says NOT_NOW and the caller goes to a thread."""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest
from sqlalchemy import text

from labelloop.store.queue import NOT_NOW, Database


@pytest.fixture
def db(tmp_path):
    d = Database(str(tmp_path / "q.db"))
    with d.core() as c:
        c.execute(text("CREATE TABLE t (x INTEGER)"))
    yield d
    d.dispose()


def _insert(value):
    def fn(conn):
        conn.execute(text("INSERT INTO t (x) VALUES (:x)"), {"x": value})
        return value

    return fn


def _rows(db):
    with db.engine.connect() as c:
        return [r[0] for r in c.execute(text("SELECT x FROM t ORDER BY x"))]


def test_runs_and_commits_when_nothing_waits(db):
    assert db.run_now(_insert(1)) == 1
    assert _rows(db) == [1]


def test_an_error_rolls_back_and_frees_the_lock(db):
    def bad(conn):
        _insert(5)(conn)
        raise ValueError("boom")

    with pytest.raises(ValueError):
        db.run_now(bad)
    assert _rows(db) == []
    assert db.run_now(_insert(2)) == 2  # the lock was released


def test_steps_aside_while_a_thread_holds_or_waits_for_the_lock(db):
    held, release = threading.Event(), threading.Event()

    def holder():
        with db.core() as c:
            c.execute(text("INSERT INTO t (x) VALUES (7)"))
            held.set()
            release.wait(10)

    th = threading.Thread(target=holder)
    th.start()
    assert held.wait(10)
    t0 = time.perf_counter()
    assert db.run_now(_insert(3)) is NOT_NOW
    assert time.perf_counter() - t0 < 0.5  # no waiting
    db._waiting += 1  # a thread queued for the lock goes first, even once it is free
    release.set()
    th.join()
    try:
        assert db.run_now(_insert(3)) is NOT_NOW
    finally:
        db._waiting -= 1
    assert db.run_now(_insert(3)) == 3
    assert _rows(db) == [3, 7]


def test_steps_aside_while_another_process_writes(db, tmp_path):
    other = sqlite3.connect(str(tmp_path / "q.db"), isolation_level=None)  # as another process would
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO t (x) VALUES (9)")
    t0 = time.perf_counter()
    assert db.run_now(_insert(4)) is NOT_NOW
    assert time.perf_counter() - t0 < 0.5  # BEGIN IMMEDIATE failed at once instead of waiting
    other.execute("COMMIT")
    other.close()
    assert db.run_now(_insert(4)) == 4  # the lock and the connection were given back
    assert db.run_core(_insert(6)) == 6
    assert _rows(db) == [4, 6, 9]


def test_postgres_always_goes_to_a_thread(postgres_url):
    d = Database(postgres_url)
    try:
        assert d.run_now(lambda conn: 1) is NOT_NOW
        assert d.run_core(lambda conn: conn.execute(text("SELECT 1")).scalar()) == 1
    finally:
        d.dispose()
