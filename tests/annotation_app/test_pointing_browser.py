"""Pointing in real Chromium (Playwright): log in, claim, click points, undo/redo, zoom at the
cursor, reload (the draft survives), not present, submit; a reviewer rejects with a reason, the
item returns to its author with the answer prefilled, the author fixes it (delete + add), the
reviewer accepts; the export holds exactly the expected pixmo-points records."""

from __future__ import annotations

import json
import shutil
import threading
import time

import pytest
import uvicorn
from sqlalchemy import text

from annotation_app.campaigns import CampaignIn, add_image, create_campaign, get_campaign_row
from annotation_app.db import read_tx, write_tx
from annotation_app.export import export_shards
from pixmo.shards import iter_samples

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("pointing_browser"),
              pytest.mark.skipif(not shutil.which("chromium"), reason="needs chromium (apt-get install chromium)")]
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
W, H = 400, 300


class ThreadServer:
    def __init__(self, app, port):
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.url = f"http://127.0.0.1:{port}"

    def __enter__(self):
        self.thread.start()
        while not self.server.started:
            time.sleep(0.05)
        return self

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(10)


def _login(page, url, user):
    page.goto(f"{url}/login")
    page.fill("#username", user)
    page.fill("#password", "correct-horse-1")
    page.click("#login")
    page.wait_for_url(f"{url}/")


def _click_image(page, fx, fy, button="left"):
    box = page.locator("#image").bounding_box()
    page.mouse.click(box["x"] + fx * box["width"], box["y"] + fy * box["height"], button=button)


def _count(page):
    return int(page.get_attribute("#count", "data-count"))


def _wait_ready(page):
    page.wait_for_function("document.body.dataset.ready === '1' && document.querySelector('#image')?.complete")
    page.wait_for_timeout(100)


def test_pointing_review_fix_export(appctx, tmp_path, make_png):
    from playwright.sync_api import sync_playwright

    app, engine = appctx.app, appctx.app.state.engine
    with write_tx(engine) as conn:
        cid = create_campaign(conn, CampaignIn(name="e2e", task_type="pointing", instructions="Point at things."), None)
        c = get_campaign_row(conn, cid)
        for seed in (1, 2):
            add_image(conn, app.state.media, c, make_png(W, H, seed=seed))
    port = __import__("socket").socket()
    port.bind(("127.0.0.1", 0))
    free = port.getsockname()[1]
    port.close()
    with ThreadServer(app, free) as srv, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), headless=True, args=ARGS)
        ctx = browser.new_context(viewport={"width": 1100, "height": 900}, bypass_csp=True)
        page = ctx.new_page()
        _login(page, srv.url, "annotator")
        page.click("tr[data-campaign='e2e'] a.annotate-link")
        _wait_ready(page)
        first = int(page.evaluate("document.body.dataset.assignmentId"))
        page.fill("#label", "bright pixel")
        for fx, fy in ((0.25, 0.25), (0.5, 0.5), (0.75, 0.25)):
            _click_image(page, fx, fy)
        assert _count(page) == 3 and page.inner_text("#count") == "3 points"
        page.click("#undo")
        assert _count(page) == 2
        page.keyboard.press("Control+Shift+Z")
        assert _count(page) == 3
        page.keyboard.press("Control+Z")
        assert _count(page) == 2
        box = page.locator("#image").bounding_box()
        page.mouse.move(box["x"] + 0.6 * box["width"], box["y"] + 0.6 * box["height"])
        page.mouse.wheel(0, -600)
        page.wait_for_timeout(200)
        assert float(page.get_attribute("#viewport", "data-zoom")) > 1.5
        after = page.locator("#image").bounding_box()
        assert after["width"] > 1.5 * box["width"]
        _click_image(page, 0.6, 0.6)  # the point under the cursor stayed put while zooming
        assert _count(page) == 3
        page.keyboard.press("?")
        assert page.is_visible("#help-overlay") and "not present" in page.inner_text("#help-overlay")
        page.keyboard.press("Escape")
        assert not page.is_visible("#help-overlay")
        page.wait_for_timeout(800)  # the draft autosave
        page.reload()
        _wait_ready(page)
        assert int(page.evaluate("document.body.dataset.assignmentId")) == first
        assert _count(page) == 3 and page.input_value("#label") == "bright pixel"
        page.click("#viewport")  # a click on the image adds a point; undo it, then submit with Enter
        page.keyboard.press("u")
        assert _count(page) == 3
        page.keyboard.press("Enter")
        page.wait_for_function(f"document.body.dataset.assignmentId !== '{first}' && document.body.dataset.assignmentId")
        _wait_ready(page)
        second = int(page.evaluate("document.body.dataset.assignmentId"))
        page.fill("#label", "green giraffe")
        page.click("#stage")
        page.keyboard.press("n")
        assert page.inner_text("#count") == "Not present (0)"
        page.click("#submit")
        page.wait_for_selector("#done", state="visible")

        with read_tx(engine) as conn:
            subs = {r.assignment_id: r.payload for r in conn.execute(
                text("SELECT assignment_id, payload FROM submissions ORDER BY id"))}
        p1, p2 = json.loads(subs[first]), json.loads(subs[second])
        assert p1["label"] == "bright pixel" and not p1["not_present"]
        got = [(round(q["x"]), round(q["y"])) for q in p1["points"]]
        for (x, y), (ex, ey) in zip(got, [(100, 75), (200, 150), (240, 180)], strict=True):
            assert abs(x - ex) <= 2 and abs(y - ey) <= 2, got
        assert p2 == {"label": "green giraffe", "points": [], "not_present": True, "flags": []}

        rev = browser.new_context(viewport={"width": 1100, "height": 900}, bypass_csp=True).new_page()
        _login(rev, srv.url, "reviewer")
        rev.goto(f"{srv.url}/campaigns/{cid}/review")
        card = rev.locator(f".review-entry[data-assignment='{first}']")
        card.locator(".reason").fill("missed the bottom one")
        card.locator(".reject").click()
        card.wait_for(state="detached")
        rev.locator(f".review-entry[data-assignment='{second}'] .accept").click()
        rev.wait_for_selector(f".review-entry[data-assignment='{second}']", state="detached")

        page.goto(f"{srv.url}/campaigns/{cid}/annotate")
        _wait_ready(page)
        assert int(page.evaluate("document.body.dataset.assignmentId")) == first
        assert "missed the bottom one" in page.inner_text("#reject-reason")
        assert _count(page) == 3  # the rejected answer comes back to fix
        _click_image(page, 0.6, 0.6, button="right")  # delete the point placed while zoomed
        assert _count(page) == 2
        _click_image(page, 0.5, 0.9)
        assert _count(page) == 3
        page.keyboard.press("Enter")
        page.wait_for_selector("#done", state="visible")

        rev.goto(f"{srv.url}/campaigns/{cid}/review")
        rev.locator(f".review-entry[data-assignment='{first}'] .accept").click()
        rev.wait_for_selector(f".review-entry[data-assignment='{first}']", state="detached")
        rev.goto(f"{srv.url}/campaigns/{cid}/quality")
        row = rev.locator("#annotators tbody tr").first
        row.wait_for()
        cells = row.locator("td").all_inner_texts()
        assert cells[0] == "annotator" and cells[1] == "3" and cells[4] == "3" and cells[5] == "0.333", cells
        assert "100% done" in rev.inner_text("#percent-done")
        browser.close()

    manifest = export_shards(engine, app.state.media, cid, tmp_path / "export")
    recs = sorted((a.record for s in iter_samples(manifest.parent, verify=True) for a in s.annotations),
                  key=lambda r: r.count)
    assert len(recs) == 2
    absent, fixed = recs
    assert (absent.label, absent.count, absent.points, absent.collection_method) == ("green giraffe", 0, [], "pointing")
    assert fixed.label == "bright pixel" and fixed.count == 3 and fixed.collection_method == "pointing"
    pct = sorted((round(q.x), round(q.y)) for q in fixed.points)
    for (x, y), (ex, ey) in zip(pct, [(25, 25), (50, 50), (50, 90)], strict=True):
        assert abs(x - ex) <= 1 and abs(y - ey) <= 1, pct
