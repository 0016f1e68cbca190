"""Login/logout, the current user, API tokens, user administration, the audit log."""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi import Path as PathParam
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select, update
from starlette.concurrency import run_in_threadpool

from annotation_app.audit import audit
from annotation_app.db import read_tx, write_tx
from annotation_app.deps import (
    CSRF_COOKIE,
    MAX_ID,
    SESSION_COOKIE,
    client_ip,
    forget_credentials,
    require,
    run_db,
)
from annotation_app.models import ApiToken, AuditLog, User, table
from annotation_app.security import (
    AuthError,
    Principal,
    create_user,
    login_wait,
    new_session,
    new_token,
    revoke_session,
    revoke_token,
    verify_login,
)

router = APIRouter(tags=["auth"])


class LoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class TokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=128)
    days: float | None = Field(90, gt=0, le=3650)


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=8, max_length=1024)
    role: Literal["annotator", "reviewer", "admin"] = "annotator"


class UserPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Literal["annotator", "reviewer", "admin"] | None = None
    active: bool | None = None


def _login(request: Request, body: LoginIn) -> tuple[int, str, str, str] | None:
    s = request.app.state.settings
    ip = client_ip(request)
    with write_tx(request.app.state.engine) as conn:
        wait = login_wait(conn, body.username, ip, free=s.login_free_failures, delay_s=s.login_delay_s,
                          max_delay_s=s.login_max_delay_s, window_s=s.login_window_s)
        if wait > 0:
            secs = math.ceil(wait)
            raise HTTPException(429, f"too many failed logins for {body.username!r} from your address; "
                                     f"try again in {secs} s", headers={"Retry-After": str(secs)})
        user = verify_login(conn, body.username, body.password, ip)
        if user is None:
            audit(conn, None, "login.failed", "user", body.username, ip=ip)
            return None
        secret, csrf = new_session(conn, user.id, s.session_hours)
        audit(conn, user.id, "login", "user", user.id, ip=ip)
        return user.id, user.role, secret, csrf


@router.post("/api/auth/login")
async def login(request: Request, body: LoginIn, response: Response) -> dict[str, Any]:
    """Start a browser session: sets an HttpOnly session cookie and a CSRF cookie (a new session
    on every login). Failed logins of one (username, client) make the next attempt wait
    longer (see docs/annotation_app.md, Security); there is no lockout."""
    res = await run_in_threadpool(_login, request, body)  # argon2 takes tens of ms: off the loop
    if res is None:
        raise HTTPException(401, "wrong username or password")
    uid, role, secret, csrf = res
    s = request.app.state.settings
    age = int(s.session_hours * 3600)
    response.set_cookie(SESSION_COOKIE, secret, max_age=age, httponly=True, samesite="strict", secure=s.cookie_secure)
    response.set_cookie(CSRF_COOKIE, csrf, max_age=age, httponly=False, samesite="strict", secure=s.cookie_secure)
    return {"user_id": uid, "role": role, "csrf_token": csrf}


@router.post("/api/auth/logout")
async def logout(request: Request, response: Response, p: Principal = Depends(require("annotator"))) -> dict[str, Any]:
    def _do() -> None:
        with write_tx(request.app.state.engine) as conn:
            if p.session_id is not None:
                revoke_session(conn, p.session_id)
            audit(conn, p.id, "logout", "user", p.id, ip=client_ip(request))

    await run_db(request, _do)
    forget_credentials()
    response.delete_cookie(SESSION_COOKIE)
    response.delete_cookie(CSRF_COOKIE)
    return {"ok": True}


@router.get("/api/me")
async def me(p: Principal = Depends(require("annotator"))) -> dict[str, Any]:
    return {"user_id": p.id, "username": p.username, "role": p.role, "via": p.via}


@router.post("/api/tokens", status_code=201)
async def create_token(request: Request, body: TokenIn, p: Principal = Depends(require("annotator"))) -> dict[str, Any]:
    """Create an API token for scripts. The token is shown once; only its hash is stored."""
    def _do() -> tuple[int, str]:
        with write_tx(request.app.state.engine) as conn:
            tid, token = new_token(conn, p.id, body.name, body.days)
            audit(conn, p.id, "token.create", "api_token", tid, {"name": body.name}, ip=client_ip(request))
            return tid, token

    tid, token = await run_db(request, _do)
    return {"id": tid, "token": token, "name": body.name}


@router.get("/api/tokens")
async def list_tokens(request: Request, p: Principal = Depends(require("annotator"))) -> list[dict[str, Any]]:
    def _do() -> list[dict[str, Any]]:
        with read_tx(request.app.state.engine) as conn:
            rows = conn.execute(select(ApiToken.id, ApiToken.name, ApiToken.created_at, ApiToken.expires_at,
                                       ApiToken.revoked_at).where(ApiToken.user_id == p.id)).all()
            return [dict(r._mapping) for r in rows]

    return await run_db(request, _do)


@router.delete("/api/tokens/{token_id}")
async def delete_token(request: Request, token_id: Annotated[int, PathParam(ge=1, le=MAX_ID)], p: Principal = Depends(require("annotator"))) -> dict[str, Any]:
    def _do() -> bool:
        with write_tx(request.app.state.engine) as conn:
            ok = revoke_token(conn, token_id, None if p.role == "admin" else p.id)
            if ok:
                audit(conn, p.id, "token.revoke", "api_token", token_id, ip=client_ip(request))
            return ok

    if not await run_db(request, _do):
        raise HTTPException(404, f"token {token_id} not found or already revoked")
    forget_credentials()
    return {"ok": True}


@router.post("/api/users", status_code=201)
async def add_user(request: Request, body: UserIn, p: Principal = Depends(require("admin"))) -> dict[str, Any]:
    def _do() -> int:
        with write_tx(request.app.state.engine) as conn:
            uid = create_user(conn, body.username, body.password, body.role)
            audit(conn, p.id, "user.create", "user", uid, {"username": body.username, "role": body.role},
                  ip=client_ip(request))
            return uid

    try:
        uid = await run_in_threadpool(_do)
    except AuthError as exc:
        raise HTTPException(422, str(exc)) from None
    return {"id": uid, "username": body.username, "role": body.role}


@router.get("/api/users")
async def list_users(request: Request, p: Principal = Depends(require("admin"))) -> list[dict[str, Any]]:
    def _do() -> list[dict[str, Any]]:
        with read_tx(request.app.state.engine) as conn:
            rows = conn.execute(select(User.id, User.username, User.role, User.active, User.created_at)).all()
            return [dict(r._mapping) for r in rows]

    return await run_db(request, _do)


@router.patch("/api/users/{user_id}")
async def patch_user(request: Request, user_id: Annotated[int, PathParam(ge=1, le=MAX_ID)], body: UserPatch,
                     p: Principal = Depends(require("admin"))) -> dict[str, Any]:
    values = body.model_dump(exclude_none=True)
    if not values:
        raise HTTPException(422, "nothing to change: give role and/or active")

    def _do() -> bool:
        with write_tx(request.app.state.engine) as conn:
            ok = conn.execute(update(User).where(User.id == user_id).values(**values)).rowcount > 0
            if ok:
                audit(conn, p.id, "user.update", "user", user_id, values, ip=client_ip(request))
            return ok

    if not await run_db(request, _do):
        raise HTTPException(404, f"user {user_id} not found")
    forget_credentials()
    return {"id": user_id, **values}


@router.get("/api/audit")
async def audit_log(request: Request, limit: Annotated[int, Query(ge=1, le=1000)] = 100, p: Principal = Depends(require("admin"))) -> list[dict[str, Any]]:
    def _do() -> list[dict[str, Any]]:
        with read_tx(request.app.state.engine) as conn:
            rows = conn.execute(select(table(AuditLog)).order_by(AuditLog.id.desc()).limit(limit)).all()
            return [dict(r._mapping) for r in rows]

    return await run_db(request, _do)
