"""The admin page and its JSON API (managers and admins): campaign status, server-side imports
(folder, shards), groups, the item list and gold marks, export jobs with progress and download.

Campaign creation, uploads, URL imports, members, users and reinstatement live in their own
routers (campaigns, members, auth, progress); the page uses those too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, HTMLResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Connection, Engine

from annotation_app import admin, export_jobs
from annotation_app.audit import audit
from annotation_app.campaigns import (
    ImportError_,
    folder_images,
    get_campaign_row,
    import_images,
    import_shards,
)
from annotation_app.database import Db
from annotation_app.deps import MAX_ID, client_ip, require
from annotation_app.members import MemberError
from annotation_app.routes.pages import templates
from annotation_app.schemas import (
    ExportJob,
    GoldOut,
    Group,
    ItemPage,
    MembersAdded,
    Ok,
    StatusOut,
    UrlsImported,
)
from annotation_app.security import Principal

router = APIRouter(tags=["admin"])
Id = Annotated[int, PathParam(ge=1, le=MAX_ID)]
GroupName = Annotated[str, PathParam(min_length=1, max_length=64)]
Manager = Depends(require("manager"))


class StatusIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Literal["open", "paused", "closed"]


class ServerImportIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    folder: str | None = Field(None, max_length=1000, description="image folder, relative to the import root")
    shards: str | None = Field(None, max_length=1000, description="shard directory or .tar, relative to the import root")
    as_gold: bool = Field(False, description="shards only: their records are gold answers")


class UsernamesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    usernames: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(min_length=1, max_length=1000)


class GroupAssignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    group: str = Field(min_length=1, max_length=64)


class ExportIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    format: Literal["shards", "coco"] = "shards"
    include_unreviewed: bool = False
    subset: Literal["pixmo-points", "pixmo-count"] | None = None


async def _write(db: Db, fn: Any, off_loop: bool = False) -> Any:
    try:
        return await db.write(fn, off_loop=off_loop)
    except (admin.AdminError, MemberError) as exc:
        raise HTTPException(exc.status, str(exc)) from None
    except ImportError_ as exc:
        raise HTTPException(404 if "not found" in str(exc) else 422, str(exc)) from None


@router.get("/admin", response_class=HTMLResponse, include_in_schema=False)
async def admin_page(request: Request, p: Principal = Manager) -> HTMLResponse:
    return templates.TemplateResponse(request, "admin.html", {"user": p})


@router.put("/api/campaigns/{campaign_id}/status", response_model=StatusOut)
async def set_status(request: Request, db: Db, campaign_id: Id, body: StatusIn, p: Principal = Manager) -> dict[str, Any]:
    """Open, pause (no new claims) or close (no new claims, hidden from annotators) a campaign."""
    ip = client_ip(request)
    old = await _write(db, lambda c: admin.set_status(c, campaign_id, body.status, p.id, ip))
    return {"id": campaign_id, "status": body.status, "previous": old}


@router.post("/api/campaigns/{campaign_id}/import", status_code=201, response_model=UrlsImported)
async def server_import(request: Request, db: Db, campaign_id: Id, body: ServerImportIn,
                        p: Principal = Manager) -> dict[str, Any]:
    """Import a server folder of images or a shard set, given relative to ``PIXMO_APP_IMPORT_ROOT``."""
    if (body.folder is None) == (body.shards is None):
        raise HTTPException(422, "give exactly one of folder and shards")
    s, media = request.app.state.settings, request.app.state.media
    try:
        path = admin.server_path(s.import_root, body.folder or body.shards or "")
    except admin.AdminError as exc:
        raise HTTPException(exc.status, str(exc)) from None

    def run(engine: Engine) -> int:
        if body.folder is not None:
            return import_images(engine, media, campaign_id, folder_images(path), user_id=p.id,
                                 max_bytes=s.max_image_bytes)
        return import_shards(engine, media, campaign_id, path, as_gold=body.as_gold, user_id=p.id)

    await _write(db, lambda c: get_campaign_row(c, campaign_id))  # 404 before any work
    try:
        return {"items": await db.call(run, off_loop=True)}
    except (ImportError_, ValueError) as exc:
        raise HTTPException(422, str(exc)) from None


@router.get("/api/groups", response_model=list[Group])
async def list_groups(db: Db, p: Principal = Manager) -> list[dict[str, Any]]:
    return await db.read(admin.groups)


@router.post("/api/groups/{name}/members", response_model=MembersAdded)
async def add_to_group(request: Request, db: Db, name: GroupName, body: UsernamesIn, p: Principal = Manager) -> dict[str, Any]:
    """Put users in a group (created with its first member); returns the names newly added."""
    ip = client_ip(request)
    return {"added": await _write(db, lambda c: admin.add_to_group(c, name, body.usernames, p.id, ip))}


@router.delete("/api/groups/{name}/members/{username}", response_model=Ok)
async def remove_from_group(request: Request, db: Db, name: GroupName, username: GroupName,
                            p: Principal = Manager) -> dict[str, Any]:
    ip = client_ip(request)
    await _write(db, lambda c: admin.remove_from_group(c, name, username, p.id, ip))
    return {"ok": True}


@router.post("/api/campaigns/{campaign_id}/groups", response_model=MembersAdded)
async def assign_group(request: Request, db: Db, campaign_id: Id, body: GroupAssignIn, p: Principal = Manager) -> dict[str, Any]:
    """Assign the campaign to every user now in the group; returns the names newly assigned."""
    ip = client_ip(request)

    def tx(conn: Connection) -> list[str]:
        get_campaign_row(conn, campaign_id)
        return admin.assign_group(conn, campaign_id, body.group, p.id, ip)

    return {"added": await _write(db, tx)}


@router.get("/api/campaigns/{campaign_id}/items", response_model=ItemPage)
async def list_items(db: Db, campaign_id: Id, gold_only: bool = False,
                     limit: Annotated[int, Query(ge=1, le=500)] = 100, offset: Annotated[int, Query(ge=0)] = 0,
                     p: Principal = Manager) -> dict[str, Any]:
    """A page of the campaign's items with their gold answers and original paths."""
    try:
        return await db.read(lambda c: admin.items(c, campaign_id, gold_only=gold_only, limit=limit, offset=offset))
    except ImportError_ as exc:
        raise HTTPException(404, str(exc)) from None


@router.post("/api/items/{item_id}/gold/from-answer", response_model=GoldOut)
async def gold_from_answer(request: Request, db: Db, item_id: Id, p: Principal = Manager) -> dict[str, Any]:
    """Mark an item gold with its latest accepted answer (else its latest submitted one).
    Unmark with ``PUT /api/items/{id}/gold`` and ``{"gold": null}``."""
    ip = client_ip(request)
    return {"item_id": item_id, "gold": await _write(db, lambda c: admin.gold_from_answer(c, item_id, p.id, ip))}


@router.post("/api/campaigns/{campaign_id}/export-jobs", status_code=202, response_model=ExportJob)
async def start_export(request: Request, db: Db, campaign_id: Id, body: ExportIn, p: Principal = Manager) -> dict[str, Any]:
    """Start an export in the background; poll ``GET /api/export-jobs/{id}``, then download the
    file (the same as ``pixmo annotate export``: COCO JSON, or the shard directory as a tar)."""
    ip = client_ip(request)

    def tx(conn: Connection) -> dict[str, Any]:
        get_campaign_row(conn, campaign_id)
        jid = export_jobs.start(conn, campaign_id, body.format, body.include_unreviewed, body.subset, p.id)
        audit(conn, p.id, "campaign.export", "campaign", campaign_id, {"job_id": jid, **body.model_dump()}, ip=ip)
        return export_jobs.view(export_jobs.read_result(conn, jid) or {})

    out = await _write(db, tx)
    app = request.app
    export_jobs.run_soon(app.state.engine, app.state.media, export_jobs.exports_root(app.state.settings))
    return out


async def _job(db: Db, job_id: int) -> dict[str, Any]:
    job = await db.read(lambda c: export_jobs.read_result(c, job_id))
    if job is None:
        raise HTTPException(404, f"export job {job_id} not found")
    return job


@router.get("/api/export-jobs/{job_id}", response_model=ExportJob)
async def export_status(db: Db, job_id: Id, p: Principal = Manager) -> dict[str, Any]:
    return export_jobs.view(await _job(db, job_id))


@router.get("/api/export-jobs/{job_id}/download", response_class=FileResponse, responses={200: {
    "content": {"application/x-tar": {}, "application/json": {"schema": {"$ref": "#/components/schemas/Coco"}}},
    "description": "the export file: shards as a tar, or COCO JSON"}})
async def export_download(db: Db, job_id: Id, p: Principal = Manager) -> FileResponse:
    job = await _job(db, job_id)
    res = job.get("result") or {}
    if job["status"] != "done" or not res.get("path") or not Path(res["path"]).is_file():
        raise HTTPException(409, f"export job {job_id} is {job['status']}; download when it is done")
    media = "application/json" if res["filename"].endswith(".json") else "application/x-tar"
    return FileResponse(res["path"], media_type=media, filename=res["filename"])
