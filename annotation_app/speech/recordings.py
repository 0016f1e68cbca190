"""Recordings in the database: consent, start/resume, chunk upload, finalize, submit, retention.

Every function takes a connection inside the caller's transaction; heavy audio work
(:func:`annotation_app.speech.audio.assemble`) runs between a read and a write transaction.
"""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import Connection, insert, select, update

from annotation_app import jobs
from annotation_app.audit import audit
from annotation_app.claiming import ClaimError, get_campaign, own_assignment
from annotation_app.db import inserted_id, now
from annotation_app.media import MediaStore
from annotation_app.models import table
from annotation_app.speech.audio import Assembled, mime_ext
from annotation_app.speech.config import CONSENT_VERSION, SpeechConfig, speech_config
from annotation_app.speech.models import Chunk, Recording, VoiceConsent

R, C, V = table(Recording), table(Chunk), table(VoiceConsent)
TRANSCRIBE, CLEANUP, RETENTION = "speech.transcribe", "speech.cleanup", "speech.retention"


class SpeechError(ClaimError):
    """A speech request that cannot be served (HTTP ``status``); ``code`` names the problem."""

    def __init__(self, status: int, code: str, message: str, **extra: Any):
        super().__init__(status, message)
        self.code = code
        self.extra = {"code": code, **extra}


# ---------------------------------------------------------------- consent


def consent_state(conn: Connection, user_id: int) -> dict[str, Any]:
    row = conn.execute(select(V).where(V.c.user_id == user_id)).first()
    ok = row is not None and row.revoked_at is None and row.version == CONSENT_VERSION
    return {"consented": ok, "version": CONSENT_VERSION, "given_at": row.given_at if row else None,
            "revoked_at": row.revoked_at if row else None}


def set_consent(conn: Connection, user_id: int, agree: bool, ip: str = "") -> dict[str, Any]:
    t = now()
    row = conn.execute(select(V).where(V.c.user_id == user_id)).first()
    if agree:
        vals = {"version": CONSENT_VERSION, "given_at": t, "revoked_at": None}
        if row is None:
            conn.execute(insert(V).values(user_id=user_id, **vals))
        else:
            conn.execute(update(V).where(V.c.user_id == user_id).values(**vals))
    elif row is not None:
        conn.execute(update(V).where(V.c.user_id == user_id).values(revoked_at=t))
    audit(conn, user_id, "speech.consent" if agree else "speech.consent_revoked", "user", user_id,
          {"version": CONSENT_VERSION}, ip=ip)
    return consent_state(conn, user_id)


# ---------------------------------------------------------------- recordings


def recording_view(conn: Connection, rec: Any) -> dict[str, Any]:
    chunks = conn.execute(select(C.c.segment, C.c.seq, C.c.size, C.c.elapsed_ms).where(C.c.recording_id == rec.id)
                          .order_by(C.c.segment, C.c.seq)).all()
    segs: dict[int, list[int]] = {}
    for c in chunks:
        segs.setdefault(c.segment, []).append(c.seq)
    return {"recording_id": rec.id, "assignment_id": rec.assignment_id, "status": rec.status, "mime": rec.mime,
            "bytes": rec.bytes, "elapsed_ms": rec.elapsed_ms, "segments": {str(k): v for k, v in segs.items()},
            "next_segment": (max(segs) + 1) if segs else 0, "duration_s": rec.duration_s, "speech_s": rec.speech_s,
            "transcript": rec.transcript, "caption": rec.caption, "stt": rec.stt, "cleanup": rec.cleanup,
            "flags": rec.flags or [], "error": rec.error, "has_audio": bool(rec.audio_key)}


def get_recording(conn: Connection, rec_id: int, user_id: int | None = None) -> Any:
    rec = conn.execute(select(R).where(R.c.id == rec_id)).first()
    if rec is None or (user_id is not None and rec.user_id != user_id):
        raise SpeechError(404, "not_found", f"recording {rec_id} not found")
    return rec


def start(conn: Connection, assignment_id: int, user_id: int, mime: str, restart: bool = False,
          ip: str = "") -> dict[str, Any]:
    """The open recording of this assignment (to resume after a reload), or a new one."""
    if not consent_state(conn, user_id)["consented"]:
        raise SpeechError(403, "no_consent", "voice consent is needed before recording: read and accept it first")
    a = own_assignment(conn, assignment_id, user_id)
    if a.status not in ("active", "expired"):
        raise SpeechError(409, "not_active", f"assignment {assignment_id} is {a.status}; claim it again to record")
    try:
        mime_ext(mime)
    except ValueError as exc:
        raise SpeechError(415, "bad_mime", str(exc)) from None
    open_rec = conn.execute(select(R).where(R.c.assignment_id == assignment_id, R.c.status == "recording")
                            .order_by(R.c.id.desc())).first()
    if open_rec is not None and not restart:
        return recording_view(conn, open_rec)
    if open_rec is not None:
        conn.execute(update(R).where(R.c.id == open_rec.id).values(status="failed", error="restarted by the annotator"))
    rid = inserted_id(conn.execute(insert(R).values(campaign_id=a.campaign_id, item_id=a.item_id, assignment_id=a.id, user_id=user_id,
                                        status="recording", mime=mime[:64], bytes=0, elapsed_ms=0, flags=[],
                                        created_at=now())))
    audit(conn, user_id, "speech.start", "recording", rid, {"assignment_id": a.id, "mime": mime}, ip=ip)
    return recording_view(conn, get_recording(conn, rid))


def chunk_key(rec_id: int, segment: int, seq: int, sha: str) -> str:
    return f"audio/chunks/r{rec_id}/s{segment}-c{seq}-{sha[:12]}.part"


def check_chunk(rec: Any, data: bytes, sha_header: str | None, cfg: SpeechConfig) -> str:
    """Validate one uploaded chunk before anything is stored; returns its sha256."""
    if rec.status != "recording":
        raise SpeechError(409, "finalized", f"recording {rec.id} is {rec.status}; start a new one to record again")
    if not data:
        raise SpeechError(400, "empty", "the chunk is empty (0 bytes)")
    if len(data) > cfg.max_chunk_bytes:
        raise SpeechError(413, "too_large", f"the chunk is {len(data)} bytes; the limit is {cfg.max_chunk_bytes}")
    if rec.bytes + len(data) > cfg.max_audio_bytes:
        raise SpeechError(413, "too_large", f"the recording would exceed the {cfg.max_audio_bytes / 1e6:.1f} MB limit")
    sha = hashlib.sha256(data).hexdigest()
    if sha_header and sha_header.lower() != sha:
        raise SpeechError(400, "truncated", f"the chunk arrived damaged or truncated ({len(data)} bytes, "
                                            "sha256 does not match X-Chunk-Sha256); send it again")
    return sha


def add_chunk(conn: Connection, rec_id: int, user_id: int, segment: int, seq: int, size: int, sha: str,
              key: str, elapsed_ms: int) -> dict[str, Any]:
    """Record an uploaded chunk (already written to media); a resent identical chunk is a no-op."""
    rec = get_recording(conn, rec_id, user_id)
    if rec.status != "recording":
        raise SpeechError(409, "finalized", f"recording {rec.id} is {rec.status}")
    old = conn.execute(select(C).where(C.c.recording_id == rec_id, C.c.segment == segment, C.c.seq == seq)).first()
    if old is not None:
        if old.sha256 != sha:
            raise SpeechError(409, "conflict", f"chunk {seq} of part {segment} was already stored with other bytes")
        return {"stored": False, "bytes": rec.bytes}
    conn.execute(insert(C).values(recording_id=rec_id, segment=segment, seq=seq, size=size, sha256=sha, media_key=key,
                                  elapsed_ms=elapsed_ms, created_at=now()))
    conn.execute(update(R).where(R.c.id == rec_id).values(bytes=R.c.bytes + size,
                                                          elapsed_ms=max(rec.elapsed_ms, elapsed_ms)))
    return {"stored": True, "bytes": rec.bytes + size}


def chunks_for_finalize(conn: Connection, rec_id: int, user_id: int,
                        expected: dict[int, int] | None = None) -> tuple[Any, list[list[str]], int]:
    """(recording, media keys per segment in order, number of chunks). ``expected`` is the page's
    count of chunks per segment; any chunk missing from a segment (a gap, or fewer than expected)
    is refused with a 409 listing every missing ``[segment, seq]`` so the page can send exactly those."""
    rec = get_recording(conn, rec_id, user_id)
    if rec.status != "recording":
        raise SpeechError(409, "finalized", f"recording {rec.id} is already {rec.status}")
    rows = conn.execute(select(C).where(C.c.recording_id == rec_id).order_by(C.c.segment, C.c.seq)).all()
    segs: dict[int, dict[int, Any]] = {}
    for r in rows:
        segs.setdefault(r.segment, {})[r.seq] = r
    missing = []
    for s in sorted(set(segs) | set(expected or {})):
        have = segs.get(s, {})
        count = max((expected or {}).get(s, 0), max(have, default=-1) + 1)
        missing += [[s, q] for q in range(count) if q not in have]
    if missing:
        shown = ", ".join(f"{q} of part {s}" for s, q in missing[:10]) + (" ..." if len(missing) > 10 else "")
        raise SpeechError(409, "missing_chunk", f"{len(missing)} chunks have not arrived yet (chunk {shown}); "
                                                "the page sends them from its local copy, then finalizes again",
                          missing=missing)
    out = [[have[q].media_key for q in sorted(have)] for _s, have in sorted(segs.items())]
    return rec, out, len(rows)


def commit_finalize(conn: Connection, rec_id: int, user_id: int, n_chunks: int, audio: Assembled, key: str,
                    sha: str, ip: str = "") -> dict[str, Any]:
    rec = get_recording(conn, rec_id, user_id)
    count = len(conn.execute(select(C.c.id).where(C.c.recording_id == rec_id)).all())
    if rec.status != "recording" or count != n_chunks:
        raise SpeechError(409, "changed", "the recording changed while it was being assembled; finalize again")
    cfg = speech_config(get_campaign(conn, rec.campaign_id).config)
    t = now()
    delete_after = t + cfg.retention_days * 86400 if cfg.retention_days else None
    conn.execute(update(R).where(R.c.id == rec_id).values(
        status="queued", audio_key=key, audio_sha256=sha, duration_s=round(audio.duration_s, 3),
        speech_s=round(audio.speech_s, 3), finalized_at=t, delete_after=delete_after, error=None))
    jobs.enqueue(conn, TRANSCRIBE, f"{TRANSCRIBE}:{rec_id}:{sha[:16]}", {"recording_id": rec_id}, max_attempts=4)
    audit(conn, user_id, "speech.finalize", "recording", rec_id, {"duration_s": audio.duration_s, "bytes": len(audio.data)},
          ip=ip)
    return recording_view(conn, get_recording(conn, rec_id))


def caption_payload(rec: Any) -> dict[str, Any]:
    """The submit payload of a caption task, built on the server from the processed recording."""
    if rec.status != "cleaned":
        raise SpeechError(409, "not_ready", f"recording {rec.id} is {rec.status}; wait for the transcript and caption")
    return {"recording_id": rec.id, "caption": rec.caption, "transcript": rec.transcript,
            "audio_key": rec.audio_key, "audio_sha256": rec.audio_sha256, "duration_s": rec.duration_s,
            "speech_s": rec.speech_s, "flags": rec.flags or [], "stt": rec.stt or {}, "cleanup": rec.cleanup or {}}


# ---------------------------------------------------------------- retention


def expired_recordings(conn: Connection, t: float, limit: int = 500) -> list[Any]:
    return list(conn.execute(select(R).where(R.c.delete_after.is_not(None), R.c.delete_after < t,
                                             R.c.deleted_at.is_(None))
                             .order_by(R.c.id).limit(limit)).all())


def delete_audio(conn: Connection, media: MediaStore, rec: Any, reason: str, user_id: int | None = None) -> int:
    """Delete a recording's audio and chunks from media; the transcript and caption stay."""
    keys = [r.media_key for r in conn.execute(select(C.c.media_key).where(C.c.recording_id == rec.id)).all()]
    if rec.audio_key:
        keys.append(rec.audio_key)
    removed = 0
    for k in keys:
        try:
            if media.exists(k):
                media.fs.rm(media.path(k))
                removed += 1
        except FileNotFoundError:
            pass
    conn.execute(update(R).where(R.c.id == rec.id).values(deleted_at=now(), audio_key=None,
                                                          status="deleted" if rec.status == "recording" else rec.status))
    audit(conn, user_id, "speech.audio_deleted", "recording", rec.id, {"reason": reason, "files": removed})
    return removed
