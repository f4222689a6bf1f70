"""Helpers for the labelling-server tests: projects with users, a live server on a free port."""

from __future__ import annotations

import csv
import random
import socket
import threading
import time
import uuid
from pathlib import Path

import pytest

PASSWORD = "password-123"


def free_port() -> int:
    """A free TCP port from 18000 upward, chosen at random so parallel runs do not collide."""
    rng = random.Random()
    for _ in range(200):
        port = rng.randint(18000, 28000)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port between 18000 and 28000")


def make_project(base: Path, db: str | None, *, n: int = 20, task: str = "single", labels=("a", "b"), gold: dict | None = None,
                 taxonomy=None, settings: dict | None = None, users: dict | None = None, texts=None):
    """A project with ``n`` text items i0..i{n-1}, gold answers and users; returns (project, user names).

    User names are prefixed with the project name: PostgreSQL tests share one database.
    """
    from labelloop.io.importers import import_file
    from labelloop.project import Project
    from labelloop.store.users import add_user

    name = "p" + uuid.uuid4().hex[:8]
    proj = Project.init(base / name, name=name, db=db, task=task, labels=list(labels), taxonomy=taxonomy)
    f = base / f"{name}-items.csv"
    with f.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "text"])
        for i in range(n):
            w.writerow([f"i{i}", texts[i] if texts else f"item number {i}"])
    import_file(proj, f)
    if gold:
        g = base / f"{name}-gold.csv"
        with g.open("w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["id", "label"])
            for k, v in gold.items():
                w.writerow([k, v])
        import_file(proj, g, fmt="gold")
    if settings:
        proj.update_settings(**settings)
    names = {}
    with proj.session() as s:
        for short, role in (users or {"alice": "annotator", "bob": "annotator", "boss": "admin"}).items():
            full = f"{name}-{short}"
            add_user(s, full, role, PASSWORD)
            names[short] = full
    return proj, names


def token(client, user: str) -> dict:
    r = client.post("/api/v1/auth/token", data={"username": user, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": "Bearer " + r.json()["access_token"]}


class LiveServer:
    """uvicorn in a thread on a random free port."""

    def __init__(self, app):
        import uvicorn

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", access_log=False))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self):
        self.thread.start()
        t0 = time.time()
        while not self.server.started:
            if time.time() - t0 > 30:
                raise RuntimeError("server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(15)


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch):
    """argon2id with small parameters: hashing stays real but takes milliseconds in tests.

    Import this fixture into a test module to use it there.
    """
    from labelloop.store import users

    monkeypatch.setattr(users, "HASH_OPTIONS", {"time_cost": 1, "memory_cost": 1024, "parallelism": 1})
