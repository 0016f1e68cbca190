"""Task claiming with leases, drafts, heartbeats, release and idempotent submits.

Atomicity: on SQLite every write transaction starts with BEGIN IMMEDIATE (one writer at a time);
on PostgreSQL the candidate item row is locked with ``FOR UPDATE SKIP LOCKED``. In both cases the
slot is taken by ``UPDATE items SET taken = taken + 1 WHERE id = :id AND taken < overlap`` and a
CHECK constraint keeps ``taken <= overlap``, so no item is ever held beyond its overlap.
"""

from __future__ import annotations

import json
import random
import secrets
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Connection, select, update

from annotation_app import gating, sql
from annotation_app.audit import audit, audit_op, audit_step
from annotation_app.db import now
from annotation_app.models import Assignment, Item, table
from annotation_app.sql import Op, Q, Steps, jload
from annotation_app.tasks import ItemContext, PayloadError, get_task_type


class ClaimError(Exception):
    """A claim/submit/draft request cannot be served; ``status`` is the HTTP status."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


A, I = table(Assignment), table(Item)  # noqa: E741


def item_context(item: Any, campaign_config: dict[str, Any] | None = None) -> ItemContext:
    return ItemContext(id=item.id, width=item.width, height=item.height, image_sha256=item.image_sha256,
                       image_url=item.image_url or "", spec=dict(item.spec or {}), campaign_config=campaign_config or {})


_EXPIRED = Q("SELECT id, item_id FROM assignments WHERE status = 'active' AND lease_expires_at < :t LIMIT 500")
_EXPIRE = Q("UPDATE assignments SET status = 'expired' WHERE id = :id AND status = 'active' AND lease_expires_at < :t")
_GIVE_BACK = Q("UPDATE items SET taken = taken - 1 WHERE id = :i")
_CAMPAIGN = Q("SELECT id, task_type, config FROM campaigns WHERE id = :c")
_CAMPAIGN_MINE = Q(  # the campaign and the caller's live assignments in it (a NULL id: none)
    "SELECT c.task_type, c.config, c.status AS campaign_status, a.id, a.item_id, a.status, a.draft, a.reject_reason, a.version, a.submission_id, "
    "(SELECT p.reason FROM annotator_pauses p WHERE p.campaign_id = c.id AND p.user_id = :u AND p.reinstated_at IS NULL "
    "ORDER BY p.id DESC LIMIT 1) AS paused, "
    "(EXISTS (SELECT 1 FROM campaign_members m WHERE m.campaign_id = c.id) AND NOT EXISTS "
    "(SELECT 1 FROM campaign_members m WHERE m.campaign_id = c.id AND m.user_id = :u)) AS not_member "
    "FROM campaigns c LEFT JOIN assignments a ON a.campaign_id = c.id AND a.user_id = :u AND "
    "(a.status = 'rejected' OR (a.status = 'active' AND a.lease_expires_at >= :t)) WHERE c.id = :c "
    "ORDER BY a.claimed_at, a.id")
_EXTEND = Q("UPDATE assignments SET status = 'active', lease_expires_at = :exp WHERE id = :id")
_TAKE = Q("UPDATE items SET taken = taken + 1 WHERE id = :i AND taken < overlap")
_PAYLOAD = Q("SELECT payload FROM submissions WHERE id = :s")
_ITEM = Q("SELECT id, media_key, width, height, spec, image_sha256, image_url FROM items WHERE id = :i")


def _take_chain(only: str = "") -> sql.Chain:
    """Claim a free item (``only``: an extra condition on the item, e.g. gold or not). No row:
    nothing free; a NULL id: the upsert hit a live assignment (the caller rolls back)."""
    return sql.Chain(
        sql.Step("cand", f"SELECT id FROM items WHERE campaign_id = :c AND taken < overlap{only} AND NOT EXISTS "
                         "(SELECT 1 FROM assignments a WHERE a.item_id = items.id AND a.user_id = :u AND a.status <> 'expired') "
                         "ORDER BY priority, id LIMIT 1", lock="FOR UPDATE SKIP LOCKED"),
        sql.Step("took", "UPDATE items SET taken = taken + 1 WHERE id = {cand.id} AND taken < overlap "
                         "RETURNING id, media_key, width, height, spec, image_sha256, image_url"),
        sql.Step("ins", table="assignments",
                 values=(("item_id", "{took.id}"), ("campaign_id", ":c"), ("user_id", ":u"), ("status", "'active'"),
                         ("lease_expires_at", ":exp"), ("claimed_at", ":t"), ("version", "1")),
                 tail="ON CONFLICT (item_id, user_id) DO UPDATE SET status = 'active', "
                      "lease_expires_at = excluded.lease_expires_at, claimed_at = excluded.claimed_at "
                      "WHERE assignments.status = 'expired' RETURNING id, item_id, draft, version"),
        audit_step("claim", "assignment", "{ins.id}", "'{\"item_id\": ' || {ins.item_id} || '}'"),
        out=("ins.id", "ins.draft", "ins.version", "took.id AS item_id", "took.media_key", "took.width", "took.height",
             "took.spec", "took.image_sha256", "took.image_url"),
    )


_TAKE_NEW, _TAKE_GOLD, _TAKE_PLAIN = _take_chain(), _take_chain(" AND gold IS NOT NULL"), _take_chain(" AND gold IS NULL")
_MINE_COUNTS = Q(  # the caller's claims in the campaign so far, and how many were gold items
    "SELECT COUNT(*) AS n, COALESCE(SUM(CASE WHEN i.gold IS NOT NULL THEN 1 ELSE 0 END), 0) AS g "
    "FROM assignments a JOIN items i ON i.id = a.item_id "
    "WHERE a.campaign_id = :c AND a.user_id = :u AND a.status NOT IN ('expired', 'released')")
_last_expiry = [0.0]
SWEEP_LOCK = 0x706978_6D6F_0001
"""The PostgreSQL advisory lock a lease sweep holds (to the end of its transaction): with several
server processes on one database only one sweeps at a time; the others skip theirs instead of
queueing on the same assignment rows (see docs/deploy.md)."""
_TRY_SWEEP = Q("SELECT pg_try_advisory_xact_lock(:k)")


def expire_steps(t: float, postgres: bool = False) -> Steps[int]:
    """Give back the slots of active leases that ran out (all campaigns). On PostgreSQL a sweep
    that another session is running already is skipped (returns 0)."""
    n = 0
    if postgres and not (yield Op("scalar", _TRY_SWEEP, {"k": SWEEP_LOCK})):
        return 0
    for r in (yield Op("rows", _EXPIRED, {"t": t})):
        if (yield Op("execute", _EXPIRE, {"id": r["id"], "t": t})):
            yield Op("execute", _GIVE_BACK, {"i": r["item_id"]})
            n += 1
    _last_expiry[0] = t
    return n


def _view_steps(a: Any, campaign: Any, lease_expires_at: float, item: Any = None) -> Steps[dict[str, Any]]:
    item = item or (yield Op("first", _ITEM, {"i": a["item_id"]}))
    assert item is not None
    ctx = ItemContext(id=item["id"], width=item["width"], height=item["height"], image_sha256=item["image_sha256"],
                      image_url=item["image_url"] or "", spec=jload(item["spec"]) or {}, campaign_config=campaign.config)
    return {
        "assignment_id": a["id"], "status": "active", "version": a["version"], "lease_expires_at": lease_expires_at,
        "draft": jload(a["draft"]), "reject_reason": a["reject_reason"],
        "item": {"id": item["id"], "media_url": f"/media/{item['media_key']}", "width": item["width"],
                 "height": item["height"], "task": get_task_type(campaign.task_type).item_view(ctx)},
    }


def get_campaign(conn: Any, campaign_id: int) -> Any:
    c = sql.first(conn, _CAMPAIGN, {"c": campaign_id})
    if c is None:
        raise ClaimError(404, f"campaign {campaign_id} not found")
    return SimpleNamespace(id=c["id"], task_type=c["task_type"], config=jload(c["config"]) or {})


def claim_steps(campaign_id: int, user_id: int, *, exclude: list[int], lease_s: float, max_active: int,
                postgres: bool, ip: str = "", manager: bool = False) -> Steps[dict[str, Any] | None]:
    """The user's next task: a lease they already hold (not in ``exclude``), an item a reviewer
    sent back to them, or a new item with a free slot. None when the campaign has nothing left.
    Refused to annotators (not ``manager``) when the campaign has members and they are not one."""
    t = now()
    exp = t + lease_s
    found = yield Op("rows", _CAMPAIGN_MINE, {"c": campaign_id, "u": user_id, "t": t})
    if not found:
        raise ClaimError(404, f"campaign {campaign_id} not found")
    if found[0]["not_member"] and not manager:
        raise ClaimError(403, "this campaign is assigned to other annotators; ask an admin to assign you")
    if found[0]["paused"] is not None:
        raise ClaimError(403, f"you are paused in this campaign: {found[0]['paused']}. An admin can reinstate you.")
    campaign = SimpleNamespace(id=campaign_id, task_type=found[0]["task_type"], config=jload(found[0]["config"]) or {})
    exp = t + campaign_lease(campaign.config, lease_s)
    mine = [r for r in found if r["id"] is not None]
    active = [a for a in mine if a["status"] == "active"]
    for a in active + [a for a in mine if a["status"] == "rejected"]:
        if a["id"] in exclude:
            continue
        if a["status"] == "rejected" and len(active) >= max_active:
            break
        yield Op("execute", _EXTEND, {"exp": exp, "id": a["id"]})
        if a["status"] == "rejected":
            yield audit_op(user_id, "claim.returned", "assignment", a["id"], ip=ip)
            if a["draft"] is None and a["submission_id"]:  # start the fix from the rejected answer
                a = dict(a, draft=(yield Op("scalar", _PAYLOAD, {"s": a["submission_id"]})))
        return (yield from _view_steps(a, campaign, exp))
    if found[0]["campaign_status"] != "open":  # paused or closed: leases held are kept, no new work
        raise ClaimError(409, f"this campaign is {found[0]['campaign_status']} by a manager: no new tasks for now")
    if len(active) >= max_active:
        raise ClaimError(409, f"you already hold {len(active)} leases in this campaign (limit {max_active})")
    if t - _last_expiry[0] > 1.0:
        yield from expire_steps(t, postgres)
    params = {"c": campaign_id, "u": user_id, "exp": exp, "t": t, "ip": ip[:64]}
    share = float(campaign.config.get("gold_share") or 0.0)
    row = yield from _take_new(params, share, postgres)
    if row is None and (yield from expire_steps(t, postgres)):
        row = yield from _take_new(params, share, postgres)
    if row is None:
        return None
    if row["id"] is None:
        raise ClaimError(503, "could not claim an item; try again")
    return (yield from _view_steps(dict(row, reject_reason=None), campaign, exp, item=dict(row, id=row["item_id"])))


def _take_new(params: dict[str, Any], share: float, postgres: bool) -> Steps[dict[str, Any] | None]:
    """A new item for the caller. Without a gold share, the lowest priority first (gold items
    first). With one, gold or not as :func:`wants_gold` decides, the other kind when none is free."""
    if not share:
        return (yield from _TAKE_NEW.run(params, postgres=postgres))
    mine = yield Op("first", _MINE_COUNTS, {"c": params["c"], "u": params["u"]})
    gold_first = wants_gold(int(mine["g"]) if mine else 0, int(mine["n"]) if mine else 0, share)
    for chain in (_TAKE_GOLD, _TAKE_PLAIN) if gold_first else (_TAKE_PLAIN, _TAKE_GOLD):
        row = yield from chain.run(params, postgres=postgres)
        if row is not None:
            return row
    return None


def wants_gold(gold: int, claims: int, share: float, draw: float | None = None) -> bool:
    """Whether an annotator's next claim should be a gold item, when ``share`` of their claims
    are to be gold (``gold`` of their ``claims`` so far were). Drawn with probability ``share``,
    so the gold items come at positions nobody can predict, but kept within one item of
    ``share`` of the claims at every point: behind by more than one, gold; ahead, not gold."""
    target = share * (claims + 1)  # gold items due after this claim
    if gold > target:  # one more would put them more than one ahead
        return False
    if gold < target - 1:  # none now would leave them more than one behind
        return True
    return (_RNG.random() if draw is None else draw) < share


_RNG = random.Random()


def campaign_lease(config: dict[str, Any], default: float) -> float:
    """The lease a campaign's claims, heartbeats and drafts get: its ``lease_seconds``, else ``default``."""
    return float(config.get("lease_seconds") or default)


def _lease_of(conn: Connection, campaign_id: int, default: float) -> float:
    return campaign_lease(get_campaign(conn, campaign_id).config, default)


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
    out = sql.run(_view_steps(dict(a._mapping), get_campaign(conn, a.campaign_id), a.lease_expires_at), conn)
    out["status"] = a.status
    return out


def _writable(a: Any) -> None:
    if a.status == "accepted":
        raise ClaimError(409, "this item was accepted by a reviewer and is read-only")
    if a.status == "released":
        raise ClaimError(409, "you released this item; claim a new one")


def _retake(conn: Any, a: Any, lease_s: float, t: float) -> None:
    sql.run(_retake_steps(a, lease_s, t), conn)


def _retake_steps(a: Any, lease_s: float, t: float) -> Steps[None]:
    """An expired lease becomes active again if the item still has a free slot."""
    if a.status != "expired":
        return
    if not (yield Op("execute", _TAKE, {"i": a.item_id})):
        raise ClaimError(409, "your lease expired and the item went to another annotator; your draft is kept")
    yield Op("execute", _EXTEND, {"exp": t + lease_s, "id": a.id})


def heartbeat(conn: Connection, assignment_id: int, user_id: int, lease_s: float) -> float:
    a = own_assignment(conn, assignment_id, user_id, lock=True)
    _writable(a)
    t = now()
    lease_s = _lease_of(conn, a.campaign_id, lease_s)
    _retake(conn, a, lease_s, t)
    if a.status in ("active", "expired"):
        conn.execute(update(A).where(A.c.id == a.id).values(lease_expires_at=t + lease_s))
    return t + lease_s


def save_draft(conn: Connection, assignment_id: int, user_id: int, draft: dict[str, Any], lease_s: float) -> float:
    a = own_assignment(conn, assignment_id, user_id, lock=True)
    _writable(a)
    t = now()
    lease_s = _lease_of(conn, a.campaign_id, lease_s)
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


_PRIOR = Q("SELECT id, assignment_id FROM submissions WHERE user_id = :u AND client_key = :k")
_LOAD = sql.Chain(sql.Step(  # the assignment with its item, campaign and any submission under the same key
    "load", "SELECT a.id, a.user_id, a.item_id, a.campaign_id, a.status, i.width, i.height, i.spec, i.image_sha256, "
            "i.image_url, i.gold IS NOT NULL AS is_gold, c.task_type, c.config, s.id AS prior_id, s.assignment_id AS prior_assignment "
            "FROM assignments a JOIN items i ON i.id = a.item_id JOIN campaigns c ON c.id = a.campaign_id "
            "LEFT JOIN submissions s ON s.user_id = :u AND s.client_key = :k WHERE a.id = :id", lock="FOR UPDATE OF a"))
_STORE = sql.Chain(  # the submission, the assignment marked submitted, the audit row
    sql.Step("sub", table="submissions", tail="RETURNING id", values=(
        ("assignment_id", ":a"), ("item_id", ":i"), ("campaign_id", ":c"), ("user_id", ":u"), ("client_key", ":k"),
        ("payload", ":p"), ("duration_ms", ":d"), ("kind", "'annotator'"), ("created_at", ":t"))),
    sql.Step("mark", "UPDATE assignments SET status = 'submitted', submitted_at = :t, submission_id = {sub.id}, "
                     "draft = NULL, version = version + 1, reject_reason = NULL WHERE id = :a"),
    audit_step("submit", "submission", "{sub.id}", ":detail"),
    out=("sub.id",),
)


def submit_steps(assignment_id: int, user_id: int, client_key: str, payload: Any, duration_ms: int | None,
                 lease_s: float, ip: str = "", *, postgres: bool) -> Steps[dict[str, Any]]:
    """Store an answer once per ``client_key``; a repeated key returns the stored submission."""
    row = yield from _LOAD.run({"id": assignment_id, "u": user_id, "k": client_key}, postgres=postgres)
    prior = ({"id": row["prior_id"], "assignment_id": row["prior_assignment"]} if row is not None
             else (yield Op("first", _PRIOR, {"u": user_id, "k": client_key})))
    if prior is not None and prior["id"] is not None:
        if prior["assignment_id"] != assignment_id:
            raise ClaimError(409, f"client_key {client_key!r} was already used for assignment {prior['assignment_id']}")
        return {"submission_id": prior["id"], "assignment_id": assignment_id, "replayed": True}
    if row is None or row["user_id"] != user_id:
        raise ClaimError(404, f"assignment {assignment_id} not found")
    a = SimpleNamespace(**row)
    _writable(a)
    ctx = ItemContext(id=a.item_id, width=a.width, height=a.height, image_sha256=a.image_sha256,
                      image_url=a.image_url or "", spec=jload(a.spec) or {}, campaign_config=jload(a.config) or {})
    min_view = int(ctx.campaign_config.get("min_view_ms") or 0)
    if min_view and (duration_ms is None or duration_ms < min_view):
        raise ClaimError(422, f"duration_ms: the item was shown for {duration_ms} ms; this campaign needs at least "
                              f"{min_view} ms before a submit (min_view_ms)")
    task = get_task_type(a.task_type)
    try:
        clean = task.parse(payload, ctx)
        clean = yield from task.verify_steps(clean, a, user_id)
    except PayloadError as exc:
        raise ClaimError(422, str(exc)) from None
    t = now()
    yield from _retake_steps(a, lease_s, t)
    p = {"a": a.id, "i": a.item_id, "c": a.campaign_id, "u": user_id, "k": client_key, "p": clean.model_dump_json(),
         "d": duration_ms, "t": t}
    stored = yield from _STORE.run({**p, "detail": json.dumps({"assignment_id": a.id}), "ip": ip[:64]}, postgres=postgres)
    assert stored is not None  # an INSERT ... VALUES always returns its row
    if a.is_gold:
        yield from gating.check_steps(a.campaign_id, a.task_type, ctx.campaign_config, user_id, ip)
    return {"submission_id": stored["id"], "assignment_id": a.id, "replayed": False}


def new_client_key() -> str:
    return "srv-" + secrets.token_hex(12)


def is_duplicate_key(exc: Exception) -> bool:
    msg = str(getattr(exc, "orig", exc))
    return "client_key" in msg or "uq_submission_client_key" in msg
