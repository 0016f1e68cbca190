"""Campaign assignment: a campaign with members is listed to and claimable by its members only;
a campaign without members is open to every annotator. Reviewers and admins see every campaign."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, delete, exists, insert, select

from annotation_app.audit import audit
from annotation_app.db import now
from annotation_app.models import Campaign, CampaignMember, User, table

M = table(CampaignMember)


class MemberError(LookupError):
    """A bad assignment request; ``status`` is the HTTP status."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def members(conn: Connection, campaign_id: int) -> list[dict[str, Any]]:
    rows = conn.execute(select(User.id, User.username, User.role, M.c.added_at).join(M, M.c.user_id == User.id)
                        .where(M.c.campaign_id == campaign_id).order_by(User.username)).all()
    return [{"user_id": r.id, "username": r.username, "role": r.role, "added_at": r.added_at} for r in rows]


def add(conn: Connection, campaign_id: int, usernames: list[str], by: int | None, ip: str = "") -> list[str]:
    """Assign users (by name) to a campaign; already assigned ones are left as they are. Returns the
    names newly assigned. An unknown name refuses the whole request."""
    ids = dict(conn.execute(select(User.username, User.id).where(User.username.in_(usernames))).tuples().all())
    unknown = [u for u in usernames if u not in ids]
    if unknown:
        raise MemberError(422, f"no user named {', '.join(repr(u) for u in unknown)}")
    have = set(conn.execute(select(M.c.user_id).where(M.c.campaign_id == campaign_id)).scalars())
    added = [u for u in dict.fromkeys(usernames) if ids[u] not in have]
    t = now()
    for u in added:
        conn.execute(insert(M).values(campaign_id=campaign_id, user_id=ids[u], added_at=t, added_by=by))
        audit(conn, by, "campaign.assign", "campaign", campaign_id, {"user_id": ids[u], "username": u}, ip=ip)
    return added


def remove(conn: Connection, campaign_id: int, user_id: int, by: int | None, ip: str = "") -> None:
    n = conn.execute(delete(M).where(M.c.campaign_id == campaign_id, M.c.user_id == user_id)).rowcount
    if not n:
        raise MemberError(404, f"user {user_id} is not assigned to campaign {campaign_id}")
    audit(conn, by, "campaign.unassign", "campaign", campaign_id, {"user_id": user_id}, ip=ip)


def user_id_of(conn: Connection, username: str) -> int:
    uid = conn.execute(select(User.id).where(User.username == username)).scalar()
    if uid is None:
        raise MemberError(422, f"no user named {username!r}")
    return int(uid)


def can_see(conn: Connection, campaign_id: int, user_id: int) -> bool:
    return conn.execute(select(Campaign.id).where(Campaign.id == campaign_id, visible_to(user_id))).first() is not None


def visible_to(user_id: int) -> Any:
    """A WHERE clause on ``campaigns``: campaigns without members, and those the user is assigned to."""
    return ~exists().where(M.c.campaign_id == Campaign.id) | exists().where(M.c.campaign_id == Campaign.id,
                                                                             M.c.user_id == user_id)
