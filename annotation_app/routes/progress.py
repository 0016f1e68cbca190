"""An annotator's own progress in a campaign, and gold gating: reinstating a paused annotator."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi import Path as PathParam
from sqlalchemy import Connection

from annotation_app import gating, members, stats
from annotation_app.claiming import ClaimError
from annotation_app.database import Db
from annotation_app.db import now
from annotation_app.deps import MAX_ID, client_ip, require
from annotation_app.schemas import MyProgress, Ok
from annotation_app.security import Principal

router = APIRouter(tags=["progress"])
Id = Annotated[int, PathParam(ge=1, le=MAX_ID)]


@router.get("/api/campaigns/{campaign_id}/my-progress", response_model=MyProgress)
async def my_progress(db: Db, campaign_id: Id, since: Annotated[float | None, Query(ge=0)] = None,
                      p: Principal = Depends(require("annotator"))) -> dict[str, Any]:
    """Your answers since ``since`` (epoch seconds, the start of your day; default: UTC midnight),
    in all, what is left to you, and the gold-gating pause in force (its reason), if any."""
    t = now()
    start = t - t % 86400 if since is None else since

    def read(conn: Connection) -> dict[str, Any]:
        if p.role == "annotator" and not members.can_see(conn, campaign_id, p.id):
            raise ClaimError(404, f"campaign {campaign_id} not found")  # assigned to others
        return stats.my_progress(conn, campaign_id, p.id, start)

    return await db.read(read)


@router.post("/api/campaigns/{campaign_id}/annotators/{user_id}/reinstate", response_model=Ok)
async def reinstate(request: Request, db: Db, campaign_id: Id, user_id: Id,
                    p: Principal = Depends(require("manager"))) -> dict[str, Any]:
    """End a gold-gating pause: the annotator can claim again; their gold score starts afresh."""
    ip = client_ip(request)
    try:
        await db.write(lambda c: gating.reinstate(c, campaign_id, user_id, p.id, ip))
    except gating.GateError as exc:
        raise HTTPException(404, str(exc)) from None
    return {"ok": True}
