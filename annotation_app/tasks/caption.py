"""Spoken captions (PixMo-Cap): the annotator talks about the image for a minute or more,
answering the 7 guiding questions; the audio is transcribed and cleaned into a caption.

The page records with MediaRecorder and uploads chunks (annotation_app.speech); the submit
payload is built by the server from the processed recording (GET .../recordings/{id}/payload).
Export: one pixmo-cap record per answer (caption + transcript); the audio goes into the shard as
an extra member ``<sha>.audio_<recording>.<ext>`` unless the campaign sets ``speech.export_audio``
to false. Provenance (ASR model, cleanup method/model/prompt, quality flags) goes into ``meta``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Generator
from types import SimpleNamespace
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from annotation_app.speech.models import Recording
from annotation_app.speech.recordings import caption_payload
from annotation_app.sql import Op, Q, jload
from annotation_app.tasks import ItemContext, PayloadError, TaskType, register
from pixmo.records import PixmoCap
from pixmo.shards import Annotation, Sample

GUIDING_QUESTIONS = (
    "What is the image at first glance?",
    "What are the objects and their counts?",
    "What does the text say?",
    "What are the positions of the objects?",
    "What subtle details are noticeable?",
    "What is in the background?",
    "What is the style and color?",
)


_RECORDING = Q("SELECT id, user_id, assignment_id, status, caption, transcript, audio_key, audio_sha256, "
              "duration_s, speech_s, flags, stt, cleanup FROM speech_recordings WHERE id = :r")


class Flag(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(max_length=64)
    message: str = Field(max_length=500)


class CaptionPayload(BaseModel):
    model_config = ConfigDict(extra="forbid")
    recording_id: int = Field(ge=1)
    caption: str = Field(max_length=20000)
    transcript: str = Field(max_length=50000)
    audio_key: str | None = Field(None, max_length=300)
    audio_sha256: str | None = Field(None, pattern=r"^[0-9a-f]{64}$")
    duration_s: float | None = Field(None, ge=0)
    speech_s: float | None = Field(None, ge=0)
    flags: list[Flag] = Field(default_factory=list, max_length=20)
    stt: dict[str, Any] = Field(default_factory=dict)
    cleanup: dict[str, Any] = Field(default_factory=dict)


class CaptionTask(TaskType):
    name = "caption"
    title = "Spoken caption"
    script = "caption_recorder.js"
    Payload = CaptionPayload
    subsets = ("pixmo-cap",)

    def check(self, payload: Any, item: ItemContext) -> None:
        if not payload.transcript.strip():
            raise PayloadError("transcript: empty; record a description and wait for the transcript")
        if not payload.caption.strip():
            raise PayloadError("caption: empty; wait for the cleanup to finish")

    def verify_steps(self, payload: Any, assignment: Any, user_id: int) -> Generator[Op, Any, CaptionPayload]:
        """The recording must be a processed recording of this annotator for this assignment; the
        stored payload is rebuilt from it (transcript, caption, audio, flags come from the server)."""
        row = yield Op("first", _RECORDING, {"r": payload.recording_id})
        if row is None or row["user_id"] != user_id or row["assignment_id"] != assignment.id:
            raise PayloadError(f"recording_id: recording {payload.recording_id} is not one of your recordings "
                               "for this assignment")
        if row["status"] != "cleaned" or not row["audio_key"]:
            raise PayloadError(f"recording_id: recording {payload.recording_id} is {row['status']}; "
                               "wait for the transcript and caption")
        rec = SimpleNamespace(**{k: jload(v) if k in ("flags", "stt", "cleanup") else v for k, v in row.items()})
        return CaptionPayload.model_validate(caption_payload(rec))

    def item_view(self, item: ItemContext) -> dict[str, Any]:
        return {**item.spec, "questions": list(GUIDING_QUESTIONS)}

    def export(self, payload: dict[str, Any], item: ItemContext, subset: str, meta: dict[str, Any]) -> list[Annotation]:
        if subset != "pixmo-cap":
            raise PayloadError(f"{self.name} cannot export subset {subset!r}; choose one of {self.subsets}")
        extra = {k: payload.get(k) for k in ("recording_id", "duration_s", "speech_s", "flags", "stt", "cleanup",
                                             "audio_sha256")}
        member = self.audio_member(payload) if export_audio(item) else None
        summary = item.spec.get("summary") or {}
        if meta.get("submission_id") in summary.get("submission_ids", []):
            if meta["submission_id"] != summary["submission_ids"][0]:
                return []  # its transcript is part of the image's summary record
            rec = PixmoCap(image_url=item.image_url, caption=summary["caption"], transcripts=summary["transcripts"])
            return [Annotation.of(rec, **meta, summary_of=summary["submission_ids"], cleanup=summary["provenance"])]
        rec = PixmoCap(image_url=item.image_url, caption=payload["caption"], transcripts=[payload["transcript"]])
        return [Annotation.of(rec, **meta, **extra, audio_member=member)]

    def audio_member(self, payload: dict[str, Any]) -> str | None:
        key = payload.get("audio_key")
        return f"audio_{payload['recording_id']}.{key.rsplit('.', 1)[-1]}" if key else None

    def export_extras(self, payload: dict[str, Any], item: ItemContext, media: Any) -> dict[str, bytes]:
        """Extra shard members: the recording's audio (skipped when deleted or not exported)."""
        member, key = self.audio_member(payload), payload.get("audio_key")
        if not member or not key or not export_audio(item):
            return {}
        try:
            data = media.get(key)
        except KeyError:  # deleted after its retention period
            return {}
        if hashlib.sha256(data).hexdigest() != payload.get("audio_sha256"):
            return {}  # not the audio the server recorded for this recording: never shipped as proof
        return {member: data}

    def proof_check(self, conn: Any, campaign_id: int) -> Any:
        """The audio is proof only when the recording is the submitter's and its sha256 is the one
        the server recorded (stored answers from before the submit checks may not be)."""
        rows = conn.execute(select(Recording.id, Recording.user_id, Recording.audio_sha256)
                            .where(Recording.campaign_id == campaign_id)).all()
        owners = {r.id: (r.user_id, r.audio_sha256) for r in rows}

        def ok(payload: dict[str, Any], user_id: int) -> bool:
            return owners.get(payload.get("recording_id")) == (user_id, payload.get("audio_sha256"))

        return ok

    def router(self) -> APIRouter | None:
        from annotation_app.speech.routes import router

        return router()


def export_audio(item: ItemContext) -> bool:
    return bool((item.campaign_config.get("speech") or {}).get("export_audio", True))


def sample_audio(sample: Sample) -> dict[str, bytes]:
    """The audio members of an exported sample."""
    return {k: v for k, v in sample.extras.items() if k.startswith("audio_")}


register(CaptionTask())
