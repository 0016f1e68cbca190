"""Response models: every JSON route documents a named model in the OpenAPI schema, non-JSON routes
declare their media type, and the hot routes (which skip FastAPI's response pass) still answer in
their model's shape."""

from __future__ import annotations

from annotation_app.app import all_routes
from annotation_app.schemas import ClaimOut, SubmitOut

PT = {"label": "red dot", "points": [{"x": 10.0, "y": 12.0}]}


def _success(op: dict) -> dict:
    return next(v for code, v in op["responses"].items() if code.startswith("2"))


def _is_model(schema: dict) -> bool:
    """A $ref to a named component, or a list of them (a bare ``object`` means no model)."""
    return "$ref" in schema or ("items" in schema and "$ref" in schema["items"])


def test_every_json_route_declares_a_response_model(appctx):
    spec = appctx.app.openapi()
    ops = [(m.upper(), path, op) for path, methods in spec["paths"].items() for m, op in methods.items()]
    without, json_routes, other = [], 0, []
    for method, path, op in ops:
        content = _success(op).get("content", {})
        if "application/json" in content:
            json_routes += 1
            if not _is_model(content["application/json"].get("schema", {})):
                without.append(f"{method} {path}")
        else:
            other.append(f"{method} {path}")
            assert content, f"{method} {path}: no media type declared for its response"
    assert not without, f"JSON routes without a response model: {without}"
    assert json_routes >= 45
    assert sorted(other) == ["GET /api/tasks/caption/recordings/{rec_id}/audio",
                             "GET /api/tasks/pairwise/campaigns/{campaign_id}/votes", "GET /media/{key}"]


def test_every_documented_route_is_in_the_app(appctx):
    """The schema covers every API route the app serves (the pages are HTML and left out on purpose)."""
    spec_paths = {(m.upper(), p) for p, ms in appctx.app.openapi()["paths"].items() for m in ms}
    served = {(m, p.replace("{key:path}", "{key}")) for m, p, r in all_routes(appctx.app) if r.include_in_schema}
    assert served == spec_paths


def test_hot_routes_answer_in_their_models_shape(dbctx):
    appctx = dbctx
    c = appctx.client("annotator")
    r = c.post(f"/api/campaigns/{appctx.campaign_id}/claim", json={})
    assert r.status_code == 200, r.text
    claim = ClaimOut.model_validate(r.json())  # extra="forbid": no key beyond the model
    assert claim.assignment is not None and claim.assignment.item.media_url.startswith("/media/img/")
    aid = claim.assignment.assignment_id
    r = c.post(f"/api/assignments/{aid}/submit", json={"client_key": "key-schema1", "payload": PT})
    assert r.status_code == 200, r.text
    assert SubmitOut.model_validate(r.json()) == SubmitOut(submission_id=1, assignment_id=aid, replayed=False)
    r = c.get(f"/api/assignments/{aid}")
    assert r.status_code == 200 and r.json()["status"] == "submitted"


def test_patch_user_returns_only_the_changed_fields(appctx):
    c = appctx.client("admin")
    r = c.patch(f"/api/users/{appctx.user_ids['throwaway']}", json={"active": False})
    assert r.status_code == 200, r.text
    assert r.json() == {"id": appctx.user_ids["throwaway"], "active": False}


def test_read_routes_answer_through_their_models(appctx):
    """FastAPI validates each answer against its model (a mismatch is a 500): the read routes that
    the other API tests do not call, on a campaign with one submitted answer."""
    ann = appctx.client("annotator")
    a = ann.post(f"/api/campaigns/{appctx.campaign_id}/claim", json={}).json()["assignment"]
    assert ann.post(f"/api/assignments/{a['assignment_id']}/submit",
                    json={"client_key": "key-schema2", "payload": PT}).status_code == 200
    cid = appctx.campaign_id
    admin = appctx.client("admin")
    for path in ("/api/me", "/api/task-types", "/api/campaigns", f"/api/campaigns/{cid}",
                 f"/api/campaigns/{cid}/progress", f"/api/campaigns/{cid}/annotators", f"/api/campaigns/{cid}/review",
                 f"/api/campaigns/{cid}/export/coco", "/api/users", "/api/tokens", "/api/audit",
                 "/api/tasks/caption/diff?a=uh%20a%20red%20dot&b=a%20red%20dot"):
        r = admin.get(path)
        assert r.status_code == 200, (path, r.text)
    r = ann.get("/api/my/assignments")
    assert r.status_code == 200 and r.json()[0]["name"] == "c1" and r.json()[0]["status"] == "submitted"
    assert admin.get(f"/api/campaigns/{cid}/review").json()[0]["item"]["media_url"].startswith("/media/img/")
    assert admin.get("/api/tasks/caption/diff?a=uh%20a&b=a").json() == [["delete", "uh"], ["equal", "a"]]
    assert admin.get("/api/audit").json()[0]["action"] == "submit"
