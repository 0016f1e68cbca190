"""HTTP routes of the caption task (mounted under /api/tasks/caption): consent, recordings, chunk
upload, finalize, the server-built submit payload, audio playback, review page, retention run."""

from __future__ import annotations

import difflib
import hashlib
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException, Request, Response
from fastapi import Path as PathParam
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from annotation_app.claiming import get_campaign
from annotation_app.database import Db
from annotation_app.deps import MAX_ID, client_ip, require
from annotation_app.models import ROLE_RANK
from annotation_app.schemas import (
    ChunkStored,
    Consent,
    ConsentWithText,
    RecordingStarted,
    RecordingView,
    RetentionOut,
    Summary,
    WordDiff,
)
from annotation_app.security import Principal
from annotation_app.speech import recordings as rec_svc
from annotation_app.speech.audio import AudioRejected, assemble, mime_ext
from annotation_app.speech.config import CONSENT_TEXT, speech_config
from annotation_app.speech.recordings import SpeechError
from annotation_app.tasks.caption import CaptionPayload

Id = Annotated[int, PathParam(ge=1, le=MAX_ID)]
Seq = Annotated[int, Field(ge=0, le=100_000)]


class ConsentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    agree: bool


class StartIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    assignment_id: int = Field(ge=1, le=MAX_ID)
    mime: str = Field(min_length=3, max_length=64)
    restart: bool = False


class FinalizeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    segments: dict[Seq, Seq] = Field(default_factory=dict, max_length=1000, description="chunks the page recorded per part "
                                     "(part number -> count); the finalize is refused listing any not stored")


def router() -> APIRouter:
    r = APIRouter(tags=["caption"])

    @r.get("/consent", response_model=ConsentWithText)
    async def get_consent(request: Request, db: Db, p: Principal = Depends(require("annotator"))) -> dict[str, Any]:
        state = await db.read(lambda c: rec_svc.consent_state(c, p.id))
        return {**state, "text": CONSENT_TEXT}

    @r.post("/consent", response_model=Consent)
    async def post_consent(request: Request, db: Db, body: ConsentIn, p: Principal = Depends(require("annotator"))) -> dict[str, Any]:
        """Give (``agree: true``) or withdraw (``agree: false``) consent to voice recording."""
        return await db.write(lambda c: rec_svc.set_consent(c, p.id, body.agree, client_ip(request)))

    @r.post("/recordings", response_model=RecordingStarted)
    async def start(request: Request, db: Db, body: StartIn, p: Principal = Depends(require("annotator"))) -> dict[str, Any]:
        """The open recording of the assignment (resume after a reload) or a new one; also the campaign's
        recorder settings."""
        def do(conn: Any) -> dict[str, Any]:
            view = rec_svc.start(conn, body.assignment_id, p.id, body.mime, body.restart, client_ip(request))
            cfg = speech_config(get_campaign(conn, rec_svc.get_recording(conn, view["recording_id"]).campaign_id).config)
            return {**view, "config": cfg.model_dump()}

        return await db.write(do)

    @r.get("/recordings/{rec_id}", response_model=RecordingView)
    async def get_rec(request: Request, db: Db, rec_id: Id, p: Principal = Depends(require("annotator"))) -> dict[str, Any]:
        owner = None if ROLE_RANK[p.role] >= ROLE_RANK["reviewer"] else p.id
        return await db.read(lambda c: rec_svc.recording_view(c, rec_svc.get_recording(c, rec_id, owner)))

    @r.put("/recordings/{rec_id}/chunks/{segment}/{seq}", response_model=ChunkStored)
    async def put_chunk(request: Request, db: Db, rec_id: Id, segment: Seq, seq: Seq,
                        x_chunk_sha256: Annotated[str | None, Header()] = None,
                        x_elapsed_ms: Annotated[int, Header(ge=0, le=86_400_000)] = 0,
                        p: Principal = Depends(require("annotator"))) -> dict[str, Any]:
        """Upload one MediaRecorder slice (raw bytes). Resending the same chunk is harmless."""
        media = request.app.state.media
        rec, cfg = await db.read(lambda c: _rec_cfg(c, rec_id, p.id))
        length = int(request.headers.get("content-length") or 0)
        if length > cfg.max_chunk_bytes:
            raise SpeechError(413, "too_large", f"the chunk is {length} bytes; the limit is {cfg.max_chunk_bytes}")
        data = await request.body()
        sha = rec_svc.check_chunk(rec, data, x_chunk_sha256, cfg)
        key = rec_svc.chunk_key(rec_id, segment, seq, sha)
        await run_in_threadpool(media.put, key, data)
        out = await db.write(lambda c: rec_svc.add_chunk(c, rec_id, p.id, segment, seq, len(data), sha, key,
                                                             x_elapsed_ms))
        return {"recording_id": rec_id, "segment": segment, "seq": seq, **out}

    @r.post("/recordings/{rec_id}/finalize", response_model=RecordingView)
    async def finalize(request: Request, db: Db, rec_id: Id, body: FinalizeIn | None = None,
                       p: Principal = Depends(require("annotator"))) -> dict[str, Any]:
        """Assemble the chunks, check the audio (too short, silent, damaged...) and queue transcription.
        Missing chunks (against the page's ``segments`` counts, or gaps) get a 409 whose ``missing``
        lists each ``[part, seq]``. A refused recording keeps its chunks: record more and finalize again."""
        media = request.app.state.media
        expected = {int(k): int(v) for k, v in (body.segments if body else {}).items()}
        rec, keys, n = await db.read(lambda c: rec_svc.chunks_for_finalize(c, rec_id, p.id, expected))
        cfg = await db.read(lambda c: speech_config(get_campaign(c, rec.campaign_id).config))

        def build() -> tuple[Any, str, str]:  # CPU and I/O work: off the event loop
            try:
                audio = assemble([[media.get(k) for k in seg] for seg in keys], rec.mime, cfg)
            except AudioRejected as exc:
                raise SpeechError(422, exc.code, str(exc)) from None
            sha = hashlib.sha256(audio.data).hexdigest()
            key = f"audio/rec/r{rec_id}-{sha[:16]}.{audio.ext}"
            media.put(key, audio.data)
            return audio, sha, key

        audio, sha, key = await run_in_threadpool(build)
        return await db.write(lambda c: rec_svc.commit_finalize(c, rec_id, p.id, n, audio, key, sha,
                                                                    client_ip(request)))

    @r.get("/recordings/{rec_id}/payload", response_model=CaptionPayload)
    async def payload(request: Request, db: Db, rec_id: Id, p: Principal = Depends(require("annotator"))) -> dict[str, Any]:
        """The submit payload, built by the server from the processed recording."""
        return await db.read(lambda c: rec_svc.caption_payload(rec_svc.get_recording(c, rec_id, p.id)))

    @r.get("/recordings/{rec_id}/audio", response_class=Response,
           responses={200: {"content": {"audio/*": {}}, "description": "the processed recording"}})
    async def audio(request: Request, db: Db, rec_id: Id, p: Principal = Depends(require("annotator"))) -> Response:
        owner = None if ROLE_RANK[p.role] >= ROLE_RANK["reviewer"] else p.id
        rec = await db.read(lambda c: rec_svc.get_recording(c, rec_id, owner))
        if not rec.audio_key:
            raise HTTPException(404, "this recording has no audio (not finalized, or deleted after its retention period)")
        return Response(request.app.state.media.get(rec.audio_key), media_type=f"audio/{mime_ext(rec.mime)}".replace(
            "m4a", "mp4"), headers={"cache-control": "private, no-store"})

    @r.get("/diff", response_model=WordDiff)
    async def diff(a: str = "", b: str = "", p: Principal = Depends(require("reviewer"))) -> list[list[str]]:
        return word_diff(a, b)

    @r.post("/retention/run", response_model=RetentionOut)
    async def retention(request: Request, db: Db, p: Principal = Depends(require("admin"))) -> dict[str, Any]:
        """Delete the audio of every recording past its campaign's retention period, now."""
        from annotation_app.speech.worker import SpeechWorker

        media = request.app.state.media
        return await db.call(lambda engine: SpeechWorker(engine, media).retention(), off_loop=True)

    @r.post("/items/{item_id}/summarise", response_model=Summary)
    async def summarise(request: Request, db: Db, item_id: Id, rules: bool = False,
                        p: Principal = Depends(require("reviewer"))) -> dict[str, Any]:
        """Summarise the accepted transcripts of an image into one caption (LLM, or rules if asked or
        no endpoint is configured); the export then writes one record with all transcripts."""
        from annotation_app.speech.summary import summarise_item

        return await db.call(lambda engine: summarise_item(engine, item_id, p.id, rules=rules), off_loop=True)

    @r.get("/review/{campaign_id}", include_in_schema=False, response_class=RedirectResponse)
    async def review_page(campaign_id: Id, p: Principal = Depends(require("reviewer"))) -> RedirectResponse:
        """The caption review is the campaign's review page (audio, transcript -> caption diff, flags)."""
        return RedirectResponse(f"/campaigns/{campaign_id}/review", status_code=303)

    return r


def _rec_cfg(conn: Any, rec_id: int, user_id: int) -> tuple[Any, Any]:
    rec = rec_svc.get_recording(conn, rec_id, user_id)
    return rec, speech_config(get_campaign(conn, rec.campaign_id).config)


def word_diff(a: str, b: str) -> list[list[str]]:
    """Word-level diff of ``a`` (raw) to ``b`` (cleaned): [op, text] with op in equal, delete, insert."""
    wa, wb = a.split(), b.split()
    out: list[list[str]] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=wa, b=wb, autojunk=False).get_opcodes():
        if op in ("delete", "replace"):
            out.append(["delete", " ".join(wa[i1:i2])])
        if op in ("insert", "replace"):
            out.append(["insert", " ".join(wb[j1:j2])])
        if op == "equal":
            out.append(["equal", " ".join(wa[i1:i2])])
    return out
