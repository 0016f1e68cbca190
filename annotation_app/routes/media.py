"""Media bytes for logged-in users; keys are validated and confined to the media root."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Request, Response

from annotation_app.deps import require
from annotation_app.media import check_key
from annotation_app.security import Principal

router = APIRouter(tags=["media"])


@router.get("/media/{key:path}")
async def media(request: Request, key: str, p: Principal = Depends(require("annotator"))) -> Response:
    store = request.app.state.media
    check_key(key)
    try:
        data = store.get(key)
    except KeyError:
        raise HTTPException(404, f"no media {key!r}") from None
    return Response(data, media_type=store.content_type(key),
                    headers={"cache-control": "private, max-age=86400, immutable"})
