"""Login/logout, the current user, API tokens, user administration, the audit log."""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi import Path as PathParam
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Connection, select, update

from annotation_app.admin import AdminError, check_role_change, user_role
from annotation_app.audit import audit
from annotation_app.database import Db
from annotation_app.deps import (
    CSRF_COOKIE,
    MAX_ID,
    SESSION_COOKIE,
    client_ip,
    forget_credentials,
    require,
)
from annotation_app.models import ApiToken, AuditLog, User, table
from annotation_app.schemas import (
    AuditRow,
    LoginOut,
    Me,
    Ok,
    TokenCreated,
    TokenRow,
    UserCreated,
    UserPatched,
    UserRow,
)
from annotation_app.security import (
    AuthError,
    Principal,
    create_user,
    login_wait,
    new_session,
    new_token,
    revoke_session,
    revoke_token,
    serialize_attempts,
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
    role: Literal["annotator", "reviewer", "manager", "admin"] = "annotator"


class UserPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Literal["annotator", "reviewer", "manager", "admin"] | None = None
    active: bool | None = None


def _login(conn: Connection, request: Request, body: LoginIn) -> tuple[int, str, str, str] | None:
    s = request.app.state.settings
    ip = client_ip(request)
    serialize_attempts(conn, body.username, ip)
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


@router.post("/api/auth/login", response_model=LoginOut)
async def login(request: Request, db: Db, body: LoginIn, response: Response) -> dict[str, Any]:
    """Start a browser session: sets an HttpOnly session cookie and a CSRF cookie (a new session
    on every login). Failed logins of one (username, client) make the next attempt wait
    longer (see docs/annotation_app.md, Security); there is no lockout."""
    res = await db.write(lambda c: _login(c, request, body), off_loop=True)  # argon2 takes tens of ms: off the loop
    if res is None:
        raise HTTPException(401, "wrong username or password")
    uid, role, secret, csrf = res
    s = request.app.state.settings
    age = int(s.session_hours * 3600)
    response.set_cookie(SESSION_COOKIE, secret, max_age=age, httponly=True, samesite="strict", secure=s.cookie_secure)
    response.set_cookie(CSRF_COOKIE, csrf, max_age=age, httponly=False, samesite="strict", secure=s.cookie_secure)
    return {"user_id": uid, "role": role, "csrf_token": csrf}


def _logout(conn: Connection, p: Principal, ip: str) -> None:
    if p.session_id is not None:
        revoke_session(conn, p.session_id)
    audit(conn, p.id, "logout", "user", p.id, ip=ip)


@router.post("/api/auth/logout", response_model=Ok)
async def logout(request: Request, db: Db, response: Response, p: Principal = Depends(require("annotator"))) -> dict[str, Any]:
    ip = client_ip(request)
    await db.write(lambda c: _logout(c, p, ip))
    forget_credentials()
    response.delete_cookie(SESSION_COOKIE)
    response.delete_cookie(CSRF_COOKIE)
    return {"ok": True}


@router.get("/api/me", response_model=Me)
async def me(p: Principal = Depends(require("annotator"))) -> dict[str, Any]:
    return {"user_id": p.id, "username": p.username, "role": p.role, "via": p.via}


def _create_token(conn: Connection, p: Principal, body: TokenIn, ip: str) -> tuple[int, str]:
    tid, token = new_token(conn, p.id, body.name, body.days)
    audit(conn, p.id, "token.create", "api_token", tid, {"name": body.name}, ip=ip)
    return tid, token


@router.post("/api/tokens", status_code=201, response_model=TokenCreated)
async def create_token(request: Request, db: Db, body: TokenIn, p: Principal = Depends(require("annotator"))) -> dict[str, Any]:
    """Create an API token for scripts. The token is shown once; only its hash is stored."""
    ip = client_ip(request)
    tid, token = await db.write(lambda c: _create_token(c, p, body, ip))
    return {"id": tid, "token": token, "name": body.name}


def _rows(conn: Connection, query: Any) -> list[dict[str, Any]]:
    return [dict(r._mapping) for r in conn.execute(query).all()]


@router.get("/api/tokens", response_model=list[TokenRow])
async def list_tokens(db: Db, p: Principal = Depends(require("annotator"))) -> list[dict[str, Any]]:
    return await db.read(lambda c: _rows(c, select(ApiToken.id, ApiToken.name, ApiToken.created_at,
                                                   ApiToken.expires_at, ApiToken.revoked_at)
                                         .where(ApiToken.user_id == p.id)))


def _revoke(conn: Connection, token_id: int, p: Principal, ip: str) -> bool:
    ok = revoke_token(conn, token_id, None if p.role == "admin" else p.id)
    if ok:
        audit(conn, p.id, "token.revoke", "api_token", token_id, ip=ip)
    return ok


@router.delete("/api/tokens/{token_id}", response_model=Ok)
async def delete_token(request: Request, db: Db, token_id: Annotated[int, PathParam(ge=1, le=MAX_ID)],
                       p: Principal = Depends(require("annotator"))) -> dict[str, Any]:
    ip = client_ip(request)
    if not await db.write(lambda c: _revoke(c, token_id, p, ip)):
        raise HTTPException(404, f"token {token_id} not found or already revoked")
    forget_credentials()
    return {"ok": True}


def _add_user(conn: Connection, body: UserIn, p: Principal, ip: str) -> int:
    check_role_change(p.role, None, body.role)
    uid = create_user(conn, body.username, body.password, body.role)
    audit(conn, p.id, "user.create", "user", uid, {"username": body.username, "role": body.role}, ip=ip)
    return uid


@router.post("/api/users", status_code=201, response_model=UserCreated)
async def add_user(request: Request, db: Db, body: UserIn, p: Principal = Depends(require("manager"))) -> dict[str, Any]:
    """Create a user (a manager creates annotators, reviewers and managers; only an admin creates admins)."""
    ip = client_ip(request)
    try:
        uid = await db.write(lambda c: _add_user(c, body, p, ip), off_loop=True)  # argon2: off the loop
    except AuthError as exc:
        raise HTTPException(422, str(exc)) from None
    except AdminError as exc:
        raise HTTPException(exc.status, str(exc)) from None
    return {"id": uid, "username": body.username, "role": body.role}


@router.get("/api/users", response_model=list[UserRow])
async def list_users(db: Db, p: Principal = Depends(require("manager"))) -> list[dict[str, Any]]:
    return await db.read(lambda c: _rows(c, select(User.id, User.username, User.role, User.active, User.created_at)))


def _patch_user(conn: Connection, user_id: int, values: dict[str, Any], p: Principal, ip: str) -> bool:
    check_role_change(p.role, user_role(conn, user_id), values.get("role"))
    ok = conn.execute(update(User).where(User.id == user_id).values(**values)).rowcount > 0
    if ok:
        audit(conn, p.id, "user.update", "user", user_id, values, ip=ip)
    return ok


@router.patch("/api/users/{user_id}", response_model=UserPatched, response_model_exclude_unset=True)
async def patch_user(request: Request, db: Db, user_id: Annotated[int, PathParam(ge=1, le=MAX_ID)], body: UserPatch,
                     p: Principal = Depends(require("manager"))) -> dict[str, Any]:
    """Change a user's role or deactivate them (a manager cannot touch admins or make one)."""
    values = body.model_dump(exclude_none=True)
    if not values:
        raise HTTPException(422, "nothing to change: give role and/or active")
    ip = client_ip(request)
    try:
        ok = await db.write(lambda c: _patch_user(c, user_id, values, p, ip))
    except AdminError as exc:
        raise HTTPException(exc.status, str(exc)) from None
    if not ok:
        raise HTTPException(404, f"user {user_id} not found")
    forget_credentials()
    return {"id": user_id, **values}


@router.get("/api/audit", response_model=list[AuditRow])
async def audit_log(db: Db, limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                    p: Principal = Depends(require("admin"))) -> list[dict[str, Any]]:
    return await db.read(lambda c: _rows(c, select(table(AuditLog)).order_by(AuditLog.id.desc()).limit(limit)))
