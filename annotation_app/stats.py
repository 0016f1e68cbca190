"""Campaign progress and per-annotator quality: throughput, time per item, rejection rate, gold scores."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import Connection, func, select

from annotation_app import gating
from annotation_app.claiming import A, I, get_campaign, item_context
from annotation_app.models import Review, Submission, User, table
from annotation_app.quality import mean_metrics
from annotation_app.tasks import get_task_type

S, R = table(Submission), table(Review)


def progress(conn: Connection, campaign_id: int) -> dict[str, Any]:
    get_campaign(conn, campaign_id)
    items, slots, taken = conn.execute(select(func.count(), func.coalesce(func.sum(I.c.overlap), 0),
                                              func.coalesce(func.sum(I.c.taken), 0))
                                       .where(I.c.campaign_id == campaign_id, I.c.gold.is_(None))).one()
    gold = conn.execute(select(func.count()).where(I.c.campaign_id == campaign_id, I.c.gold.is_not(None))).scalar()
    by_status: dict[str, int] = dict(conn.execute(select(A.c.status, func.count()).where(A.c.campaign_id == campaign_id)
                                                   .group_by(A.c.status)).tuples().all())
    done = by_status.get("accepted", 0) + by_status.get("submitted", 0)
    return {"items": items, "gold_items": gold, "slots": int(slots), "taken": int(taken), "by_status": by_status,
            "percent_done": round(100.0 * done / slots, 2) if slots else 0.0}


ACTIVE_CAP_S = 300.0  # one item counts at most 5 minutes of work: a longer time is a break, not work


def active_seconds(duration_ms: int | None, since_claim_s: float) -> float:
    """Working time of one answer: the time the page showed the item (``duration_ms``), or without
    it the time from claim to submit, capped at ``ACTIVE_CAP_S`` so idle time is not counted."""
    t = duration_ms / 1000.0 if duration_ms is not None else since_claim_s
    return min(max(t, 0.0), ACTIVE_CAP_S)


def annotators(conn: Connection, campaign_id: int) -> list[dict[str, Any]]:
    """Per annotator: submissions, items/hour over active time (the sum of each answer's capped
    working time, ``active_seconds``; not the wall time between the first and last answer), median
    time per item, rejection rate among reviewed items, and mean gold metrics (precision, recall,
    count error, not-present) and the gold-gating pause in force."""
    campaign = get_campaign(conn, campaign_id)
    task = get_task_type(campaign.task_type)
    subs = conn.execute(select(S.c.user_id, S.c.created_at, S.c.duration_ms, S.c.payload, A.c.claimed_at, I)
                        .join(I, I.c.id == S.c.item_id).join(A, A.c.id == S.c.assignment_id)
                        .where(S.c.campaign_id == campaign_id, S.c.kind == "annotator")).all()
    reviews = conn.execute(select(A.c.user_id, R.c.decision).join(A, A.c.id == R.c.assignment_id)
                           .where(A.c.campaign_id == campaign_id)).all()
    names = dict(conn.execute(select(User.id, User.username)).all())
    pauses = gating.active_pauses(conn, campaign_id)
    per: dict[int, dict[str, Any]] = defaultdict(lambda: {"times": [], "durations": [], "gold": [], "active": 0.0})
    for s in subs:
        d = per[s.user_id]
        d["times"].append(s.created_at)
        d["active"] += active_seconds(s.duration_ms, s.created_at - s.claimed_at)
        if s.duration_ms is not None:
            d["durations"].append(s.duration_ms / 1000.0)
        if s.gold is not None:
            try:
                m = task.score(s.payload, s.gold, item_context(s, campaign.config), campaign.config or {})
            except (KeyError, TypeError, ValueError, IndexError, AttributeError):
                d["gold_unscorable"] = d.get("gold_unscorable", 0) + 1  # malformed stored data: counted, not a 500
                continue
            if m is not None:
                d["gold"].append(m)
    rev: dict[int, list[str]] = defaultdict(list)
    for uid, decision in reviews:
        rev[uid].append(decision)
    out = []
    for uid in sorted(set(per) | set(rev)):
        d = per[uid]
        times = d["times"]
        durs = sorted(d["durations"])
        decisions = rev.get(uid, [])
        out.append({
            "user_id": uid, "username": names.get(uid, "?"), "submissions": len(times),
            "items_per_hour": round(len(times) * 3600.0 / d["active"], 1) if d["active"] > 0 else None,
            "active_seconds": round(d["active"], 1),
            "median_seconds_per_item": round(durs[len(durs) // 2], 2) if durs else None,
            "reviewed": len(decisions),
            "rejection_rate": round(decisions.count("reject") / len(decisions), 3) if decisions else None,
            "gold_items": len(d["gold"]), "gold": mean_metrics(d["gold"]) if d["gold"] else None,
            "gold_unscorable": d.get("gold_unscorable", 0), "paused": pauses.get(uid),
        })
    return out


def my_progress(conn: Connection, campaign_id: int, user_id: int, since: float) -> dict[str, Any]:
    """One annotator's progress in a campaign: answers since ``since`` (the start of their day),
    answers in all, what is left to them (items with a free slot they have not worked on, plus
    their leases and returned items), and the gold-gating pause in force, if any."""
    get_campaign(conn, campaign_id)
    mine = (S.c.campaign_id == campaign_id, S.c.user_id == user_id, S.c.kind == "annotator")
    today = conn.execute(select(func.count(func.distinct(S.c.assignment_id))).where(*mine, S.c.created_at >= since)).scalar()
    by_status: dict[str, int] = dict(conn.execute(select(A.c.status, func.count()).where(A.c.campaign_id == campaign_id, A.c.user_id == user_id)
                                  .group_by(A.c.status)).tuples().all())
    worked = select(A.c.id).where(A.c.item_id == I.c.id, A.c.user_id == user_id, A.c.status != "expired").exists()
    open_items = conn.execute(select(func.count()).where(I.c.campaign_id == campaign_id, I.c.taken < I.c.overlap,
                                                          ~worked)).scalar()
    pause = gating.active_pauses(conn, campaign_id).get(user_id)
    return {"done_today": int(today or 0), "done_total": by_status.get("submitted", 0) + by_status.get("accepted", 0),
            "remaining": int(open_items or 0) + by_status.get("active", 0) + by_status.get("rejected", 0),
            "paused": pause["reason"] if pause else None}
