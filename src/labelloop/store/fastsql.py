"""Raw DB-API access for the labelling server's hot path (next item, answer, progress, login).

The queue runs a dozen statements per answer; building them with SQLAlchemy's expression
language costs far more CPU than SQLite spends executing them. Here the SQL is written once
with ``:name`` parameters and run on the session's own DB-API connection (same transaction),
translated for psycopg (``%(name)s``). Parameters named ``j_*`` are JSON values.
"""

from __future__ import annotations

import functools
import json
import re
from datetime import datetime
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.orm import Session

_PARAM = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")


@functools.lru_cache(maxsize=512)
def _translate(sql: str, dialect: str) -> str:
    if dialect == "sqlite":
        return sql
    sql = sql.replace("%", "%%")

    def sub(m: re.Match) -> str:
        name = m.group(1)
        return f"CAST(%({name})s AS JSON)" if name.startswith("j_") else f"%({name})s"

    return _PARAM.sub(sub, sql)


class Raw:
    """A cursor on the session's connection, speaking both SQLite and PostgreSQL."""

    __slots__ = ("cur", "dialect", "sqlite")

    def __init__(self, s: Session | Connection):
        conn = s.connection() if isinstance(s, Session) else s
        self.dialect = conn.dialect.name
        self.sqlite = self.dialect == "sqlite"
        self.cur = conn.connection.dbapi_connection.cursor()

    def _params(self, params: dict[str, Any]) -> dict[str, Any]:
        out = {}
        for k, v in params.items():
            if k.startswith("j_"):
                v = json.dumps(v, ensure_ascii=False)
            elif self.sqlite and isinstance(v, datetime):
                v = v.strftime("%Y-%m-%d %H:%M:%S.%f")
            out[k] = v
        return out

    def execute(self, sql: str, **params: Any):
        self.cur.execute(_translate(sql, self.dialect), self._params(params))
        return self.cur

    def one(self, sql: str, **params: Any):
        return self.execute(sql, **params).fetchone()

    def all(self, sql: str, **params: Any) -> list:
        return self.execute(sql, **params).fetchall()

    def scalar(self, sql: str, **params: Any):
        row = self.one(sql, **params)
        return None if row is None else row[0]

    def rowcount(self, sql: str, **params: Any) -> int:
        return self.execute(sql, **params).rowcount

    def json(self, v: Any) -> Any:
        """A JSON column as read back: text on SQLite, already decoded by psycopg."""
        if v is None:
            return None
        return json.loads(v) if isinstance(v, str) and self.sqlite else v
