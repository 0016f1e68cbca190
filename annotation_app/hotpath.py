"""The two hot routes (claim, submit) answered without FastAPI's per-request machinery.

A claim+submit cycle costs the server ~1 ms of CPU per request, and a quarter of it was FastAPI and
Starlette resolving dependencies, reading the body and routing past it (benchmarks/profile_app.py).
This pure ASGI middleware answers exactly the requests whose outcome it can be sure of: ``POST`` to
``/api/campaigns/{id}/claim`` or ``/api/assignments/{id}/submit`` with an API token
(``Authorization: Bearer pmt_...``) that belongs to an active user, a JSON content type, and a body
that the route's own pydantic model accepts. It then runs the route's own code
(``routes.work.claim_result`` / ``submit_result``) and answers like the route. Everything else
(cookie sessions and their CSRF check, an unknown token, a body the model refuses, any other path)
goes to FastAPI unchanged, with the body it already read handed on, so errors keep their one
definition. ``PIXMO_APP_FAST_ROUTES=0`` turns it off.
"""

from __future__ import annotations

import json
import re
from typing import Any

from fastapi import HTTPException
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.requests import Request

from annotation_app.claiming import ClaimError
from annotation_app.deps import MAX_ID, principal_for
from annotation_app.security import TOKEN_PREFIX

_ROUTES = (("claim", re.compile(r"/api/campaigns/([1-9][0-9]{0,9})/claim")),
           ("submit", re.compile(r"/api/assignments/([1-9][0-9]{0,9})/submit")))


def claim_error_response(exc: ClaimError) -> JSONResponse:
    """How a ClaimError is answered (the app's exception handler and this fast path)."""
    return JSONResponse({"detail": exc.message, **getattr(exc, "extra", {})}, status_code=exc.status)


class HotPaths:
    def __init__(self, app: Any):
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        route = _match(scope)
        token = _bearer(scope) if route else None
        if route is None or token is None:
            await self.app(scope, receive, send)
            return
        try:
            body = await _read(receive)
        except HTTPException as exc:  # the body limit, counted while the body streamed in
            await JSONResponse({"detail": exc.detail}, exc.status_code, headers=exc.headers)(scope, receive, send)
            return
        if body is None:
            return  # the client went away
        answered = await self._answer(route, token, body, scope, send)
        if not answered:
            await self.app(scope, _replay(body, receive), send)

    async def _answer(self, route: tuple[str, int], token: str, body: bytes, scope: Any, send: Any) -> bool:
        from annotation_app.routes.work import ClaimIn, SubmitIn, claim_result, fast_json, submit_result

        app = scope["app"]
        p = await principal_for(app.state.db, token, None)
        if p is None:
            return False  # FastAPI answers 401
        kind, ident = route
        request = Request(scope)
        try:
            data = json.loads(body) if body else None
            if kind == "claim":
                work = claim_result(request, app.state.db, ident, None if data is None else ClaimIn.model_validate(data), p)
            else:
                work = submit_result(request, app.state.db, ident, SubmitIn.model_validate(data), p)
        except (ValueError, ValidationError):  # a JSONDecodeError is a ValueError
            return False  # FastAPI answers 422 with its own wording
        try:
            result = await work
        except ClaimError as exc:
            await claim_error_response(exc)(scope, _replay(b"", None), send)
            return True
        await fast_json(result)(scope, _replay(b"", None), send)
        return True


def _match(scope: Any) -> tuple[str, int] | None:
    if scope["type"] != "http" or scope["method"] != "POST":
        return None
    for kind, pattern in _ROUTES:
        m = pattern.fullmatch(scope["path"])
        if m and int(m.group(1)) <= MAX_ID:
            return kind, int(m.group(1))
    return None


def _bearer(scope: Any) -> str | None:
    """The API token when the request carries one and a JSON body type; else None."""
    auth = ctype = b""
    for k, v in scope["headers"]:
        if k == b"authorization":
            auth = v
        elif k == b"content-type":
            ctype = v
    if ctype.split(b";", 1)[0].strip().lower() != b"application/json":
        return None
    scheme, _, token = auth.decode("latin-1").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token.startswith(TOKEN_PREFIX) else None


async def _read(receive: Any) -> bytes | None:
    """The whole request body; None when the client disconnected first."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Any) -> Any:
    """A ``receive`` that hands on the body already read, then waits like the original."""
    sent = [False]

    async def replayed() -> Any:
        if not sent[0]:
            sent[0] = True
            return {"type": "http.request", "body": body, "more_body": False}
        if receive is None:
            return {"type": "http.disconnect"}
        return await receive()

    return replayed
