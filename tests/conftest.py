"""Shared test fixtures: real data paths, a fresh PostgreSQL database per test run."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("LABELLOOP_SHARED_DATA", REPO.parent / "shared" / "data"))
POSTGRES_URL = os.environ.get("LABELLOOP_TEST_POSTGRES_URL", "postgresql+psycopg://127.0.0.1:5432/test")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real data sets (Made With ML, YouTube spam, crowd answers) beside the repository."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data not found at {SHARED_DATA} (set LABELLOOP_SHARED_DATA)")
    return SHARED_DATA


def _postgres_admin_url() -> str | None:
    try:
        import sqlalchemy as sa

        eng = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
        with eng.connect() as c:
            c.execute(sa.text("select 1"))
        eng.dispose()
        return POSTGRES_URL
    except Exception:
        return None


@pytest.fixture(scope="session")
def postgres_url():
    """URL of a fresh, empty PostgreSQL database, dropped at the end of the run.

    Each run (and each xdist worker) gets its own database so parallel runs never collide.
    """
    admin = _postgres_admin_url()
    if admin is None:
        pytest.skip("PostgreSQL is not reachable at " + POSTGRES_URL)
    import sqlalchemy as sa

    name = f"labelloop_t_{uuid.uuid4().hex[:12]}"
    eng = sa.create_engine(admin, isolation_level="AUTOCOMMIT")
    with eng.connect() as c:
        c.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = admin.rsplit("/", 1)[0] + "/" + name
    yield url
    with eng.connect() as c:
        c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    eng.dispose()


def run_cli(*args: str, cwd: str | os.PathLike | None = None, input: str | None = None, env: dict | None = None, timeout: float = 300):
    """Run ``python -m labelloop ARGS`` as a subprocess, as a user would."""
    full_env = {**os.environ, "HF_HUB_OFFLINE": "1", "LABELLOOP_QUIET": "1", **(env or {})}
    src = str(REPO / "src")
    full_env["PYTHONPATH"] = src + os.pathsep + full_env.get("PYTHONPATH", "")
    return subprocess.run(
        [sys.executable, "-m", "labelloop", *map(str, args)],
        cwd=cwd,
        input=input,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture
def cli():
    return run_cli
