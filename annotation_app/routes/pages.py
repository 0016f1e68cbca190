"""HTML pages (server-rendered shells; the data comes from the JSON API through static JS)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from annotation_app.campaigns import ImportError_, get_campaign_row
from annotation_app.database import Database, Db
from annotation_app.deps import MAX_ID, require
from annotation_app.schemas import Health
from annotation_app.security import Principal
from annotation_app.tasks import get_task_type

router = APIRouter(tags=["pages"], include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).parent.parent / "templates"))
Id = Annotated[int, PathParam(ge=1, le=MAX_ID)]


async def _campaign(db: Database, campaign_id: int) -> Any:
    try:
        return await db.read(lambda c: get_campaign_row(c, campaign_id))
    except ImportError_ as exc:
        raise HTTPException(404, str(exc)) from None


@router.get("/healthz", response_model=Health)
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request) -> HTMLResponse:
    return templates.TemplateResponse(request, "login.html", {"user": None})


@router.get("/", response_class=HTMLResponse)
async def home(request: Request, p: Principal = Depends(require("annotator"))) -> HTMLResponse:
    return templates.TemplateResponse(request, "home.html", {"user": p})


@router.get("/campaigns/{campaign_id}/annotate", response_class=HTMLResponse)
async def annotate(request: Request, db: Db, campaign_id: Id, p: Principal = Depends(require("annotator"))) -> HTMLResponse:
    c = await _campaign(db, campaign_id)
    task = get_task_type(c.task_type)
    return templates.TemplateResponse(request, task.template, {"user": p, "campaign": c, "task": task})


@router.get("/campaigns/{campaign_id}/review", response_class=HTMLResponse)
async def review_page(request: Request, db: Db, campaign_id: Id, p: Principal = Depends(require("reviewer"))) -> HTMLResponse:
    c = await _campaign(db, campaign_id)
    task = get_task_type(c.task_type)
    return templates.TemplateResponse(request, "review.html", {"user": p, "campaign": c, "task": task})


@router.get("/campaigns/{campaign_id}/quality", response_class=HTMLResponse)
async def quality_page(request: Request, db: Db, campaign_id: Id, p: Principal = Depends(require("reviewer"))) -> HTMLResponse:
    c = await _campaign(db, campaign_id)
    return templates.TemplateResponse(request, "quality.html", {"user": p, "campaign": c})
