"""Campaign administration for managers: campaign status (open, paused, closed), user groups,
the item list with gold marks, gold taken from an answer, and role rules for user management.

A paused campaign stays listed but hands out no new work; a closed one is also hidden from
annotators. Leases already held can still be submitted (no answer is ever lost by a pause).
A group is a name over users; assigning a campaign to a group assigns the users in it at that
moment (``members.add``), so a campaign's members are always plain users.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update

from annotation_app import members
from annotation_app.audit import audit
from annotation_app.campaigns import ImportError_, get_campaign_row, set_gold
from annotation_app.db import now
from annotation_app.models import ROLE_RANK, Assignment, Campaign, Item, Submission, User, UserGroup, table

STATUSES = ("open", "paused", "closed")
G = table(UserGroup)


class AdminError(LookupError):
    """A bad admin request; ``status`` is the HTTP status."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


# --- campaign status ------------------------------------------------------------------------------

def set_status(conn: Connection, campaign_id: int, status: str, by: int | None, ip: str = "") -> str:
    """Open, pause or close a campaign; returns the status it had."""
    if status not in STATUSES:
        raise AdminError(422, f"status must be one of {', '.join(STATUSES)}, got {status!r}")
    old = conn.execute(select(Campaign.status).where(Campaign.id == campaign_id)).scalar()
    if old is None:
        raise AdminError(404, f"campaign {campaign_id} not found")
    conn.execute(update(table(Campaign)).where(Campaign.id == campaign_id).values(status=status))
    audit(conn, by, "campaign.status", "campaign", campaign_id, {"from": old, "to": status}, ip=ip)
    return str(old)


# --- roles ----------------------------------------------------------------------------------------

def check_role_change(actor_role: str, target_role: str | None, new_role: str | None) -> None:
    """A manager manages annotators, reviewers and managers; only an admin creates, changes or
    promotes to admin (no one grants more than they hold)."""
    if actor_role == "admin":
        return
    for r in (target_role, new_role):
        if r is not None and ROLE_RANK[r] > ROLE_RANK[actor_role]:
            raise AdminError(403, f"a {actor_role} cannot manage {r} accounts; ask an admin")


def user_role(conn: Connection, user_id: int) -> str:
    role = conn.execute(select(User.role).where(User.id == user_id)).scalar()
    if role is None:
        raise AdminError(404, f"user {user_id} not found")
    return str(role)


# --- groups ---------------------------------------------------------------------------------------

def check_group_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > 64:
        raise AdminError(422, "a group name must have 1-64 characters")
    return name


def groups(conn: Connection) -> list[dict[str, Any]]:
    rows = conn.execute(select(G.c.name, User.username).join(User, User.id == G.c.user_id)
                        .order_by(G.c.name, User.username)).all()
    out: dict[str, list[str]] = {}
    for r in rows:
        out.setdefault(r.name, []).append(r.username)
    return [{"name": n, "usernames": u} for n, u in out.items()]


def add_to_group(conn: Connection, name: str, usernames: list[str], by: int | None, ip: str = "") -> list[str]:
    """Put users (by name) in a group; returns those newly added. An unknown name refuses all."""
    name = check_group_name(name)
    ids = {u: members.user_id_of(conn, u) for u in dict.fromkeys(usernames)}
    have = set(conn.execute(select(G.c.user_id).where(G.c.name == name)).scalars())
    added = [u for u, uid in ids.items() if uid not in have]
    for u in added:
        conn.execute(insert(G).values(name=name, user_id=ids[u], added_at=now()))
    if added:
        audit(conn, by, "group.add", "group", name, {"usernames": added}, ip=ip)
    return added


def remove_from_group(conn: Connection, name: str, username: str, by: int | None, ip: str = "") -> None:
    uid = members.user_id_of(conn, username)
    if not conn.execute(delete(G).where(G.c.name == name, G.c.user_id == uid)).rowcount:
        raise AdminError(404, f"{username!r} is not in group {name!r}")
    audit(conn, by, "group.remove", "group", name, {"username": username}, ip=ip)


def assign_group(conn: Connection, campaign_id: int, name: str, by: int | None, ip: str = "") -> list[str]:
    """Assign a campaign to every user now in the group; returns the names newly assigned."""
    names = list(conn.execute(select(User.username).join(G, G.c.user_id == User.id).where(G.c.name == name)
                              .order_by(User.username)).scalars())
    if not names:
        raise AdminError(422, f"no group named {name!r} (or it has no members)")
    return members.add(conn, campaign_id, names, by, ip)


# --- items and gold -------------------------------------------------------------------------------

S, A = table(Submission), table(Assignment)


def items(conn: Connection, campaign_id: int, *, gold_only: bool = False, limit: int = 100,
          offset: int = 0) -> dict[str, Any]:
    """A page of a campaign's items: image, original path, gold answer, answers given so far."""
    get_campaign_row(conn, campaign_id)
    q = select(Item.id, Item.media_key, Item.width, Item.height, Item.gold, Item.meta, Item.overlap, Item.taken,
               select(func.count()).select_from(A).where(A.c.item_id == Item.id, A.c.submission_id.is_not(None))
               .scalar_subquery().label("answers")).where(Item.campaign_id == campaign_id)
    n = select(func.count()).select_from(table(Item)).where(Item.campaign_id == campaign_id)
    if gold_only:
        q, n = q.where(Item.gold.is_not(None)), n.where(Item.gold.is_not(None))
    rows = conn.execute(q.order_by(Item.id).limit(limit).offset(offset)).all()
    return {"total": int(conn.execute(n).scalar() or 0), "items": [
        {"id": r.id, "media_url": f"/media/{r.media_key}", "width": r.width, "height": r.height, "gold": r.gold,
         "source_path": (r.meta or {}).get("source_path"), "overlap": r.overlap, "taken": r.taken,
         "answers": r.answers} for r in rows]}


GOLD_KEYS = ("label", "points", "not_present", "expressions")


def gold_of_payload(payload: dict[str, Any]) -> dict[str, Any]:
    """A stored answer in the form gold is given in: its label, points (``{"x", "y"}`` become
    ``[x, y]``), not-present mark and expressions; review flags and the like are dropped."""
    out: dict[str, Any] = {}
    for k in GOLD_KEYS:
        v = payload.get(k)
        if v is None:
            continue
        if k == "points":
            v = [[p["x"], p["y"]] if isinstance(p, dict) else p for p in v]
        elif k == "expressions":
            v = [gold_of_payload(e) for e in v]
        out[k] = v
    return out


def gold_from_answer(conn: Connection, item_id: int, by: int | None, ip: str = "") -> dict[str, Any]:
    """Mark an item gold with its answer: the latest accepted one, else the latest submitted."""
    rank = {"accepted": 0, "submitted": 1}
    rows = conn.execute(select(A.c.status, S.c.payload).join(S, S.c.id == A.c.submission_id)
                        .where(A.c.item_id == item_id, A.c.status.in_(rank)).order_by(A.c.id.desc())).all()
    if not rows:
        raise AdminError(422, f"item {item_id} has no accepted or submitted answer to take as gold")
    best = min(rows, key=lambda r: rank[r.status])
    gold = gold_of_payload(best.payload)
    try:
        set_gold(conn, item_id, gold, by, ip)
    except ImportError_ as exc:
        raise AdminError(404 if "not found" in str(exc) else 422, str(exc)) from None
    return dict(conn.execute(select(Item.gold).where(Item.id == item_id)).scalar() or {})


def server_path(import_root: str, path: str) -> str:
    """``path`` (relative to ``import_root``, or absolute inside it) as a real path inside the root;
    refused when no root is configured or the path leaves it (``..``, symlinks)."""
    import os

    if not import_root:
        raise AdminError(403, "server-side imports are off: set PIXMO_APP_IMPORT_ROOT to the folder they may read")
    root = os.path.realpath(import_root)
    real = os.path.realpath(os.path.join(root, path))
    if os.path.commonpath([real, root]) != root:
        raise AdminError(403, f"{path}: outside the import root {import_root}")
    if not os.path.exists(real):
        raise AdminError(422, f"{path}: no such file or folder under the import root")
    return real
