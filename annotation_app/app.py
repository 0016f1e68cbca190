"""The FastAPI application factory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine

from annotation_app.claiming import ClaimError
from annotation_app.db import is_sqlite, make_engine, migrate
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


def create_app(settings: Settings | None = None, engine: Engine | None = None, *, run_migrations: bool = True) -> FastAPI:
    settings = settings or get_settings()
    if run_migrations:
        migrate(settings.database_url)
    engine = engine or make_engine(settings.database_url, synchronous=settings.sqlite_synchronous,
                                   pool_size=settings.pool_size)
    app = FastAPI(title="PixMo annotation app", version="1.0",
                  description="Campaigns, task claiming with leases, review, quality metrics and export.")
    app.state.settings = settings
    app.state.engine = engine
    app.state.media = MediaStore(settings.media_root)
    app.state.inline_db = is_sqlite(engine) if settings.inline_db is None else settings.inline_db

    from annotation_app.routes import auth, campaigns, media, pages, review, work

    for mod in (auth, campaigns, work, review, media, pages):
        app.include_router(mod.router)
    for name, task in task_types().items():
        r = task.router()
        if r is not None:
            app.include_router(r, prefix=f"/api/tasks/{name}")
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    _handlers(app)
    _middleware(app, settings)
    return app


def _handlers(app: FastAPI) -> None:
    @app.exception_handler(ClaimError)
    async def _claim(_req: Request, exc: ClaimError) -> JSONResponse:
        return JSONResponse({"detail": exc.message}, status_code=exc.status)

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
    limit = max(settings.max_image_bytes, settings.max_json_bytes) + 64 * 1024

    @app.middleware("http")
    async def _limits_and_headers(request: Request, call_next: Any) -> Any:
        length = request.headers.get("content-length")
        if length is not None:
            if not length.isdigit():
                return JSONResponse({"detail": "Content-Length must be a number"}, status_code=400)
            if int(length) > limit:
                return JSONResponse({"detail": f"request body is {length} bytes; the limit is {limit} bytes"},
                                    status_code=413)
        response = await call_next(request)
        for k, v in SECURITY_HEADERS.items():
            response.headers.setdefault(k, v)
        return response
