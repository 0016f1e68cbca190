"""Campaign administration: create, list, upload images, import URL lists, gold answers, export,
progress and per-annotator quality."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Form, HTTPException, Query, Request, UploadFile
from fastapi import Path as PathParam
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Connection, Engine, select

from annotation_app import members, stats
from annotation_app.agreement_db import campaign_agreement
from annotation_app.audit import audit
from annotation_app.campaigns import (
    CampaignIn,
    ImportError_,
    add_image,
    check_image,
    create_campaign,
    get_campaign_row,
    import_images,
    set_gold,
    url_images,
)
from annotation_app.database import Db
from annotation_app.deps import MAX_ID, client_ip, require
from annotation_app.export import export_coco
from annotation_app.models import Campaign
from annotation_app.schemas import (
    Agreement,
    AnnotatorStats,
    CampaignCreated,
    CampaignDetail,
    CampaignRow,
    Coco,
    GoldOut,
    ItemsAdded,
    Progress,
    ShardsOut,
    TaskTypeOut,
    UrlsImported,
)
from annotation_app.security import Principal
from annotation_app.tasks import task_types

router = APIRouter(tags=["campaigns"])
Id = Annotated[int, PathParam(ge=1, le=MAX_ID)]


class UrlsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    urls: list[str] = Field(min_length=1, max_length=1000)


class GoldIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    gold: dict[str, Any] | None


def _bad(exc: Exception) -> HTTPException:
    msg = str(exc)
    return HTTPException(404 if "not found" in msg else 422, msg)


@router.get("/api/task-types", response_model=list[TaskTypeOut])
async def list_task_types(p: Principal = Depends(require("annotator"))) -> list[dict[str, Any]]:
    return [{"name": n, "title": t.title, "subsets": list(t.subsets)} for n, t in task_types().items()]


@router.post("/api/campaigns", status_code=201, response_model=CampaignCreated)
async def new_campaign(request: Request, db: Db, body: CampaignIn, p: Principal = Depends(require("manager"))) -> dict[str, Any]:
    ip = client_ip(request)
    try:
        return {"id": await db.write(lambda c: create_campaign(c, body, p.id, ip)), "name": body.name}
    except ImportError_ as exc:
        raise HTTPException(422, str(exc)) from None


def _campaigns(conn: Connection, p: Principal) -> list[dict[str, Any]]:
    q = select(Campaign.id, Campaign.name, Campaign.task_type, Campaign.instructions, Campaign.overlap,
               Campaign.status)
    if p.role == "annotator":
        q = q.where(members.visible_to(p.id), Campaign.status != "closed")
    rows = conn.execute(q.order_by(Campaign.id)).all()
    return [dict(r._mapping) for r in rows]


@router.get("/api/campaigns", response_model=list[CampaignRow])
async def list_campaigns(db: Db, p: Principal = Depends(require("annotator"))) -> list[dict[str, Any]]:
    """Campaigns; an annotator sees those without members and those assigned to them."""
    return await db.read(lambda c: _campaigns(c, p))


def _detail(conn: Connection, campaign_id: int, p: Principal) -> dict[str, Any]:
    c = get_campaign_row(conn, campaign_id)
    if p.role == "annotator" and not members.can_see(conn, campaign_id, p.id):
        raise ImportError_(f"campaign {campaign_id} not found")  # assigned to others: not shown
    return {"id": c.id, "name": c.name, "task_type": c.task_type, "instructions": c.instructions,
            "overlap": c.overlap, "status": c.status, "config": c.config, "progress": stats.progress(conn, campaign_id)}


@router.get("/api/campaigns/{campaign_id}", response_model=CampaignDetail)
async def campaign_detail(db: Db, campaign_id: Id, p: Principal = Depends(require("annotator"))) -> dict[str, Any]:
    try:
        return await db.read(lambda c: _detail(c, campaign_id, p))
    except ImportError_ as exc:
        raise _bad(exc) from None


@router.post("/api/campaigns/{campaign_id}/images", status_code=201, response_model=ItemsAdded)
async def upload_images(request: Request, db: Db, campaign_id: Id, files: list[UploadFile] = File(...),
                        gold: str = Form(""), p: Principal = Depends(require("manager"))) -> dict[str, Any]:
    """Upload images (JPEG, PNG or WebP). The type is sniffed from the bytes; a declared type that
    disagrees, a non-image or a file over the size limit is refused with a message naming the file."""
    s = request.app.state.settings
    media = request.app.state.media
    blobs = []
    for f in files:
        data = await f.read(s.max_image_bytes + 1)
        try:
            check_image(data, f.content_type, s.max_image_bytes)
        except ImportError_ as exc:
            code = 413 if "limit" in str(exc) else 415
            raise HTTPException(code, f"{f.filename}: {exc}") from None
        blobs.append((f.filename or "", data))

    def add(conn: Connection) -> list[int]:
        ids: list[int] = []
        c = get_campaign_row(conn, campaign_id)
        for name, data in blobs:
            ids += add_image(conn, media, c, data, user_id=p.id, max_bytes=s.max_image_bytes, source_path=name)
        return ids

    try:
        return {"item_ids": await db.write(add)}
    except ImportError_ as exc:
        raise _bad(exc) from None


@router.post("/api/campaigns/{campaign_id}/urls", status_code=201, response_model=UrlsImported)
async def import_urls(request: Request, db: Db, campaign_id: Id, body: UrlsIn,
                      p: Principal = Depends(require("manager"))) -> dict[str, Any]:
    """Import images from http(s) URLs (private addresses refused unless allowed in settings)."""
    s = request.app.state.settings
    media = request.app.state.media

    def run(engine: Engine) -> int:  # downloads: off the event loop
        return import_images(engine, media, campaign_id, url_images(body.urls, s.allow_private_urls, s.max_image_bytes),
                             urls=True, user_id=p.id, max_bytes=s.max_image_bytes)

    try:
        return {"items": await db.call(run, off_loop=True)}
    except ImportError_ as exc:
        raise _bad(exc) from None


@router.put("/api/items/{item_id}/gold", response_model=GoldOut)
async def put_gold(request: Request, db: Db, item_id: Id, body: GoldIn, p: Principal = Depends(require("manager"))) -> dict[str, Any]:
    ip = client_ip(request)
    try:
        await db.write(lambda c: set_gold(c, item_id, body.gold, p.id, ip))
    except ImportError_ as exc:
        raise _bad(exc) from None
    return {"item_id": item_id, "gold": body.gold}


@router.get("/api/campaigns/{campaign_id}/export/coco", response_model=Coco)
async def coco(db: Db, campaign_id: Id, include_unreviewed: bool = False,
               p: Principal = Depends(require("reviewer"))) -> dict[str, Any]:
    """The campaign's accepted answers as COCO-keypoints JSON."""
    try:
        return await db.call(lambda engine: export_coco(engine, campaign_id, include_unreviewed))
    except KeyError as exc:
        raise HTTPException(404, str(exc.args[0])) from None


@router.post("/api/campaigns/{campaign_id}/export/shards", response_model=ShardsOut)
async def shards(request: Request, db: Db, campaign_id: Id,
                 subset: Annotated[Literal["pixmo-points", "pixmo-count"] | None, Query()] = None,
                 include_unreviewed: bool = False, p: Principal = Depends(require("manager"))) -> dict[str, Any]:
    """Write the campaign to PixMo shards under ``<media root>/../exports`` and return the manifest path."""
    import time
    from pathlib import Path

    from annotation_app.export import export_shards

    out = Path(request.app.state.settings.media_root).parent / "exports" / f"campaign-{campaign_id}-{int(time.time())}"
    media, ip = request.app.state.media, client_ip(request)

    try:
        path = str(await db.call(lambda engine: export_shards(engine, media, campaign_id, out, subset=subset,
                                                              include_unreviewed=include_unreviewed), off_loop=True))
    except KeyError as exc:
        raise HTTPException(404, str(exc.args[0])) from None
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    await db.write(lambda c: audit(c, p.id, "campaign.export", "campaign", campaign_id, {"path": path}, ip=ip))
    return {"manifest": path}


@router.get("/api/campaigns/{campaign_id}/progress", response_model=Progress)
async def progress(db: Db, campaign_id: Id, p: Principal = Depends(require("reviewer"))) -> dict[str, Any]:
    return await db.read(lambda c: stats.progress(c, campaign_id))


@router.get("/api/campaigns/{campaign_id}/annotators", response_model=list[AnnotatorStats])
async def annotators(db: Db, campaign_id: Id, p: Principal = Depends(require("reviewer"))) -> list[dict[str, Any]]:
    """Per-annotator throughput, time per item, rejection rate and gold scores."""
    return await db.read(lambda c: stats.annotators(c, campaign_id))


@router.get("/api/campaigns/{campaign_id}/agreement", response_model=Agreement)
async def agreement(db: Db, campaign_id: Id, p: Principal = Depends(require("reviewer"))) -> dict[str, Any]:
    """Agreement between annotators who answered the same item: a campaign summary and one row per
    annotator (points: matched F1, counts, not present; captions: lengths, transcript overlap,
    spread; pairwise: same choice, Fleiss' kappa). Definitions: docs/spec/agreement.md."""
    return await db.read(lambda c: campaign_agreement(c, campaign_id), off_loop=True)
