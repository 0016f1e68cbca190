"""Ask-model-anything end to end in Chromium with the local OpenAI-compatible server: question,
draft, reject with feedback, revised draft, accept and submit; every draft stored and exported."""

from __future__ import annotations

import shutil

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from annotation_app.db import read_tx
from annotation_app.speech import testing as T
from annotation_app.speech.models import AmaDraft
from pixmo.shards import iter_samples
from pixmo.testing import serve

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not (shutil.which("chromium") and shutil.which("tesseract")),
                                 reason="needs chromium and tesseract")]
DRAFTS = ["The sign says the shop is closed.", "The sign says the shop is open every day from nine to five."]


def test_ama_question_reject_revise_accept_export(tmp_path):
    from playwright.sync_api import sync_playwright

    env = T.make_env(tmp_path)
    with serve(DRAFTS) as srv:
        cid = env.campaign("ama", {"ama": {"llm_base_url": srv.base_url}}, [T.test_image(text="OPEN 9-5")],
                           image_urls=["https://example.org/shop.png"])
        server = T.Server(env.app)
        try:
            with sync_playwright() as p:
                b = p.chromium.launch(executable_path=shutil.which("chromium"), headless=True, args=T.CHROMIUM_ARGS)
                ctx = b.new_context(bypass_csp=True)
                r = ctx.request.post(f"{server.url}/api/auth/login", data={"username": "ann", "password": "ann-password-123"})
                assert r.ok
                page = ctx.new_page()
                page.goto(f"{server.url}/campaigns/{cid}/annotate")
                page.wait_for_function("document.body.dataset.amaReady === '1'")
                page.fill("#ama-question", "What are the opening hours?")
                page.click("#ama-ask")
                page.wait_for_function("document.body.dataset.amaRound === '1'")
                assert page.locator("#ama-draft").inner_text() == DRAFTS[0]
                page.fill("#ama-feedback", "Wrong: the sign says OPEN 9-5.")
                page.click("#ama-reject")
                page.wait_for_function("document.body.dataset.amaRound === '2'")
                assert page.locator("#ama-draft").inner_text() == DRAFTS[1]
                page.click("#ama-accept")
                page.wait_for_selector("#done:not([hidden])", timeout=10000)
                b.close()
        finally:
            server.stop()
        assert "OPEN 9-5" in srv.chat_requests()[0]["messages"][1]["content"]  # OCR reached the LLM
    with read_tx(env.engine) as conn:
        drafts = conn.execute(select(AmaDraft.__table__).order_by(AmaDraft.id)).all()
    assert [(d.round, d.answer, d.decision) for d in drafts] == [(1, DRAFTS[0], "rejected"), (2, DRAFTS[1], "accepted")]
    assert drafts[0].feedback == "Wrong: the sign says OPEN 9-5." and drafts[1].decided_at >= drafts[1].shown_at
    c = TestClient(env.app)
    aid = c.get(f"/api/campaigns/{cid}/review", headers=env.headers("rev")).json()[0]["assignment_id"]
    assert c.post(f"/api/assignments/{aid}/review", headers=env.headers("rev"), json={"decision": "accept"}).status_code == 200
    r = c.post(f"/api/campaigns/{cid}/export/shards", headers=env.headers("admin"))
    assert r.status_code == 200, r.text
    ann = next(iter_samples(r.json()["manifest"].rsplit("/", 1)[0])).annotations[0]
    assert ann.subset == "pixmo-ask-model-anything" and ann.record.image_url == "https://example.org/shop.png"
    assert ann.record.question == "What are the opening hours?" and ann.record.answer == DRAFTS[1]
    assert [d["answer"] for d in ann.meta["drafts"]] == DRAFTS and ann.meta["edit_distance"] == 0
    assert ann.meta["time_to_decision_ms"] >= 0 and ann.meta["final_source"] == "accepted_draft"
