"""A labelloop project: a folder with ``labelloop.toml`` and (by default) a SQLite store.

``Project.init(DIR, ...)`` creates ``DIR/labelloop.toml`` and ``DIR/labelloop.db`` (or uses the
PostgreSQL URL given with ``db=`` / ``LABELLOOP_DATABASE_URL``) and runs the migrations;
``Project.open(DIR)`` reads it back. Several projects may share one PostgreSQL database; the
project row is found by name.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labelloop.exceptions import ConfigError
from labelloop.schema import DataType, LabelSchema, TaskType, Taxonomy

CONFIG_NAME = "labelloop.toml"
DB_NAME = "labelloop.db"
ENV_DB = "LABELLOOP_DATABASE_URL"


@dataclass
class Project:
    dir: Path
    name: str
    db_url: str
    data_type: str = "text"
    task: str = "single"
    id: int = 0
    _engine: Any = field(default=None, repr=False)
    _factory: Any = field(default=None, repr=False)

    # ------------------------------------------------------------------ lifecycle
    @classmethod
    def init(
        cls,
        directory: str | Path,
        *,
        name: str | None = None,
        db: str | None = None,
        task: str = "single",
        data: str = "text",
        labels: list[str] | None = None,
        taxonomy: Taxonomy | None = None,
        unknown: str = "keep",
        settings: dict[str, Any] | None = None,
    ) -> Project:
        import tomli_w

        from labelloop.store import repo
        from labelloop.store.engine import normalize_url

        directory = Path(directory)
        try:
            task = TaskType(task).value
            data = DataType(data).value
        except ValueError as exc:
            raise ConfigError(f"{exc}; task is 'single' or 'multi', data is 'text' or 'image'") from None
        cfg_path = directory / CONFIG_NAME
        if cfg_path.exists():
            raise ConfigError(f"{directory} is already a labelloop project ({cfg_path} exists)")
        if directory.exists() and not directory.is_dir():
            raise ConfigError(f"{directory} exists and is not a folder")
        name = name or directory.resolve().name
        if not name.strip():
            raise ConfigError("the project name must not be empty")
        url = db or os.environ.get(ENV_DB) or f"sqlite:///{DB_NAME}"
        schema = LabelSchema(task=task, classes=labels or [], taxonomy=taxonomy, unknown=unknown)
        directory.mkdir(parents=True, exist_ok=True)
        proj = cls(dir=directory, name=name, db_url=url, data_type=data, task=task)
        created_config = False
        try:
            cfg = {
                "project": {"name": name, "task": task, "data": data},
                "database": {"url": url if db or os.environ.get(ENV_DB) else f"sqlite:///{DB_NAME}"},
            }
            cfg_path.write_text(tomli_w.dumps(cfg))
            created_config = True
            proj._connect(migrate=True)
            with proj.session() as s:
                if repo.find_project(s, name) is not None:
                    raise ConfigError(
                        f"a project named '{name}' already exists in {normalize_url(proj.resolved_url)}; choose another --name"
                    )
                row = repo.create_project(s, name=name, data_type=data, task_type=task, schema=schema.to_dict(), settings=settings or {})
                proj.id = row.id
        except Exception:
            if created_config:
                cfg_path.unlink(missing_ok=True)
            proj.close()
            raise
        return proj

    @classmethod
    def open(cls, directory: str | Path, *, db: str | None = None) -> Project:
        from labelloop.store import repo

        directory = Path(directory)
        cfg_path = directory / CONFIG_NAME
        if not cfg_path.is_file():
            raise ConfigError(f"{directory} is not a labelloop project (no {CONFIG_NAME}); create one with: labelloop init {directory}")
        try:
            cfg = tomllib.loads(cfg_path.read_text())
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{cfg_path}: invalid TOML: {exc}") from exc
        p = cfg.get("project", {})
        url = db or cfg.get("database", {}).get("url") or os.environ.get(ENV_DB) or f"sqlite:///{DB_NAME}"
        proj = cls(dir=directory, name=p.get("name") or directory.resolve().name, db_url=url,
                   data_type=p.get("data", "text"), task=p.get("task", "single"))
        proj._connect(migrate=True)
        with proj.session() as s:
            row = repo.find_project(s, proj.name)
            if row is None:
                raise ConfigError(f"project '{proj.name}' is not in its database {proj.safe_url}; was the database reset?")
            proj.id = row.id
            proj.data_type, proj.task = row.data_type, row.task_type
        return proj

    # ------------------------------------------------------------------ database
    @property
    def resolved_url(self) -> str:
        """SQLite paths in the config are relative to the project folder."""
        url = self.db_url
        if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
            rel = url[len("sqlite:///") :]
            if rel and rel != ":memory:":
                return "sqlite:///" + str((self.dir / rel).resolve())
        return url

    @property
    def safe_url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    def _connect(self, *, migrate: bool) -> None:
        from labelloop.store.engine import check_connection, make_engine, session_factory
        from labelloop.store.migrate import upgrade

        if self._engine is None:
            self._engine = make_engine(self.resolved_url)
            check_connection(self._engine)
            if migrate:
                upgrade(self._engine)
            self._factory = session_factory(self._engine)

    @property
    def engine(self):
        self._connect(migrate=False)
        return self._engine

    @contextmanager
    def session(self) -> Iterator[Any]:
        from labelloop.store.engine import transaction

        self._connect(migrate=False)
        with transaction(self._factory) as s:
            yield s

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    # ------------------------------------------------------------------ schema & settings
    @property
    def schema(self) -> LabelSchema:
        from labelloop.store import repo

        with self.session() as s:
            return LabelSchema.from_dict(repo.get_project(s, self.id).label_schema or {"task": self.task})

    def save_schema(self, session, schema: LabelSchema) -> None:
        from labelloop.store import repo

        repo.get_project(session, self.id).label_schema = schema.to_dict()

    @property
    def settings(self) -> dict[str, Any]:
        from labelloop.store import repo

        with self.session() as s:
            return dict(repo.get_project(s, self.id).settings or {})

    def update_settings(self, **values: Any) -> dict[str, Any]:
        from labelloop.store import repo

        with self.session() as s:
            row = repo.get_project(s, self.id)
            new = dict(row.settings or {})
            new.update({k: v for k, v in values.items() if v is not None})
            row.settings = new
            return new

    @property
    def media_dir(self) -> Path:
        return self.dir / "media"

    def __enter__(self) -> Project:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
