"""Media bytes, served by who may see them: images to every logged-in user (every user may work in
every campaign); audio (recordings and their chunks) only to the speaker and to reviewers and
admins. Keys are validated and confined to the media root."""

from __future__ import annotations

import re

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from sqlalchemy import Connection
from starlette.concurrency import run_in_threadpool

from annotation_app.database import Database, Db
from annotation_app.deps import require
from annotation_app.media import check_key
from annotation_app.models import ROLE_RANK, table
from annotation_app.security import Principal
from annotation_app.speech.models import Recording

router = APIRouter(tags=["media"])
_AUDIO = re.compile(r"^audio/(?:chunks/r(\d+)/|rec/r(\d+)-)")


def _recording_owner(conn: Connection, rec_id: int) -> int | None:
    row = conn.execute(table(Recording).select().with_only_columns(Recording.user_id)
                       .where(Recording.id == rec_id)).first()
    return row.user_id if row else None


async def may_see(db: Database, key: str, p: Principal) -> bool:
    """Whether ``p`` may read the media object ``key``."""
    if key.startswith("img/"):
        return True
    if ROLE_RANK[p.role] >= ROLE_RANK["reviewer"]:
        return True
    m = _AUDIO.match(key)
    if m is None:
        return False  # any other private object: reviewers and admins only
    rec_id = int(m.group(1) or m.group(2))
    owner = await db.read(lambda c: _recording_owner(c, rec_id))
    return owner == p.id


@router.get("/media/{key:path}", response_class=Response,
            responses={200: {"content": {"image/*": {}, "audio/*": {}}, "description": "the object's bytes"}})
async def media(request: Request, db: Db, key: str, p: Principal = Depends(require("annotator"))) -> Response:
    store = request.app.state.media
    check_key(key)
    if not await may_see(db, key, p):
        raise HTTPException(404, f"no media {key!r}")  # 404, not 403: do not confirm that it exists
    try:  # an object store's round trip runs off the event loop; a local file is read in place
        data = store.get(key) if store.local else await run_in_threadpool(store.get, key)
    except KeyError:
        raise HTTPException(404, f"no media {key!r}") from None
    cache = "private, max-age=86400, immutable" if key.startswith("img/") else "private, no-store"
    return Response(data, media_type=store.content_type(key),
                    headers={"cache-control": cache})
