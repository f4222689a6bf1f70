"""Logins: bearer tokens for scripts, session cookies (with a CSRF token) for the browser."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request, Response

from labelloop.server.deps import CSRF_COOKIE, SESSION_COOKIE, StateDep, UserDep
from labelloop.server.schemas import LoginOut, TokenOut, UserPublic
from labelloop.store.users import authenticate, issue_token, revoke_token

router = APIRouter(prefix="/api/v1", tags=["auth"])

Username = Annotated[str, Form(min_length=1, max_length=100)]
Password = Annotated[str, Form(min_length=1, max_length=200)]


def _check(state, request: Request, username: str, password: str):
    """The user behind a name and password; 401 when wrong, 429 after too many failures."""
    ip = request.client.host if request.client else None
    limiter = state.login_limiter
    limiter.check(username, ip)  # before hashing: a blocked guess costs no argon2 work
    with state.auth_db.reading() as s:  # password hashing is slow: never under the write lock
        user = authenticate(s, username, password)
        if user is None:
            limiter.failed(username, ip)
            raise HTTPException(401, "wrong user name or password")
        limiter.succeeded(username)
        return user.id, user.name, user.role, user.paused_reason


LIMITED = {429: {"description": "too many failed logins for this user name or address; see Retry-After"}}


@router.post("/auth/token", response_model=TokenOut, responses=LIMITED, summary="Get an API token (form fields username, password)")
def token(state: StateDep, request: Request, username: Username, password: Password) -> TokenOut:
    uid, *_ = _check(state, request, username, password)
    with state.auth_db.writing() as s:
        tok, _ = issue_token(s, uid, kind="api", hours=state.settings.token_hours)
    return TokenOut(access_token=tok, expires_in=int(state.settings.token_hours * 3600))


@router.post("/auth/login", response_model=LoginOut, responses=LIMITED, summary="Browser login: sets the session cookie, returns the CSRF token")
def login(state: StateDep, request: Request, response: Response, username: Username, password: Password) -> LoginOut:
    uid, name, role, paused = _check(state, request, username, password)
    with state.auth_db.writing() as s:
        tok, csrf = issue_token(s, uid, kind="session", hours=state.settings.session_hours)
    age = int(state.settings.session_hours * 3600)
    secure = state.settings.secure_cookies
    response.set_cookie(SESSION_COOKIE, tok, max_age=age, httponly=True, samesite="strict", secure=secure, path="/")
    response.set_cookie(CSRF_COOKIE, csrf or "", max_age=age, httponly=False, samesite="strict", secure=secure, path="/")
    return LoginOut(user=UserPublic(name=name, role=role, paused_reason=paused), csrf_token=csrf or "")


@router.post("/auth/logout", status_code=204, summary="End this login (session or token)")
def logout(state: StateDep, user: UserDep, request: Request, response: Response) -> Response:
    with state.auth_db.writing() as s:
        revoke_token(s, request.state.token)
    state.forget_logins(token=request.state.token)
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")
    return response


@router.get("/me", response_model=UserPublic, summary="Who am I")
def me(user: UserDep) -> UserPublic:
    return UserPublic(name=user.name, role=user.role, paused_reason=user.paused_reason)
