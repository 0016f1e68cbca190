"""Request body limits per content type, enforced while the body streams in: with a
Content-Length (refused before reading) and without one (chunked: refused once the count passes
the limit, nothing more is read)."""

from __future__ import annotations

import asyncio
import json

import pytest

MIB = 2**20


def _chunks(total: int, size: int = 64 * 1024):
    n = 0
    while n < total:
        part = b" " * min(size, total - n)
        n += len(part)
        yield part


def _asgi_put(ctx, path: str, ctype: str, total: int) -> tuple[int, int]:
    """PUT a chunked body (no Content-Length) straight into the ASGI app: (status, bytes it pulled)."""
    pulled, status = [0], [0]
    parts = _chunks(total)

    async def receive():
        part = next(parts, b"")
        pulled[0] += len(part)
        return {"type": "http.request", "body": part, "more_body": pulled[0] < total}

    async def send(message):
        if message["type"] == "http.response.start":
            status[0] = message["status"]

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "PUT", "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "client": ("127.0.0.1", 5000), "server": ("testserver", 80),
             "headers": [(b"authorization", f"Bearer {ctx.tokens['annotator']}".encode()),
                         (b"content-type", ctype.encode()), (b"transfer-encoding", b"chunked")]}
    asyncio.run(ctx.app(scope, receive, send))
    return status[0], pulled[0]


def _claim(ctx):
    c = ctx.client("annotator")
    return c, c.post(f"/api/campaigns/{ctx.campaign_id}/claim", json={}).json()["assignment"]["assignment_id"]


def test_json_bodies_get_the_json_limit_not_the_image_limit(dbctx):
    c, aid = _claim(dbctx)
    draft = {"draft": {"text": "x" * (2 * MIB)}}  # under the 20 MiB image limit, over the 1 MiB JSON limit
    r = c.put(f"/api/assignments/{aid}/draft", json=draft)
    assert r.status_code == 413 and f"the limit is {MIB} bytes" in r.json()["detail"], r.text
    assert c.put(f"/api/assignments/{aid}/draft", json={"draft": {"text": "ok"}}).status_code == 200


@pytest.mark.parametrize("ctype", ["application/json", "text/plain"])
def test_chunked_json_without_content_length_is_cut_off(dbctx, ctype):
    c, aid = _claim(dbctx)
    r = c.put(f"/api/assignments/{aid}/draft", content=_chunks(60 * MIB), headers={"content-type": ctype})
    assert r.status_code == 413 and "limit" in r.json()["detail"], r.text  # the 60 MB draft of the report
    got = dbctx.client("annotator").get(f"/api/assignments/{aid}").json()
    assert not got.get("draft")  # nothing stored
    status, pulled = _asgi_put(dbctx, f"/api/assignments/{aid}/draft", ctype, 60 * MIB)
    assert status == 413 and pulled <= MIB + 64 * 1024  # reading stopped at the limit


def test_chunked_audio_chunk_is_refused_before_it_is_read_whole(appctx_factory):
    ctx = appctx_factory(max_chunk_bytes=1 * MIB)
    c, aid = _claim(ctx)
    assert c.post("/api/tasks/caption/consent", json={"agree": True}).status_code == 200
    rid = c.post("/api/tasks/caption/recordings", json={"assignment_id": aid, "mime": "audio/webm"}).json()["recording_id"]
    status, pulled = _asgi_put(ctx, f"/api/tasks/caption/recordings/{rid}/chunks/0/0", "audio/webm", 40 * MIB)
    assert status == 413 and pulled <= 2 * MIB  # a 40 MiB chunk is not read whole before the 413
    r = c.put(f"/api/tasks/caption/recordings/{rid}/chunks/0/0", content=b"x" * (2 * MIB),
              headers={"content-type": "audio/webm"})
    assert r.status_code == 413 and "the limit is" in r.json()["detail"]


def test_declared_oversize_json_is_refused_before_reading(dbctx):
    c, aid = _claim(dbctx)
    body = json.dumps({"client_key": "key-12345", "payload": {"label": "x" * (3 * MIB)}})
    r = c.post(f"/api/assignments/{aid}/submit", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 413 and "request body is" in r.json()["detail"]
