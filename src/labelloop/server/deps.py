"""Request dependencies: the app state, the caller, the project, role checks.

Load-or-404 and permission checks live here, not in the routes. They are ``async``: FastAPI
runs a plain ``def`` dependency in the thread pool, a hop that costs more than the check
itself; the rare database read (a login not in the cache, a settings refresh) is handed to
the thread pool explicitly.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Path, Request
from starlette.concurrency import run_in_threadpool

from labelloop.server.state import AppState, ProjectHandle
from labelloop.store.queue import NOT_NOW, Database
from labelloop.store.users import CurrentUser, resolve_token

SESSION_COOKIE = "labelloop_session"
CSRF_COOKIE = "labelloop_csrf"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


async def get_state(request: Request) -> AppState:
    return request.app.state.labelloop


StateDep = Annotated[AppState, Depends(get_state)]


def _token_from(request: Request) -> tuple[str | None, str]:
    auth = request.headers.get("authorization")
    if auth:
        scheme, _, value = auth.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise HTTPException(401, "the Authorization header must be 'Bearer TOKEN'", headers={"WWW-Authenticate": "Bearer"})
        return value.strip(), "api"
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        return cookie, "session"
    return None, ""


async def current_user(request: Request) -> CurrentUser:
    state: AppState = request.app.state.labelloop
    token, how = _token_from(request)
    if token is None:
        raise HTTPException(401, "not logged in: log in at /ui/ or send 'Authorization: Bearer TOKEN' (POST /api/v1/auth/token)",
                            headers={"WWW-Authenticate": "Bearer"})
    user = state.cached_login(token)
    if user is None:
        user = await run_in_threadpool(_resolve, state, token)
    if user is None:
        raise HTTPException(401, "your login has expired or is invalid; log in again", headers={"WWW-Authenticate": "Bearer"})
    if how == "session" and request.method not in SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        if not user.csrf or not hmac.compare_digest(sent.encode(), user.csrf.encode()):
            raise HTTPException(403, "missing or wrong CSRF token: send the X-CSRF-Token header given at login")
    request.state.token = token
    return user


def _resolve(state: AppState, token: str) -> CurrentUser | None:
    with state.auth_db.reading() as s:
        user = resolve_token(s, token)
    if user is not None:
        state.remember_login(token, user)
    return user


UserDep = Annotated[CurrentUser, Depends(current_user)]


async def reviewer(user: UserDep) -> CurrentUser:
    if not user.can_review:
        raise HTTPException(403, "this needs the reviewer or admin role")
    return user


async def admin(user: UserDep) -> CurrentUser:
    if not user.is_admin:
        raise HTTPException(403, "this needs the admin role")
    return user


ReviewerDep = Annotated[CurrentUser, Depends(reviewer)]
AdminDep = Annotated[CurrentUser, Depends(admin)]


async def project_handle(request: Request, name: Annotated[str, Path(max_length=200)]) -> ProjectHandle:
    h = request.app.state.labelloop.project(name)
    if h.stale():
        await run_in_threadpool(h.refresh)
    return h


ProjectDep = Annotated[ProjectHandle, Depends(project_handle)]


async def write_now(db: Database, fn: Callable[[Any], Any]) -> Any:
    """``fn(conn)`` in one short write transaction: on the event loop when it needs no waiting
    (SQLite, write lock free; see :meth:`Database.run_now`), else in the thread pool."""
    out = db.run_now(fn)
    if out is NOT_NOW:
        out = await run_in_threadpool(db.run_core, fn)
    return out
