"""Gold answers are validated like a submit and the quality API never fails on stored data;
/docs and /openapi.json need a login unless configured public."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from annotation_app.db import write_tx
from annotation_app.models import Item


@pytest.mark.parametrize("gold,needle", [
    ({"label": 5, "points": "nope"}, "label: Input should be a valid string"),
    ({"label": "dog", "points": [[10.0, 10.0]], "extra": 1}, "extra: Extra inputs are not permitted"),
    ({"label": "dog", "points": [[100.0, 10.0]]}, "outside the image"),
    ({"label": "dog", "points": [[1.0]]}, "points.0"),
    ({"label": "dog", "points": [[1.0, 2.0]], "not_present": True}, "not_present is true but 1 points"),
])
def test_bad_gold_is_refused_naming_the_problem(dbctx, gold, needle):
    admin = dbctx.client("admin")
    r = admin.put("/api/items/1/gold", json={"gold": gold})
    assert r.status_code == 422 and needle in r.json()["detail"], r.text
    ok = admin.put("/api/items/1/gold", json={"gold": {"label": "dog", "points": [[10, 10]]}})
    assert ok.status_code == 200, ok.text


def test_quality_page_survives_malformed_stored_gold(dbctx):
    ann = dbctx.client("annotator")
    a = ann.post(f"/api/campaigns/{dbctx.campaign_id}/claim", json={}).json()["assignment"]
    r = ann.post(f"/api/assignments/{a['assignment_id']}/submit",
                 json={"client_key": "key-gold-1", "payload": {"label": "dog", "points": [{"x": 1.0, "y": 1.0}]}})
    assert r.status_code == 200
    with write_tx(dbctx.app.state.engine) as conn:  # stored before gold was validated
        conn.execute(update(Item).where(Item.id == a["item"]["id"]).values(gold={"label": 5, "points": "nope"}))
    r = dbctx.client("reviewer").get(f"/api/campaigns/{dbctx.campaign_id}/annotators")
    assert r.status_code == 200, r.text
    row = next(x for x in r.json() if x["username"] == "annotator")
    assert row["gold_unscorable"] == 1 and row["submissions"] == 1
    assert dbctx.client("reviewer").get(f"/campaigns/{dbctx.campaign_id}/quality").status_code == 200


def test_api_docs_need_a_login_unless_public(appctx_factory):
    ctx = appctx_factory()
    anon = ctx.client()
    for path in ("/openapi.json", "/docs"):
        assert anon.get(path, follow_redirects=False).status_code in (401, 303), path
        assert ctx.client("annotator").get(path).status_code == 200, path
    assert "/api/auth/login" in ctx.client("annotator").get("/openapi.json").json()["paths"]
    public = appctx_factory(public_docs=True)
    assert public.client().get("/openapi.json").status_code == 200
