"""SQLite checkpoints of the server's database run in a background thread, never inside a
request's commit (where copying the log into the database file stalled every annotator)."""

from __future__ import annotations

import sqlite3
import time

from sqlalchemy import text

from labelloop.store.queue import Database


def _fill(db: Database, transactions: int) -> None:
    with db.core() as c:
        c.execute(text("CREATE TABLE IF NOT EXISTS t (x TEXT)"))
    for i in range(transactions):  # each commit adds a few pages of random-ish text
        with db.core() as c:
            c.execute(text("INSERT INTO t (x) VALUES (:x)"), [{"x": f"{i}-{j}-" + "y" * 2000} for j in range(8)])


def _log_frames(path) -> tuple[int, int]:
    """(frames in the write-ahead log, frames of it already in the database file)."""
    conn = sqlite3.connect(path)
    try:
        _busy, log, done = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        return log, done
    finally:
        conn.close()


def test_commits_do_not_checkpoint(tmp_path, monkeypatch):
    monkeypatch.setattr(Database, "CHECKPOINT_SECONDS", 3600.0)  # the thread never gets a turn
    path = tmp_path / "q.db"
    db = Database(str(path))
    try:
        with db.write_engine.connect() as c:
            assert c.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 0
        _fill(db, 400)
        # with SQLite's default (a checkpoint by the commit that passes 1000 pages) the log would
        # have been restarted and hold fewer than 1000 + one transaction's frames
        log, _ = _log_frames(path)
        assert log > 2000
    finally:
        db.dispose()


def test_background_thread_checkpoints_the_log(tmp_path, monkeypatch):
    monkeypatch.setattr(Database, "CHECKPOINT_SECONDS", 0.05)
    path = tmp_path / "q.db"
    db = Database(str(path))
    try:
        _fill(db, 400)
        rounds = db._checkpointer.rounds
        deadline = time.monotonic() + 10
        while db._checkpointer.rounds < rounds + 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert db._checkpointer.rounds >= rounds + 2 and db._checkpointer.error is None
        log, done = _log_frames(path)
        assert log == done  # everything written is in the database file
    finally:
        db.dispose()
    assert not db._checkpointer._thread.is_alive()
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT count(*) FROM t").fetchone()[0] == 3200
