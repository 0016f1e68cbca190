"""PixMo-Points protocol in real Chromium: one annotator enters three referring expressions on one
image (one "not present") one after the other, the page refuses "image done" below the campaign's
minimum, a reload keeps every expression, the submit stores all three, review shows each with its
points, and the export holds three pixmo-points records in that image's sample."""

from __future__ import annotations

import json
import shutil

import pytest
from sqlalchemy import text

from annotation_app.campaigns import CampaignIn, add_image, create_campaign, get_campaign_row
from annotation_app.db import read_tx, write_tx
from annotation_app.export import export_shards
from pixmo.shards import iter_samples
from tests.annotation_app.artifacts import ARTIFACTS
from tests.annotation_app.test_pointing_browser import (
    ARGS,
    ThreadServer,
    _click_image,
    _count,
    _login,
    _wait_ready,
)

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("pointing_browser"),
              pytest.mark.skipif(not shutil.which("chromium"), reason="needs chromium (apt-get install chromium)")]
W, H = 400, 300


def _free_port() -> int:
    s = __import__("socket").socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _expression(page, label, clicks, not_present=False):
    page.fill("#label", label)
    page.keyboard.press("Enter")  # from the label to the image
    for fx, fy in clicks:
        _click_image(page, fx, fy)
    if not_present:
        page.keyboard.press("n")
    assert _count(page) == (0 if not_present else len(clicks))


def test_three_expressions_on_one_image_submit_review_export(appctx, tmp_path, make_png):
    from playwright.sync_api import sync_playwright

    app, engine = appctx.app, appctx.app.state.engine
    with write_tx(engine) as conn:
        cid = create_campaign(conn, CampaignIn(name="pixmo-points", task_type="pointing", instructions="Point.",
                                               config={"min_expressions": 3}), None)
        add_image(conn, app.state.media, get_campaign_row(conn, cid), make_png(W, H, seed=7))
    with ThreadServer(app, _free_port()) as srv, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), headless=True, args=ARGS)
        page = browser.new_context(viewport={"width": 1100, "height": 900}, bypass_csp=True).new_page()
        _login(page, srv.url, "annotator")
        page.goto(f"{srv.url}/campaigns/{cid}/annotate")
        _wait_ready(page)
        aid = int(page.evaluate("document.body.dataset.assignmentId"))

        _expression(page, "red squares", [(0.2, 0.2), (0.4, 0.3)])
        page.click("#add-expression")
        assert page.input_value("#label") == "" and _count(page) == 0
        page.click("#stage")
        _expression(page, "purple unicorn", [], not_present=True)
        page.keyboard.press("l")  # the key files it too
        assert page.locator("#expressions li.expr").count() == 2
        assert page.locator(".marks .pt.done").count() == 2  # earlier points stay visible
        page.click("#submit")  # two expressions, the campaign asks for three: refused in the page
        page.wait_for_timeout(300)
        assert int(page.evaluate("document.body.dataset.assignmentId")) == aid
        assert "at least 3" in page.inner_text("#toast")

        _expression(page, "the top-right corner", [(0.9, 0.1)])
        page.wait_for_timeout(800)  # the draft autosave
        page.reload()
        _wait_ready(page)
        assert page.locator("#expressions li.expr").count() == 2 and page.input_value("#label") == "the top-right corner"
        assert _count(page) == 1 and page.inner_text("#expr-count").startswith("3 expressions")
        page.keyboard.press("0")  # look at it (fit): a submit right after a load needs an interaction
        page.click("#submit")
        page.wait_for_selector("#done", state="visible")

        with read_tx(engine) as conn:
            stored = json.loads(conn.execute(text("SELECT payload FROM submissions WHERE assignment_id = :a"),
                                             {"a": aid}).scalar_one())
        exprs = stored["expressions"]
        assert [(e["label"], len(e["points"]), e["not_present"]) for e in exprs] == [
            ("red squares", 2, False), ("purple unicorn", 0, True), ("the top-right corner", 1, False)]
        assert "label" not in stored and stored["flags"] == []

        rev = browser.new_context(viewport={"width": 1100, "height": 900}, bypass_csp=True).new_page()
        _login(rev, srv.url, "reviewer")
        rev.goto(f"{srv.url}/campaigns/{cid}/review")
        card = rev.locator(f".review-entry[data-assignment='{aid}']")
        card.wait_for()
        lines = card.locator(".review-expression").all_inner_texts()
        assert [ln.lstrip("● ").strip() for ln in lines] == [
            "red squares: 2 points", "purple unicorn: not present", "the top-right corner: 1 points"], lines
        assert card.locator(".thumb .pt").count() == 3
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        rev.screenshot(path=str(ARTIFACTS / "pointing_multi_review.png"), full_page=True)
        card.locator(".accept").click()
        card.wait_for(state="detached")
        browser.close()

    manifest = export_shards(engine, app.state.media, cid, tmp_path / "export")
    samples = list(iter_samples(manifest.parent, verify=True))
    assert len(samples) == 1
    recs = [a.record for a in samples[0].annotations]
    assert [(r.label, r.count, r.collection_method) for r in recs] == [
        ("red squares", 2, "pointing"), ("purple unicorn", 0, "pointing"), ("the top-right corner", 1, "pointing")]
    assert recs[1].points == []
    corner = recs[2].points[0]
    assert abs(corner.x - 90) <= 1 and abs(corner.y - 10) <= 1
