"""Must show (issue 18): a manager runs a campaign entirely in the browser (Chromium, the page's
real CSP). They log in on the login page, open the admin page from the nav, create campaigns from
an upload, a server folder and a URL list (with a live instructions preview), create an annotator,
put them in a group and assign one campaign to the group (another to a reviewer, one closed); the
annotator (a second browser context) sees only the campaign assigned to them and submits; the
manager exports with progress and downloads a tar that holds the annotator's answers.
Screenshots go to out/test-artifacts/annotation_app/."""

from __future__ import annotations

import functools
import http.server
import json
import shutil
import tarfile
import threading
import time

import pytest
from sqlalchemy import insert

from annotation_app.db import write_tx
from annotation_app.models import User
from annotation_app.speech import testing as T
from pixmo.shards import iter_samples
from tests.annotation_app.artifacts import ARTIFACTS
from tests.annotation_app.conftest import _HASH, PASSWORD, png

pytestmark = [pytest.mark.browser, pytest.mark.skipif(not shutil.which("chromium"), reason="needs chromium")]


def _login_page(page, url, who):
    page.goto(f"{url}/login")
    page.fill("#username", who)
    page.fill("#password", PASSWORD)
    page.click("#login")
    page.wait_for_url(f"{url}/")


def _create(page, name, source, fill_source, expect):
    page.fill("#c-name", name)
    page.select_option("#c-task", "pointing")
    page.check(f"input[name=source][value={source}]")
    fill_source()
    page.click("#create-submit")
    page.wait_for_selector(f"#create-state:has-text({json.dumps(expect)})", timeout=30000)
    page.wait_for_selector(f"#admin-campaigns tr[data-campaign='{name}']")


def _serve_folder(folder):
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


def test_manager_creates_assigns_and_exports_a_campaign_in_the_browser(appctx, tmp_path):
    from playwright.sync_api import sync_playwright

    app = appctx.app
    with write_tx(app.state.engine) as conn:
        conn.execute(insert(User).values(username="boss", password_hash=_HASH, role="manager", active=True,
                                         created_at=time.time()))
    appctx.client("admin").post(f"/api/campaigns/{appctx.campaign_id}/members", json={"usernames": ["reviewer"]})
    uploads = []
    for i in range(2):
        uploads.append(tmp_path / f"photo-{i}.png")
        uploads[-1].write_bytes(png(80, 60, seed=100 + i))
    root = tmp_path / "imports"
    (root / "batch1").mkdir(parents=True)
    (root / "batch1" / "a.png").write_bytes(png(30, 20, seed=7))
    app.state.settings.import_root = str(root)
    app.state.settings.allow_private_urls = True  # the URL list is served from 127.0.0.1 here
    httpd = _serve_folder(root / "batch1")
    image_url = f"http://127.0.0.1:{httpd.server_address[1]}/a.png"
    server = T.Server(app)
    try:
        with sync_playwright() as p:
            b = p.chromium.launch(executable_path=shutil.which("chromium"), headless=True, args=T.CHROMIUM_ARGS)
            mgr = b.new_context(viewport={"width": 1200, "height": 1000}, accept_downloads=True)
            page = mgr.new_page()
            errors = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" and "404" not in m.text else None)
            page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 and
                    not r.url.endswith("/favicon.ico") else None)
            _login_page(page, server.url, "boss")
            page.click("#nav-admin")
            page.wait_for_selector("body[data-ready='1'][data-users-ready='1']")
            page.fill("#c-instructions", "Point at every red thing.")
            assert page.inner_text("#instructions-preview") == "Point at every red thing."
            assert page.is_visible("#c-min-expr") and not page.is_visible("#c-label")
            page.fill("#c-overlap", "1")
            page.fill("#c-lease", "900")
            _create(page, "from-upload", "upload", lambda: page.set_input_files("#c-files", [str(u) for u in uploads]),
                    "with 2 items")
            assert page.inner_text("#cp-name") == "from-upload"
            paths = page.locator("#cp-items tbody td:nth-child(2)").all_inner_texts()
            assert paths == ["photo-0.png", "photo-1.png"]
            page.fill("#u-name", "carol")  # a new annotator, put in a group, and the group assigned
            page.fill("#u-password", PASSWORD)
            page.select_option("#u-role", "annotator")
            page.click("#u-create")
            page.wait_for_selector("#admin-users tr[data-user='carol']")
            page.fill("#g-name", "team-a")
            page.fill("#g-users", "carol")
            page.click("#group-form button[type=submit]")
            page.wait_for_selector("#admin-groups li[data-group='team-a']")
            page.wait_for_selector("#assign-group option[value='team-a']", state="attached")
            page.select_option("#assign-group", "team-a")
            page.click("#assign-form button[type=submit]")
            page.wait_for_selector("#cp-members li[data-member='carol']")
            page.screenshot(path=str(ARTIFACTS / "admin_campaign.png"), full_page=True)
            _create(page, "from-folder", "folder", lambda: page.fill("#c-folder", "batch1"), "with 1 items")
            assert page.locator("#cp-items tbody td:nth-child(2)").all_inner_texts() == ["a.png"]
            page.fill("#assign-users", "reviewer")  # assigned to someone else: the annotator does not see it
            page.click("#assign-form button[type=submit]")
            page.wait_for_selector("#cp-members li[data-member='reviewer']")
            _create(page, "from-urls", "urls", lambda: page.fill("#c-urls", image_url), "with 1 items")
            page.click("#campaign-panel button[data-status='closed']")  # closed: hidden from annotators
            page.wait_for_selector("tr[data-campaign='from-urls'] td.status:text('closed')")

            ann = b.new_context(viewport={"width": 1100, "height": 900})
            apage = ann.new_page()
            _login_page(apage, server.url, "carol")
            apage.wait_for_selector("#campaigns tbody tr")
            names = apage.locator("#campaigns tbody tr").evaluate_all("rs => rs.map(r => r.dataset.campaign)")
            assert names == ["from-upload"]  # c1 and from-folder are assigned to others, from-urls is closed
            apage.click("tr[data-campaign='from-upload'] a.annotate-link")
            for label in ("red ball", "red car"):
                apage.wait_for_selector("body[data-ready='1'] #image")
                apage.locator("#image").evaluate("img => img.complete || new Promise(r => img.addEventListener('load', r))")
                before = apage.evaluate("() => document.body.dataset.assignmentId")
                apage.fill("#label", label)
                box = apage.locator("#image").bounding_box()
                apage.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
                apage.click("#submit")
                apage.wait_for_selector(f"body:not([data-assignment-id='{before}']) #image, #done:visible")
            apage.wait_for_selector("#done", state="visible")
            ann.close()

            page.click("tr[data-campaign='from-upload'] button.manage")
            page.wait_for_selector("#cp-name:text-is('from-upload')")
            page.check("#export-unreviewed")
            page.click("#export-start")
            page.wait_for_selector("#export-download", state="visible", timeout=30000)
            assert page.inner_text("#export-text") == "done: 2/2 answers"
            assert page.eval_on_selector("#export-progress", "p => p.value === p.max")
            with page.expect_download() as dl:
                page.click("#export-download")
            download = dl.value
            assert download.suggested_filename.endswith(".tar")
            page.screenshot(path=str(ARTIFACTS / "admin_export.png"), full_page=True)
            page.click("#campaign-panel button[data-status='paused']")
            page.wait_for_selector("tr[data-campaign='from-upload'] td.status:text('paused')")
            assert not errors, errors
            got = tmp_path / "download.tar"
            download.save_as(got)
            mgr.close()
            b.close()
    finally:
        server.stop()
        httpd.shutdown()
    with tarfile.open(got) as tar:
        tar.extractall(tmp_path / "unpacked", filter="data")
    (out,) = (tmp_path / "unpacked").iterdir()
    records = [a for s in iter_samples(out) for a in s.annotations]
    labels = sorted(json.loads(a.to_json()["record"])["label"] for a in records)
    assert labels == ["red ball", "red car"]
    assert {json.loads(a.to_json()["meta"])["source_path"] for a in records} == {"photo-0.png", "photo-1.png"}
