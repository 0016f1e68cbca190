"""Honest throughput (items per hour of active time, each answer's time capped) and an
annotator's own progress (done today, remaining in the campaign)."""

from __future__ import annotations

import time

from sqlalchemy import update

from annotation_app.db import write_tx
from annotation_app.models import Assignment

ANSWER = {"label": "dog", "points": [{"x": 10.0, "y": 10.0}]}


def _answer(client, cid, key, duration_ms):
    a = client.post(f"/api/campaigns/{cid}/claim", json={}).json()["assignment"]
    body = {"client_key": key, "payload": ANSWER, **({} if duration_ms is None else {"duration_ms": duration_ms})}
    r = client.post(f"/api/assignments/{a['assignment_id']}/submit", json=body)
    assert r.status_code == 200, r.text
    return a["assignment_id"]


def _row(ctx, username):
    rows = ctx.client("reviewer").get(f"/api/campaigns/{ctx.campaign_id}/annotators").json()
    return next(r for r in rows if r["username"] == username)


def test_items_per_hour_counts_active_time_not_the_gap_between_submissions(dbctx):
    """Two answers of 30 s each, submitted back to back, are 120 items/hour (the old wall-time
    figure divided one answer by the milliseconds between the two submits: hundreds per hour)."""
    ann = dbctx.client("annotator")
    _answer(ann, dbctx.campaign_id, "tp-key-1", 30_000)
    _answer(ann, dbctx.campaign_id, "tp-key-2", 30_000)
    row = _row(dbctx, "annotator")
    assert row["items_per_hour"] == 120.0
    assert row["active_seconds"] == 60.0


def test_idle_time_is_capped_per_item(dbctx):
    ann = dbctx.client("annotator")
    _answer(ann, dbctx.campaign_id, "idle-key-1", 30_000)
    _answer(ann, dbctx.campaign_id, "idle-key-2", 3_600_000)  # the page stayed open for an hour: 300 s count
    row = _row(dbctx, "annotator")
    assert row["active_seconds"] == 330.0 and row["items_per_hour"] == round(2 * 3600 / 330, 1)


def test_without_a_shown_time_claim_to_submit_counts_capped(dbctx):
    ann = dbctx.client("annotator")
    a = ann.post(f"/api/campaigns/{dbctx.campaign_id}/claim", json={}).json()["assignment"]
    with write_tx(dbctx.app.state.engine) as conn:  # claimed ten minutes ago
        conn.execute(update(Assignment).where(Assignment.id == a["assignment_id"]).values(claimed_at=time.time() - 600))
    r = ann.post(f"/api/assignments/{a['assignment_id']}/submit", json={"client_key": "noshow-1", "payload": ANSWER})
    assert r.status_code == 200
    row = _row(dbctx, "annotator")
    assert row["active_seconds"] == 300.0 and row["items_per_hour"] == 12.0


def test_my_progress_counts_done_today_and_remaining(dbctx):
    cid, ann = dbctx.campaign_id, dbctx.client("annotator")
    url = f"/api/campaigns/{cid}/my-progress"
    assert ann.get(url).json() == {"done_today": 0, "done_total": 0, "remaining": 3, "paused": None}
    _answer(ann, cid, "mine-key-1", 5_000)
    held = ann.post(f"/api/campaigns/{cid}/claim", json={}).json()["assignment"]
    assert held is not None
    assert ann.get(url).json() == {"done_today": 1, "done_total": 1, "remaining": 2, "paused": None}
    assert ann.get(url, params={"since": time.time() + 60}).json()["done_today"] == 0  # a day that starts later
    other = dbctx.client("throwaway").get(url).json()  # overlap 1: the answered item is gone for others too
    assert other["done_today"] == 0 and other["remaining"] == 1
    assert dbctx.client("annotator").get("/api/campaigns/999/my-progress").status_code == 404
