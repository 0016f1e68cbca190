"""The claim/submit fast path (annotation_app/hotpath.py) answers exactly like the FastAPI routes:
the same sequence of requests gets the same statuses and bodies with it on and off, on SQLite and
on PostgreSQL; what it does not handle (cookies, bad bodies, unknown tokens) reaches FastAPI with
its body intact."""

from __future__ import annotations

from typing import Any

import pytest

from tests.annotation_app.conftest import make_appctx


def _script(ctx: Any) -> list[tuple[int, Any]]:
    """A claim/submit session with its errors; returns (status, body) per request."""
    c, cid = ctx.client("annotator"), ctx.campaign_id
    out: list[tuple[int, Any]] = []

    def post(path: str, **kw: Any) -> Any:
        r = c.post(path, **kw)
        body = r.json() if r.headers.get("content-type", "").startswith("application/json") else r.text
        out.append((r.status_code, body))
        return body

    a = post(f"/api/campaigns/{cid}/claim", json={})["assignment"]
    post(f"/api/campaigns/{cid}/claim")  # no body at all: the held lease again
    b = post(f"/api/campaigns/{cid}/claim", json={"exclude": [a["assignment_id"]]})["assignment"]
    post(f"/api/campaigns/{cid}/claim", json={"exclude": [a["assignment_id"], b["assignment_id"]]})  # 409: limit
    post(f"/api/campaigns/{cid}/claim", json={"exclude": "nope"})  # 422 from the model
    post(f"/api/campaigns/{cid}/claim", content=b"{not json", headers={"content-type": "application/json"})
    post("/api/campaigns/999999/claim", json={})  # 404
    post("/api/campaigns/99999999999/claim", json={})  # id over the bound: 422
    sub = {"client_key": "key-00000001", "payload": {"label": "cup", "points": [{"x": 3, "y": 4}]}, "duration_ms": 900}
    path = f"/api/assignments/{a['assignment_id']}/submit"
    post(path, json=sub)
    post(path, json=sub)  # replayed
    post(f"/api/assignments/{b['assignment_id']}/submit", json=sub)  # key used for another assignment: 409
    post(f"/api/assignments/{b['assignment_id']}/submit", json={**sub, "client_key": "key-00000002",
                                                                 "payload": {"label": "", "points": []}})  # 422
    post(f"/api/assignments/{b['assignment_id']}/submit", json={"client_key": "short"})  # 422 from the model
    post("/api/assignments/424242/submit", json={**sub, "client_key": "key-00000003"})  # 404
    r = ctx.client().post(f"/api/campaigns/{cid}/claim", json={}, headers={"Authorization": "Bearer pmt_wrong"})
    out.append((r.status_code, r.json()))
    cookie, _csrf = ctx.login("annotator")
    r = cookie.post(f"/api/campaigns/{cid}/claim", json={})  # a cookie session without its CSRF token: 403
    out.append((r.status_code, r.json()))
    return out


def _plain(results: list[tuple[int, Any]]) -> list[tuple[int, Any]]:
    """Results without what differs between two runs (lease expiry times)."""
    def strip(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: strip(x) for k, x in v.items() if k != "lease_expires_at"}
        return [strip(x) for x in v] if isinstance(v, list) else v

    return [(s, strip(b)) for s, b in results]


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_fast_path_answers_like_the_routes(backend, tmp_path, request):
    from annotation_app.db import migrate

    runs = {}
    for fast in (True, False):
        d = tmp_path / f"fast{fast}"
        d.mkdir()
        url = None
        if backend == "postgres":
            url = request.getfixturevalue("pg_url") if fast else _second_pg(request)
            migrate(url)
        ctx = make_appctx(d, url, fast_routes=fast)
        runs[fast] = _plain(_script(ctx))
    assert runs[True] == runs[False]
    codes = [s for s, _ in runs[True]]
    assert codes == [200, 200, 200, 409, 422, 422, 404, 422, 200, 200, 409, 422, 422, 404, 401, 403]


def _second_pg(request: Any) -> str:
    """Another fresh PostgreSQL database (the pg_url fixture gives one per test)."""
    from annotation_app.loadcheck import scratch_database

    url, drop = scratch_database(request.getfixturevalue("postgres_url"), "pixmo_app")
    request.addfinalizer(drop)
    return url


def test_the_fast_path_serves_token_requests_and_hands_the_rest_on(appctx, monkeypatch):
    """It answers a token claim itself (FastAPI's route is not called), with the app's security
    headers (it sits inside that middleware); a request it declines reaches FastAPI with the body
    it already read."""
    from annotation_app.routes import work

    called = []
    real = work.claim_result

    async def counted(*a: Any) -> Any:
        called.append(a[0].scope.get("route"))  # FastAPI sets scope["route"] when it routed the request
        return await real(*a)

    monkeypatch.setattr(work, "claim_result", counted)
    c = appctx.client("annotator")
    r = c.post(f"/api/campaigns/{appctx.campaign_id}/claim", json={"exclude": []})
    assert r.status_code == 200 and r.headers["x-frame-options"] == "DENY"
    assert called == [None], "answered by the fast path, not by a FastAPI route"
    cookie, csrf = appctx.login("annotator")
    r = cookie.post(f"/api/campaigns/{appctx.campaign_id}/claim", json={}, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200 and called[-1] is not None, "a cookie session goes through FastAPI"
    r = c.post(f"/api/campaigns/{appctx.campaign_id}/claim", json={"exclude": [1, "x"]})
    assert r.status_code == 422 and "exclude.1" in r.json()["detail"], "FastAPI saw the body"
