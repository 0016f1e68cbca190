"""Gold gating: an annotator whose gold score in a campaign falls below the campaign's threshold,
after at least ``gold_min_items`` scored gold items, is paused there until an admin reinstates them.

Campaign config: ``gold_threshold`` (0..1; unset: no gating) and ``gold_min_items`` (default 5).
An item's gold score is the F1 of its precision and recall (``quality.item_score``); the
annotator's score is the mean over their own latest answers to gold items (never a reviewer's edit) since their last
reinstatement (so a reinstated annotator is judged again only after ``gold_min_items`` new ones).
The check runs inside the submit transaction of every gold answer; claims check the pause.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select, update

from annotation_app.audit import audit, audit_op
from annotation_app.db import now
from annotation_app.models import AnnotatorPause, table
from annotation_app.quality import item_score
from annotation_app.sql import Op, Q, Steps, jload
from annotation_app.tasks import ItemContext, PayloadError, get_task_type

DEFAULT_MIN_ITEMS = 5
P = table(AnnotatorPause)


class GateError(LookupError):
    """A reinstatement that cannot be done (nobody paused, unknown user)."""


def gate(config: dict[str, Any]) -> tuple[float, int] | None:
    """(threshold, minimum gold items) of a campaign config, or None when gating is off."""
    t = config.get("gold_threshold")
    if t is None:
        return None
    return float(t), int(config.get("gold_min_items", DEFAULT_MIN_ITEMS))


def check_gate_config(config: dict[str, Any]) -> None:
    """Refuse a bad gating config at campaign creation (PayloadError naming the key)."""
    t, n = config.get("gold_threshold"), config.get("gold_min_items", DEFAULT_MIN_ITEMS)
    if t is not None and (isinstance(t, bool) or not isinstance(t, int | float) or not 0.0 <= t <= 1.0):
        raise PayloadError(f"gold_threshold must be a number from 0 to 1, got {t!r}")
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 10000:
        raise PayloadError(f"gold_min_items must be an integer from 1 to 10000, got {n!r}")
    share = config.get("gold_share")
    if share is not None and (isinstance(share, bool) or not isinstance(share, int | float) or not 0.0 <= share <= 1.0):
        raise PayloadError(f"gold_share must be a number from 0 to 1 (0: gold items first), got {share!r}")


_LAST = Q("SELECT reinstated_at FROM annotator_pauses WHERE campaign_id = :c AND user_id = :u ORDER BY id DESC LIMIT 1")
_GOLD_ANSWERS = Q(  # the annotator's own latest answer to each gold item since ``since`` (not a reviewer's edit)
    "SELECT s.payload, i.id, i.width, i.height, i.spec, i.image_sha256, i.image_url, i.gold "
    "FROM submissions s JOIN items i ON i.id = s.item_id "
    "WHERE s.campaign_id = :c AND s.user_id = :u AND s.kind = 'annotator' AND i.gold IS NOT NULL "
    "AND s.created_at > :since AND s.id = (SELECT MAX(s2.id) FROM submissions s2 "
    "WHERE s2.assignment_id = s.assignment_id AND s2.user_id = :u AND s2.kind = 'annotator')")
_PAUSE = Q("INSERT INTO annotator_pauses (campaign_id, user_id, reason, score, gold_items, paused_at) "
           "VALUES (:c, :u, :reason, :score, :n, :t) ON CONFLICT DO NOTHING")  # uq_pause_in_force


def _score(task: Any, row: dict[str, Any], config: dict[str, Any]) -> float | None:
    ctx = ItemContext(id=row["id"], width=row["width"], height=row["height"], image_sha256=row["image_sha256"],
                      image_url=row["image_url"] or "", spec=jload(row["spec"]) or {}, campaign_config=config)
    try:
        m = task.score(jload(row["payload"]), jload(row["gold"]), ctx, config)
    except (KeyError, TypeError, ValueError, IndexError, AttributeError):
        return None  # malformed stored gold: not scored (the quality page counts it as unscorable)
    return None if m is None else item_score(m)


def check_steps(campaign_id: int, task_type: str, config: dict[str, Any], user_id: int,
                ip: str = "") -> Steps[str | None]:
    """After a gold answer: pause the annotator if their gold score is below the threshold.
    Returns the pause reason when this call paused them."""
    g = gate(config)
    if g is None:
        return None
    threshold, min_items = g
    last = yield Op("first", _LAST, {"c": campaign_id, "u": user_id})
    if last is not None and last["reinstated_at"] is None:
        return None  # already paused
    since = float(last["reinstated_at"]) if last is not None else 0.0
    task = get_task_type(task_type)
    answers = yield Op("rows", _GOLD_ANSWERS, {"c": campaign_id, "u": user_id, "since": since})
    scores = [s for s in (_score(task, r, config) for r in answers) if s is not None]
    if len(scores) < min_items:
        return None
    mean = sum(scores) / len(scores)
    if mean >= threshold:
        return None
    reason = (f"your gold score is {mean:.2f} over {len(scores)} gold items, below this campaign's "
              f"threshold of {threshold:.2f}")
    paused = yield Op("execute", _PAUSE, {"c": campaign_id, "u": user_id, "reason": reason, "score": mean,
                                          "n": len(scores), "t": now()})
    if not paused:
        return None  # a concurrent gold submit paused them first
    yield audit_op(user_id, "gold.pause", "user", user_id,
                   {"campaign_id": campaign_id, "score": mean, "gold_items": len(scores)}, ip)
    return reason


def active_pauses(conn: Connection, campaign_id: int) -> dict[int, dict[str, Any]]:
    """user id -> the pause in force (reason, score, gold_items, paused_at)."""
    rows = conn.execute(select(P.c.user_id, P.c.reason, P.c.score, P.c.gold_items, P.c.paused_at)
                        .where(P.c.campaign_id == campaign_id, P.c.reinstated_at.is_(None))).all()
    return {r.user_id: {"reason": r.reason, "score": r.score, "gold_items": r.gold_items, "paused_at": r.paused_at}
            for r in rows}


def reinstate(conn: Connection, campaign_id: int, user_id: int, by: int | None, ip: str = "") -> None:
    """End the pause in force; its row stays, with who reinstated and when."""
    t = now()
    n = conn.execute(update(P).where(P.c.campaign_id == campaign_id, P.c.user_id == user_id,
                                     P.c.reinstated_at.is_(None)).values(reinstated_at=t, reinstated_by=by)).rowcount
    if not n:
        raise GateError(f"user {user_id} is not paused in campaign {campaign_id}")
    audit(conn, by, "gold.reinstate", "user", user_id, {"campaign_id": campaign_id}, ip=ip)
