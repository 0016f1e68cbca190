"""Security: every route for every role, CSRF on cookie writes, input errors that name the
problem, upload limits and sniffing, media keys confined to the media root, throttling, token
revocation, headers, and a schemathesis run over the OpenAPI schema that finds no 5xx."""

from __future__ import annotations

import io
import os

import pytest
from PIL import Image

from annotation_app.app import all_routes
from annotation_app.deps import route_role
from annotation_app.media import MediaKeyError, MediaStore
from annotation_app.models import ROLE_RANK

PUBLIC = {"/api/auth/login", "/healthz", "/login"}


def _path(path: str) -> str:
    return path.replace("{key:path}", "img/00/missing.png").replace("{", "").replace("}", "") \
        .replace("campaign_id", "1").replace("assignment_id", "999").replace("item_id", "1") \
        .replace("token_id", "999").replace("user_id", "999")


def test_every_route_for_every_role(appctx):
    clients = {None: appctx.client(), **{r: appctx.client(r) for r in ("annotator", "reviewer", "manager", "admin")}}
    checked = 0
    for method, path, route in all_routes(appctx.app):
        role = route_role(route)
        if path in PUBLIC:
            assert role is None
            continue
        assert role in ROLE_RANK, f"{method} {path} declares no role"
        for who, client in clients.items():
            kw = {"json": {}} if method in ("POST", "PUT", "PATCH") else {}
            r = client.request(method, _path(path), follow_redirects=False, **kw)
            if who is None:
                expected = {303} if not path.startswith(("/api/", "/media/")) and method == "GET" else {401}
                assert r.status_code in expected, (method, path, who, r.status_code, r.text)
            elif ROLE_RANK[who] < ROLE_RANK[role]:
                assert r.status_code == 403, (method, path, who, r.status_code, r.text)
                assert f"needs the {role} role" in r.json()["detail"]
            else:
                assert r.status_code not in (401, 403) and r.status_code < 500, (method, path, who, r.status_code, r.text)
            checked += 1
    assert checked > 60


def test_cookie_write_needs_csrf_token_api_token_does_not(appctx):
    c, csrf = appctx.login("annotator")
    url = f"/api/campaigns/{appctx.campaign_id}/claim"
    r = c.post(url, json={})
    assert r.status_code == 403 and "CSRF" in r.json()["detail"]
    r = c.post(url, json={}, headers={"X-CSRF-Token": "wrong" + csrf})
    assert r.status_code == 403 and "CSRF" in r.json()["detail"]
    assert c.get("/api/me").status_code == 200  # safe methods need no token
    assert c.post(url, json={}, headers={"X-CSRF-Token": csrf}).status_code == 200
    assert appctx.client("annotator").post(url, json={}).status_code == 200


def test_session_cookie_flags_and_security_headers(appctx):
    c = appctx.client()
    r = c.post("/api/auth/login", json={"username": "annotator", "password": "correct-horse-1"})
    cookies = r.headers.get_list("set-cookie")
    session = next(h for h in cookies if h.startswith("pixmo_session="))
    assert "HttpOnly" in session and "SameSite=strict" in session
    csrf = next(h for h in cookies if h.startswith("pixmo_csrf="))
    assert "HttpOnly" not in csrf
    h = c.get("/login").headers
    assert "script-src 'self'" in h["content-security-policy"] and "unsafe-inline" not in h["content-security-policy"]
    assert h["x-frame-options"] == "DENY" and "microphone=(self)" in h["permissions-policy"]


def _claim(appctx, role="annotator"):
    c = appctx.client(role)
    a = c.post(f"/api/campaigns/{appctx.campaign_id}/claim", json={}).json()["assignment"]
    return c, a["assignment_id"]


@pytest.mark.parametrize("payload,status,needle", [
    ({"label": "dog", "points": [{"x": 65.0, "y": 1.0}]}, 422, "points.0.x=65.0 is outside the image (0 to 64"),
    ({"label": "dog", "points": [{"x": 1.0, "y": -0.5}]}, 422, "points.0.y=-0.5 is outside"),
    ({"label": "dog", "points": [{"x": "3", "y": 1.0}]}, 422, "points.0.x: Input should be a valid number"),
    ({"label": 5, "points": [{"x": 3.0, "y": 1.0}]}, 422, "label: Input should be a valid string"),
    ({"label": "dog", "points": [{"x": 3.0}]}, 422, "points.0.y: Field required"),
    ({"label": "dog", "points": [], "not_present": "yes"}, 422, "not_present: Input should be a valid boolean"),
    ({"label": "dog", "points": [{"x": 3.0, "y": 1.0}], "not_present": True}, 422, "not_present is true but 1 points"),
    ({"label": "dog", "points": []}, 422, "points is empty"),
    ({"label": "dog", "points": [{"x": 3.0, "y": 1.0}], "extra": 1}, 422, "extra: Extra inputs are not permitted"),
])
def test_bad_payloads_get_4xx_naming_the_problem(appctx, payload, status, needle):
    c, aid = _claim(appctx)
    r = c.post(f"/api/assignments/{aid}/submit", json={"client_key": "key-12345", "payload": payload})
    assert r.status_code == status and needle in r.json()["detail"], r.text


def test_wrong_request_types_name_the_field(appctx):
    c, aid = _claim(appctx)
    r = c.post(f"/api/assignments/{aid}/submit", json={"client_key": "bad key!", "payload": {}})
    assert r.status_code == 422 and "client_key" in r.json()["detail"]
    r = c.post(f"/api/assignments/{aid}/submit", json={"client_key": "key-12345", "payload": [1, 2]})
    assert r.status_code == 422 and "payload" in r.json()["detail"]
    r = c.post("/api/assignments/99999999999/submit", json={"client_key": "key-12345", "payload": {}})
    assert r.status_code == 422 and "assignment_id" in r.json()["detail"]
    r = c.post(f"/api/assignments/{aid}/submit", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422 and "JSON" in r.json()["detail"]


def _img(fmt: str, size=(32, 32)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (10, 20, 30)).save(buf, fmt)
    return buf.getvalue()


def test_uploads_are_sniffed_and_capped(appctx_factory):
    ctx = appctx_factory(max_image_bytes=20_000)
    admin = ctx.client("admin")
    url = f"/api/campaigns/{ctx.campaign_id}/images"

    def up(name, data, ctype):
        return admin.post(url, files=[("files", (name, data, ctype))])

    assert up("ok.png", _img("PNG"), "image/png").status_code == 201
    r = up("photo.jpg", _img("PNG"), "image/jpeg")
    assert r.status_code == 415 and "photo.jpg: declared content type 'image/jpeg' but the bytes are image/png" in r.text
    r = up("page.png", b"<html><script>alert(1)</script></html>", "image/png")
    assert r.status_code == 415 and "page.png: not a JPEG, PNG or WebP image" in r.text
    r = up("x.svg", b'<svg xmlns="http://www.w3.org/2000/svg"/>', "image/svg+xml")
    assert r.status_code == 415 and "x.svg" in r.text
    noisy = Image.frombytes("RGB", (200, 200), os.urandom(200 * 200 * 3))
    buf = io.BytesIO()
    noisy.save(buf, "PNG")
    r = up("big.png", buf.getvalue(), "image/png")
    assert r.status_code == 413 and "limit" in r.json()["detail"], r.text
    r = admin.post(url, content=b"x" * 2_000_000, headers={"content-type": "multipart/form-data; boundary=b"})
    assert r.status_code == 413 and "the limit is" in r.json()["detail"]


def test_media_keys_cannot_escape_the_root(appctx, tmp_path):
    store = MediaStore(str(tmp_path / "m"))
    for key in ("../x.png", "/etc/passwd", "img/../../x.png", "img/..", "img//x.png", "img\\..\\x.png", "", ".",
                "img/%2e%2e/x.png", "img/x.png/../../y"):
        with pytest.raises(MediaKeyError):
            store.path(key)
    os.makedirs(tmp_path / "m" / "img", exist_ok=True)
    (tmp_path / "outside.png").write_bytes(b"secret")
    os.symlink(tmp_path / "outside.png", tmp_path / "m" / "img" / "link.png")
    with pytest.raises(MediaKeyError, match="outside the media root"):
        store.path("img/link.png")
    c = appctx.client("annotator")
    for url in ("/media/..%2F..%2Fetc%2Fpasswd", "/media/img/%2e%2e/%2e%2e/etc/passwd", "/media/%2Fetc%2Fpasswd"):
        r = c.get(url)
        assert r.status_code in (400, 404), url
        assert b"root:" not in r.content


def test_login_is_throttled_and_revoked_tokens_fail(appctx):
    c = appctx.client()
    codes = [c.post("/api/auth/login", json={"username": "reviewer", "password": "nope-nope"}).status_code
             for _ in range(5)]
    assert codes[:4] == [401] * 4 and codes[4] == 429, codes  # 3 free failures, then a delay
    r = c.post("/api/auth/login", json={"username": "reviewer", "password": "correct-horse-1"})
    assert r.status_code == 429 and "too many failed logins" in r.json()["detail"]
    admin = appctx.client("admin")
    tok = admin.post("/api/tokens", json={"name": "script"}).json()
    scripted = appctx.client()
    scripted.headers["Authorization"] = f"Bearer {tok['token']}"
    assert scripted.get("/api/me").status_code == 200
    assert admin.delete(f"/api/tokens/{tok['id']}").status_code == 200
    assert scripted.get("/api/me").status_code == 401


def test_schemathesis_finds_no_server_error(appctx):
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from schemathesis.checks import not_a_server_error

    headers = {"Authorization": f"Bearer {appctx.tokens['admin']}"}
    schema = schemathesis.openapi.from_asgi("/openapi.json", appctx.app, headers=headers)
    failures, calls, statuses = [], [0], set()
    ops = [op.ok() for op in schema.get_all_operations()]
    assert len(ops) > 20
    def runner(op):
        @settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        @given(case=op.as_strategy())
        def run(case):
            calls[0] += 1
            statuses.add(case.call_and_validate(headers=headers, checks=[not_a_server_error]).status_code)

        return run

    for op in ops:
        if op.path in ("/api/auth/logout",) or (op.method.upper() == "DELETE" and "tokens" in op.path):
            continue  # would end the admin's own access mid-run
        try:
            runner(op)()
        except Exception as exc:  # collect every operation's failure, then report them all
            failures.append(f"{op.method} {op.path}: {type(exc).__name__}: {str(exc)[:400]}")
    assert not failures, "\n".join(failures[:10])
    assert calls[0] > 150 and 200 in statuses and 422 in statuses, (calls, statuses)
