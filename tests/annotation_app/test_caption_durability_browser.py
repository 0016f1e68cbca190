"""No recorded second of speech is lost: in Chromium with a fake microphone, a network outage in
the middle of a recording (longer than any fixed retry budget), then a second drop while "Stop and
send" uploads and a reload of the page while chunks are still not uploaded, still end in a
submitted caption whose audio is the whole recording. The chunks wait in IndexedDB until the
server acknowledges them."""

from __future__ import annotations

import shutil
import time

import pytest
from sqlalchemy import select

from annotation_app.db import read_tx
from annotation_app.models import Submission
from annotation_app.speech import testing as T
from annotation_app.speech.models import Recording
from pixmo import stt

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("caption_browser"),
              pytest.mark.skipif(not (shutil.which("chromium") and shutil.which("espeak-ng")),
                                 reason="needs chromium and espeak-ng")]
SENTENCES = ["There are three red apples and a blue cup next to an open book.",
             "The wall behind the table is painted yellow and a clock hangs on it.",
             "On the left a small plant stands in a white pot near the window.",
             "The light comes from the right side and casts soft shadows on the wood."]
CFG = {"speech": {"min_seconds": 2, "target_seconds": 5, "chunk_seconds": 1, "min_words": 5, "cleanup": "rules"}}


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("capdurable")
    env = T.make_env(tmp)
    worker = T.WorkerThread(env.engine, env.media, stt_config=stt.STTConfig.tiny())
    server = T.Server(env.app)
    yield env, server, tmp
    server.stop()
    worker.stop()


def _wait(page, js, timeout=30000):
    page.wait_for_function(js, timeout=timeout)


def _until(t0, at):
    time.sleep(max(0.0, t0 + at - time.monotonic()))


def _run(stack, total, off_at, off_len, drop_at, name):
    from playwright.sync_api import sync_playwright

    env, server, tmp = stack
    words = " ".join(SENTENCES * (1 + int(total // 18)))
    wav = T.espeak_wav(words, tmp / f"{name}.wav")
    cid = env.campaign("caption", CFG, [T.test_image(21)], name=name)
    user = "ann"
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=shutil.which("chromium"), headless=True, args=T.fake_mic_args(wav))
        ctx = b.new_context(permissions=["microphone"], bypass_csp=True)
        r = ctx.request.post(f"{server.url}/api/auth/login", data={"username": user, "password": f"{user}-password-123"})
        assert r.ok
        page = ctx.new_page()
        page.goto(f"{server.url}/campaigns/{cid}/annotate")
        consent = page.locator("#caption-consent-agree")
        page.wait_for_selector("#caption-consent-agree, #caption-record:not([disabled])")
        if consent.count() and consent.is_visible():
            consent.click()
        page.wait_for_selector("#caption-record:not([disabled])").click()
        _wait(page, "document.body.dataset.captionState === 'recording'")
        t0 = time.monotonic()
        _until(t0, off_at)
        ctx.set_offline(True)  # the outage: every upload fails, for longer than a fixed retry budget
        _until(t0, off_at + off_len)
        assert int(page.evaluate("document.body.dataset.pending || '0'")) >= 2
        assert "not uploaded yet" in page.locator("#caption-pending").inner_text()
        ctx.set_offline(False)
        _until(t0, drop_at)
        page.route("**/chunks/**", lambda route: route.abort("internetdisconnected"))  # a second drop
        _until(t0, total)
        page.click("#caption-stop")
        _wait(page, "Number(document.body.dataset.pending || 0) >= 2")
        page.reload()  # the page goes away with chunks not uploaded
        _wait(page, "document.body.dataset.captionState === 'resumable'")
        _wait(page, "Number(document.body.dataset.pending || 0) >= 2")
        assert "not uploaded yet" in page.locator("#caption-pending").inner_text()
        page.unroute("**/chunks/**")
        _wait(page, "document.body.dataset.pending === '0'", timeout=60000)
        page.click("#caption-stop")  # "Send what is recorded"
        _wait(page, "document.body.dataset.captionState === 'ready'", timeout=180000)
        page.click("#submit")
        _wait(page, "!document.body.dataset.assignmentId")
        b.close()
    with read_tx(env.engine) as conn:
        rec = conn.execute(select(Recording.__table__).where(Recording.campaign_id == cid)).one()
        sub = conn.execute(select(Submission.__table__).where(Submission.campaign_id == cid)).one()
    assert sub.payload["recording_id"] == rec.id and sub.payload["audio_key"] == rec.audio_key
    seconds = len(stt.decode_audio(env.media.get(rec.audio_key))) / 16000
    assert seconds >= total - 1.5, (seconds, total)  # the whole recording, outage and reload included
    return seconds


def test_outage_and_reload_lose_no_speech_short(stack):
    """The default-suite variant: 16 s of recording, a 6 s outage, a drop and a reload."""
    _run(stack, total=16, off_at=3, off_len=6, drop_at=13, name="durable-short")


@pytest.mark.slow
def test_25s_outage_in_70s_recording_then_reload_keeps_all_70s(stack):
    seconds = _run(stack, total=70, off_at=20, off_len=25, drop_at=66, name="durable-70s")
    print(f"submitted audio: {seconds:.1f} s of 70 s recorded")
