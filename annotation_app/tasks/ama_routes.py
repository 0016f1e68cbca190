"""Routes of the ask-model-anything loop (mounted under /api/tasks/ama and /api/tasks/point_explanations)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi import Path as PathParam
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from annotation_app.claiming import ClaimError
from annotation_app.database import Db
from annotation_app.deps import MAX_ID, require
from annotation_app.schemas import DraftView
from annotation_app.security import Principal
from annotation_app.tasks import ama_drafts as svc
from annotation_app.tasks.ama import AmaPayload

Id = Annotated[int, PathParam(ge=1, le=MAX_ID)]


class PointIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    x: float = Field(ge=0)
    y: float = Field(ge=0)


class GroupIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    label: str = Field(min_length=1, max_length=200)
    points: list[PointIn] = Field(min_length=1, max_length=50)


class AskIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    assignment_id: int = Field(ge=1, le=MAX_ID)
    question: str = Field(min_length=3, max_length=2000)
    points: list[GroupIn] = Field(default_factory=list, max_length=20)


class RejectIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    feedback: str = Field(min_length=1, max_length=4000)


class FinalIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    answer: str = Field(min_length=1, max_length=20000)


def router(with_points: bool) -> APIRouter:
    r = APIRouter(tags=["point_explanations" if with_points else "ama"])

    def draft(request: Request, a: Any, item: Any, cfg: svc.AmaConfig, question: str, ctx: dict[str, Any],
              history: list[Any]) -> tuple[str, dict[str, Any]]:
        groups = ctx.get("points") or []
        client = svc.llm_client(cfg)
        msgs = svc.build_messages(question, ctx, history, svc.point_lines(groups, item) if groups else "")
        res = client.chat(msgs, stage="ama", validate=svc.cite_validator(len(groups)) if with_points else None,
                          prompt_version=svc.PROMPT_VERSION, temperature=0.2)
        return res.parsed.strip(), {**res.provenance(), "attempts": res.attempts}

    @r.post("/drafts", response_model=DraftView)
    async def ask(request: Request, db: Db, body: AskIn, p: Principal = Depends(require("annotator"))) -> dict[str, Any]:
        """Ask a question: OCR + caption are gathered and the LLM drafts the first answer."""
        a, campaign, item, drafts = await db.read(lambda c: svc.prepare(c, body.assignment_id, p.id))
        if drafts:
            raise ClaimError(409, "this item already has a question; reject the draft with feedback to revise it")
        if with_points and not body.points:
            raise ClaimError(422, "points: mark the parts of the image the question is about first")
        for g in body.points:
            for q in g.points:
                if q.x > item.width or q.y > item.height:
                    raise ClaimError(422, f"point ({q.x}, {q.y}) is outside the {item.width}x{item.height} image")
        cfg = svc.ama_config(campaign.config)
        ctx = await run_in_threadpool(svc.gather_context, item, request.app.state.media.get(item.media_key), cfg)
        ctx["points"] = [g.model_dump() for g in body.points]
        answer, llm = await run_in_threadpool(draft, request, a, item, cfg, body.question.strip(), ctx, [])
        return await db.write(lambda c: svc.store_draft(c, a, p.id, body.question.strip(), answer, ctx, llm, 1))

    @r.post("/drafts/{draft_id}/reject", response_model=DraftView)
    async def reject(request: Request, db: Db, draft_id: Id, body: RejectIn, p: Principal = Depends(require("annotator"))) -> dict[str, Any]:
        """Reject the draft with feedback; the LLM writes a revised draft (returned)."""
        d = await db.write(lambda c: svc.reject(c, draft_id, p.id, body.feedback))
        a, campaign, item, drafts = await db.read(lambda c: svc.prepare(c, d.assignment_id, p.id))
        cfg = svc.ama_config(campaign.config)
        if len(drafts) >= cfg.max_rounds:
            raise ClaimError(409, f"{cfg.max_rounds} drafts were rejected; write the answer by hand")
        answer, llm = await run_in_threadpool(draft, request, a, item, cfg, d.question, drafts[0].context, drafts)
        return await db.write(lambda c: svc.store_draft(c, a, p.id, d.question, answer, drafts[0].context, llm,
                                                           len(drafts) + 1))

    @r.post("/drafts/{draft_id}/accept", response_model=AmaPayload)
    async def accept(request: Request, db: Db, draft_id: Id, p: Principal = Depends(require("annotator"))) -> dict[str, Any]:
        """Accept the pending draft; returns the submit payload (all drafts, timing, flags)."""
        def do(c: Any) -> dict[str, Any]:
            d = c.execute(svc.select(svc.D).where(svc.D.c.id == draft_id)).first()
            if d is None or d.user_id != p.id:
                raise ClaimError(404, f"draft {draft_id} not found")
            _a, campaign, _i, _ = svc.prepare(c, d.assignment_id, p.id)
            return svc.finish(c, d.assignment_id, p.id, svc.ama_config(campaign.config), draft_id=draft_id)
        return await db.write(do)

    @r.post("/assignments/{assignment_id}/final", response_model=AmaPayload)
    async def final(request: Request, db: Db, assignment_id: Id, body: FinalIn, p: Principal = Depends(require("annotator"))) -> dict[str, Any]:
        """Store a hand-written answer (after at least one draft); returns the submit payload."""
        def do(c: Any) -> dict[str, Any]:
            _a, campaign, _i, _ = svc.prepare(c, assignment_id, p.id)
            return svc.finish(c, assignment_id, p.id, svc.ama_config(campaign.config), answer=body.answer)
        return await db.write(do)

    @r.get("/assignments/{assignment_id}/drafts", response_model=list[DraftView])
    async def drafts(request: Request, db: Db, assignment_id: Id, p: Principal = Depends(require("annotator"))) -> list[dict[str, Any]]:
        def do(c: Any) -> list[dict[str, Any]]:
            svc.own_assignment(c, assignment_id, p.id)
            return [svc.draft_view(d) for d in svc._drafts(c, assignment_id)]
        return await db.read(do)

    return r
