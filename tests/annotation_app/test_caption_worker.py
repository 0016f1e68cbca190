"""The speech worker: killed mid-transcription, the job completes exactly once after a restart;
retries of a failing cleanup; retention deletes audio (and keeps the text); consent withdrawal."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from annotation_app import jobs
from annotation_app.db import read_tx
from annotation_app.models import AuditLog, Job
from annotation_app.speech import testing as T
from annotation_app.speech.models import Chunk, Recording
from annotation_app.speech.worker import SpeechWorker
from pixmo import stt
from pixmo.llm import LLMSettings
from pixmo.testing import Reply, serve

SPOKEN = "A brown dog is sitting on green grass next to a red ball and a small wooden fence."
LONG = ("In the middle of the picture a brown dog sits on green grass. To its left lies a red ball. "
        "Behind the dog runs a small wooden fence with white paint peeling off. "
        "Two tall trees stand in the background under a cloudy grey sky. "
        "On the right there is a blue bicycle leaning against a lamp post. "
        "A sign on the post says park closes at sunset in black letters. "
        "The photo looks like it was taken in the late afternoon with warm light.")
BASE = {"min_seconds": 2, "chunk_seconds": 1, "min_words": 3}


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    return T.make_env(tmp_path_factory.mktemp("capworker"))


@pytest.fixture(scope="module")
def long_speech(tmp_path_factory) -> bytes:
    return T.espeak_wav(LONG, tmp_path_factory.mktemp("w") / "long.wav", rate=16000).read_bytes()


@pytest.fixture(scope="module")
def speech(tmp_path_factory) -> np.ndarray:
    return stt.decode_audio(T.espeak_wav(SPOKEN, tmp_path_factory.mktemp("w") / "s.wav", rate=16000).read_bytes())


def _finalized(env, speech_cfg, audio: bytes, user="ann") -> tuple[int, int]:
    c = TestClient(env.app)
    cid = env.campaign("caption", {"speech": speech_cfg}, [T.test_image(np.random.randint(1 << 30))])
    h = env.headers(user)
    aid = c.post(f"/api/campaigns/{cid}/claim", headers=h, json={}).json()["assignment"]["assignment_id"]
    c.post("/api/tasks/caption/consent", headers=h, json={"agree": True})
    rid = c.post("/api/tasks/caption/recordings", headers=h, json={"assignment_id": aid, "mime": "audio/wav"}).json()[
        "recording_id"]
    r = c.put(f"/api/tasks/caption/recordings/{rid}/chunks/0/0", content=audio,
              headers={**h, "X-Chunk-Sha256": hashlib.sha256(audio).hexdigest()})
    assert r.status_code == 200, r.text
    r = c.post(f"/api/tasks/caption/recordings/{rid}/finalize", headers=h)
    assert r.status_code == 200, r.text
    return cid, rid


def _jobs(env, kind):
    with read_tx(env.engine) as conn:
        return conn.execute(select(Job.__table__).where(Job.kind == kind).order_by(Job.id)).all()


def _rec(env, rid):
    with read_tx(env.engine) as conn:
        return conn.execute(select(Recording.__table__).where(Recording.id == rid)).one()


def _worker_cmd(env, *extra):
    return [sys.executable, "-m", "annotation_app.speech.worker", "--database-url", str(env.engine.url),
            "--media-root", str(env.root / "media"), "--lease-s", "2", "--poll-s", "0.1", *extra]


def test_worker_killed_mid_transcription_completes_exactly_once(env, long_speech):
    long = long_speech  # ~30 s of speech: seconds of decoding on one thread
    _cid, rid = _finalized(env, {**BASE, "cleanup": "rules"}, long)
    procenv = {**os.environ, "PIXMO_STT_BEAM_SIZE": "5", "PIXMO_STT_CPU_THREADS": "1"}
    proc = subprocess.Popen(_worker_cmd(env), env=procenv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            job = [j for j in _jobs(env, "speech.transcribe") if j.payload["recording_id"] == rid][0]
            if job.status == "running":
                break
            time.sleep(0.05)
        time.sleep(0.7)
        assert _rec(env, rid).transcript is None, "the worker finished before it could be killed"
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    job = [j for j in _jobs(env, "speech.transcribe") if j.payload["recording_id"] == rid][0]
    assert job.status == "running" and job.attempts == 1 and _rec(env, rid).transcript is None
    time.sleep(max(0.0, job.lease_expires_at - time.time()) + 0.1)  # the dead worker's lease runs out
    subprocess.run(_worker_cmd(env, "--once"), env=procenv, check=True, timeout=120,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    job = [j for j in _jobs(env, "speech.transcribe") if j.payload["recording_id"] == rid][0]
    assert job.status == "done" and job.attempts == 2
    rec = _rec(env, rid)
    assert rec.status == "cleaned" and stt.wer(LONG, rec.transcript) <= 0.25
    with read_tx(env.engine) as conn:
        n = conn.execute(select(func.count()).select_from(AuditLog).where(
            AuditLog.action == "speech.transcribed", AuditLog.object_id == str(rid))).scalar()
    assert n == 1
    assert len([j for j in _jobs(env, "speech.cleanup") if j.payload["recording_id"] == rid]) == 1
    # running the same job again stores nothing new
    again = SpeechWorker(env.engine, env.media).transcribe(dict(job._mapping))
    assert again["skipped"] == "already transcribed"


def test_llm_cleanup_is_retried_then_succeeds(env, speech):
    _cid, rid = _finalized(env, {**BASE, "cleanup": "llm"}, stt.wav_bytes(speech))
    with serve([Reply(status=503), Reply(status=503), "A brown dog sits on green grass near a red ball."]) as srv:
        w = SpeechWorker(env.engine, env.media, stt.STTConfig.tiny(),
                         LLMSettings.tiny(srv.base_url, cache_dir="", max_retries=0))
        stop = threading.Event()
        for _ in range(4):
            jobs.run_worker(env.engine, w.handlers(), stop, once=True)
            with read_tx(env.engine) as conn:
                conn.execute(Job.__table__.update().where(Job.status == "queued").values(run_after=0))
        rec = _rec(env, rid)
        assert rec.status == "cleaned" and rec.caption.startswith("A brown dog")
        job = [j for j in _jobs(env, "speech.cleanup") if j.payload["recording_id"] == rid][0]
        assert job.status == "done" and job.attempts == 3 and "503" in (job.error or "")


def test_retention_deletes_audio_and_keeps_text(env, speech):
    _cid, rid = _finalized(env, {**BASE, "cleanup": "rules", "retention_days": 1 / 86400}, stt.wav_bytes(speech))
    w = SpeechWorker(env.engine, env.media, stt.STTConfig.tiny())
    jobs.run_worker(env.engine, w.handlers(), threading.Event(), once=True)
    rec = _rec(env, rid)
    with read_tx(env.engine) as conn:
        keys = [c.media_key for c in conn.execute(select(Chunk.__table__).where(Chunk.recording_id == rid)).all()]
    assert rec.audio_key and env.media.exists(rec.audio_key) and all(env.media.exists(k) for k in keys)
    time.sleep(max(0.0, rec.delete_after - time.time()) + 0.05)
    r = TestClient(env.app).post("/api/tasks/caption/retention/run", headers=env.headers("admin"))
    assert r.status_code == 200 and r.json()["recordings"] >= 1
    after = _rec(env, rid)
    assert after.audio_key is None and after.deleted_at and after.transcript == rec.transcript
    assert not env.media.exists(rec.audio_key) and not any(env.media.exists(k) for k in keys)
    a = TestClient(env.app).get(f"/api/tasks/caption/recordings/{rid}/audio", headers=env.headers("admin"))
    assert a.status_code == 404 and "retention" in a.json()["detail"]


def test_consent_withdrawal_blocks_new_recordings(env):
    c = TestClient(env.app)
    h = env.headers("ann2")
    assert c.post("/api/tasks/caption/consent", headers=h, json={"agree": True}).json()["consented"]
    assert not c.post("/api/tasks/caption/consent", headers=h, json={"agree": False}).json()["consented"]
    cid = env.campaign("caption", {"speech": BASE}, [T.test_image(99)])
    aid = c.post(f"/api/campaigns/{cid}/claim", headers=h, json={}).json()["assignment"]["assignment_id"]
    r = c.post("/api/tasks/caption/recordings", headers=h, json={"assignment_id": aid, "mime": "audio/webm"})
    assert r.status_code == 403 and "consent" in r.json()["detail"]


def test_long_work_keeps_its_job_leased(env):
    from annotation_app.db import write_tx

    with write_tx(env.engine) as conn:
        jobs.enqueue(conn, "speech.test_lease", f"lease-{time.monotonic_ns()}", {})
    job = jobs.claim_job(env.engine, ["speech.test_lease"], "w1", lease_s=0.6)
    w = SpeechWorker(env.engine, env.media, lease_s=0.6)
    with w._leased(job):
        time.sleep(1.5)  # longer than the lease: it must have been renewed
        assert jobs.claim_job(env.engine, ["speech.test_lease"], "w2", lease_s=0.6) is None
    time.sleep(0.8)  # no renewal after the work: another worker may take it now
    assert jobs.claim_job(env.engine, ["speech.test_lease"], "w2", lease_s=0.6)["worker"] == "w2"
