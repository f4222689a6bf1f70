"""Users, password hashes (argon2) and login tokens.

Users are shared by every project of a database. A login is a random token; only its SHA-256
is stored (``auth_tokens``), together with the CSRF token of a browser session.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from labelloop.exceptions import InputError, NotFoundError
from labelloop.store.models import ROLES, AuthToken, User, utcnow

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,99}$")
MIN_PASSWORD = 8


@dataclass(frozen=True)
class CurrentUser:
    """What a request knows about who is calling."""

    id: int
    name: str
    role: str
    paused_reason: str | None = None
    via: str = "api"  # session | api
    csrf: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def can_review(self) -> bool:
        return self.role in ("admin", "reviewer")


# argon2id parameters; the defaults are argon2-cffi's (64 MiB, 3 passes). Tests lower them.
HASH_OPTIONS: dict[str, int] = {}


def _hasher():
    from labelloop.exceptions import require

    argon2 = require("argon2", package="argon2-cffi", extra="server", purpose="password hashing")
    return argon2.PasswordHasher(**HASH_OPTIONS)


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    if not password_hash:
        return False
    from argon2.exceptions import InvalidHashError, VerificationError

    try:
        return _hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def validate_user(name: str, role: str, password: str | None) -> None:
    if not NAME_RE.match(name or ""):
        raise InputError(f"invalid user name {name!r}: use 1-100 letters, digits, '_', '.', '@' or '-', starting with a letter or digit")
    if role not in ROLES:
        raise InputError(f"unknown role '{role}'; one of {', '.join(ROLES)}")
    if password is not None and len(password) < MIN_PASSWORD:
        raise InputError(f"password too short: use at least {MIN_PASSWORD} characters")


def add_user(session: Session, name: str, role: str, password: str, *, replace: bool = False, pw_hash: str | None = None) -> User:
    """Create a user (or, with ``replace``, reset the role and password of an existing one).

    ``pw_hash`` lets a caller hash the password before opening a write transaction.
    """
    validate_user(name, role, password)
    row = session.scalar(select(User).where(User.name == name))
    if row is not None and not replace:
        raise InputError(f"user '{name}' already exists; pass --replace to change the role or password")
    if row is None:
        row = User(name=name)
        session.add(row)
    row.role, row.password_hash, row.active, row.paused_reason = role, pw_hash or hash_password(password), True, None
    session.flush()
    return row


def get_user(session: Session, name: str) -> User:
    row = session.scalar(select(User).where(User.name == name))
    if row is None:
        raise NotFoundError(f"no user named '{name}'; create one with: labelloop user add DIR {name} --role annotator")
    return row


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.name)))


def authenticate(session: Session, name: str, password: str) -> User | None:
    row = session.scalar(select(User).where(User.name == name))
    if row is None:
        _hasher()  # spend comparable time on unknown names
        verify_password(_DUMMY_HASH[0] or _dummy_hash(), password)
        return None
    if not row.active or not verify_password(row.password_hash, password):
        return None
    return row


_DUMMY_HASH: list[str | None] = [None]


def _dummy_hash() -> str:
    _DUMMY_HASH[0] = hash_password(secrets.token_hex(8))
    return _DUMMY_HASH[0]


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue_token(session: Session, user_id: int, *, kind: str, hours: float) -> tuple[str, str | None]:
    """A new login token (returned once, stored hashed) and, for sessions, its CSRF token."""
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(24) if kind == "session" else None
    now = utcnow()
    session.add(AuthToken(user_id=user_id, token_hash=token_digest(token), kind=kind, csrf=csrf, created_at=now,
                          expires_at=now + timedelta(hours=hours)))
    session.flush()
    return token, csrf


def resolve_token(session: Session, token: str) -> CurrentUser | None:
    if not token or len(token) > 200:
        return None
    q = (
        select(User.id, User.name, User.role, User.active, User.paused_reason, AuthToken.kind, AuthToken.csrf, AuthToken.expires_at)
        .join(AuthToken, AuthToken.user_id == User.id)
        .where(AuthToken.token_hash == token_digest(token))
    )
    row = session.execute(q).first()
    if row is None or not row.active or row.expires_at < utcnow():
        return None
    return CurrentUser(id=row.id, name=row.name, role=row.role, paused_reason=row.paused_reason, via=row.kind, csrf=row.csrf)


def revoke_token(session: Session, token: str) -> None:
    session.execute(delete(AuthToken).where(AuthToken.token_hash == token_digest(token)))


def set_paused(session: Session, user_id: int, reason: str | None) -> None:
    row = session.get(User, user_id)
    if row is None:
        raise NotFoundError(f"user {user_id} does not exist")
    row.paused_reason = reason
