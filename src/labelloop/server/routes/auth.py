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


def _check(state, username: str, password: str):
    with state.auth_db.reading() as s:  # password hashing is slow: never under the write lock
        user = authenticate(s, username, password)
        if user is None:
            raise HTTPException(401, "wrong user name or password")
        return user.id, user.name, user.role, user.paused_reason


@router.post("/auth/token", response_model=TokenOut, summary="Get an API token (form fields username, password)")
def token(state: StateDep, username: Username, password: Password) -> TokenOut:
    uid, *_ = _check(state, username, password)
    with state.auth_db.writing() as s:
        tok, _ = issue_token(s, uid, kind="api", hours=state.settings.token_hours)
    return TokenOut(access_token=tok, expires_in=int(state.settings.token_hours * 3600))


@router.post("/auth/login", response_model=LoginOut, summary="Browser login: sets the session cookie, returns the CSRF token")
def login(state: StateDep, response: Response, username: Username, password: Password) -> LoginOut:
    uid, name, role, paused = _check(state, username, password)
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
