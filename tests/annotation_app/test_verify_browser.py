"""Verification (prefilled machine points) in Chromium: suggestions are drawn differently from
human clicks, a double Enter submits the current item only (the prefetched next one is not
submitted unseen), and an item submitted with its suggestions untouched is flagged for review."""

from __future__ import annotations

import shutil
import time

import pytest
from sqlalchemy import select, update

from annotation_app.campaigns import CampaignIn, add_image, create_campaign, get_campaign_row
from annotation_app.db import read_tx, write_tx
from annotation_app.models import Item, Submission
from annotation_app.speech import testing as T
from tests.annotation_app.artifacts import ARTIFACTS
from tests.annotation_app.conftest import PASSWORD, png

pytestmark = [pytest.mark.browser, pytest.mark.skipif(not shutil.which("chromium"), reason="needs chromium")]
PREFILL = [[40.0, 30.0], [120.0, 90.0]]


def _verify_campaign(ctx, config):
    with write_tx(ctx.app.state.engine) as conn:
        cid = create_campaign(conn, CampaignIn(name="verify", task_type="counting", config={"label": "apple", **config}),
                              ctx.user_ids["admin"])
        c = get_campaign_row(conn, cid)
        for i in range(3):
            add_image(conn, ctx.app.state.media, c, png(200, 150, seed=30 + i))
        conn.execute(update(Item).where(Item.campaign_id == cid).values(
            spec={"label": "apple", "prefill": PREFILL, "reference_count": 2}))
    return cid


def _subs(ctx, cid):
    with read_tx(ctx.app.state.engine) as conn:
        return conn.execute(select(Submission.__table__).where(Submission.campaign_id == cid)
                            .order_by(Submission.id)).all()


def test_double_enter_submits_one_item_and_untouched_suggestions_are_flagged(appctx):
    from playwright.sync_api import sync_playwright

    cid = _verify_campaign(appctx, {"min_view_ms": 1500})
    server = T.Server(appctx.app)
    try:
        with sync_playwright() as p:
            b = p.chromium.launch(executable_path=shutil.which("chromium"), headless=True, args=T.CHROMIUM_ARGS)
            ctx = b.new_context(bypass_csp=True, viewport={"width": 1200, "height": 900})
            r = ctx.request.post(f"{server.url}/api/auth/login", data={"username": "annotator", "password": PASSWORD})
            assert r.ok
            page = ctx.new_page()
            page.goto(f"{server.url}/campaigns/{cid}/annotate")
            page.wait_for_function("document.body.dataset.ready === '1'")
            assert page.locator(".pt.prefill").count() == 2  # machine points look different
            first = page.evaluate("document.body.dataset.assignmentId")
            box = page.locator("#image").bounding_box()
            page.mouse.click(box["x"] + box["width"] * 0.8, box["y"] + box["height"] * 0.2)  # a human click
            assert page.locator(".pt.prefill").count() == 2 and page.locator(".pt:not(.prefill)").count() == 1
            time.sleep(1.6)
            page.keyboard.press("Enter")
            time.sleep(0.27)  # the second Enter of a double press, 270 ms later
            page.keyboard.press("Enter")
            page.wait_for_function(f"document.body.dataset.assignmentId && document.body.dataset.assignmentId !== '{first}'")
            time.sleep(1.0)
            subs = _subs(appctx, cid)
            assert len(subs) == 1 and subs[0].assignment_id == int(first), subs  # the next item was not submitted
            assert subs[0].payload["flags"] == []  # touched: no flag
            second = page.evaluate("document.body.dataset.assignmentId")
            assert page.locator(".pt.prefill").count() == 2
            time.sleep(0.6)  # now shown long enough
            page.keyboard.press("Enter")
            page.wait_for_function(f"document.body.dataset.assignmentId !== '{second}'")
            subs = _subs(appctx, cid)
            assert len(subs) == 2 and subs[1].assignment_id == int(second)
            assert [f["code"] for f in subs[1].payload["flags"]] == ["untouched_suggestions"]
            page.screenshot(path=str(ARTIFACTS / "verify-count.png"))
            _skip_asks_and_can_be_undone(page, appctx)
            b.close()
    finally:
        server.stop()


def test_min_view_time_and_server_set_flags_over_the_api(appctx):
    cid = _verify_campaign(appctx, {"min_view_ms": 800})
    c = appctx.client("annotator")
    aid = c.post(f"/api/campaigns/{cid}/claim", json={}).json()["assignment"]["assignment_id"]
    pts = [{"x": x, "y": y} for x, y in PREFILL]
    body = {"client_key": "key-view-1", "payload": {"label": "", "points": pts, "flags": []}, "duration_ms": 266}
    r = c.post(f"/api/assignments/{aid}/submit", json=body)
    assert r.status_code == 422 and "needs at least 800 ms" in r.json()["detail"], r.text
    r = c.post(f"/api/assignments/{aid}/submit", json={**body, "duration_ms": 900})
    assert r.status_code == 200, r.text
    assert [f["code"] for f in _subs(appctx, cid)[0].payload["flags"]] == ["untouched_suggestions"]



def _skip_asks_and_can_be_undone(page, appctx):
    third = page.evaluate("document.body.dataset.assignmentId")
    box = page.locator("#image").bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5)  # work worth keeping
    assert page.locator(".pt").count() == 3
    page.keyboard.press("s")
    assert page.evaluate("document.body.dataset.skipBar") == "confirm"
    assert page.evaluate("document.body.dataset.assignmentId") == third  # nothing skipped yet
    page.keyboard.press("Escape")
    assert page.evaluate("document.body.dataset.skipBar") == ""
    page.keyboard.press("s")
    page.keyboard.press("s")  # confirmed
    page.wait_for_function("document.body.dataset.skipBar === 'undo'")
    assert page.evaluate("document.body.dataset.assignmentId") != third
    page.keyboard.press("z")  # undo
    page.wait_for_function(f"document.body.dataset.assignmentId === '{third}'")
    assert page.locator(".pt").count() == 3 and page.locator(".pt.prefill").count() == 2  # the click is back
    r = appctx.client("annotator").get(f"/api/assignments/{third}")
    assert r.status_code == 200 and r.json()["status"] == "active", r.text
