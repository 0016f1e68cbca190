"""Annotator work: claim the next task (lease), heartbeat, draft, release, submit (idempotent)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi import Path as PathParam
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Connection, select

from annotation_app import claiming
from annotation_app.claiming import A
from annotation_app.database import Database, Db
from annotation_app.deps import MAX_ID, client_ip, require
from annotation_app.models import Campaign
from annotation_app.schemas import AssignmentView, ClaimOut, DraftSaved, LeaseOut, MyAssignment, Ok, SubmitOut
from annotation_app.security import Principal

router = APIRouter(tags=["work"])
Id = Annotated[int, PathParam(ge=1, le=MAX_ID)]


class ClaimIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    exclude: list[Annotated[int, Field(ge=1, le=MAX_ID)]] = Field(default_factory=list, max_length=10,
                                                                  description="assignment ids already on screen")


class SubmitIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    client_key: str = Field(min_length=8, max_length=80, pattern=r"^[A-Za-z0-9_.:-]+$",
                            description="client-generated key; a retried submit with the same key is stored once")
    payload: dict[str, Any]
    duration_ms: int | None = Field(None, ge=0, le=86_400_000)


class DraftIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    draft: dict[str, Any]


def fast_json(data: Any) -> Response:
    """Serialize directly (the hot routes skip FastAPI's response-model pass)."""
    return Response(json.dumps(data, separators=(",", ":")), media_type="application/json")


def _settings(request: Request) -> Any:
    return request.app.state.settings


@router.post("/api/campaigns/{campaign_id}/claim", response_model=ClaimOut)
async def claim(request: Request, db: Db, campaign_id: Id, body: ClaimIn | None = None,
                p: Principal = Depends(require("annotator"))) -> Response:
    """The next task with a lease: one you already hold (not in ``exclude``), one a reviewer sent
    back to you, or a new item with a free slot. ``{"assignment": null}`` when nothing is left.
    Call again with the current assignment in ``exclude`` to prefetch the next one."""
    return fast_json(await claim_result(request, db, campaign_id, body, p))


async def claim_result(request: Request, db: Database, campaign_id: int, body: ClaimIn | None, p: Principal) -> Any:
    """What ``claim`` answers (also called by ``annotation_app.hotpath``)."""
    s = _settings(request)

    def steps(postgres: bool) -> Any:
        return claiming.claim_steps(campaign_id, p.id, exclude=(body.exclude if body else []), lease_s=s.lease_seconds,
                                    max_active=s.max_active_leases, postgres=postgres, ip=client_ip(request),
                                    manager=p.role != "annotator")

    return {"assignment": await db.steps(steps)}


@router.get("/api/assignments/{assignment_id}", response_model=AssignmentView)
async def get_assignment(db: Db, assignment_id: Id, p: Principal = Depends(require("annotator"))) -> dict[str, Any]:
    return await db.read(lambda c: claiming.view_assignment(c, assignment_id, p.id))


@router.post("/api/assignments/{assignment_id}/heartbeat", response_model=LeaseOut)
async def heartbeat(request: Request, db: Db, assignment_id: Id, p: Principal = Depends(require("annotator"))) -> dict[str, Any]:
    lease_s = _settings(request).lease_seconds
    return {"lease_expires_at": await db.write(lambda c: claiming.heartbeat(c, assignment_id, p.id, lease_s))}


@router.put("/api/assignments/{assignment_id}/draft", response_model=DraftSaved)
async def draft(request: Request, db: Db, assignment_id: Id, body: DraftIn,
                p: Principal = Depends(require("annotator"))) -> dict[str, Any]:
    """Save the work in progress (also extends the lease)."""
    lease_s = _settings(request).lease_seconds
    return {"saved_at": await db.write(lambda c: claiming.save_draft(c, assignment_id, p.id, body.draft, lease_s))}


@router.post("/api/assignments/{assignment_id}/release", response_model=Ok)
async def release(request: Request, db: Db, assignment_id: Id, p: Principal = Depends(require("annotator"))) -> dict[str, Any]:
    ip = client_ip(request)
    await db.write(lambda c: claiming.release(c, assignment_id, p.id, ip))
    return {"ok": True}


@router.post("/api/assignments/{assignment_id}/submit", response_model=SubmitOut)
async def submit(request: Request, db: Db, assignment_id: Id, body: SubmitIn,
                 p: Principal = Depends(require("annotator"))) -> Response:
    """Store the answer. Repeating a submit with the same ``client_key`` returns the stored one."""
    return fast_json(await submit_result(request, db, assignment_id, body, p))


async def submit_result(request: Request, db: Database, assignment_id: int, body: SubmitIn, p: Principal) -> Any:
    """What ``submit`` answers (also called by ``annotation_app.hotpath``)."""
    def steps(postgres: bool) -> Any:
        return claiming.submit_steps(assignment_id, p.id, body.client_key, body.payload, body.duration_ms,
                                     _settings(request).lease_seconds, client_ip(request), postgres=postgres)

    try:
        return await db.steps(steps)
    except Exception as exc:  # a concurrent submit with the same key won the race: this run replays it
        if not claiming.is_duplicate_key(exc):
            raise
    return await db.steps(steps)


def _my_assignments(conn: Connection, user_id: int) -> list[dict[str, Any]]:
    rows = conn.execute(select(A.c.id, A.c.status, A.c.campaign_id, A.c.reject_reason, A.c.item_id, Campaign.name)
                        .join(Campaign, Campaign.id == A.c.campaign_id)
                        .where(A.c.user_id == user_id, A.c.status.in_(["active", "rejected", "submitted"]))
                        .order_by(A.c.id)).all()
    return [dict(r._mapping) for r in rows]


@router.get("/api/my/assignments", response_model=list[MyAssignment])
async def my_assignments(db: Db, p: Principal = Depends(require("annotator"))) -> list[dict[str, Any]]:
    """Your assignments that are not finished: active leases and items a reviewer sent back."""
    return await db.read(lambda c: _my_assignments(c, p.id))
