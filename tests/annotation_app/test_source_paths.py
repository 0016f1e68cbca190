"""Original file names: folder and upload imports keep each image's path (relative to the folder,
or the uploaded file name) as item metadata; reviewers see it, exports carry it, annotators never
get it."""

from __future__ import annotations

import shutil

import pytest

from annotation_app.speech import testing as T
from pixmo.shards import iter_samples
from tests.annotation_app.conftest import PASSWORD, png

ANSWER = {"label": "dog", "points": [{"x": 5.0, "y": 5.0}]}


def _answer_all(ctx, cid, n):
    ann = ctx.client("annotator")
    for i in range(n):
        r = ann.post(f"/api/campaigns/{cid}/claim", json={})
        a = r.json()["assignment"]
        assert "source_path" not in r.text and "cat.png" not in r.text  # never shown to annotators
        assert ann.post(f"/api/assignments/{a['assignment_id']}/submit",
                        json={"client_key": f"src-key-{cid}-{i}", "payload": ANSWER}).status_code == 200


def _paths(ctx, cid, tmp_path):
    from annotation_app.export import export_shards

    review = ctx.client("reviewer").get(f"/api/campaigns/{cid}/review").json()
    coco = ctx.client("reviewer").get(f"/api/campaigns/{cid}/export/coco", params={"include_unreviewed": True}).json()
    manifest = export_shards(ctx.app.state.engine, ctx.app.state.media, cid, tmp_path / f"export-{cid}",
                             include_unreviewed=True)
    shard = [a.meta.get("source_path") for s in iter_samples(manifest.parent) for a in s.annotations]
    return sorted(e["source_path"] for e in review), sorted(i["source_path"] for i in coco["images"]), sorted(shard)


def test_folder_import_keeps_relative_paths_for_review_and_export(dbctx, tmp_path):
    from typer.testing import CliRunner

    from annotation_app.cli import app as cli

    folder = tmp_path / "imgs"
    (folder / "shelf" / "top").mkdir(parents=True)
    (folder / "a.png").write_bytes(png(64, 48, seed=11))
    (folder / "shelf" / "top" / "cat.png").write_bytes(png(64, 48, seed=12))
    url = dbctx.app.state.engine.url.render_as_string(hide_password=False)
    r = CliRunner().invoke(cli, ["import", "folder", "--folder", str(folder), "--db", url,
                                 "--media", dbctx.app.state.settings.media_root])
    assert r.exit_code == 0 and "2 items" in r.output, r.output
    cid = next(c["id"] for c in dbctx.client("admin").get("/api/campaigns").json() if c["name"] == "folder")
    _answer_all(dbctx, cid, 2)
    want = ["a.png", "shelf/top/cat.png"]
    assert _paths(dbctx, cid, tmp_path) == (want, want, want)


def test_upload_keeps_the_file_name(dbctx, tmp_path):
    admin = dbctx.client("admin")
    cid = admin.post("/api/campaigns", json={"name": "up", "task_type": "pointing"}).json()["id"]
    r = admin.post(f"/api/campaigns/{cid}/images", files=[("files", ("IMG_0001.png", png(64, 48, seed=21), "image/png")),
                                                           ("files", ("cat.png", png(64, 48, seed=22), "image/png"))])
    assert r.status_code == 201, r.text
    _answer_all(dbctx, cid, 2)
    want = ["IMG_0001.png", "cat.png"]
    assert _paths(dbctx, cid, tmp_path) == (want, want, want)


@pytest.mark.browser
@pytest.mark.skipif(not shutil.which("chromium"), reason="needs chromium")
def test_review_page_shows_the_file_name(appctx):
    from playwright.sync_api import sync_playwright

    admin = appctx.client("admin")
    cid = admin.post("/api/campaigns", json={"name": "up", "task_type": "pointing"}).json()["id"]
    files = [("files", ("shelf/cat.png", png(64, 48, seed=31), "image/png"))]
    assert admin.post(f"/api/campaigns/{cid}/images", files=files).status_code == 201
    _answer_all(appctx, cid, 1)
    server = T.Server(appctx.app)
    try:
        with sync_playwright() as p:
            b = p.chromium.launch(executable_path=shutil.which("chromium"), headless=True, args=T.CHROMIUM_ARGS)
            ctx = b.new_context(bypass_csp=True, viewport={"width": 1200, "height": 900})
            assert ctx.request.post(f"{server.url}/api/auth/login", data={"username": "reviewer", "password": PASSWORD}).ok
            page = ctx.new_page()
            page.goto(f"{server.url}/campaigns/{cid}/review")
            page.locator(".review-entry .source-path").wait_for()
            assert page.locator(".review-entry .source-path").inner_text() == "File: shelf/cat.png"
            b.close()
    finally:
        server.stop()
