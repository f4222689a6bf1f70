"""The migrations and the models describe the same schema, on SQLite and PostgreSQL.

A model change without a migration (or the reverse) would make a fresh store differ from an
upgraded one; alembic's comparison of the migrated database with the models catches it.
"""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa
from tests.conftest import _postgres_admin_url


def _diff(engine) -> list:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from labelloop.store.migrate import upgrade
    from labelloop.store.models import Base

    upgrade(engine)
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": False})
        return compare_metadata(ctx, Base.metadata)


def test_migrated_sqlite_store_matches_the_models(tmp_path):
    eng = sa.create_engine(f"sqlite:///{tmp_path / 's.db'}")
    assert _diff(eng) == []
    with eng.connect() as conn:
        names = {ix["name"] for ix in sa.inspect(conn).get_indexes("items")}
    assert "ix_items_project_hash" not in names and "ix_items_queue" in names
    eng.dispose()


def test_migrated_postgres_store_matches_the_models():
    admin = _postgres_admin_url()
    if admin is None:
        pytest.skip("PostgreSQL is not reachable")
    name = f"labelloop_m_{uuid.uuid4().hex[:12]}"
    root = sa.create_engine(admin, isolation_level="AUTOCOMMIT")
    with root.connect() as c:
        c.execute(sa.text(f'CREATE DATABASE "{name}"'))
    eng = sa.create_engine(admin.rsplit("/", 1)[0] + "/" + name)
    try:
        assert _diff(eng) == []
    finally:
        eng.dispose()
        with root.connect() as c:
            c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        root.dispose()
