"""Gold gating: an annotator whose gold score falls below the campaign's threshold after N gold
items is paused there (claims refused with the reason, shown on their page); an admin reinstates
them through the API or the CLI; both are audited."""

from __future__ import annotations

import shutil

import pytest
from sqlalchemy import select, update

from annotation_app.db import read_tx, write_tx
from annotation_app.models import AuditLog, Campaign
from annotation_app.speech import testing as T
from tests.annotation_app.conftest import PASSWORD

GOLD = {"label": "dog", "points": [[10.0, 10.0]]}
RIGHT = {"label": "dog", "points": [{"x": 10.0, "y": 10.0}]}
WRONG = {"label": "dog", "points": [{"x": 50.0, "y": 40.0}]}


def _gated(ctx, threshold=0.6, min_items=2):
    """Campaign c1 with gating on and all three of its items gold."""
    with write_tx(ctx.app.state.engine) as conn:
        conn.execute(update(Campaign).where(Campaign.id == ctx.campaign_id).values(
            config={"gold_overlap": 1000, "gold_threshold": threshold, "gold_min_items": min_items}))
    admin = ctx.client("admin")
    for item_id in (1, 2, 3):
        assert admin.put(f"/api/items/{item_id}/gold", json={"gold": GOLD}).status_code == 200


def _answer(client, cid, payload, key):
    r = client.post(f"/api/campaigns/{cid}/claim", json={})
    assert r.status_code == 200, r.text
    a = r.json()["assignment"]
    r = client.post(f"/api/assignments/{a['assignment_id']}/submit", json={"client_key": key, "payload": payload})
    assert r.status_code == 200, r.text


def _actions(ctx, action):
    with read_tx(ctx.app.state.engine) as conn:
        return conn.execute(select(AuditLog.user_id, AuditLog.object_id, AuditLog.detail)
                            .where(AuditLog.action == action)).all()


def test_failing_gold_pauses_the_annotator_until_an_admin_reinstates(dbctx):
    _gated(dbctx)
    cid, ann, uid = dbctx.campaign_id, dbctx.client("annotator"), dbctx.user_ids["annotator"]
    _answer(ann, cid, WRONG, "gate-key-1")
    assert ann.get(f"/api/campaigns/{cid}/my-progress").json()["paused"] is None  # 1 gold item < N = 2
    _answer(ann, cid, WRONG, "gate-key-2")
    r = ann.post(f"/api/campaigns/{cid}/claim", json={})
    assert r.status_code == 403, r.text
    assert "you are paused in this campaign: your gold score is 0.00 over 2 gold items" in r.json()["detail"]
    assert "threshold of 0.60" in r.json()["detail"]
    mine = ann.get(f"/api/campaigns/{cid}/my-progress").json()
    assert mine["paused"].startswith("your gold score is 0.00") and mine["done_total"] == 2
    (pause,) = _actions(dbctx, "gold.pause")
    assert pause.object_id == str(uid) and pause.detail["gold_items"] == 2 and pause.detail["campaign_id"] == cid
    rows = {a["username"]: a for a in dbctx.client("reviewer").get(f"/api/campaigns/{cid}/annotators").json()}
    assert rows["annotator"]["paused"]["score"] == 0.0 and rows["annotator"]["paused"]["gold_items"] == 2

    url = f"/api/campaigns/{cid}/annotators/{uid}/reinstate"
    assert dbctx.client("reviewer").post(url).status_code == 403
    assert dbctx.client("admin").post(url).status_code == 200
    (back,) = _actions(dbctx, "gold.reinstate")
    assert back.user_id == dbctx.user_ids["admin"] and back.object_id == str(uid)
    assert dbctx.client("admin").post(url).status_code == 404  # nobody paused any more
    assert ann.get(f"/api/campaigns/{cid}/my-progress").json()["paused"] is None
    _answer(ann, cid, WRONG, "gate-key-3")  # the score starts afresh: 1 new gold item < N
    assert ann.get(f"/api/campaigns/{cid}/my-progress").json()["paused"] is None


def test_good_gold_and_ungated_campaigns_never_pause(dbctx):
    cid = dbctx.campaign_id
    admin = dbctx.client("admin")
    for item_id in (1, 2, 3):  # gold, but no threshold set: gating is off
        assert admin.put(f"/api/items/{item_id}/gold", json={"gold": GOLD}).status_code == 200
    for i in range(3):
        _answer(dbctx.client("annotator"), cid, WRONG, f"free-key-{i}")
    _gated(dbctx, min_items=3)
    for i in range(3):
        _answer(dbctx.client("throwaway"), cid, RIGHT, f"good-key-{i}")
    assert not _actions(dbctx, "gold.pause")


@pytest.mark.parametrize("config,needle", [
    ({"gold_threshold": 1.5}, "gold_threshold must be a number from 0 to 1"),
    ({"gold_threshold": "high"}, "gold_threshold must be a number from 0 to 1"),
    ({"gold_threshold": 0.5, "gold_min_items": 0}, "gold_min_items must be an integer from 1 to 10000"),
    ({"gold_share": 1.5}, "gold_share must be a number from 0 to 1"),
    ({"gold_share": True}, "gold_share must be a number from 0 to 1"),
])
def test_bad_gating_config_is_refused_at_creation(appctx, config, needle):
    r = appctx.client("admin").post("/api/campaigns", json={"name": "g", "task_type": "pointing", "config": config})
    assert r.status_code == 422 and needle in r.json()["detail"], r.text


def test_cli_reinstates_and_names_bad_input(appctx):
    from typer.testing import CliRunner

    from annotation_app.cli import app as cli

    _gated(appctx, min_items=1)
    cid, ann = appctx.campaign_id, appctx.client("annotator")
    _answer(ann, cid, WRONG, "cli-key-1")
    assert ann.post(f"/api/campaigns/{cid}/claim", json={}).status_code == 403
    db = ["--db", str(appctx.app.state.engine.url)]
    r = CliRunner().invoke(cli, ["reinstate", "c1", "annotator", *db])
    assert r.exit_code == 0 and "reinstated 'annotator' in campaign 'c1'" in r.output, r.output
    assert ann.post(f"/api/campaigns/{cid}/claim", json={}).status_code == 200
    r = CliRunner().invoke(cli, ["reinstate", "c1", "annotator", *db])
    assert r.exit_code != 0 and "is not paused in campaign" in r.output
    r = CliRunner().invoke(cli, ["reinstate", "nope", "annotator", *db])
    assert r.exit_code != 0 and "no campaign named 'nope'" in r.output
    assert len(_actions(appctx, "gold.reinstate")) == 1


@pytest.mark.browser
@pytest.mark.skipif(not shutil.which("chromium"), reason="needs chromium")
def test_gated_annotator_sees_the_pause_and_an_admin_reinstates_on_the_quality_page(appctx):
    from playwright.sync_api import sync_playwright

    _gated(appctx, min_items=1)
    cid = appctx.campaign_id
    _answer(appctx.client("annotator"), cid, WRONG, "browser-key-1")
    server = T.Server(appctx.app)
    try:
        with sync_playwright() as p:
            b = p.chromium.launch(executable_path=shutil.which("chromium"), headless=True, args=T.CHROMIUM_ARGS)
            for who in ("annotator", "admin"):
                ctx = b.new_context(bypass_csp=True, viewport={"width": 1200, "height": 900})
                assert ctx.request.post(f"{server.url}/api/auth/login", data={"username": who, "password": PASSWORD}).ok
                page = ctx.new_page()
                if who == "annotator":
                    page.goto(f"{server.url}/campaigns/{cid}/annotate")
                    page.wait_for_function("document.body.dataset.ready === '1'")
                    banner = page.locator("#paused")
                    assert banner.is_visible()
                    assert "You are paused in this campaign: your gold score is 0.00 over 1 gold items" in banner.inner_text()
                    assert page.locator("#done").is_hidden() and page.locator("#submit").is_disabled()
                    assert "Done today: 1" in page.locator("#my-progress").inner_text()
                else:
                    page.goto(f"{server.url}/campaigns/{cid}/quality")
                    page.locator("button.reinstate").click()
                    page.wait_for_function("!document.querySelector('button.reinstate')")
                    assert "reinstated" in page.locator("#annotators").inner_text()
                ctx.close()
            b.close()
    finally:
        server.stop()
    assert appctx.client("annotator").post(f"/api/campaigns/{cid}/claim", json={}).status_code == 200


def test_a_reviewers_edit_does_not_count_as_the_annotators_gold_answer(dbctx):
    """The gold score is the annotator's own answers: a reviewer who corrects a wrong gold answer
    (which repoints the assignment to the reviewer's submission) does not lift it."""
    _gated(dbctx, threshold=0.4, min_items=2)
    cid, ann = dbctx.campaign_id, dbctx.client("annotator")
    _answer(ann, cid, WRONG, "edit-key-1")
    (entry,) = dbctx.client("reviewer").get(f"/api/campaigns/{cid}/review").json()
    r = dbctx.client("reviewer").post(f"/api/assignments/{entry['assignment_id']}/review",
                                      json={"decision": "edit", "payload": RIGHT, "version": entry["version"]})
    assert r.status_code == 200, r.text
    _answer(ann, cid, WRONG, "edit-key-2")
    assert ann.post(f"/api/campaigns/{cid}/claim", json={}).status_code == 403  # 0.00 over 2, not 0.50


def test_two_gold_checks_at_once_leave_one_pause_in_force(dbctx):
    """Two gold submits of one annotator in flight together on PostgreSQL both read "not paused";
    each inserted a pause (two rows in force). The partial unique index lets the second do nothing."""
    import threading
    import time

    from annotation_app import gating
    from annotation_app.models import AnnotatorPause
    from annotation_app.sql import run

    if dbctx.app.state.engine.dialect.name != "postgresql":
        pytest.skip("SQLite takes the write lock at BEGIN: two writers never overlap")
    _gated(dbctx, min_items=3)
    cid, ann, uid = dbctx.campaign_id, dbctx.client("annotator"), dbctx.user_ids["annotator"]
    _answer(ann, cid, WRONG, "race-key-1")
    _answer(ann, cid, WRONG, "race-key-2")  # 2 gold items < 3: not paused yet
    config = {"gold_threshold": 0.6, "gold_min_items": 2}  # the checks below judge on 2
    engine, first_done, results = dbctx.app.state.engine, threading.Event(), {}
    release = threading.Event()

    def check(name: str, hold: bool) -> None:
        with write_tx(engine) as conn:
            results[name] = run(gating.check_steps(cid, "pointing", config, uid), conn)
            if hold:
                first_done.set()
                release.wait(10)

    a = threading.Thread(target=check, args=("a", True))
    a.start()
    assert first_done.wait(10)
    b = threading.Thread(target=check, args=("b", False))
    b.start()
    time.sleep(0.5)  # b has read "not paused" and reached its insert
    release.set()
    a.join(10)
    b.join(10)
    assert results["a"] and results["b"] is None, results
    with read_tx(engine) as conn:
        rows = conn.execute(select(AnnotatorPause.id).where(AnnotatorPause.campaign_id == cid,
                                                            AnnotatorPause.reinstated_at.is_(None))).all()
    assert len(rows) == 1
    assert len(_actions(dbctx, "gold.pause")) == 1
