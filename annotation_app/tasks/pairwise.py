"""Pairwise preference (human evaluation of models): an image, a prompt and two anonymous answers
A and B; the rater picks A, B, a tie or "both bad", with an optional reason.

Items come from model outputs (``pairwise_import.import_outputs``): one item per (image, prompt,
model pair), sides balanced and shuffled, models hidden from the page (``item_view`` sends only the
prompt and the two answers). Votes export as JSONL in the Chatbot Arena layout (``model_a``,
``model_b``, ``winner`` in model_a / model_b / tie / both_bad) through ``export_votes``, the
reviewer route ``GET /api/tasks/pairwise/campaigns/{id}/votes`` or ``pixmo eval votes``; ``pixmo
eval elo`` turns them into ratings (``pixmo.elo``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException
from fastapi import Path as PathParam
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Engine, select

from annotation_app.database import Db
from annotation_app.db import read_tx
from annotation_app.deps import MAX_ID, require
from annotation_app.models import Assignment, Campaign, Item, Submission, User, table
from annotation_app.tasks import ItemContext, ItemSeed, PayloadError, TaskType, register
from pixmo.shards import Annotation, Sample

CampaignId = Annotated[int, PathParam(ge=1, le=MAX_ID)]
CHOICES = {"a": "model_a", "b": "model_b", "tie": "tie", "both_bad": "both_bad"}


class PairwisePayload(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    choice: Literal["a", "b", "tie", "both_bad"]
    reason: str = Field("", max_length=2000)


class PairwiseTask(TaskType):
    name = "pairwise"
    title = "Which answer is better?"
    default_instructions = ("Read the prompt and look at the image, then pick the better answer. Answers come from "
                            "anonymous models in random order; judge correctness first, then helpfulness and clarity.")
    keys_help = ("Keys: <kbd>1</kbd>/<kbd>A</kbd> A is better, <kbd>2</kbd>/<kbd>B</kbd> B is better, "
                 "<kbd>3</kbd>/<kbd>T</kbd> tie, <kbd>4</kbd>/<kbd>N</kbd> both bad, <kbd>R</kbd> write a reason, "
                 "<kbd>Enter</kbd> submit, <kbd>S</kbd> skip.")
    script = "../pairwise.js"  # core pages load /static/tasks/<script>; the widget lives in static/pairwise.js
    Payload = PairwisePayload
    subsets = ("pairwise-votes",)

    def check(self, payload: Any, item: ItemContext) -> None:
        if "answer_a" not in item.spec or "answer_b" not in item.spec:
            raise PayloadError("this item has no pair of answers (import model outputs with pixmo eval campaign)")

    def item_view(self, item: ItemContext) -> dict[str, Any]:
        s = item.spec
        return {"prompt": s.get("prompt", ""), "answer_a": s.get("answer_a", ""), "answer_b": s.get("answer_b", "")}

    def seeds(self, sample: Sample | None, config: dict[str, Any], as_gold: bool = False) -> list[ItemSeed]:
        raise PayloadError("pairwise items come from model outputs: use `pixmo eval campaign NAME OUTPUTS.jsonl`, "
                           "not an image import")

    def export(self, payload: dict[str, Any], item: ItemContext, subset: str, meta: dict[str, Any]) -> list[Annotation]:
        raise PayloadError("pairwise campaigns export votes as JSONL: `pixmo eval votes CAMPAIGN --out votes.jsonl` "
                           "or GET /api/tasks/pairwise/campaigns/{id}/votes")

    def router(self) -> APIRouter | None:
        return _router()


S, I, A, U, C = (table(t) for t in (Submission, Item, Assignment, User, Campaign))  # noqa: E741


def vote_of(item_spec: dict[str, Any], payload: dict[str, Any]) -> dict[str, Any]:
    """The exported vote of one answer: the sides as shown (model_a was answer A)."""
    return {"model_a": item_spec.get("model_a"), "model_b": item_spec.get("model_b"),
            "winner": CHOICES[payload["choice"]], "reason": payload.get("reason", ""),
            "prompt": item_spec.get("prompt", ""), "category": item_spec.get("category", ""),
            "prompt_id": item_spec.get("prompt_id", "")}


def iter_votes(engine: Engine, campaign_id: int) -> Iterator[dict[str, Any]]:
    """Every stored vote (submitted or accepted; not ones a reviewer rejected), oldest first."""
    with read_tx(engine) as conn:
        c = conn.execute(select(C.c.name, C.c.task_type).where(C.c.id == campaign_id)).first()
        if c is None:
            raise KeyError(f"campaign {campaign_id} not found")
        if c.task_type != PairwiseTask.name:
            raise PayloadError(f"campaign {c.name!r} is a {c.task_type} campaign, not pairwise")
        rows = conn.execute(
            select(S.c.id, S.c.payload, S.c.created_at, S.c.duration_ms, A.c.status, U.c.username,
                   I.c.id.label("item_id"), I.c.spec, I.c.image_url, I.c.image_sha256, I.c.media_key)
            .join(A, A.c.submission_id == S.c.id).join(I, I.c.id == S.c.item_id).join(U, U.c.id == S.c.user_id)
            .where(S.c.campaign_id == campaign_id, A.c.status.in_(["submitted", "accepted"]))
            .order_by(S.c.created_at, S.c.id)).all()
    for r in rows:
        payload = r.payload if isinstance(r.payload, dict) else json.loads(r.payload)
        spec = r.spec if isinstance(r.spec, dict) else json.loads(r.spec)
        yield {**vote_of(spec, payload), "campaign": c.name, "item_id": r.item_id, "submission_id": r.id,
               "rater": r.username, "image": spec.get("image") or r.image_url or r.media_key,
               "image_sha256": r.image_sha256, "created_at": r.created_at, "duration_ms": r.duration_ms,
               "status": r.status}


def export_votes(engine: Engine, campaign_id: int, out: Any) -> int:
    """Write the campaign's votes as JSONL to a path or text stream; returns the count."""
    if hasattr(out, "write"):
        return _write(engine, campaign_id, out)
    with open(out, "w", encoding="utf-8") as f:
        return _write(engine, campaign_id, f)


def _write(engine: Engine, campaign_id: int, f: Any) -> int:
    n = 0
    for v in iter_votes(engine, campaign_id):
        f.write(json.dumps(v, ensure_ascii=False) + "\n")
        n += 1
    return n


def _router() -> APIRouter:
    r = APIRouter(tags=["pairwise"])

    @r.get("/campaigns/{campaign_id}/votes", response_class=Response,
          responses={200: {"content": {"application/x-ndjson": {}}, "description": "one vote per line"}})
    async def votes(db: Db, campaign_id: CampaignId, p: Any = Depends(require("reviewer"))) -> Response:
        """The campaign's votes as JSONL (one Chatbot-Arena-style vote per line)."""
        def jsonl(engine: Engine) -> str:
            return "".join(json.dumps(v, ensure_ascii=False) + "\n" for v in iter_votes(engine, campaign_id))

        try:
            body = await db.call(jsonl)
        except KeyError as exc:
            raise HTTPException(404, str(exc.args[0])) from None
        except PayloadError as exc:
            raise HTTPException(422, str(exc)) from None
        return Response(body, media_type="application/x-ndjson",
                        headers={"content-disposition": f'attachment; filename="campaign-{campaign_id}-votes.jsonl"'})

    return r


register(PairwiseTask())
