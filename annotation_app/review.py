"""Review: accept, reject with a reason (the item goes back to its author), or edit and accept."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Connection, insert, select, update

from annotation_app.audit import audit
from annotation_app.claiming import A, ClaimError, I, get_campaign, item_context, new_client_key
from annotation_app.db import inserted_id, now
from annotation_app.models import Review, Submission, User, table
from annotation_app.tasks import PayloadError, get_task_type

S = table(Submission)


class ReviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    decision: Literal["accept", "reject", "edit"]
    reason: str = Field("", max_length=2000)
    payload: dict[str, Any] | None = None
    version: int | None = Field(None, description="assignment version seen by the reviewer (optimistic check)")


def queue(conn: Connection, campaign_id: int, limit: int = 50, status: str = "submitted", *, offset: int = 0,
          reviewer_id: int | None = None, annotator: str | None = None, flagged: bool = False) -> list[dict[str, Any]]:
    """Answers in ``status``, oldest first, one page (``offset``, ``limit``); never the reviewer's own
    work; optionally one annotator's (username) and only those with flags."""
    campaign = get_campaign(conn, campaign_id)
    task = get_task_type(campaign.task_type)
    q = (select(A.c.id, A.c.version, A.c.status, A.c.reject_reason, A.c.submitted_at, A.c.user_id, I, S.c.payload,
                S.c.duration_ms, User.username)
         .join(I, I.c.id == A.c.item_id).join(S, S.c.id == A.c.submission_id).join(User, User.id == A.c.user_id)
         .where(A.c.campaign_id == campaign_id, A.c.status == status).order_by(A.c.submitted_at, A.c.id))
    if reviewer_id is not None:
        q = q.where(A.c.user_id != reviewer_id)
    if annotator:
        q = q.where(User.username == annotator)
    if flagged:  # flags live in the JSON payload: filtered here, then paged
        rows = [r for r in conn.execute(q.limit(20000)).all() if (r.payload or {}).get("flags")][offset:offset + limit]
    else:
        rows = list(conn.execute(q.offset(offset).limit(limit)).all())
    return [{"assignment_id": r.id, "version": r.version, "status": r.status, "annotator": r.username,
             "submitted_at": r.submitted_at, "payload": r.payload, "duration_ms": r.duration_ms,
             "reject_reason": r.reject_reason, "task_type": campaign.task_type,
             "flags": (r.payload or {}).get("flags") or [],
             "source_path": (r.meta or {}).get("source_path"),
             "item": {"id": r[6], "media_url": f"/media/{r.media_key}", "width": r.width, "height": r.height,
                      "task": task.item_view(item_context(r, campaign.config))}} for r in rows]


def review(conn: Connection, assignment_id: int, reviewer_id: int, body: ReviewIn, ip: str = "") -> dict[str, Any]:
    q = select(A).where(A.c.id == assignment_id).with_for_update()
    a = conn.execute(q).first()
    if a is None:
        raise ClaimError(404, f"assignment {assignment_id} not found")
    if a.user_id == reviewer_id:
        raise ClaimError(403, "you cannot review your own work; another reviewer has to")
    if a.status != "submitted":
        raise ClaimError(409, f"assignment {assignment_id} is {a.status}, not awaiting review")
    if body.version is not None and body.version != a.version:
        raise ClaimError(409, f"assignment changed since you loaded it (version {a.version}, you saw {body.version})")
    t = now()
    sub_id = a.submission_id
    if body.decision == "reject":
        if not body.reason.strip():
            raise ClaimError(422, "reason: a rejection needs a reason for the annotator")
        values: dict[str, Any] = {"status": "rejected", "reject_reason": body.reason.strip()}
    elif body.decision == "edit":
        if body.payload is None:
            raise ClaimError(422, "payload: an edit needs the corrected payload")
        campaign = get_campaign(conn, a.campaign_id)
        item = conn.execute(select(I).where(I.c.id == a.item_id)).one()
        try:
            clean = get_task_type(campaign.task_type).parse(body.payload, item_context(item, campaign.config))
        except PayloadError as exc:
            raise ClaimError(422, str(exc)) from None
        sub_id = inserted_id(conn.execute(insert(S).values(
            assignment_id=a.id, item_id=a.item_id, campaign_id=a.campaign_id, user_id=reviewer_id,
            client_key=new_client_key(), payload=clean.model_dump(mode="json"), kind="review_edit", created_at=t,
        )))
        values = {"status": "accepted", "submission_id": sub_id}
    else:
        values = {"status": "accepted"}
    conn.execute(update(A).where(A.c.id == a.id).values(version=A.c.version + 1, **values))
    rid = inserted_id(conn.execute(insert(table(Review)).values(assignment_id=a.id, submission_id=sub_id,
                                                       reviewer_id=reviewer_id, decision=body.decision,
                                                       reason=body.reason, created_at=t)))
    audit(conn, reviewer_id, f"review.{body.decision}", "assignment", a.id, {"review_id": rid}, ip=ip)
    return {"assignment_id": a.id, "status": values["status"], "review_id": rid}
