"""FastAPI dependencies: authentication, per-route roles and CSRF (the database: ``annotation_app.database``).

Every non-public route declares its minimum role with ``Depends(require("annotator"|"reviewer"|"manager"|"admin"))``;
``route_role`` reads it back (the role x route test relies on it). Cookie-authenticated unsafe
requests must echo the session's CSRF token in the ``X-CSRF-Token`` header; API-token requests
(``Authorization: Bearer pmt_...``) are exempt.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable
from typing import Any

from fastapi import HTTPException, Request

from annotation_app.credentials import cache_trusted
from annotation_app.database import Database
from annotation_app.models import ROLE_RANK
from annotation_app.security import TOKEN_PREFIX, Principal, principal_lookup, principal_of

SESSION_COOKIE = "pixmo_session"
CSRF_COOKIE = "pixmo_csrf"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def client_ip(request: Request) -> str:
    """The client's address: the peer, or, when the peer is a configured trusted proxy, the last
    address in X-Forwarded-For that is not itself a trusted proxy."""
    peer = request.client.host if request.client else ""
    trusted = _trusted(request.app.state.settings.trusted_proxies)
    if peer not in trusted:
        return peer
    hops = [h.strip() for h in ",".join(request.headers.getlist("x-forwarded-for")).split(",") if h.strip()]
    for hop in reversed(hops):
        if hop not in trusted:
            return hop[:64]
    return peer


def _trusted(spec: str) -> frozenset[str]:
    return frozenset(a.strip() for a in spec.split(",") if a.strip())


_CACHE: dict[str, tuple[float, Principal]] = {}
CACHE_SECONDS = 5.0
"""Valid credentials are cached this long per process. Revoking a token or session, logging out
and changing a user clear the cache of the process that did it; on PostgreSQL every other process
empties its cache when the database's notice arrives (``annotation_app.credentials``), and does not
cache while it cannot receive notices. On SQLite (one server process) a change made by another
process, such as the CLI, is seen within CACHE_SECONDS."""


_GENERATION = [0]  # bumped by every forget: a lookup that overlapped one does not fill the cache


def forget_credentials() -> None:
    _GENERATION[0] += 1
    _CACHE.clear()


async def authenticate(request: Request) -> Principal | None:
    if hasattr(request.state, "principal"):
        return request.state.principal
    auth = request.headers.get("authorization")
    cookie = None if auth else request.cookies.get(SESSION_COOKIE)
    token = None
    if auth:
        scheme, _, token = auth.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token.startswith(TOKEN_PREFIX):
            request.state.principal = None
            return None
    p = await principal_for(request.app.state.db, token, cookie)
    request.state.principal = p
    return p


async def principal_for(db: Database, token: str | None, cookie: str | None) -> Principal | None:
    """The principal of an API token (else a session cookie), through the per-process cache."""
    key = ("t:" + token) if token else ("c:" + cookie) if cookie else ""
    if not key:
        return None
    use_cache, generation = cache_trusted(), _GENERATION[0]
    hit = _CACHE.get(key) if use_cache else None
    t = time.monotonic()
    if hit and hit[0] > t:
        return hit[1]
    p = principal_of(await db.first(*principal_lookup(token, cookie)), "token" if token else "cookie")
    # not cached when a change notice came in while we looked (the row read may predate it)
    if p is not None and use_cache and cache_trusted() and generation == _GENERATION[0]:
        if len(_CACHE) > 10000:
            _CACHE.clear()
        _CACHE[key] = (t + CACHE_SECONDS, p)
    return p


def require(min_role: str) -> Callable[..., Any]:
    if min_role not in ROLE_RANK:
        raise ValueError(f"unknown role {min_role!r}")

    async def dependency(request: Request) -> Principal:
        p = await authenticate(request)
        if p is None:
            raise HTTPException(401, "not logged in (send the session cookie or 'Authorization: Bearer <token>')")
        if ROLE_RANK[p.role] < ROLE_RANK[min_role]:
            raise HTTPException(403, f"this needs the {min_role} role; you are {p.role}")
        if p.via == "cookie" and request.method not in SAFE_METHODS:
            sent = request.headers.get(CSRF_HEADER, "")
            if not sent or not hmac.compare_digest(sent, p.csrf):
                raise HTTPException(403, "CSRF token missing or wrong: send the X-CSRF-Token header")
        return p

    dependency.min_role = min_role  # type: ignore[attr-defined]
    return dependency


def route_role(route: Any) -> str | None:
    """The minimum role a route declares (None for public routes)."""
    stack = list(getattr(getattr(route, "dependant", None), "dependencies", []))
    while stack:
        d = stack.pop()
        role = getattr(d.call, "min_role", None)
        if role:
            return role
        stack.extend(d.dependencies)
    return None


MAX_ID = 2**31 - 1
"""Ids in paths are bounded so that oversized numbers get a 422, not a database overflow."""
