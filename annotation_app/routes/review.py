"""Reviewer routes: the queue of submitted answers, and accept / reject / edit."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as PathParam

from annotation_app import review as review_svc
from annotation_app.database import Db
from annotation_app.deps import MAX_ID, client_ip, require
from annotation_app.schemas import ReviewDone, ReviewEntry
from annotation_app.security import Principal

router = APIRouter(tags=["review"])
Id = Annotated[int, PathParam(ge=1, le=MAX_ID)]


@router.get("/api/campaigns/{campaign_id}/review", response_model=list[ReviewEntry])
async def review_queue(db: Db, campaign_id: Id, limit: Annotated[int, Query(ge=1, le=500)] = 50,
                       status: Literal["submitted", "accepted", "rejected"] = "submitted",
                       offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
                       annotator: Annotated[str | None, Query(max_length=64)] = None, flagged: bool = False,
                       p: Principal = Depends(require("reviewer"))) -> list[dict[str, Any]]:
    """One page of answers to review (oldest first), never your own; filter by annotator and flags."""
    return await db.read(lambda c: review_svc.queue(c, campaign_id, limit, status, offset=offset, reviewer_id=p.id,
                                                    annotator=annotator or None, flagged=flagged))


@router.post("/api/assignments/{assignment_id}/review", response_model=ReviewDone)
async def review(request: Request, db: Db, assignment_id: Id, body: review_svc.ReviewIn,
                 p: Principal = Depends(require("reviewer"))) -> dict[str, Any]:
    """Accept, reject with a reason (the item returns to its author), or edit and accept."""
    ip = client_ip(request)
    return await db.write(lambda c: review_svc.review(c, assignment_id, p.id, body, ip))
