"""Run the server in the foreground (``labelloop serve``, and the end of ``labelloop demo``)."""

from __future__ import annotations

import gc
import secrets
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

DEMO_USERS = (("demo-admin", "admin"), ("demo-annotator", "annotator"))


def demo_logins(directory: str | Path) -> list[tuple[str, str, str]]:
    """Create (or reset) a demo admin and a demo annotator with fresh random passwords.

    Returns ``(name, role, password)`` triples to print; nothing else keeps the passwords.
    """
    from labelloop.project import Project
    from labelloop.store.users import add_user

    out = []
    with Project.open(directory) as proj, proj.session() as s:
        for name, role in DEMO_USERS:
            pw = secrets.token_urlsafe(9)
            add_user(s, name, role, pw, replace=True)
            out.append((name, role, pw))
    return out


def serve(
    projects: Sequence[str | Path],
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    worker: bool = True,
    with_demo_logins: bool = False,
    say: Callable[[str], Any] = print,
    log_level: str = "warning",
    **settings: Any,
) -> None:
    """Build the app for ``projects`` and serve it with uvicorn until interrupted."""
    from labelloop.exceptions import require

    uvicorn = require("uvicorn", extra="server", purpose="the labelling server")
    from labelloop.server import ServerSettings, create_app

    app = create_app(ServerSettings(projects=[Path(p) for p in projects], worker=worker, **settings))
    names = sorted(app.state.labelloop.projects)
    say(f"labelloop serving {', '.join(names)} at http://{host}:{port}/  (API docs: http://{host}:{port}/docs)")
    if with_demo_logins:
        for name, role, pw in demo_logins(projects[0]):
            say(f"  log in as {name} / {pw}  ({role})")
    # Everything loaded so far (the app, its libraries) lives as long as the process: moved out
    # of the collector's reach, a full collection no longer walks a quarter of a million objects
    # (a pause of 60-300 ms that stalled every request in flight; requests only make short-lived ones)
    gc.collect()
    gc.freeze()
    uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=False)
