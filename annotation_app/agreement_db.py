"""Agreement of a campaign from the database: read each annotator's own answer to each item, turn
the answers into plain records and hand them to ``annotation_app.agreement``.

An answer counts when its assignment is submitted or accepted (a rejected answer waits for its
author's new one); it is the annotator's latest own submission (a reviewer's edit is not the
annotator's answer). Gold items are left out: they are served to many annotators and scored
against the gold answer on the quality page instead. The result is plain JSON (the API's
``schemas.Agreement``, the export's report, ``pixmo annotate agreement``).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import Connection

from annotation_app import agreement as ag
from annotation_app.claiming import get_campaign, item_context
from annotation_app.sql import Q, jload, rows
from annotation_app.tasks import TaskType, get_task_type
from annotation_app.tasks.caption import CaptionTask
from annotation_app.tasks.pairwise import PairwiseTask
from annotation_app.tasks.pointing import PointingTask, gold_radius

_ANSWERS = (
    "SELECT s.item_id, s.user_id, u.username, s.payload, i.id, i.width, i.height, i.spec, i.image_sha256, "
    "i.image_url FROM submissions s JOIN assignments a ON a.id = s.assignment_id "
    "JOIN items i ON i.id = s.item_id JOIN users u ON u.id = s.user_id "
    "WHERE s.campaign_id = :c AND s.kind = 'annotator' AND a.status IN ({states}) "
    "AND i.gold IS NULL AND s.id = (SELECT MAX(s2.id) FROM submissions s2 "
    "WHERE s2.assignment_id = s.assignment_id AND s2.kind = 'annotator') ORDER BY s.item_id, s.id")
ANSWERS = {False: Q(_ANSWERS.format(states="'submitted', 'accepted'")), True: Q(_ANSWERS.format(states="'accepted'"))}

# key -> (column label, what it is); definitions with sources: docs/spec/agreement.md
METRICS: dict[str, tuple[str, str]] = {
    "point_f1": ("Point F1", "F1 of Hungarian-matched points within the gold radius, per shared expression "
                             "where someone clicked"),
    "count_exact": ("Count exact", "share of shared expressions with the same number of points"),
    "count_within_one": ("Count ±1", "share of shared expressions whose point counts differ by at most one"),
    "not_present_agreement": ("Not-present agr.", "share of shared expressions where both said present or "
                                                  "both said not present"),
    "expression_overlap": ("Expr. overlap", "per pair of answers: shared expressions / all expressions named"),
    "caption_words": ("Caption words", "mean caption length in words"),
    "caption_words_median": ("Median caption words", "median caption length in words"),
    "transcript_words": ("Transcript words", "mean transcript length in words"),
    "caption_in_transcript": ("Caption in transcript", "share of caption tokens found in the transcript"),
    "transcript_in_caption": ("Transcript in caption", "share of transcript tokens kept in the caption"),
    "length_range_words": ("Length range", "per item with several captions: longest minus shortest, in words"),
    "length_relative_spread": ("Relative spread", "per item: length range over mean length"),
    "caption_pair_f1": ("Caption pair F1", "token F1 between two annotators' captions of the same image"),
    "same_choice": ("Same choice", "share of annotator pairs on an item who chose the same"),
    "fleiss_kappa": ("Fleiss' kappa", "chance-corrected agreement over items with two or more votes"),
}
NONE_NOTE = ("no between-annotator agreement is defined for task type {t!r}: each annotator writes their own "
             "question and answer")


def kind_of(task: TaskType) -> str:
    """Which agreement family a task type has: points, captions, choices or none."""
    if isinstance(task, PointingTask):
        return "points"
    if isinstance(task, CaptionTask):
        return "captions"
    if isinstance(task, PairwiseTask):
        return "choices"
    return "none"


class _Row:
    """Attribute access to a row dict (for ``claiming.item_context``)."""

    def __init__(self, r: dict[str, Any]):
        self.__dict__.update(r, spec=jload(r["spec"]) or {})


def record(kind: str, task: Any, r: dict[str, Any], config: dict[str, Any]) -> Any:
    """One stored answer as the plain record its agreement family compares (KeyError, TypeError,
    ValueError or AttributeError when the stored payload is malformed)."""
    payload = jload(r["payload"])
    if kind == "points":
        return [ag.Expr(e["label"], tuple((float(p["x"]), float(p["y"])) for p in e["points"]), e["not_present"])
                for e in task.expressions(payload, item_context(_Row(r), config))]
    if kind == "captions":
        return ag.CaptionAnswer(r["user_id"], str(payload["caption"]), str(payload["transcript"]))
    choice = payload["choice"]
    if not isinstance(choice, str):
        raise TypeError(f"choice {choice!r} is not a string")
    return choice


def build_report(task: TaskType, config: dict[str, Any], answers: list[dict[str, Any]]) -> tuple[ag.Report | None, int]:
    """The agreement report of ``answers`` (rows of ``ANSWERS``, by item; None for kind none) and
    how many answers were left out because their stored payload is malformed."""
    kind = kind_of(task)
    if kind == "none":
        return None, 0
    by_item: dict[int, dict[int, Any]] = defaultdict(dict)
    radius: dict[int, float] = {}
    skipped = 0
    for r in answers:  # ordered by submission id: the latest wins
        try:
            if kind == "points":  # (a malformed config gold_radius leaves every answer out, counted)
                radius[r["item_id"]] = gold_radius(item_context(_Row(r), config), config)
            by_item[r["item_id"]][r["user_id"]] = record(kind, task, r, config)
        except (KeyError, TypeError, ValueError, AttributeError):
            skipped += 1
    if kind == "points":
        return ag.point_agreement(ag.PointItem(radius[i], rs) for i, rs in by_item.items()), skipped
    if kind == "captions":
        return ag.caption_agreement(list(rs.values()) for rs in by_item.values()), skipped
    return ag.choice_agreement(by_item.values()), skipped


def _metrics(ms: dict[str, ag.Mean]) -> list[dict[str, Any]]:
    out = []
    for k in (k for k in METRICS if k in ms):
        v = ms[k].value
        out.append({"key": k, "label": METRICS[k][0], "help": METRICS[k][1],
                    "value": None if v is None else round(v, 4), "n": ms[k].n})
    return out


def campaign_agreement(conn: Connection, campaign_id: int, accepted_only: bool = False) -> dict[str, Any]:
    """The campaign's agreement summary and per-annotator rows (see the module docstring) over
    submitted and accepted answers, or accepted ones only (what an export without
    ``include_unreviewed`` ships)."""
    campaign = get_campaign(conn, campaign_id)
    task = get_task_type(campaign.task_type)
    answers = rows(conn, ANSWERS[accepted_only], {"c": campaign_id})
    names = {r["user_id"]: r["username"] for r in answers}
    rep, skipped = build_report(task, campaign.config, answers)
    out: dict[str, Any] = {"campaign_id": campaign_id, "task_type": campaign.task_type, "kind": kind_of(task),
                           "note": "", "answers": len({(r["item_id"], r["user_id"]) for r in answers}),
                           "unreadable": skipped,
                           "items": len({r["item_id"] for r in answers}), "items_with_overlap": 0, "pairs": 0,
                           "summary": [], "annotators": []}
    if rep is None:
        out["note"] = NONE_NOTE.format(t=campaign.task_type)
        return out
    out.update(items_with_overlap=rep.items_with_overlap, pairs=rep.pairs, summary=_metrics(rep.summary))
    if rep.items_with_overlap == 0:
        out["note"] = "no item has answers from two or more annotators yet (campaign overlap 1, or still running)"
    out["annotators"] = [{"user_id": u, "username": names.get(u, "?"), "items_with_overlap": row.items,
                          "pairs": row.pairs, "metrics": _metrics(row.metrics)}
                         for u, row in sorted(rep.per_annotator.items(), key=lambda kv: names.get(kv[0], ""))]
    return out
