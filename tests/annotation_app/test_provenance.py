"""Proof of human origin is server-side: a caption submit may only name a processed recording of
the submitting annotator for that assignment (its text and audio come from the server); AMA drafts
are referenced by server-made ids; private media are served only to their owner and reviewers;
exports ship only audio that matches what the server recorded, and ``validate`` checks it."""

from __future__ import annotations

import hashlib
import time

from sqlalchemy import insert

from annotation_app.campaigns import CampaignIn, add_image, create_campaign, get_campaign_row
from annotation_app.db import write_tx
from annotation_app.export import export_shards
from annotation_app.speech.models import AmaDraft, Recording
from pixmo.shards import iter_samples
from pixmo.validate import validate_dir
from tests.annotation_app.conftest import png

AUDIO = b"RIFF----WAVEfmt pretend-audio-of-the-annotator"


def _campaign(ctx, task_type, config=None):
    with write_tx(ctx.app.state.engine) as conn:
        cid = create_campaign(conn, CampaignIn(name=f"{task_type}-{time.monotonic_ns()}", task_type=task_type,
                                               config=config or {}, overlap=2), ctx.user_ids["admin"])
        add_image(conn, ctx.app.state.media, get_campaign_row(conn, cid), png(64, 48, seed=7))
    return cid


def _claim(ctx, who, cid):
    r = ctx.client(who).post(f"/api/campaigns/{cid}/claim", json={})
    assert r.status_code == 200, r.text
    return r.json()["assignment"]["assignment_id"]


def _recording(ctx, who, aid, cid, status="cleaned", words="three red apples on a table"):
    key = f"audio/rec/r{aid}{len(who)}-abc.wav"
    with write_tx(ctx.app.state.engine) as conn:
        rid = conn.execute(insert(Recording.__table__).values(
            campaign_id=cid, item_id=1, assignment_id=aid, user_id=ctx.user_ids[who], status=status, mime="audio/wav",
            bytes=len(AUDIO), elapsed_ms=70000, flags=[], created_at=time.time(), duration_s=70.0, speech_s=60.0,
            transcript=f"um {words}", caption=words.capitalize() + ".", stt={"model": "tiny"},
            cleanup={"method": "rules"})).inserted_primary_key[0]
        key = f"audio/rec/r{rid}-abc.wav"
        conn.execute(Recording.__table__.update().where(Recording.id == rid).values(
            audio_key=key, audio_sha256=hashlib.sha256(AUDIO).hexdigest()))
    ctx.app.state.media.put(key, AUDIO)
    return rid, key


def _submit(ctx, who, aid, payload, key="ck-prov-1"):
    return ctx.client(who).post(f"/api/assignments/{aid}/submit", json={"client_key": key, "payload": payload})


def _forged_caption(rid):
    return {"recording_id": rid, "caption": "Text I typed myself.", "transcript": "text I typed myself",
            "audio_key": None, "duration_s": 99.0, "flags": []}


def test_caption_submit_cannot_borrow_another_annotators_recording(dbctx):
    cid = _campaign(dbctx, "caption")
    mine, theirs = _claim(dbctx, "annotator", cid), _claim(dbctx, "throwaway", cid)
    rid, _ = _recording(dbctx, "annotator", mine, cid)
    r = _submit(dbctx, "throwaway", theirs, _forged_caption(rid))
    assert r.status_code == 422 and f"recording {rid} is not one of your recordings" in r.json()["detail"], r.text
    other_rid, _ = _recording(dbctx, "throwaway", theirs, cid, status="queued")
    r = _submit(dbctx, "throwaway", theirs, _forged_caption(other_rid), key="ck-prov-2")
    assert r.status_code == 422 and "is queued" in r.json()["detail"], r.text


def test_caption_text_and_audio_come_from_the_recording_not_the_request(dbctx, tmp_path):
    cid = _campaign(dbctx, "caption")
    aid = _claim(dbctx, "annotator", cid)
    rid, key = _recording(dbctx, "annotator", aid, cid)
    assert _submit(dbctx, "annotator", aid, _forged_caption(rid)).status_code == 200
    queue = dbctx.client("reviewer").get(f"/api/campaigns/{cid}/review").json()
    stored = queue[0]["payload"]
    assert stored["caption"] == "Three red apples on a table." and stored["transcript"].startswith("um three")
    assert stored["audio_key"] == key and stored["duration_s"] == 70.0
    manifest = export_shards(dbctx.app.state.engine, dbctx.app.state.media, cid, tmp_path / "out",
                             include_unreviewed=True)
    sample = next(iter_samples(manifest.parent))
    assert sample.extras[sample.annotations[0].meta["audio_member"]] == AUDIO
    assert validate_dir(manifest.parent).ok


def test_validate_refuses_audio_that_does_not_belong_to_its_record(dbctx, tmp_path):
    cid = _campaign(dbctx, "caption")
    aid = _claim(dbctx, "annotator", cid)
    rid, key = _recording(dbctx, "annotator", aid, cid)
    assert _submit(dbctx, "annotator", aid, _forged_caption(rid)).status_code == 200
    dbctx.app.state.media.put(key, b"RIFF----WAVE someone else's voice")  # swapped after the fact
    manifest = export_shards(dbctx.app.state.engine, dbctx.app.state.media, cid, tmp_path / "out",
                             include_unreviewed=True)
    sample = next(iter_samples(manifest.parent))
    assert sample.extras == {} and sample.annotations[0].meta["audio_member"] is None  # unverified: not shipped
    from pixmo.shards import Sample, ShardWriter
    w = ShardWriter(tmp_path / "forged", dataset="forged", resume=False)
    w.write(Sample(image=sample.image, annotations=[type(a)(a.subset, a.record, {**a.meta, "audio_member":
                   f"audio_{rid}.wav"}) for a in sample.annotations], extras={f"audio_{rid}.wav": b"other voice"}))
    rep = validate_dir(w.close().parent)
    assert not rep.ok and any("does not match the audio_sha256" in p.problem for p in rep.problems)


def test_ama_submit_needs_the_server_drafts(dbctx):
    cid = _campaign(dbctx, "ama")
    aid = _claim(dbctx, "annotator", cid)
    invented = {"question": "What is it?", "answer": "A cat.", "final_source": "accepted_draft", "edit_distance": 0,
                "time_to_decision_ms": 9000, "drafts": [{"draft_id": 999, "round": 1, "question": "What is it?",
                                                         "answer": "A cat.", "decision": "accepted",
                                                         "shown_at": 1.0, "decided_at": 10.0}]}
    r = _submit(dbctx, "annotator", aid, invented)
    assert r.status_code == 422 and "not the drafts the server made" in r.json()["detail"], r.text
    with write_tx(dbctx.app.state.engine) as conn:
        did = conn.execute(insert(AmaDraft.__table__).values(
            assignment_id=aid, item_id=1, user_id=dbctx.user_ids["annotator"], round=1, question="What is it?",
            answer="A small grey cat sleeping on a red sofa next to a window.", context={}, llm={"model": "m"},
            decision="pending", shown_at=time.time())).inserted_primary_key[0]
    long = "A small grey cat sleeping on a red sofa next to a window."
    pending = {**invented, "answer": long, "drafts": [{**invented["drafts"][0], "draft_id": did, "answer": long}]}
    r = _submit(dbctx, "annotator", aid, pending, key="ck-prov-2")
    assert r.status_code == 422 and "the last draft is pending" in r.json()["detail"], r.text
    payload = dbctx.client("annotator").post(f"/api/tasks/ama/drafts/{did}/accept").json()
    assert payload["flags"] and payload["flags"][0]["code"] == "fast_accept"
    tampered = {**payload, "flags": [], "time_to_decision_ms": 60000}  # hide the fast accept
    assert _submit(dbctx, "annotator", aid, tampered, key="ck-prov-3").status_code == 200
    stored = dbctx.client("reviewer").get(f"/api/campaigns/{cid}/review").json()[0]["payload"]
    assert stored["flags"][0]["code"] == "fast_accept" and stored["time_to_decision_ms"] < 60000


def test_private_media_only_for_owner_and_reviewers(dbctx):
    cid = _campaign(dbctx, "caption")
    aid = _claim(dbctx, "annotator", cid)
    _rid, key = _recording(dbctx, "annotator", aid, cid)
    assert dbctx.client("annotator").get(f"/media/{key}").content == AUDIO
    assert dbctx.client("reviewer").get(f"/media/{key}").status_code == 200
    r = dbctx.client("throwaway").get(f"/media/{key}")
    assert r.status_code == 404 and AUDIO not in r.content
    dbctx.app.state.media.put("audio/chunks/r9999/s0-c0-abc.part", b"chunk")
    assert dbctx.client("throwaway").get("/media/audio/chunks/r9999/s0-c0-abc.part").status_code == 404
    img = dbctx.client("annotator").post(f"/api/campaigns/{cid}/claim", json={}).json()["assignment"]["item"]
    assert dbctx.client("throwaway").get(img["media_url"]).status_code == 200


def test_export_ships_no_audio_for_a_stored_answer_naming_someone_elses_recording(dbctx, tmp_path):
    cid = _campaign(dbctx, "caption")
    mine, theirs = _claim(dbctx, "annotator", cid), _claim(dbctx, "throwaway", cid)
    rid, key = _recording(dbctx, "annotator", mine, cid)
    assert _submit(dbctx, "annotator", mine, _forged_caption(rid)).status_code == 200
    with write_tx(dbctx.app.state.engine) as conn:  # a forged answer stored before the submit checks existed
        from annotation_app.models import Assignment, Submission

        payload = {"recording_id": rid, "caption": "Mine.", "transcript": "mine", "audio_key": key,
                   "audio_sha256": hashlib.sha256(AUDIO).hexdigest(), "flags": []}
        sid = conn.execute(insert(Submission.__table__).values(
            assignment_id=theirs, item_id=1, campaign_id=cid, user_id=dbctx.user_ids["throwaway"], client_key="old-1",
            payload=payload, kind="annotator", created_at=time.time())).inserted_primary_key[0]
        conn.execute(Assignment.__table__.update().where(Assignment.id == theirs).values(
            status="submitted", submission_id=sid))
    manifest = export_shards(dbctx.app.state.engine, dbctx.app.state.media, cid, tmp_path / "out",
                             include_unreviewed=True)
    sample = next(iter_samples(manifest.parent))
    by_user = {a.meta["annotator_id"]: a for a in sample.annotations}
    forged = by_user[dbctx.user_ids["throwaway"]]
    assert forged.meta["provenance"] == "unverified" and forged.meta["audio_member"] is None
    genuine = by_user[dbctx.user_ids["annotator"]]
    assert "provenance" not in genuine.meta and sample.extras[genuine.meta["audio_member"]] == AUDIO
    assert validate_dir(manifest.parent).ok
