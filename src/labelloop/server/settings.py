"""Settings of one labelling server process (not of a project: those live in the store)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class ServerSettings:
    """What ``create_app`` needs. ``projects`` are project folders (``labelloop init DIR``)."""

    projects: list[Path] = field(default_factory=list)
    db: str | None = None  # override the database URL of the project folders
    secure_cookies: bool = False  # set the Secure flag (behind HTTPS)
    session_hours: float = 12.0
    token_hours: float = 24.0 * 30
    max_body_bytes: int = 1_000_000  # requests larger than this get 413
    worker: bool = True  # run the background worker thread beside the server
    worker_poll_seconds: float = 2.0
    round_fn: Callable[[Any], dict] | None = None  # one worker round; default re-aggregates
    seed: int | None = None  # honeypot draws (tests)
    # failed logins allowed per user name / per client address within the window (0: no limit)
    login_failures_per_user: int = 5
    login_failures_per_ip: int = 30
    login_window_seconds: float = 60.0
