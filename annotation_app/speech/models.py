"""Tables of the speech-captioning and ask-model-anything tasks (migration ``0100_speech_ama``).

Media never sits in rows: chunks and assembled audio live in the media store under ``audio/``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from annotation_app.models import Base

RECORDING_STATES = ("recording", "queued", "transcribed", "cleaned", "failed", "deleted")


class VoiceConsent(Base):
    """An annotator's consent to have their voice recorded and kept (one row per user)."""

    __tablename__ = "voice_consents"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), unique=True)
    version: Mapped[str] = mapped_column(String(32))
    given_at: Mapped[float] = mapped_column(Float)
    revoked_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class Recording(Base):
    """One spoken description of an item by one annotator: chunks -> audio -> transcript -> caption."""

    __tablename__ = "speech_recordings"
    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"))
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(String(16), default="recording")
    mime: Mapped[str] = mapped_column(String(64))
    bytes: Mapped[int] = mapped_column(Integer, default=0)
    elapsed_ms: Mapped[int] = mapped_column(Integer, default=0)  # recording time the client reported
    audio_key: Mapped[str | None] = mapped_column(String(300), nullable=True)
    audio_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    duration_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    speech_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    transcript: Mapped[str | None] = mapped_column(Text, nullable=True)
    stt: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    caption: Mapped[str | None] = mapped_column(Text, nullable=True)
    cleanup: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    flags: Mapped[list[Any]] = mapped_column(JSON, default=list)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[float] = mapped_column(Float)
    finalized_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    transcribed_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    delete_after: Mapped[float | None] = mapped_column(Float, nullable=True)
    deleted_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    __table_args__ = (Index("ix_speech_rec_delete", "delete_after"),)


class Chunk(Base):
    """One uploaded MediaRecorder slice. ``segment`` counts recorder sessions (a reload starts a new one)."""

    __tablename__ = "speech_chunks"
    id: Mapped[int] = mapped_column(primary_key=True)
    recording_id: Mapped[int] = mapped_column(ForeignKey("speech_recordings.id"))
    segment: Mapped[int] = mapped_column(Integer)
    seq: Mapped[int] = mapped_column(Integer)
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    media_key: Mapped[str] = mapped_column(String(300))
    elapsed_ms: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[float] = mapped_column(Float)
    __table_args__ = (UniqueConstraint("recording_id", "segment", "seq", name="uq_speech_chunk"),)


class AmaDraft(Base):
    """One LLM draft of an ask-model-anything (or point-explanations) answer, and its fate."""

    __tablename__ = "ama_drafts"
    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id"), index=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    round: Mapped[int] = mapped_column(Integer)
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    context: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # ocr, caption, points
    llm: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # provenance
    decision: Mapped[str] = mapped_column(String(16), default="pending")  # pending, accepted, rejected
    feedback: Mapped[str | None] = mapped_column(Text, nullable=True)
    shown_at: Mapped[float] = mapped_column(Float)
    decided_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    __table_args__ = (UniqueConstraint("assignment_id", "round", name="uq_ama_draft_round"),)
