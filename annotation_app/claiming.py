"""Task claiming with leases, drafts, heartbeats, release and idempotent submits.

Atomicity: on SQLite every write transaction starts with BEGIN IMMEDIATE (one writer at a time);
on PostgreSQL the candidate item row is locked with ``FOR UPDATE SKIP LOCKED``. In both cases the
slot is taken by ``UPDATE items SET taken = taken + 1 WHERE id = :id AND taken < overlap`` and a
CHECK constraint keeps ``taken <= overlap``, so no item is ever held beyond its overlap.
"""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import Connection, and_, exists, insert, select, update
from sqlalchemy.exc import IntegrityError

from annotation_app.audit import audit
from annotation_app.db import now
from annotation_app.models import Assignment, Campaign, Item, Submission
from annotation_app.tasks import ItemContext, PayloadError, get_task_type


class ClaimError(Exception):
    """A claim/submit/draft request cannot be served; ``status`` is the HTTP status."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


A, I = Assignment.__table__, Item.__table__  # noqa: E741


def item_context(item: Any, campaign_config: dict[str, Any] | None = None) -> ItemContext:
    return ItemContext(id=item.id, width=item.width, height=item.height, image_sha256=item.image_sha256,
                       image_url=item.image_url or "", spec=dict(item.spec or {}), campaign_config=campaign_config or {})


def expire_leases(conn: Connection, t: float) -> int:
    """Give back the slots of active leases that ran out (all campaigns)."""
    rows = conn.execute(select(A.c.id, A.c.item_id).where(A.c.status == "active", A.c.lease_expires_at < t)).all()
    n = 0
    for aid, item_id in rows:
        if conn.execute(update(A).where(A.c.id == aid, A.c.status == "active", A.c.lease_expires_at < t)
                        .values(status="expired")).rowcount:
            conn.execute(update(I).where(I.c.id == item_id).values(taken=I.c.taken - 1))
            n += 1
    return n


def _view(conn: Connection, a: Any, campaign: Any) -> dict[str, Any]:
    item = conn.execute(select(I).where(I.c.id == a.item_id)).one()
    task = get_task_type(campaign.task_type)
    return {
        "assignment_id": a.id, "status": a.status, "version": a.version, "lease_expires_at": a.lease_expires_at,
        "draft": a.draft, "reject_reason": a.reject_reason,
        "item": {"id": item.id, "media_url": f"/media/{item.media_key}", "width": item.width, "height": item.height,
                 "task": task.item_view(item_context(item, campaign.config))},
    }


def get_campaign(conn: Connection, campaign_id: int) -> Any:
    c = conn.execute(select(Campaign.__table__).where(Campaign.id == campaign_id)).first()
    if c is None:
        raise ClaimError(404, f"campaign {campaign_id} not found")
    return c


def claim(conn: Connection, campaign_id: int, user_id: int, *, exclude: list[int], lease_s: float,
          max_active: int, postgres: bool, ip: str = "") -> dict[str, Any] | None:
    """The user's next task: a lease they already hold (not in ``exclude``), an item a reviewer
    sent back to them, or a new item with a free slot. None when the campaign has nothing left."""
    t = now()
    campaign = get_campaign(conn, campaign_id)
    mine = conn.execute(select(A).where(A.c.campaign_id == campaign_id, A.c.user_id == user_id,
                                        A.c.status == "active", A.c.lease_expires_at >= t)
                        .order_by(A.c.claimed_at)).all()
    for a in mine:
        if a.id not in exclude:
            conn.execute(update(A).where(A.c.id == a.id).values(lease_expires_at=t + lease_s))
            return _view(conn, a._replace(lease_expires_at=t + lease_s), campaign)
    if len(mine) >= max_active:
        raise ClaimError(409, f"you already hold {len(mine)} leases in this campaign (limit {max_active})")
    back = conn.execute(select(A).where(A.c.campaign_id == campaign_id, A.c.user_id == user_id,
                                        A.c.status == "rejected").order_by(A.c.id).limit(1)).first()
    if back is not None:
        conn.execute(update(A).where(A.c.id == back.id).values(status="active", lease_expires_at=t + lease_s))
        audit(conn, user_id, "claim.returned", "assignment", back.id, ip=ip)
        return _view(conn, back._replace(status="active", lease_expires_at=t + lease_s), campaign)
    expire_leases(conn, t)
    done_by_me = exists().where(and_(A.c.item_id == I.c.id, A.c.user_id == user_id, A.c.status != "expired"))
    q = (select(I.c.id).where(I.c.campaign_id == campaign_id, I.c.taken < I.c.overlap, ~done_by_me)
         .order_by(I.c.priority, I.c.id).limit(1))
    if postgres:
        q = q.with_for_update(skip_locked=True, of=I)
    for _ in range(20):
        item_id = conn.execute(q).scalar()
        if item_id is None:
            return None
        if conn.execute(update(I).where(I.c.id == item_id, I.c.taken < I.c.overlap)
                        .values(taken=I.c.taken + 1)).rowcount:
            break
    else:
        raise ClaimError(503, "could not claim an item; try again")
    values = dict(status="active", lease_expires_at=t + lease_s, claimed_at=t)
    res = conn.execute(update(A).where(A.c.item_id == item_id, A.c.user_id == user_id, A.c.status == "expired")
                       .values(**values).returning(A.c.id))
    aid = res.scalar()
    if aid is None:
        aid = conn.execute(insert(A).values(item_id=item_id, campaign_id=campaign_id, user_id=user_id, version=1,
                                            **values)).inserted_primary_key[0]
    audit(conn, user_id, "claim", "assignment", aid, {"item_id": item_id}, ip=ip)
    a = conn.execute(select(A).where(A.c.id == aid)).one()
    return _view(conn, a, campaign)


def own_assignment(conn: Connection, assignment_id: int, user_id: int, *, lock: bool = False) -> Any:
    q = select(A).where(A.c.id == assignment_id)
    if lock:
        q = q.with_for_update()
    a = conn.execute(q).first()
    if a is None or a.user_id != user_id:
        raise ClaimError(404, f"assignment {assignment_id} not found")
    return a


def view_assignment(conn: Connection, assignment_id: int, user_id: int) -> dict[str, Any]:
    a = own_assignment(conn, assignment_id, user_id)
    return _view(conn, a, get_campaign(conn, a.campaign_id))


def _writable(a: Any) -> None:
    if a.status == "accepted":
        raise ClaimError(409, "this item was accepted by a reviewer and is read-only")
    if a.status == "released":
        raise ClaimError(409, "you released this item; claim a new one")


def _retake(conn: Connection, a: Any, lease_s: float, t: float) -> None:
    """An expired lease becomes active again if the item still has a free slot."""
    if a.status != "expired":
        return
    if not conn.execute(update(I).where(I.c.id == a.item_id, I.c.taken < I.c.overlap)
                        .values(taken=I.c.taken + 1)).rowcount:
        raise ClaimError(409, "your lease expired and the item went to another annotator; your draft is kept")
    conn.execute(update(A).where(A.c.id == a.id).values(status="active", lease_expires_at=t + lease_s))


def heartbeat(conn: Connection, assignment_id: int, user_id: int, lease_s: float) -> float:
    a = own_assignment(conn, assignment_id, user_id, lock=True)
    _writable(a)
    t = now()
    _retake(conn, a, lease_s, t)
    if a.status in ("active", "expired"):
        conn.execute(update(A).where(A.c.id == a.id).values(lease_expires_at=t + lease_s))
    return t + lease_s


def save_draft(conn: Connection, assignment_id: int, user_id: int, draft: dict[str, Any], lease_s: float) -> float:
    a = own_assignment(conn, assignment_id, user_id, lock=True)
    _writable(a)
    t = now()
    _retake(conn, a, lease_s, t)
    values: dict[str, Any] = {"draft": draft, "draft_at": t}
    if a.status in ("active", "expired"):
        values["lease_expires_at"] = t + lease_s
    conn.execute(update(A).where(A.c.id == a.id).values(**values))
    return t


def release(conn: Connection, assignment_id: int, user_id: int, ip: str = "") -> None:
    a = own_assignment(conn, assignment_id, user_id, lock=True)
    if a.status != "active":
        raise ClaimError(409, f"only an active lease can be released (this one is {a.status})")
    conn.execute(update(A).where(A.c.id == a.id).values(status="released"))
    conn.execute(update(I).where(I.c.id == a.item_id).values(taken=I.c.taken - 1))
    audit(conn, user_id, "release", "assignment", a.id, ip=ip)


def submit(conn: Connection, assignment_id: int, user_id: int, client_key: str, payload: Any,
           duration_ms: int | None, lease_s: float, ip: str = "") -> dict[str, Any]:
    """Store an answer once per ``client_key``; a repeated key returns the stored submission."""
    prior = conn.execute(select(Submission.__table__).where(Submission.user_id == user_id,
                                                            Submission.client_key == client_key)).first()
    if prior is not None:
        if prior.assignment_id != assignment_id:
            raise ClaimError(409, f"client_key {client_key!r} was already used for assignment {prior.assignment_id}")
        return {"submission_id": prior.id, "assignment_id": assignment_id, "replayed": True}
    a = own_assignment(conn, assignment_id, user_id, lock=True)
    _writable(a)
    campaign = get_campaign(conn, a.campaign_id)
    item = conn.execute(select(I).where(I.c.id == a.item_id)).one()
    try:
        clean = get_task_type(campaign.task_type).parse(payload, item_context(item, campaign.config))
    except PayloadError as exc:
        raise ClaimError(422, str(exc)) from None
    t = now()
    _retake(conn, a, lease_s, t)
    sid = conn.execute(insert(Submission.__table__).values(
        assignment_id=a.id, item_id=a.item_id, campaign_id=a.campaign_id, user_id=user_id, client_key=client_key,
        payload=clean.model_dump(mode="json"), duration_ms=duration_ms, kind="annotator", created_at=t,
    )).inserted_primary_key[0]
    conn.execute(update(A).where(A.c.id == a.id).values(status="submitted", submitted_at=t, submission_id=sid,
                                                        draft=None, version=A.c.version + 1, reject_reason=None))
    audit(conn, user_id, "submit", "submission", sid, {"assignment_id": a.id}, ip=ip)
    return {"submission_id": sid, "assignment_id": a.id, "replayed": False}


def new_client_key() -> str:
    return "srv-" + secrets.token_hex(12)


def is_duplicate_key(exc: IntegrityError) -> bool:
    return "client_key" in str(exc.orig) or "uq_submission_client_key" in str(exc.orig)
