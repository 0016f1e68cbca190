"""Caption task through the HTTP API: consent, chunked upload, resume, bad audio, worker, export."""

from __future__ import annotations

import hashlib
import shutil
import threading

import pytest
from fastapi.testclient import TestClient

from annotation_app import jobs
from annotation_app.export import export_shards
from annotation_app.speech import testing as T
from annotation_app.speech.worker import SpeechWorker
from pixmo import stt
from pixmo.shards import iter_samples

pytestmark = pytest.mark.skipif(not shutil.which("espeak-ng"), reason="espeak-ng is not installed")
SPOKEN = ("In this picture there are three red apples and a blue cup on a wooden table. "
          "Behind the table there is a window with white curtains.")
CFG = {"speech": {"min_seconds": 2, "target_seconds": 4, "chunk_seconds": 1, "min_words": 5, "cleanup": "rules",
                  "max_audio_bytes": 3_000_000}}


@pytest.fixture(scope="module")
def wav_bytes(tmp_path_factory) -> bytes:
    return T.espeak_wav(SPOKEN, tmp_path_factory.mktemp("cap") / "say.wav", rate=16000).read_bytes()


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    return T.make_env(tmp_path_factory.mktemp("capenv"))


def _claim(client, env, cid, user="ann"):
    r = client.post(f"/api/campaigns/{cid}/claim", headers=env.headers(user), json={"exclude": []})
    assert r.status_code == 200, r.text
    return r.json()["assignment"]["assignment_id"]


def _put(client, env, rid, seg, seq, data, user="ann", sha=None):
    h = {**env.headers(user), "X-Chunk-Sha256": sha or hashlib.sha256(data).hexdigest(), "X-Elapsed-Ms": "1000"}
    return client.put(f"/api/tasks/caption/recordings/{rid}/chunks/{seg}/{seq}", content=data, headers=h)


def _split(data: bytes, n: int) -> list[bytes]:
    k = -(-len(data) // n)
    return [data[i:i + k] for i in range(0, len(data), k)]


def test_record_upload_transcribe_review_export(env, wav_bytes, tmp_path):
    client = TestClient(env.app)
    cid = env.campaign("caption", CFG, [T.test_image(1)])
    aid = _claim(client, env, cid)
    r = client.post("/api/tasks/caption/recordings", headers=env.headers("ann"), json={"assignment_id": aid, "mime": "audio/wav"})
    assert r.status_code == 403 and "consent" in r.json()["detail"]
    assert client.post("/api/tasks/caption/consent", headers=env.headers("ann"), json={"agree": True}).json()["consented"]
    rec = client.post("/api/tasks/caption/recordings", headers=env.headers("ann"),
                      json={"assignment_id": aid, "mime": "audio/wav"}).json()
    rid = rec["recording_id"]
    parts = _split(wav_bytes, 4)
    for i, part in enumerate(parts):
        assert _put(client, env, rid, 0, i, part).json()["stored"]
    assert not _put(client, env, rid, 0, 1, parts[1]).json()["stored"]  # resent chunk: harmless
    # a "reload": the open recording comes back with its chunks
    again = client.post("/api/tasks/caption/recordings", headers=env.headers("ann"),
                        json={"assignment_id": aid, "mime": "audio/wav"}).json()
    assert again["recording_id"] == rid and again["segments"] == {"0": [0, 1, 2, 3]} and again["next_segment"] == 1
    fin = client.post(f"/api/tasks/caption/recordings/{rid}/finalize", headers=env.headers("ann"))
    assert fin.status_code == 200, fin.text
    assert fin.json()["status"] == "queued" and fin.json()["duration_s"] > 5
    jobs.run_worker(env.engine, SpeechWorker(env.engine, env.media, stt.STTConfig.tiny()).handlers(),
                    threading.Event(), once=True)
    view = client.get(f"/api/tasks/caption/recordings/{rid}", headers=env.headers("ann")).json()
    assert view["status"] == "cleaned", view
    assert stt.wer(SPOKEN, view["transcript"]) <= 0.25, view["transcript"]
    assert view["cleanup"]["method"] == "rules" and view["caption"]
    payload = client.get(f"/api/tasks/caption/recordings/{rid}/payload", headers=env.headers("ann")).json()
    sub = client.post(f"/api/assignments/{aid}/submit", headers=env.headers("ann"),
                      json={"client_key": "ck-caption-1", "payload": payload, "duration_ms": 9000})
    assert sub.status_code == 200, sub.text
    q = client.get(f"/api/campaigns/{cid}/review", headers=env.headers("rev")).json()
    assert q[0]["payload"]["transcript"] == view["transcript"]
    audio = client.get(f"/api/tasks/caption/recordings/{rid}/audio", headers=env.headers("rev"))
    assert audio.status_code == 200 and audio.content == wav_bytes
    assert client.post(f"/api/assignments/{aid}/review", headers=env.headers("rev"),
                       json={"decision": "accept"}).status_code == 200
    manifest = export_shards(env.engine, env.media, cid, tmp_path / "export")
    samples = list(iter_samples(manifest.parent))
    assert len(samples) == 1
    ann = samples[0].annotations[0]
    assert ann.subset == "pixmo-cap" and ann.record.caption == view["caption"]
    assert ann.record.transcripts == [view["transcript"]]
    assert samples[0].extras[ann.meta["audio_member"]] == wav_bytes


def test_finalize_lists_the_missing_chunks_and_succeeds_once_they_are_sent(env, wav_bytes):
    client = TestClient(env.app)
    cid = env.campaign("caption", CFG, [T.test_image(11)])
    aid = _claim(client, env, cid)
    client.post("/api/tasks/caption/consent", headers=env.headers("ann"), json={"agree": True})
    rid = client.post("/api/tasks/caption/recordings", headers=env.headers("ann"),
                      json={"assignment_id": aid, "mime": "audio/wav"}).json()["recording_id"]
    parts = _split(wav_bytes, 5)
    for i in (0, 2):  # chunks 1, 3 and 4 were lost on the way (the page still holds them)
        assert _put(client, env, rid, 0, i, parts[i]).status_code == 200
    url = f"/api/tasks/caption/recordings/{rid}/finalize"
    r = client.post(url, headers=env.headers("ann"), json={"segments": {"0": 5}})
    assert r.status_code == 409 and r.json()["missing"] == [[0, 1], [0, 3], [0, 4]], r.text
    assert r.json()["code"] == "missing_chunk"
    for i in (1, 3, 4):
        assert _put(client, env, rid, 0, i, parts[i]).status_code == 200
    r = client.post(url, headers=env.headers("ann"), json={"segments": {"0": 5}})
    assert r.status_code == 200 and r.json()["duration_s"] > 5, r.text


@pytest.mark.parametrize("case", ["empty", "not_audio", "truncated", "oversized", "too_short", "silent"])
def test_bad_audio_is_refused_clearly_and_nothing_is_harmed(env, wav_bytes, case):
    client = TestClient(env.app)
    cid = env.campaign("caption", CFG, [T.test_image(2)])
    aid = _claim(client, env, cid)
    client.post("/api/tasks/caption/consent", headers=env.headers("ann"), json={"agree": True})
    rid = client.post("/api/tasks/caption/recordings", headers=env.headers("ann"),
                      json={"assignment_id": aid, "mime": "audio/wav"}).json()["recording_id"]
    silent = stt.wav_bytes(stt.decode_audio(wav_bytes) * 0.0)
    short = stt.wav_bytes(stt.decode_audio(wav_bytes)[:16000])
    if case == "empty":
        r = _put(client, env, rid, 0, 0, b"")
        assert r.status_code == 400 and "empty" in r.json()["detail"]
        r = client.post(f"/api/tasks/caption/recordings/{rid}/finalize", headers=env.headers("ann"))
        assert r.status_code == 422 and "empty" in r.json()["detail"]
    elif case == "oversized":
        r = _put(client, env, rid, 0, 0, b"\0" * 3_100_000)
        assert r.status_code == 413 and "limit" in r.json()["detail"]
    elif case == "truncated":
        good = wav_bytes[:1000]
        r = _put(client, env, rid, 0, 0, good, sha=hashlib.sha256(wav_bytes[:2000]).hexdigest())
        assert r.status_code == 400 and "truncated" in r.json()["detail"]
        assert _put(client, env, rid, 0, 0, wav_bytes[: len(wav_bytes) // 2]).status_code == 200
        r = client.post(f"/api/tasks/caption/recordings/{rid}/finalize", headers=env.headers("ann"))
        assert r.status_code == 422 and "truncated" in r.json()["detail"]
    else:
        data = {"not_audio": b"<html>this is not audio</html>" * 50, "too_short": short, "silent": silent}[case]
        assert _put(client, env, rid, 0, 0, data).status_code == 200
        r = client.post(f"/api/tasks/caption/recordings/{rid}/finalize", headers=env.headers("ann"))
        word = {"not_audio": "not audio", "too_short": "at least 2 s", "silent": "no speech"}[case]
        assert r.status_code == 422 and word in r.json()["detail"], r.text
    # nothing stored is harmed: the recording is still open with its chunks, and can be completed
    view = client.get(f"/api/tasks/caption/recordings/{rid}", headers=env.headers("ann")).json()
    assert view["status"] == "recording" and not view["has_audio"]
    n = len(view["segments"].get("0", []))
    seg = 1 if n else 0
    assert _put(client, env, rid, seg, 0, wav_bytes).status_code == 200
    if n and case != "too_short":  # a damaged part stays damaged: the annotator starts over
        new = client.post("/api/tasks/caption/recordings", headers=env.headers("ann"),
                          json={"assignment_id": aid, "mime": "audio/wav", "restart": True}).json()
        assert new["recording_id"] != rid and new["segments"] == {}
        rid = new["recording_id"]
        assert _put(client, env, rid, 0, 0, wav_bytes).status_code == 200
    r = client.post(f"/api/tasks/caption/recordings/{rid}/finalize", headers=env.headers("ann"))
    assert r.status_code == 200, r.text


def test_other_users_cannot_touch_a_recording(env, wav_bytes):
    client = TestClient(env.app)
    cid = env.campaign("caption", CFG, [T.test_image(3)])
    aid = _claim(client, env, cid)
    for u in ("ann", "ann2"):
        client.post("/api/tasks/caption/consent", headers=env.headers(u), json={"agree": True})
    rid = client.post("/api/tasks/caption/recordings", headers=env.headers("ann"),
                      json={"assignment_id": aid, "mime": "audio/webm;codecs=opus"}).json()["recording_id"]
    assert _put(client, env, rid, 0, 0, wav_bytes, user="ann2").status_code == 404
    assert client.get(f"/api/tasks/caption/recordings/{rid}/audio", headers=env.headers("ann2")).status_code == 404
    r = client.post("/api/tasks/caption/recordings", headers=env.headers("ann"), json={"assignment_id": aid, "mime": "video/x-foo"})
    assert r.status_code == 415


def test_several_transcripts_are_summarised_into_one_caption(env, wav_bytes, tmp_path, monkeypatch):
    from pixmo.testing import serve

    client = TestClient(env.app)
    cid = env.campaign("caption", CFG, [T.test_image(4)], overlap=2)
    for user in ("ann", "ann2"):
        aid = _claim(client, env, cid, user)
        client.post("/api/tasks/caption/consent", headers=env.headers(user), json={"agree": True})
        rid = client.post("/api/tasks/caption/recordings", headers=env.headers(user),
                          json={"assignment_id": aid, "mime": "audio/wav"}).json()["recording_id"]
        assert _put(client, env, rid, 0, 0, wav_bytes, user=user).status_code == 200
        assert client.post(f"/api/tasks/caption/recordings/{rid}/finalize", headers=env.headers(user)).status_code == 200
        jobs.run_worker(env.engine, SpeechWorker(env.engine, env.media, stt.STTConfig.tiny()).handlers(),
                        threading.Event(), once=True)
        payload = client.get(f"/api/tasks/caption/recordings/{rid}/payload", headers=env.headers(user)).json()
        assert client.post(f"/api/assignments/{aid}/submit", headers=env.headers(user),
                           json={"client_key": f"ck-sum-{user}", "payload": payload}).status_code == 200
        assert client.post(f"/api/assignments/{aid}/review", headers=env.headers("rev"),
                           json={"decision": "accept"}).status_code == 200
    item_id = client.get(f"/api/campaigns/{cid}/review?status=accepted", headers=env.headers("rev")).json()[0]["item"]["id"]
    summary = "Three red apples and a blue cup stand on a wooden table before a window with white curtains."
    with serve(summary) as srv:
        monkeypatch.setenv("PIXMO_LLM_BASE_URL", srv.base_url)
        monkeypatch.setenv("PIXMO_LLM_CACHE_DIR", "")
        r = client.post(f"/api/tasks/caption/items/{item_id}/summarise", headers=env.headers("rev"))
        assert r.status_code == 200, r.text
        assert "2 people described the same image" in srv.chat_requests()[0]["messages"][-1]["content"]
    assert r.json()["provenance"]["method"] == "llm"
    samples = list(iter_samples(export_shards(env.engine, env.media, cid, tmp_path / "sum").parent))
    assert len(samples) == 1 and len(samples[0].annotations) == 1
    rec = samples[0].annotations[0].record
    assert rec.caption == summary and len(rec.transcripts) == 2
    assert sum(k.startswith("audio_") for k in samples[0].extras) == 2
