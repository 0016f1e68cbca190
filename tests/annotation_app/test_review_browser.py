"""A reviewer reviews every task type in Chromium, starting from the home page: pointing and
counting (points on an image scaled to the viewport, flags), spoken caption (audio, transcript ->
caption diff, duration, flags), AMA (question, drafts, final answer) and pairwise (prompt, both
answers, vote); keys A (accept) and X (reject with a reason) work; filters; their own work is not
listed. Screenshots of each page are kept in out/test-artifacts/annotation_app/."""

from __future__ import annotations

import hashlib
import io
import shutil
import time
import wave

import numpy as np
import pytest
from sqlalchemy import insert, select, update

from annotation_app.campaigns import CampaignIn, add_image, create_campaign, get_campaign_row
from annotation_app.db import read_tx, write_tx
from annotation_app.models import Assignment, Item
from annotation_app.speech import testing as T
from annotation_app.speech.models import AmaDraft, Recording
from tests.annotation_app.artifacts import ARTIFACTS
from tests.annotation_app.conftest import PASSWORD, png

pytestmark = [pytest.mark.browser, pytest.mark.skipif(not shutil.which("chromium"), reason="needs chromium")]


def _wav(seconds=2.0, rate=16000) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(rate)
        w.writeframes((0.3 * 32767 * np.sin(2 * np.pi * 220 * t)).astype("<i2").tobytes())
    return buf.getvalue()


def _campaign(ctx, name, task_type, config=None, images=((64, 48),)):
    with write_tx(ctx.app.state.engine) as conn:
        cid = create_campaign(conn, CampaignIn(name=name, task_type=task_type, config=config or {}), ctx.user_ids["admin"])
        c = get_campaign_row(conn, cid)
        if task_type != "pairwise":
            for i, (w, h) in enumerate(images):
                add_image(conn, ctx.app.state.media, c, png(w, h, seed=50 + i))
    return cid


def _claim_submit(ctx, who, cid, payload, duration_ms=5000, key=None):
    c = ctx.client(who)
    a = c.post(f"/api/campaigns/{cid}/claim", json={}).json()["assignment"]
    aid = a["assignment_id"]
    if callable(payload):
        payload = payload(aid)
    r = c.post(f"/api/assignments/{aid}/submit", json={"client_key": key or f"k-{cid}-{who}", "payload": payload,
                                                        "duration_ms": duration_ms})
    assert r.status_code == 200, r.text
    return aid


def _seed(ctx):
    e = ctx.app.state.engine
    ids = {"pointing": ctx.campaign_id}
    _claim_submit(ctx, "annotator", ctx.campaign_id, {"label": "red square", "points": [{"x": 10.0, "y": 12.0}]})
    _claim_submit(ctx, "reviewer", ctx.campaign_id, {"label": "own work", "points": [{"x": 5.0, "y": 5.0}]})
    ids["counting"] = _campaign(ctx, "verify-big", "counting", {"label": "apple"}, images=((3000, 2000),))
    with write_tx(e) as conn:
        conn.execute(update(Item).where(Item.campaign_id == ids["counting"]).values(
            spec={"label": "apple", "prefill": [[500.0, 400.0], [2500.0, 1500.0]]}))
    _claim_submit(ctx, "annotator", ids["counting"], {"label": "", "points": [{"x": 500.0, "y": 400.0},
                                                                              {"x": 2500.0, "y": 1500.0}]})
    ids["caption"] = _campaign(ctx, "captions", "caption")
    audio = _wav()

    def caption(aid):
        with write_tx(e) as conn:
            rid = conn.execute(insert(Recording.__table__).values(
                campaign_id=ids["caption"], item_id=4, assignment_id=aid, user_id=ctx.user_ids["annotator"],
                status="cleaned", mime="audio/wav", bytes=len(audio), elapsed_ms=2000, created_at=time.time(),
                duration_s=2.0, speech_s=1.5, transcript="um there is a a red square on the left",
                caption="A red square is on the left.", stt={"model": "whisper-tiny"}, cleanup={"method": "rules"},
                flags=[{"code": "short_transcript", "message": "the transcript has 9 words (minimum 50)"}],
                audio_sha256=hashlib.sha256(audio).hexdigest())).inserted_primary_key[0]
            key = f"audio/rec/r{rid}-abc.wav"
            conn.execute(update(Recording).where(Recording.id == rid).values(audio_key=key))
        ctx.app.state.media.put(key, audio)
        return {"recording_id": rid, "caption": "x", "transcript": "x"}

    _claim_submit(ctx, "annotator", ids["caption"], caption)
    ids["ama"] = _campaign(ctx, "ama-qs", "ama")

    def ama(aid):
        with write_tx(e) as conn:
            did = conn.execute(insert(AmaDraft.__table__).values(
                assignment_id=aid, item_id=5, user_id=ctx.user_ids["annotator"], round=1, question="What colour is it?",
                answer="It is red.", context={}, llm={"model": "m"}, decision="pending",
                shown_at=time.time() - 30)).inserted_primary_key[0]
        return ctx.client("annotator").post(f"/api/tasks/ama/drafts/{did}/accept").json()

    _claim_submit(ctx, "annotator", ids["ama"], ama)
    ids["pairwise"] = _campaign(ctx, "pairs", "pairwise")
    with write_tx(e) as conn:
        src = conn.execute(select(Item.__table__).where(Item.campaign_id == ctx.campaign_id)).first()
        conn.execute(insert(Item.__table__).values(
            campaign_id=ids["pairwise"], source_key="p1", media_key=src.media_key, image_sha256=src.image_sha256,
            image_url="", width=src.width, height=src.height, priority=100, overlap=1, taken=0,
            spec={"prompt": "Describe the image.", "answer_a": "A red square.", "answer_b": "A blue circle."}))
    _claim_submit(ctx, "annotator", ids["pairwise"], {"choice": "a", "reason": "B is wrong"})
    return ids


def _open_review(page, url, name):
    page.goto(f"{url}/")
    page.wait_for_selector(f'tr[data-campaign="{name}"] a.review-link').click()
    page.wait_for_function("document.body.dataset.ready === '1'")


def _fits_viewport(page):
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


def test_reviewer_reviews_every_task_type_from_the_home_page(appctx):
    from playwright.sync_api import sync_playwright

    ids = _seed(appctx)
    server = T.Server(appctx.app)
    shots = []
    try:
        with sync_playwright() as p:
            b = p.chromium.launch(executable_path=shutil.which("chromium"), headless=True, args=T.CHROMIUM_ARGS)
            ctx = b.new_context(bypass_csp=True, viewport={"width": 1280, "height": 900})
            assert ctx.request.post(f"{server.url}/api/auth/login", data={"username": "reviewer", "password": PASSWORD}).ok
            page = ctx.new_page()
            url = server.url

            _open_review(page, url, "c1")  # pointing: the reviewer's own answer is not listed
            assert page.locator(".review-entry").count() == 1
            assert "red square: 1 points" in page.locator(".review-entry .summary").inner_text()
            assert page.locator(".review-entry .thumb .pt").count() == 1
            shots.append(_shot(page, "pointing"))
            page.keyboard.press("a")
            page.wait_for_function("document.body.dataset.reviewed === '1'")

            _open_review(page, url, "verify-big")  # counting: a 3000 px image fits the page
            assert _fits_viewport(page)
            assert "submitted unchanged" in page.locator(".review-flag").inner_text()
            page.check("#filter-flagged")
            page.wait_for_function("document.body.dataset.ready === '1' && document.querySelectorAll('.review-entry').length === 1")
            page.fill("#filter-annotator", "nobody")
            page.click("#filter-form button[type=submit]")
            page.wait_for_function("document.body.dataset.ready === '1' && !document.getElementById('review-empty').hidden")
            page.fill("#filter-annotator", "annotator")
            page.click("#filter-form button[type=submit]")
            page.wait_for_function("document.body.dataset.ready === '1' && document.querySelectorAll('.review-entry').length === 1")
            shots.append(_shot(page, "counting"))
            page.keyboard.press("a")
            page.wait_for_function("document.body.dataset.reviewed === '1'")

            _open_review(page, url, "captions")  # caption: audio, diff, duration, flags
            assert page.locator(".review-entry audio").count() == 1
            assert page.locator(".caption-diff del, .caption-diff ins").count() > 0
            assert "2.0 s audio" in page.locator(".review-entry .summary").inner_text()
            assert "9 words" in page.locator(".review-flag").inner_text()
            assert page.evaluate("fetch(document.querySelector('audio').src).then(r => r.status)") == 200
            assert _fits_viewport(page)
            shots.append(_shot(page, "caption"))
            page.keyboard.press("x")  # reject needs a reason: X focuses it, Enter sends
            page.keyboard.type("the caption adds words that were not said")
            page.keyboard.press("Enter")
            page.wait_for_function("document.body.dataset.reviewed === '1'")

            _open_review(page, url, "ama-qs")  # AMA: question, drafts, final answer
            assert "What colour is it?" in page.locator(".review-entry .summary").inner_text()
            assert page.locator(".ama-drafts li.accepted").count() == 1
            assert "It is red." in page.locator(".review-entry").inner_text()
            shots.append(_shot(page, "ama"))
            page.keyboard.press("a")
            page.wait_for_function("document.body.dataset.reviewed === '1'")

            _open_review(page, url, "pairs")  # pairwise: prompt, both answers, the vote
            text = page.locator(".review-entry").inner_text()
            assert "Describe the image." in text and "A blue circle." in text and "A is better" in text
            shots.append(_shot(page, "pairwise"))
            page.keyboard.press("a")
            page.wait_for_function("document.body.dataset.reviewed === '1'")
            b.close()
    finally:
        server.stop()
    with read_tx(appctx.app.state.engine) as conn:
        states = dict(conn.execute(select(Assignment.campaign_id, Assignment.status)
                                   .where(Assignment.status.in_(["accepted", "rejected"]))).all())
    assert states == {ids["pointing"]: "accepted", ids["counting"]: "accepted", ids["caption"]: "rejected",
                      ids["ama"]: "accepted", ids["pairwise"]: "accepted"}
    assert all(s.exists() and s.stat().st_size > 1000 for s in shots)


def _shot(page, name):
    path = ARTIFACTS / f"review-{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
