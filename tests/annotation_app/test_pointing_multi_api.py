"""PixMo-Points protocol over the API (SQLite and PostgreSQL): several referring expressions per
pointing assignment, the campaign's min_expressions, clear 422s for bad payloads, drafts and
reviewer edits with every expression, gold scoring by normalised expression text, and exports
with one record per expression."""

from __future__ import annotations

import pytest
from sqlalchemy import text, update

from annotation_app.db import read_tx, write_tx
from annotation_app.export import export_coco, export_shards
from annotation_app.models import Campaign
from pixmo.shards import iter_samples

APPLES = {"label": "red apple", "points": [{"x": 10.0, "y": 10.0}, {"x": 30.0, "y": 20.0}]}
DOG = {"label": "dog", "points": [], "not_present": True}
CUP = {"label": "cup", "points": [{"x": 60.0, "y": 40.0}]}


def _set_config(ctx, **config):
    with write_tx(ctx.app.state.engine) as conn:
        conn.execute(update(Campaign).where(Campaign.id == ctx.campaign_id).values(config=config))


def _claim(client, cid):
    r = client.post(f"/api/campaigns/{cid}/claim", json={})
    assert r.status_code == 200, r.text
    return r.json()["assignment"]


def _submit(client, aid, payload, key):
    return client.post(f"/api/assignments/{aid}/submit", json={"client_key": key, "payload": payload})


def test_min_expressions_is_enforced_and_all_expressions_are_stored(dbctx):
    _set_config(dbctx, min_expressions=3)
    ann = dbctx.client("annotator")
    a = _claim(ann, dbctx.campaign_id)
    assert a["item"]["task"]["min_expressions"] == 3  # the page is told the minimum
    aid = a["assignment_id"]
    for payload, given in ((APPLES, 1), ({"expressions": [APPLES, DOG]}, 2)):
        r = _submit(ann, aid, payload, f"key-min-{given}")
        assert r.status_code == 422, r.text
        assert r.json()["detail"] == f"expressions: {given} given, this campaign asks for at least 3 per image"
    r = _submit(ann, aid, {"expressions": [APPLES, DOG, CUP]}, "key-min-ok")
    assert r.status_code == 200, r.text
    with read_tx(dbctx.app.state.engine) as conn:
        stored = conn.execute(text("SELECT payload FROM submissions WHERE assignment_id = :a"), {"a": aid}).scalar_one()
    stored = stored if isinstance(stored, dict) else __import__("json").loads(stored)
    assert stored == {"expressions": [{**APPLES, "not_present": False}, DOG, {**CUP, "not_present": False}],
                      "flags": []}


@pytest.mark.parametrize("payload,detail", [
    ({"label": "cat", "points": [{"x": 1.0, "y": 1.0}], "expressions": [CUP]},
     "give either expressions or label/points/not_present, not both"),
    ({"expressions": []}, "expressions is empty: add at least one referring expression"),
    ({"expressions": [CUP, {"label": "  ", "points": [{"x": 1.0, "y": 1.0}]}]},
     "expressions.1.label is empty: write the referring expression (also when it is not present)"),
    ({"expressions": [APPLES, {"label": "Red   APPLE", "points": [], "not_present": True}]},
     "expressions.1.label 'Red   APPLE' repeats expression 0: each expression once"),
    ({"expressions": [CUP, {"label": "dog", "points": [{"x": 1.0, "y": 1.0}], "not_present": True}]},
     "expressions.1.not_present is true but 1 points are given"),
    ({"expressions": [CUP, {"label": "dog", "points": []}]},
     "expressions.1.points is empty: click each instance or mark not_present"),
    ({"expressions": [CUP, {"label": "dog", "points": [{"x": 1.0, "y": 99.0}]}]},
     "expressions.1.points.0.y=99.0 is outside the image (0 to 48 pixels)"),
    ({"expressions": [{**CUP, "colour": "red"}]}, "expressions.0.colour: Extra inputs are not permitted"),
    ({"expressions": [{"label": f"thing {i}", "not_present": True} for i in range(51)]},
     "expressions: List should have at most 50 items after validation, not 51"),
])
def test_bad_multi_expression_payload_is_a_clear_422(dbctx, payload, detail):
    ann = dbctx.client("annotator")
    a = _claim(ann, dbctx.campaign_id)
    r = _submit(ann, a["assignment_id"], payload, "key-bad-1")
    assert r.status_code == 422, r.text
    assert r.json()["detail"] == detail


def test_bad_min_expressions_config_refused_at_campaign_creation(appctx):
    admin = appctx.client("admin")
    for bad in (0, "3", 51, True):
        r = admin.post("/api/campaigns", json={"name": f"bad-{bad}", "task_type": "pointing",
                                               "config": {"min_expressions": bad}})
        assert r.status_code == 422 and "min_expressions" in r.json()["detail"], r.text
    r = admin.post("/api/campaigns", json={"name": "ok", "task_type": "pointing", "config": {"min_expressions": 4}})
    assert r.status_code == 201, r.text


def test_counting_refuses_expressions(appctx):
    admin, ann = appctx.client("admin"), appctx.client("annotator")
    cid = admin.post("/api/campaigns", json={"name": "count", "task_type": "counting",
                                             "config": {"label": "dot"}}).json()["id"]
    from tests.annotation_app.conftest import png
    up = admin.post(f"/api/campaigns/{cid}/images", files={"files": ("a.png", png(64, 48), "image/png")})
    assert up.status_code == 201, up.text
    a = _claim(ann, cid)
    r = _submit(ann, a["assignment_id"], {"expressions": [CUP]}, "key-count-1")
    assert r.status_code == 422 and "one fixed label" in r.json()["detail"], r.text


def test_draft_and_reviewer_edit_keep_every_expression(dbctx, tmp_path):
    ann, rev = dbctx.client("annotator"), dbctx.client("reviewer")
    cid = dbctx.campaign_id
    a = _claim(ann, cid)
    aid = a["assignment_id"]
    draft = {"expressions": [{**APPLES, "not_present": False}, DOG], "label": "cu", "points": [], "not_present": False}
    assert ann.put(f"/api/assignments/{aid}/draft", json={"draft": draft}).status_code == 200
    assert _claim(ann, cid)["draft"] == draft  # a reload gets every expression back
    assert _submit(ann, aid, {"expressions": [APPLES, DOG]}, "key-edit-1").status_code == 200
    entry = next(e for e in rev.get(f"/api/campaigns/{cid}/review").json() if e["assignment_id"] == aid)
    assert [x["label"] for x in entry["payload"]["expressions"]] == ["red apple", "dog"]
    bad = rev.post(f"/api/assignments/{aid}/review", json={"decision": "edit", "version": entry["version"],
                                                           "payload": {"expressions": [APPLES, APPLES]}})
    assert bad.status_code == 422 and "repeats expression 0" in bad.json()["detail"]
    r = rev.post(f"/api/assignments/{aid}/review", json={"decision": "edit", "version": entry["version"],
                                                         "payload": {"expressions": [APPLES, DOG, CUP]}})
    assert r.status_code == 200, r.text
    manifest = export_shards(dbctx.app.state.engine, dbctx.app.state.media, cid, tmp_path / "export")
    samples = list(iter_samples(manifest.parent, verify=True))
    assert len(samples) == 1  # one sample for the image, one record per expression
    recs = [x.record for x in samples[0].annotations]
    assert [(x.label, x.count) for x in recs] == [("red apple", 2), ("dog", 0), ("cup", 1)]
    coco = export_coco(dbctx.app.state.engine, cid)
    assert sorted(c["name"] for c in coco["categories"]) == ["cup", "dog", "red apple"]
    assert len(coco["annotations"]) == 3 and coco["images"][0]["not_present"] == ["dog"]


def test_gold_with_several_expressions_is_scored_by_normalised_text(dbctx):
    ann, rev, admin = dbctx.client("annotator"), dbctx.client("reviewer"), dbctx.client("admin")
    cid = dbctx.campaign_id
    with read_tx(dbctx.app.state.engine) as conn:
        last = conn.execute(text("SELECT MAX(id) FROM items WHERE campaign_id = :c"), {"c": cid}).scalar()
    gold = {"expressions": [{"label": "Red Apple", "points": [[10.0, 10.0], [30.0, 20.0]]},
                            {"label": "dog", "points": [], "not_present": True},
                            {"label": "cat", "points": [[50.0, 5.0]]}]}
    bad = admin.put(f"/api/items/{last}/gold", json={"gold": {"expressions": [{"label": "x", "points": [[99.0, 1.0]]}]}})
    assert bad.status_code == 422 and "expressions.0.points.0.x=99.0 is outside the image" in bad.json()["detail"]
    assert admin.put(f"/api/items/{last}/gold", json={"gold": gold}).status_code == 200
    a = _claim(ann, cid)
    assert a["item"]["id"] == last
    answer = {"expressions": [{"label": "red  apple", "points": [{"x": 11.0, "y": 10.0}]},  # 1 of 2 apples
                              {"label": "DOG", "points": [], "not_present": True},  # right
                              {"label": "tree", "points": [{"x": 5.0, "y": 5.0}]}]}  # not in gold: ignored; cat missing
    assert _submit(ann, a["assignment_id"], answer, "key-gold-multi").status_code == 200
    stats = {s["username"]: s for s in rev.get(f"/api/campaigns/{cid}/annotators").json()}
    g = stats["annotator"]["gold"]
    assert stats["annotator"]["gold_items"] == 1 and stats["annotator"]["gold_unscorable"] == 0
    assert g["expressions_found"] == pytest.approx(2 / 3)
    assert g["recall"] == pytest.approx((0.5 + 1.0 + 0.0) / 3)
    assert g["precision"] == pytest.approx((1.0 + 1.0 + 0.0) / 3)
    assert g["count_error"] == pytest.approx((1 + 0 + 1) / 3)
    assert g["not_present_correct"] == pytest.approx(1.0)


def test_export_puts_every_annotators_expressions_in_the_images_one_sample(appctx, tmp_path):
    admin = appctx.client("admin")
    cid = admin.post("/api/campaigns", json={"name": "two-people", "task_type": "pointing", "overlap": 2}).json()["id"]
    from tests.annotation_app.conftest import png
    assert admin.post(f"/api/campaigns/{cid}/images",
                      files={"files": ("a.png", png(64, 48, seed=3), "image/png")}).status_code == 201
    for who, payload in (("annotator", {"expressions": [APPLES, DOG]}), ("throwaway", CUP)):
        c = appctx.client(who)
        assert _submit(c, _claim(c, cid)["assignment_id"], payload, f"key-{who}").status_code == 200
    manifest = export_shards(appctx.app.state.engine, appctx.app.state.media, cid, tmp_path / "export",
                             include_unreviewed=True)
    samples = list(iter_samples(manifest.parent, verify=True))
    assert len(samples) == 1  # one image: one sample, whoever answered
    got = [(a.record.label, a.meta["annotator_id"]) for a in samples[0].annotations]
    ids = appctx.user_ids
    assert got == [("red apple", ids["annotator"]), ("dog", ids["annotator"]), ("cup", ids["throwaway"])]
