"""Campaign assignment (admins): who a campaign is assigned to; a campaign with members is listed
to and claimable by its members only."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi import Path as PathParam
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Connection

from annotation_app import members
from annotation_app.claiming import get_campaign
from annotation_app.database import Db
from annotation_app.deps import MAX_ID, client_ip, require
from annotation_app.schemas import Member, MembersAdded, Ok
from annotation_app.security import Principal

router = APIRouter(tags=["members"])
Id = Annotated[int, PathParam(ge=1, le=MAX_ID)]


class MembersIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    usernames: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(min_length=1, max_length=1000)


async def _run(db: Db, campaign_id: int, fn: Any) -> Any:
    def tx(conn: Connection) -> Any:
        get_campaign(conn, campaign_id)  # 404 for an unknown campaign
        return fn(conn)

    try:
        return await db.write(tx)
    except members.MemberError as exc:
        raise HTTPException(exc.status, str(exc)) from None


@router.get("/api/campaigns/{campaign_id}/members", response_model=list[Member])
async def list_members(db: Db, campaign_id: Id, p: Principal = Depends(require("manager"))) -> list[dict[str, Any]]:
    """The users the campaign is assigned to (none: open to every annotator)."""
    return await _run(db, campaign_id, lambda c: members.members(c, campaign_id))


@router.post("/api/campaigns/{campaign_id}/members", response_model=MembersAdded)
async def add_members(request: Request, db: Db, campaign_id: Id, body: MembersIn,
                      p: Principal = Depends(require("manager"))) -> dict[str, Any]:
    """Assign users by name (an unknown name refuses the request); returns the names newly assigned."""
    ip = client_ip(request)
    return {"added": await _run(db, campaign_id, lambda c: members.add(c, campaign_id, body.usernames, p.id, ip))}


@router.delete("/api/campaigns/{campaign_id}/members/{user_id}", response_model=Ok)
async def remove_member(request: Request, db: Db, campaign_id: Id, user_id: Id,
                        p: Principal = Depends(require("manager"))) -> dict[str, Any]:
    ip = client_ip(request)
    await _run(db, campaign_id, lambda c: members.remove(c, campaign_id, user_id, p.id, ip))
    return {"ok": True}
