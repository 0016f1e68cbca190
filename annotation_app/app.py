"""The FastAPI application factory."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine

from annotation_app import credentials
from annotation_app.claiming import ClaimError
from annotation_app.database import Database
from annotation_app.db import AsyncPgPool, asyncpg_dsn, is_sqlite, make_engine, migrate, warm_pool
from annotation_app.hotpath import HotPaths, claim_error_response
from annotation_app.media import MediaKeyError, MediaStore
from annotation_app.settings import Settings, get_settings
from annotation_app.tasks import task_types

HERE = Path(__file__).parent
SECURITY_HEADERS = {
    "content-security-policy": "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
                               "script-src 'self'; style-src 'self'; object-src 'none'; base-uri 'none'; "
                               "frame-ancestors 'none'; form-action 'self'",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
    "permissions-policy": "microphone=(self), camera=(), geolocation=()",
}


def async_pool_size(settings: Settings) -> int:
    """Connections for the event loop's transactions: 2 per core (the usual PostgreSQL sizing rule).
    They never block the loop, so a few keep every core busy; more make PostgreSQL's backends fight
    the app for the same cores (on 2 cores: 4 gave ~475 cycles/s and p99 ~210 ms, 20 gave ~390 and
    ~330 ms, benchmarks/bench_app.py)."""
    return settings.pg_async_pool_size or max(2, 2 * (os.cpu_count() or 1))


def create_app(settings: Settings | None = None, engine: Engine | None = None, *, run_migrations: bool = True) -> FastAPI:
    settings = settings or get_settings()
    if run_migrations:
        migrate(settings.database_url)
    engine = engine or make_engine(settings.database_url, synchronous=settings.sqlite_synchronous,
                                   pool_size=settings.pool_size,
                                   background_checkpoint=settings.sqlite_background_checkpoint)
    public = settings.public_docs
    inline = is_sqlite(engine) if settings.inline_db is None else settings.inline_db
    pg_pool = AsyncPgPool.for_url(settings.database_url, async_pool_size(settings)) if settings.pg_async else None
    notices = asyncpg_dsn(settings.database_url)  # credential-change notices (PostgreSQL)
    app = FastAPI(title="PixMo annotation app", version="1.0",
                  description="Campaigns, task claiming with leases, review, quality metrics and export.",
                  docs_url="/docs" if public else None, redoc_url=None, openapi_url="/openapi.json" if public else None,
                  lifespan=lambda _app: credentials.listening(notices))
    app.state.settings = settings
    app.state.engine = engine
    app.state.media = MediaStore(settings.media_root)
    app.state.db = Database(engine, inline=inline, pg_pool=pg_pool)  # every route's data access: database.Db
    if pg_pool is None:
        warm_pool(engine, settings.pool_size)

    from annotation_app.routes import admin, auth, campaigns, media, members, pages, progress, review, work

    app.state.routers = [("", mod.router) for mod in (work, auth, campaigns, progress, members, review, media, pages, admin)]  # hot first
    for name, task in task_types().items():
        r = task.router()
        if r is not None:
            app.state.routers.append((f"/api/tasks/{name}", r))
    for prefix, r in app.state.routers:
        app.include_router(r, prefix=prefix)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    if not public:
        _private_docs(app)
    _handlers(app)
    _middleware(app, settings)
    return app


def all_routes(app: FastAPI) -> list[tuple[str, str, APIRoute]]:
    """(method, full path, route) of every API and page route (the security test walks these)."""
    out = []
    for prefix, router in app.state.routers:
        for r in router.routes:
            if isinstance(r, APIRoute):
                out += [(m, prefix + r.path, r) for m in sorted((r.methods or set()) - {"HEAD"})]
    return out


def _private_docs(app: FastAPI) -> None:
    """/openapi.json and /docs for logged-in users only (``PIXMO_APP_PUBLIC_DOCS=1`` opens them)."""
    from fastapi.openapi.docs import get_swagger_ui_html

    from annotation_app.deps import require

    @app.get("/openapi.json", include_in_schema=False)
    async def openapi(_p: Any = Depends(require("annotator"))) -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False)
    async def docs(_p: Any = Depends(require("annotator"))) -> Any:
        return get_swagger_ui_html(openapi_url="/openapi.json", title=app.title + " - API")


def _handlers(app: FastAPI) -> None:
    @app.exception_handler(ClaimError)
    async def _claim(_req: Request, exc: ClaimError) -> JSONResponse:
        return claim_error_response(exc)

    @app.exception_handler(MediaKeyError)
    async def _media(_req: Request, exc: MediaKeyError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=400)

    @app.exception_handler(RequestValidationError)
    async def _validation(_req: Request, exc: RequestValidationError) -> JSONResponse:
        parts = []
        for e in exc.errors():
            loc = ".".join(str(p) for p in e.get("loc", ()) if p != "body")
            parts.append(f"{loc or 'request'}: {e.get('msg', 'invalid')}")
        return JSONResponse({"detail": "; ".join(parts), "errors": _plain(exc.errors())}, status_code=422)

    @app.exception_handler(HTTPException)
    async def _http(req: Request, exc: HTTPException) -> Any:
        wants_page = not req.url.path.startswith(("/api/", "/media/")) and req.method == "GET"
        if exc.status_code == 401 and wants_page:
            return RedirectResponse(f"/login?next={req.url.path}", status_code=303)
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)


def _plain(errors: Any) -> Any:
    out = []
    for e in errors:
        out.append({k: (v if isinstance(v, str | int | float | list | type(None)) else str(v))
                    for k, v in e.items() if k in ("loc", "msg", "type")})
    return out


def _middleware(app: FastAPI, settings: Settings) -> None:
    if settings.fast_routes:  # inside the body limits and security headers (the last added is outermost)
        app.add_middleware(HotPaths)
    app.add_middleware(LimitsAndHeaders, limits=BodyLimits.of(settings))


class BodyLimits:
    """The largest request body per content type: JSON ``max_json_bytes``; image uploads
    (multipart, image/*) ``max_image_bytes``; audio chunks and other raw bytes ``max_chunk_bytes``
    (each plus 64 KiB for multipart framing)."""

    def __init__(self, json: int, upload: int, raw: int):
        self.json, self.upload, self.raw = json, upload, raw

    @classmethod
    def of(cls, s: Settings) -> BodyLimits:
        return cls(s.max_json_bytes, s.max_image_bytes + 64 * 1024, s.max_chunk_bytes + 64 * 1024)

    def for_type(self, content_type: str) -> int:
        ct = content_type.split(";", 1)[0].strip().lower()
        if ct in ("multipart/form-data", "application/x-www-form-urlencoded") or ct.startswith("image/"):
            return self.upload
        if ct in ("application/octet-stream",) or ct.startswith(("audio/", "video/")):
            return self.raw
        return self.json  # JSON, and anything else the API would parse as such


class LimitsAndHeaders:
    """Pure ASGI middleware: request bodies over the limit of their content type get 413, whether
    declared by Content-Length (refused before reading) or streamed without one (refused as soon as
    the count passes the limit, nothing more is read); security headers on every response."""

    def __init__(self, app: Any, limits: BodyLimits):
        self.app, self.limits = app, limits
        self.headers = [(k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        limit = self.limits.for_type(headers.get(b"content-type", b"").decode("latin-1"))
        declared = headers.get(b"content-length")
        if declared is not None:
            if not declared.isdigit():
                await JSONResponse({"detail": "Content-Length must be a number"}, 400)(scope, receive, send)
                return
            if int(declared) > limit:
                msg = f"request body is {int(declared)} bytes; the limit is {limit} bytes"
                await JSONResponse({"detail": msg}, 413)(scope, receive, send)
                return
        seen = [0]

        async def counted() -> Any:
            message = await receive()
            if message["type"] == "http.request":
                seen[0] += len(message.get("body", b""))
                if seen[0] > limit:
                    raise HTTPException(413, f"request body is over {limit} bytes; the limit is {limit} bytes")
            return message

        async def send_with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                have = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [h for h in self.headers if h[0] not in have]
            await send(message)

        await self.app(scope, counted, send_with_headers)
