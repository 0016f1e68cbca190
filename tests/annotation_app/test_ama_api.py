"""Ask-model-anything and point explanations through the HTTP API, with the local OpenAI-compatible
server: OCR + caption context, drafts, reject/revise, accept, hand-written answers, flags, export."""

from __future__ import annotations

import shutil
import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from annotation_app.campaigns import import_shards
from annotation_app.db import read_tx
from annotation_app.export import export_shards
from annotation_app.speech import testing as T
from annotation_app.speech.models import AmaDraft
from pixmo.records import POINT_PLACEHOLDER, PixmoCap
from pixmo.shards import Annotation, Sample, iter_samples, write_samples
from pixmo.testing import serve

pytestmark = pytest.mark.skipif(not shutil.which("tesseract"), reason="tesseract-ocr is not installed")
CAPTION = "A white shop sign with black capital letters hangs above a glass door."


def _llm(req):
    content = req["messages"][-1]["content"]
    if isinstance(content, list):  # the vision caption endpoint
        return "A plain white sign with large black words."
    system = req["messages"][0]["content"]
    rounds = sum(1 for m in req["messages"] if m["role"] == "assistant")
    if "marked numbered points" in system:
        return f'The sign says <point id="1">open all day</point>, written in black (draft {rounds + 1}).'
    return f"The sign says the shop is open all day and all night. (draft {rounds + 1})"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    env = T.make_env(tmp_path_factory.mktemp("amaenv"))
    with serve(_llm) as srv:
        yield env, srv


def _claim(c, env, cid, user="ann"):
    return c.post(f"/api/campaigns/{cid}/claim", headers=env.headers(user), json={}).json()["assignment"]["assignment_id"]


def test_ama_loop_reject_revise_accept_and_export(stack, tmp_path):
    env, srv = stack
    c, h = TestClient(env.app), env.headers("ann")
    image = T.test_image(text="OPEN 24 HOURS")
    shards = write_samples(tmp_path / "in", [Sample(image=image, image_url="https://example.org/sign.png",
                                                    annotations=[Annotation.of(PixmoCap(
                                                        image_url="https://example.org/sign.png", caption=CAPTION,
                                                        transcripts=["a white sign"]))])], dataset="ama-test")
    cid = env.campaign("ama", {"ama": {"llm_base_url": srv.base_url, "reading_wpm": 250}}, [])
    assert import_shards(env.engine, env.media, cid, str(shards.parent)) == 1
    aid = _claim(c, env, cid)
    n0 = len(srv.chat_requests())
    d1 = c.post("/api/tasks/ama/drafts", headers=h, json={"assignment_id": aid, "question": "What does the sign say?"})
    assert d1.status_code == 200, d1.text
    d1 = d1.json()
    assert d1["round"] == 1 and "(draft 1)" in d1["answer"]
    assert d1["context"]["caption_source"] == "pixmo-cap" and "24 HOURS" in d1["context"]["ocr"]
    prompt = srv.chat_requests()[n0]["messages"][1]["content"]
    assert CAPTION in prompt and "OPEN 24 HOURS" in prompt and "What does the sign say?" in prompt
    r = c.post(f"/api/tasks/ama/drafts/{d1['draft_id']}/reject", headers=h, json={"feedback": ""})
    assert r.status_code == 422
    d2 = c.post(f"/api/tasks/ama/drafts/{d1['draft_id']}/reject", headers=h,
                json={"feedback": "It is open 24 hours, say so plainly."}).json()
    assert d2["round"] == 2 and "(draft 2)" in d2["answer"]
    revise = srv.chat_requests()[-1]["messages"]
    assert revise[-2] == {"role": "assistant", "content": d1["answer"]} and "24 hours" in revise[-1]["content"]
    payload = c.post(f"/api/tasks/ama/drafts/{d2['draft_id']}/accept", headers=h).json()
    assert payload["answer"] == d2["answer"] and payload["final_source"] == "accepted_draft"
    assert payload["edit_distance"] == 0 and [d["decision"] for d in payload["drafts"]] == ["rejected", "accepted"]
    assert payload["flags"][0]["code"] == "fast_accept"  # accepted at once: faster than reading time
    s = c.post(f"/api/assignments/{aid}/submit", headers=h, json={"client_key": "ck-ama-0001", "payload": payload})
    assert s.status_code == 200, s.text
    assert c.post(f"/api/assignments/{aid}/review", headers=env.headers("rev"), json={"decision": "accept"}).status_code == 200
    samples = list(iter_samples(export_shards(env.engine, env.media, cid, tmp_path / "out").parent))
    ann = samples[0].annotations[0]
    assert ann.subset == "pixmo-ask-model-anything"
    assert ann.record.question == "What does the sign say?" and ann.record.answer == d2["answer"]
    assert ann.record.image_sha256 == samples[0].key
    assert [d["answer"] for d in ann.meta["drafts"]] == [d1["answer"], d2["answer"]]
    assert ann.meta["drafts"][0]["feedback"] == "It is open 24 hours, say so plainly."
    with read_tx(env.engine) as conn:
        rows = conn.execute(select(AmaDraft.__table__).where(AmaDraft.assignment_id == aid)).all()
    assert len(rows) == 2 and rows[0].llm["endpoint"] == srv.base_url


def test_hand_written_answer_edit_distance_and_caption_endpoint(stack):
    env, srv = stack
    c, h = TestClient(env.app), env.headers("ann2")
    cid = env.campaign("ama", {"ama": {"llm_base_url": srv.base_url, "caption_base_url": srv.base_url,
                                       "min_read_s": 0.0, "reading_wpm": 100000}},
                       [T.test_image(text="EXIT")])
    aid = _claim(c, env, cid, "ann2")
    d1 = c.post("/api/tasks/ama/drafts", headers=h, json={"assignment_id": aid, "question": "Which way out?"}).json()
    assert d1["context"]["caption_source"].startswith("endpoint:")
    assert d1["context"]["caption"] == "A plain white sign with large black words."
    time.sleep(0.05)
    mine = "The sign reads EXIT, so the way out is through that door."
    payload = c.post(f"/api/tasks/ama/assignments/{aid}/final", headers=h, json={"answer": mine}).json()
    assert payload["final_source"] == "hand_written" and payload["answer"] == mine
    assert payload["edit_distance"] > 10 and payload["time_to_decision_ms"] >= 50 and payload["flags"] == []
    tampered = {**payload, "final_source": "accepted_draft"}
    r = c.post(f"/api/assignments/{aid}/submit", headers=h, json={"client_key": "ck-ama-0002", "payload": tampered})
    assert r.status_code == 422 and "unchanged" in r.json()["detail"]


def test_point_explanations_cite_points_and_export(stack, tmp_path):
    env, srv = stack
    c, h = TestClient(env.app), env.headers("ann")
    cid = env.campaign("point_explanations", {"ama": {"llm_base_url": srv.base_url}}, [T.test_image(text="OPEN ALL DAY")])
    aid = _claim(c, env, cid)
    r = c.post("/api/tasks/point_explanations/drafts", headers=h, json={"assignment_id": aid, "question": "What does it say?"})
    assert r.status_code == 422 and "points" in r.json()["detail"]
    groups = [{"label": "sign text", "points": [{"x": 120.0, "y": 80.0}, {"x": 360.0, "y": 80.0}]}]
    d1 = c.post("/api/tasks/point_explanations/drafts", headers=h,
                json={"assignment_id": aid, "question": "What does it say?", "points": groups}).json()
    assert '<point id="1">open all day</point>' in d1["answer"]
    assert "[1] sign text: (25.0%, 50.0%); (75.0%, 50.0%)" in srv.chat_requests()[-1]["messages"][1]["content"]
    payload = c.post(f"/api/tasks/point_explanations/drafts/{d1['draft_id']}/accept", headers=h).json()
    assert c.post(f"/api/assignments/{aid}/submit", headers=h,
                  json={"client_key": "ck-pe-00001", "payload": payload}).status_code == 200
    assert c.post(f"/api/assignments/{aid}/review", headers=env.headers("rev"), json={"decision": "accept"}).status_code == 200
    samples = list(iter_samples(export_shards(env.engine, env.media, cid, tmp_path / "pe").parent))
    rec = samples[0].annotations[0].record
    assert samples[0].annotations[0].subset == "pixmo-point-explanations"
    assert rec.parsed_response == f"The sign says {POINT_PLACEHOLDER}, written in black (draft 1)."
    assert rec.inline_text == ["open all day"] and rec.alt_text == ["sign text"]
    assert rec.points == [[(25.0, 50.0), (75.0, 50.0)]]
    assert rec.response.startswith('The sign says <points x1="25.0" y1="50.0" x2="75.0" y2="50.0" alt="sign text">open all day</points>')
