"""The store: SQLAlchemy models, engines/sessions, Alembic migrations, repository functions.

Repository functions (``labelloop.store.repo``) take the session as their first argument; no
engine is built at import time.
"""

from labelloop.store.engine import make_engine, normalize_url, session_factory, transaction
from labelloop.store.migrate import upgrade

__all__ = ["make_engine", "normalize_url", "session_factory", "transaction", "upgrade"]
