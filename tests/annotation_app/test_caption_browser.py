"""Caption task in Chromium with a fake microphone playing espeak-ng speech: record, chunked upload,
transcription (bundled Whisper), cleanup through the local OpenAI-compatible server, review,
export with caption, transcript and audio; and a reload in the middle of a recording."""

from __future__ import annotations

import shutil
import time
import wave

import pytest
from sqlalchemy import select

from annotation_app.db import read_tx
from annotation_app.speech import testing as T
from annotation_app.speech.models import Chunk, Recording
from pixmo import stt
from pixmo.llm import LLMSettings
from pixmo.shards import iter_samples
from pixmo.testing import serve

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("caption_browser"),
              pytest.mark.skipif(not (shutil.which("chromium") and shutil.which("espeak-ng")),
                                 reason="needs chromium and espeak-ng")]
SPOKEN = ("There are three red apples and a blue cup next to an open book. "
          "The wall behind the table is painted yellow.")
CLEANED = "Three red apples and a blue cup sit next to an open book in front of a yellow wall."
CFG = {"speech": {"min_seconds": 2, "target_seconds": 5, "chunk_seconds": 1, "min_words": 5, "cleanup": "auto"}}


def _seconds(path) -> float:
    with wave.open(str(path)) as w:
        return w.getnframes() / w.getframerate()


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("capbrowser")
    env = T.make_env(tmp)
    llm = serve(CLEANED)
    worker = T.WorkerThread(env.engine, env.media, stt_config=stt.STTConfig.tiny(),
                            llm_settings=LLMSettings.tiny(llm.base_url, cache_dir="", model="fake-cleaner"))
    server = T.Server(env.app)
    yield env, server, llm, tmp
    server.stop()
    worker.stop()
    llm.stop()


def _browser(p, wav):
    return p.chromium.launch(executable_path=shutil.which("chromium"), headless=True, args=T.fake_mic_args(wav))


def _login(ctx, server, user):
    r = ctx.request.post(f"{server.url}/api/auth/login", data={"username": user, "password": f"{user}-password-123"})
    assert r.ok, r.text()


def _recording(env, cid):
    with read_tx(env.engine) as conn:
        rec = conn.execute(select(Recording.__table__).where(Recording.campaign_id == cid)).first()
        chunks = conn.execute(select(Chunk.__table__).where(Chunk.recording_id == rec.id)).all() if rec else []
    return rec, chunks


def test_record_transcribe_clean_review_export(stack):
    from playwright.sync_api import sync_playwright

    env, server, llm, tmp = stack
    wav = T.espeak_wav(SPOKEN, tmp / "say.wav")
    cid = env.campaign("caption", CFG, [T.test_image(7)])
    with sync_playwright() as p:
        b = _browser(p, wav)
        ctx = b.new_context(permissions=["microphone"], bypass_csp=True)
        _login(ctx, server, "ann")
        page = ctx.new_page()
        page.goto(f"{server.url}/campaigns/{cid}/annotate")
        page.wait_for_selector("#caption-consent-agree").click()
        page.wait_for_selector("#caption-record:not([disabled])").click()
        page.wait_for_function("document.body.dataset.captionState === 'recording'")
        assert page.locator(".caption-questions li").count() == 7
        time.sleep(_seconds(wav) + 1.2)
        page.wait_for_function("Number(document.getElementById('task-root').dataset.level) < -40")  # file ended
        assert float(page.locator("#task-root").get_attribute("data-level-max") or -200) > -35  # meter saw speech
        assert page.locator("#caption-timer").inner_text().startswith("0:")
        assert "0:00" not in page.locator("#caption-timer").inner_text()
        page.click("#caption-stop")
        page.wait_for_function("document.body.dataset.captionState === 'ready'", timeout=60000)
        transcript = page.locator("#caption-transcript").inner_text()
        assert stt.wer(SPOKEN, transcript) <= 0.25, transcript
        assert page.locator("#caption-caption").inner_text() == CLEANED
        rec, chunks = _recording(env, cid)
        assert len(chunks) >= 5 and rec.mime.startswith("audio/webm")
        assert rec.cleanup["method"] == "llm" and rec.cleanup["endpoint"] == llm.base_url
        assert SPOKEN.split()[3] in llm.chat_requests()[0]["messages"][-1]["content"].lower()
        page.click("#submit")
        page.wait_for_function("!document.body.dataset.assignmentId", timeout=10000)

        rctx = b.new_context(bypass_csp=True)
        _login(rctx, server, "rev")
        rpage = rctx.new_page()
        rpage.goto(f"{server.url}/api/tasks/caption/review/{cid}")
        rpage.wait_for_function("document.body.dataset.ready === '1'")
        assert rpage.locator(".caption-diff del, .caption-diff ins").count() > 0
        assert rpage.locator("audio").count() == 1
        rpage.click(".review-entry .accept")
        rpage.wait_for_function("document.body.dataset.reviewed === '1'")
        b.close()
    r = T.TestClientFor(env).post(f"/api/campaigns/{cid}/export/shards", headers=env.headers("admin"))
    assert r.status_code == 200, r.text
    samples = list(iter_samples(r.json()["manifest"].rsplit("/", 1)[0]))
    ann = samples[0].annotations[0]
    assert ann.subset == "pixmo-cap" and ann.record.caption == CLEANED and ann.record.transcripts == [transcript]
    audio = samples[0].extras[ann.meta["audio_member"]]
    assert audio == env.media.get(rec.audio_key) and abs(len(stt.decode_audio(audio)) / 16000 - _seconds(wav)) < 2.5


def test_reload_mid_recording_keeps_chunks_and_resumes(stack):
    from playwright.sync_api import sync_playwright

    env, server, _llm, tmp = stack
    wav = T.espeak_wav(SPOKEN, tmp / "say2.wav")
    cid = env.campaign("caption", CFG, [T.test_image(8)])
    with sync_playwright() as p:
        b = _browser(p, wav)
        ctx = b.new_context(permissions=["microphone"], bypass_csp=True)
        _login(ctx, server, "ann2")
        page = ctx.new_page()
        page.goto(f"{server.url}/campaigns/{cid}/annotate")
        page.wait_for_selector("#caption-consent-agree").click()
        page.wait_for_selector("#caption-record:not([disabled])").click()
        page.wait_for_function("Number(document.body.dataset.chunks || 0) >= 3", timeout=15000)
        _, before = _recording(env, cid)
        page.reload()  # the tab goes away mid-recording
        page.wait_for_function("document.body.dataset.captionState === 'resumable'", timeout=15000)
        assert "already saved" in page.locator("#caption-status").inner_text()
        _, kept = _recording(env, cid)
        assert {c.media_key for c in before} <= {c.media_key for c in kept}
        page.click("#caption-record")
        page.wait_for_function("Number(document.body.dataset.chunks || 0) >= 3", timeout=15000)
        page.click("#caption-stop")
        page.wait_for_function("['ready', 'processing'].includes(document.body.dataset.captionState)", timeout=30000)
        b.close()
    rec, chunks = _recording(env, cid)
    segs = {c.segment for c in chunks}
    assert segs == {0, 1} and rec.audio_key and rec.status in ("queued", "transcribed", "cleaned")
    first = sum(1 for c in kept if c.segment == 0)
    assert rec.duration_s >= first * 1.0 - 1.5  # the first part is in the assembled audio
    assert all(env.media.exists(c.media_key) for c in chunks)
