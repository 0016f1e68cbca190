"""Agreement between annotators through the app, on SQLite and PostgreSQL: three annotators answer
the same pointing items with known points; ``GET /api/campaigns/{id}/agreement``, the export's
report and ``pixmo annotate agreement`` give the hand-computed numbers (the same cases as
test_agreement.py, worked out there)."""

from __future__ import annotations

import json
import time

from sqlalchemy import insert, update
from typer.testing import CliRunner

from annotation_app.cli import app as cli
from annotation_app.db import write_tx
from annotation_app.models import Campaign, Item, User
from annotation_app.security import new_token
from tests.annotation_app.conftest import _HASH


def _pts(*xy):
    return [{"x": float(x), "y": float(y)} for x, y in xy]


def _expr(label, *xy, absent=False):
    return {"label": label, "points": _pts(*xy), "not_present": absent}


# item 1: several expressions each; item 2: one each, different texts; item 3: one annotator only
ANSWERS = {
    "annotator": {1: {"expressions": [_expr("dog", (10, 10), (30, 30)), _expr("cat", absent=True)]},
                  2: _expr("red car", (40, 20)), 3: _expr("dog", (3, 3))},
    "ann2": {1: {"expressions": [_expr("Dog", (11, 10), (50, 40)), _expr("cat", absent=True), _expr("bird", (5, 5))]},
             2: _expr("the red car", (41, 20), (60, 40))},
    "ann3": {1: {"expressions": [_expr("dog", (10, 12)), _expr("cat", (20, 20))]},
             2: _expr("car", absent=True)},
}
SUMMARY = {"point_f1": 2.5 / 8, "count_exact": 2 / 9, "count_within_one": 8 / 9, "not_present_agreement": 5 / 9,
           "expression_overlap": (2 / 3 + 1 + 2 / 3 + 1 + 1 + 1) / 6}
PER_ANNOTATOR = {
    "annotator": {"point_f1": (0.5 + 2 / 3 + 2 / 3) / 5, "count_exact": 2 / 6, "count_within_one": 1.0,
                  "not_present_agreement": 4 / 6, "expression_overlap": (2 / 3 + 1 + 1 + 1) / 4},
    "ann2": {"point_f1": (0.5 + 2 / 3 + 2 / 3) / 5, "count_exact": 2 / 6, "count_within_one": 5 / 6,
             "not_present_agreement": 4 / 6, "expression_overlap": (2 / 3 + 2 / 3 + 1 + 1) / 4},
    "ann3": {"point_f1": (2 / 3 + 2 / 3) / 6, "count_exact": 0.0, "count_within_one": 5 / 6,
             "not_present_agreement": 2 / 6, "expression_overlap": (1 + 2 / 3 + 1 + 1) / 4},
}


def _three_annotators_answer(ctx):
    """Campaign c1 (three 64 x 48 images: radius 3.2 px) with overlap 3, item 3 overlap 1."""
    with write_tx(ctx.app.state.engine) as conn:
        conn.execute(update(Campaign).where(Campaign.id == ctx.campaign_id).values(overlap=3))
        conn.execute(update(Item).where(Item.campaign_id == ctx.campaign_id).values(overlap=3))
        conn.execute(update(Item).where(Item.id == 3).values(overlap=1))
        for name in ("ann2", "ann3"):
            uid = conn.execute(insert(User).values(username=name, password_hash=_HASH, role="annotator", active=True,
                                                   created_at=time.time())).inserted_primary_key[0]
            ctx.user_ids[name], ctx.tokens[name] = uid, new_token(conn, uid, "test")[1]
    cid = ctx.campaign_id
    for who, answers in ANSWERS.items():
        c = ctx.client(who)
        for n in range(len(answers)):
            a = c.post(f"/api/campaigns/{cid}/claim", json={}).json()["assignment"]
            payload = answers[a["item"]["id"]]
            r = c.post(f"/api/assignments/{a['assignment_id']}/submit", json={"client_key": f"agree-{who}-{n}", "payload": payload})
            assert r.status_code == 200, r.text
        assert c.post(f"/api/campaigns/{cid}/claim", json={}).json()["assignment"] is None


def _values(metrics):
    return {m["key"]: m["value"] for m in metrics}


def _rounded(d):
    return {k: round(v, 4) for k, v in d.items()}


def _check(rep):
    assert (rep["kind"], rep["answers"], rep["items"], rep["items_with_overlap"], rep["pairs"]) == ("points", 7, 3, 2, 6)
    assert _values(rep["summary"]) == _rounded(SUMMARY)
    assert {m["key"]: m["n"] for m in rep["summary"]}["point_f1"] == 8  # both "not present": no F1 unit
    rows = {a["username"]: a for a in rep["annotators"]}
    assert set(rows) == set(PER_ANNOTATOR)
    for who, want in PER_ANNOTATOR.items():
        assert _values(rows[who]["metrics"]) == _rounded(want), who
        assert (rows[who]["items_with_overlap"], rows[who]["pairs"]) == (2, 4)


def test_three_annotators_agreement_is_the_hand_computed_one(dbctx):
    _three_annotators_answer(dbctx)
    cid = dbctx.campaign_id
    r = dbctx.client("reviewer").get(f"/api/campaigns/{cid}/agreement")
    assert r.status_code == 200, r.text
    _check(r.json())
    assert dbctx.client("annotator").get(f"/api/campaigns/{cid}/agreement").status_code == 403
    assert dbctx.client("admin").get("/api/campaigns/999/agreement").status_code == 404


def test_a_reviewers_edit_and_a_rejected_answer_do_not_change_the_annotators_agreement(dbctx):
    _three_annotators_answer(dbctx)
    cid, rev = dbctx.campaign_id, dbctx.client("reviewer")
    entries = rev.get(f"/api/campaigns/{cid}/review", params={"annotator": "ann3"}).json()
    e = next(e for e in entries if e["item"]["id"] == 2)
    r = rev.post(f"/api/assignments/{e['assignment_id']}/review",  # the reviewer's points are not ann3's answer
                 json={"decision": "edit", "payload": _expr("car", (40, 20)), "version": e["version"]})
    assert r.status_code == 200, r.text
    _check(rev.get(f"/api/campaigns/{cid}/agreement").json())
    e = next(e for e in entries if e["item"]["id"] == 1)
    r = rev.post(f"/api/assignments/{e['assignment_id']}/review",
                 json={"decision": "reject", "reason": "cat is there", "version": e["version"]})
    assert r.status_code == 200, r.text
    rep = rev.get(f"/api/campaigns/{cid}/agreement").json()  # item 1 now compares annotator and ann2 only
    assert (rep["answers"], rep["pairs"]) == (6, 4)
    assert _values(rep["summary"])["point_f1"] == round((0.5 + 2 / 3 + 0 + 0) / 4, 4)


def test_one_annotator_per_item_reports_no_agreement_and_says_why(appctx):
    cid, c = appctx.campaign_id, appctx.client("annotator")
    a = c.post(f"/api/campaigns/{cid}/claim", json={}).json()["assignment"]
    c.post(f"/api/assignments/{a['assignment_id']}/submit", json={"client_key": "agree-one-1", "payload": _expr("dog", (1, 1))})
    rep = appctx.client("reviewer").get(f"/api/campaigns/{cid}/agreement").json()
    assert (rep["answers"], rep["items"], rep["items_with_overlap"], rep["summary"], rep["annotators"]) == (1, 1, 0, [], [])
    assert "no item has answers from two or more annotators" in rep["note"]


def test_export_report_and_cli_show_the_same_agreement(appctx, tmp_path):
    _three_annotators_answer(appctx)
    cid = appctx.campaign_id
    api = appctx.client("reviewer").get(f"/api/campaigns/{cid}/agreement").json()
    from annotation_app.export import export_shards

    manifest = export_shards(appctx.app.state.engine, appctx.app.state.media, cid, tmp_path / "out",
                             include_unreviewed=True)
    report = json.loads((manifest.parent / "report.json").read_text())
    assert report["campaign"] == "c1" and report["agreement"] == api
    assert "Point F1" in (manifest.parent / "report.md").read_text()
    manifest = export_shards(appctx.app.state.engine, appctx.app.state.media, cid, tmp_path / "accepted")
    assert json.loads((manifest.parent / "report.json").read_text())["agreement"]["answers"] == 0  # none accepted

    db = ["--db", str(appctx.app.state.engine.url)]
    r = CliRunner().invoke(cli, ["agreement", "c1", "--json", *db])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output) == api
    r = CliRunner().invoke(cli, ["agreement", "c1", *db])
    assert r.exit_code == 0 and "2 with two or more annotators, 6 pairs compared" in r.output, r.output
    assert "Point F1" in r.output and "0.312" in r.output and "ann3" in r.output
    r = CliRunner().invoke(cli, ["agreement", "nope", *db])
    assert r.exit_code != 0 and "no campaign named 'nope'" in r.output
    r = CliRunner().invoke(cli, ["agreement", "--help"])
    assert r.exit_code == 0 and "--json" in r.output
