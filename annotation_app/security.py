"""Passwords (argon2), API tokens and web sessions (random secrets stored as sha256), login throttling."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, insert, select, text, update

from annotation_app.db import inserted_id, now
from annotation_app.models import ROLES, ApiToken, LoginAttempt, User, WebSession, table
from annotation_app.sql import Q

_hasher = PasswordHasher()
TOKEN_PREFIX = "pmt_"
_DUMMY_HASH = _hasher.hash("not-a-real-password")


class AuthError(ValueError):
    """Bad credentials or input for an auth operation; the message is safe to show."""


@dataclass(frozen=True)
class Principal:
    id: int
    username: str
    role: str
    via: str  # "cookie" or "token"
    session_id: int | None = None
    csrf: str = ""


def sha256(s: str) -> str:
    return hashlib.sha256(s.encode()).hexdigest()


def hash_password(password: str) -> str:
    if len(password) < 8:
        raise AuthError("password must have at least 8 characters")
    return _hasher.hash(password)


def check_password(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def create_user(conn: Connection, username: str, password: str, role: str) -> int:
    if role not in ROLES:
        raise AuthError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
    if not username or len(username) > 64 or not username.replace("_", "").replace("-", "").replace(".", "").isalnum():
        raise AuthError("username must be 1-64 letters, digits, '.', '_' or '-'")
    if conn.execute(select(User.id).where(User.username == username)).first():
        raise AuthError(f"user {username!r} already exists")
    res = conn.execute(insert(User).values(username=username, password_hash=hash_password(password), role=role,
                                           active=True, created_at=now()))
    return inserted_id(res)


# --- login throttling ---------------------------------------------------------------------------

def serialize_attempts(conn: Connection, username: str, client: str) -> None:
    """Make login attempts of one (username, client) run one after another, whichever server
    process receives them: on PostgreSQL a transaction-scoped advisory lock on the pair, taken
    before ``login_wait`` reads the earlier attempts (so each attempt sees every earlier failure,
    and a burst of parallel guesses gets no more than the free ones). SQLite needs none: its
    write transactions run one at a time."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 7))"),
                     {"k": f"login:{len(username[:64])}:{username[:64]}:{client[:64]}"})


def login_wait(conn: Connection, username: str, client: str, *, free: int, delay_s: float, max_delay_s: float,
               window_s: float) -> float:
    """Seconds this (username, client) must still wait before its next login attempt.

    The first ``free`` failures since the last success (within ``window_s``) cost nothing; after
    that each failure makes the next attempt wait ``delay_s``, doubling per failure up to
    ``max_delay_s``, counted from the last failure. There is no lockout: a correct password is
    accepted as soon as the delay has passed, and failures from one client never delay another.
    """
    t = now()
    rows = conn.execute(select(LoginAttempt.ok, LoginAttempt.at).where(
        LoginAttempt.username == username[:64], LoginAttempt.ip == client[:64], LoginAttempt.at > t - window_s)
        .order_by(LoginAttempt.at.desc()).limit(64)).all()
    failures = 0
    for ok, _at in rows:
        if ok:
            break
        failures += 1
    if failures <= free:
        return 0.0
    wait = min(max_delay_s, delay_s * 2 ** min(failures - free - 1, 30))
    return max(0.0, rows[0].at + wait - t)


def verify_login(conn: Connection, username: str, password: str, ip: str) -> Any:
    """The active user row for these credentials, or None; records the attempt either way."""
    user = conn.execute(select(table(User)).where(User.username == username)).first()
    if user is None:
        check_password(_DUMMY_HASH, password)  # the same work whether or not the user exists
        ok = False
    else:
        ok = bool(user.active) and check_password(user.password_hash, password)
    conn.execute(insert(LoginAttempt).values(username=username[:64], ip=ip[:64], ok=ok, at=now()))
    return user if ok else None


# --- sessions and tokens ------------------------------------------------------------------------

def new_session(conn: Connection, user_id: int, hours: float) -> tuple[str, str]:
    """Create a session; returns (cookie secret, csrf token). Only the secret's sha256 is stored."""
    secret, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    t = now()
    conn.execute(insert(WebSession).values(user_id=user_id, token_hash=sha256(secret), csrf_token=csrf,
                                           created_at=t, expires_at=t + hours * 3600))
    return secret, csrf


def revoke_session(conn: Connection, session_id: int) -> None:
    conn.execute(update(WebSession).where(WebSession.id == session_id).values(revoked_at=now()))


def new_token(conn: Connection, user_id: int, name: str, days: float | None = 90) -> tuple[int, str]:
    """Create an API token; returns (id, token). The token is shown once and stored hashed."""
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    t = now()
    res = conn.execute(insert(ApiToken).values(user_id=user_id, name=name[:128], token_hash=sha256(secret),
                                               created_at=t, expires_at=t + days * 86400 if days else None))
    return inserted_id(res), secret


def revoke_token(conn: Connection, token_id: int, user_id: int | None = None) -> bool:
    q = update(ApiToken).where(ApiToken.id == token_id, ApiToken.revoked_at.is_(None))
    if user_id is not None:
        q = q.where(ApiToken.user_id == user_id)
    return conn.execute(q.values(revoked_at=now())).rowcount > 0


_BY_TOKEN = Q("SELECT u.id, u.username, u.role FROM users u JOIN api_tokens k ON k.user_id = u.id "
                 "WHERE k.token_hash = :h AND k.revoked_at IS NULL AND u.active AND "
                 "(k.expires_at IS NULL OR k.expires_at > :t)")
_BY_SESSION = Q("SELECT u.id, u.username, u.role, s.id AS sid, s.csrf_token FROM users u "
                   "JOIN web_sessions s ON s.user_id = u.id WHERE s.token_hash = :h AND s.revoked_at IS NULL "
                   "AND u.active AND s.expires_at > :t")


def principal_lookup(token: str | None, secret: str | None) -> tuple[Q, dict[str, Any]]:
    """The statement and parameters that find the principal of an API token (else a session secret)."""
    if token:
        return _BY_TOKEN, {"h": sha256(token), "t": now()}
    return _BY_SESSION, {"h": sha256(secret or ""), "t": now()}


def principal_of(row: dict[str, Any] | None, via: str) -> Principal | None:
    """The principal from a ``principal_lookup`` row (``via``: "token" or "cookie")."""
    if row is None:
        return None
    if via == "token":
        return Principal(row["id"], row["username"], row["role"], "token")
    return Principal(row["id"], row["username"], row["role"], "cookie", row["sid"], row["csrf_token"])

