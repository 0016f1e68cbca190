"""Point explanations in Chromium: mark a point group, ask, get a draft citing it, accept, submit;
the export holds a pixmo-point-explanations record with the clicked points on the 0-100 scale."""

from __future__ import annotations

import re
import shutil

import pytest
from fastapi.testclient import TestClient

from annotation_app.speech import testing as T
from pixmo.records import POINT_PLACEHOLDER
from pixmo.shards import iter_samples
from pixmo.testing import serve

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not (shutil.which("chromium") and shutil.which("tesseract")),
                                 reason="needs chromium and tesseract")]
DRAFT = 'The word <point id="1">SALE</point> is printed in black on a white sign.'


def test_point_first_then_cited_answer(tmp_path):
    from playwright.sync_api import sync_playwright

    env = T.make_env(tmp_path)
    with serve([DRAFT]) as srv:
        cid = env.campaign("point_explanations", {"ama": {"llm_base_url": srv.base_url}}, [T.test_image(text="SALE")])
        server = T.Server(env.app)
        try:
            with sync_playwright() as p:
                b = p.chromium.launch(executable_path=shutil.which("chromium"), headless=True, args=T.CHROMIUM_ARGS)
                ctx = b.new_context(bypass_csp=True, viewport={"width": 1200, "height": 900})
                assert ctx.request.post(f"{server.url}/api/auth/login",
                                        data={"username": "ann", "password": "ann-password-123"}).ok
                page = ctx.new_page()
                page.goto(f"{server.url}/campaigns/{cid}/annotate")
                page.wait_for_function("document.body.dataset.amaReady === '1'")
                img = page.locator(".ama-stage img")
                box = img.bounding_box()
                page.mouse.click(box["x"] + box["width"] * 0.25, box["y"] + box["height"] * 0.5)
                page.fill(".ama-group-label", "the word sale")
                page.fill("#ama-question", "What does the sign say?")
                page.click("#ama-ask")
                page.wait_for_function("document.body.dataset.amaRound === '1'")
                assert "SALE" in page.locator("#ama-draft").inner_text()
                page.click("#ama-accept")
                page.wait_for_selector("#done:not([hidden])", timeout=10000)
                b.close()
        finally:
            server.stop()
        m = re.search(r"\[1\] the word sale: \(([0-9.]+)%, ([0-9.]+)%\)", srv.chat_requests()[0]["messages"][1]["content"])
        assert m and abs(float(m.group(1)) - 25) < 1.5 and abs(float(m.group(2)) - 50) < 1.5
    c = TestClient(env.app)
    aid = c.get(f"/api/campaigns/{cid}/review", headers=env.headers("rev")).json()[0]["assignment_id"]
    assert c.post(f"/api/assignments/{aid}/review", headers=env.headers("rev"), json={"decision": "accept"}).status_code == 200
    r = c.post(f"/api/campaigns/{cid}/export/shards", headers=env.headers("admin"))
    rec = next(iter_samples(r.json()["manifest"].rsplit("/", 1)[0])).annotations[0].record
    assert rec.parsed_response == f"The word {POINT_PLACEHOLDER} is printed in black on a white sign."
    assert rec.alt_text == ["the word sale"] and rec.inline_text == ["SALE"]
    (x, y), = rec.points[0]
    assert len(rec.points) == 1 and abs(x - 25) < 1.5 and abs(y - 50) < 1.5
    assert rec.response == (f'The word <point x="{x:.1f}" y="{y:.1f}" alt="the word sale">SALE</point> '
                            "is printed in black on a white sign.")
