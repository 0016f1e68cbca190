"""Database tables (SQLAlchemy 2). Times are epoch seconds (float) on every backend.

Core tables know no task type: a campaign names its ``task_type`` and items keep task-specific
data in JSON (``spec`` for what the annotator is shown, ``gold`` for a known answer).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

ROLES = ("annotator", "reviewer", "manager", "admin")
ROLE_RANK = {r: i for i, r in enumerate(ROLES, start=1)}


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


def table(model: type[Base]) -> Table:
    """The ``Table`` of a mapped class (``Model.__table__`` is typed as a bare ``FromClause``, which
    ``insert``/``update`` do not accept)."""
    return Base.metadata.tables[model.__tablename__]


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[float] = mapped_column(Float)
    __table_args__ = (CheckConstraint("role IN ('annotator','reviewer','manager','admin')", name="ck_users_role"),)


class ApiToken(Base):
    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[float] = mapped_column(Float)
    expires_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    revoked_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class WebSession(Base):
    __tablename__ = "web_sessions"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[float] = mapped_column(Float)
    expires_at: Mapped[float] = mapped_column(Float)
    revoked_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class LoginAttempt(Base):
    __tablename__ = "login_attempts"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64))
    ip: Mapped[str] = mapped_column(String(64))
    ok: Mapped[bool] = mapped_column(Boolean)
    at: Mapped[float] = mapped_column(Float)
    __table_args__ = (Index("ix_login_user_at", "username", "at"), Index("ix_login_ip_at", "ip", "at"))


class Campaign(Base):
    __tablename__ = "campaigns"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    task_type: Mapped[str] = mapped_column(String(64))
    instructions: Mapped[str] = mapped_column(Text, default="")
    overlap: Mapped[int] = mapped_column(Integer, default=1)
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    created_at: Mapped[float] = mapped_column(Float)
    # open; paused (listed, no new claims); closed (not listed to annotators, no new claims)
    status: Mapped[str] = mapped_column(String(16), default="open", server_default="open")
    __table_args__ = (CheckConstraint("overlap >= 1", name="ck_campaign_overlap"),
                      CheckConstraint("status IN ('open','paused','closed')", name="ck_campaign_status"))


class Item(Base):
    """One thing to annotate. ``taken`` counts assignments that hold a slot (active lease,
    submitted, accepted or rejected-and-returned); it can never exceed ``overlap``."""

    __tablename__ = "items"
    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))
    source_key: Mapped[str] = mapped_column(String(200))
    media_key: Mapped[str] = mapped_column(String(300))
    image_sha256: Mapped[str] = mapped_column(String(64))
    image_url: Mapped[str] = mapped_column(Text, default="")
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    gold: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True), nullable=True)
    priority: Mapped[int] = mapped_column(Integer, default=100)
    overlap: Mapped[int] = mapped_column(Integer)
    # for reviewers and exports, never sent to annotators: {"source_path": the file's path as imported}
    meta: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True), nullable=True)
    taken: Mapped[int] = mapped_column(Integer, default=0)
    __table_args__ = (
        UniqueConstraint("campaign_id", "source_key", name="uq_item_source"),
        Index("ix_items_open", "campaign_id", "priority", "id",
              sqlite_where=text("taken < overlap"), postgresql_where=text("taken < overlap")),
        CheckConstraint("taken >= 0 AND taken <= overlap", name="ck_items_taken"),
    )


ASSIGNMENT_STATES = ("active", "submitted", "accepted", "rejected", "expired", "released")
HOLDING_STATES = ("active", "submitted", "accepted", "rejected")


class Assignment(Base):
    """A user's claim on an item: a lease while ``active``; the item stays with its author
    after submit, and comes back to the same author when a reviewer rejects it."""

    __tablename__ = "assignments"
    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"))
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(String(16))
    lease_expires_at: Mapped[float] = mapped_column(Float)
    claimed_at: Mapped[float] = mapped_column(Float)
    submitted_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    submission_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    draft: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True), nullable=True)
    draft_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    reject_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    __table_args__ = (
        UniqueConstraint("item_id", "user_id", name="uq_assignment_item_user"),
        Index("ix_assign_user", "campaign_id", "user_id", "status"),
        Index("ix_assign_lease", "status", "lease_expires_at"),
        Index("ix_assign_campaign_status", "campaign_id", "status"),
    )


class Submission(Base):
    """An immutable answer. ``client_key`` makes submits idempotent per user."""

    __tablename__ = "submissions"
    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id"), index=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"), index=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    client_key: Mapped[str] = mapped_column(String(80))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    duration_ms: Mapped[int | None] = mapped_column(Integer, nullable=True)
    kind: Mapped[str] = mapped_column(String(16), default="annotator")
    created_at: Mapped[float] = mapped_column(Float)
    __table_args__ = (UniqueConstraint("user_id", "client_key", name="uq_submission_client_key"),)


class Review(Base):
    __tablename__ = "reviews"
    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id"), index=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"))
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    decision: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[float] = mapped_column(Float)


class AuditLog(Base):
    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[float] = mapped_column(Float)
    user_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    action: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str] = mapped_column(String(32), default="")
    object_id: Mapped[str] = mapped_column(String(64), default="")
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    ip: Mapped[str] = mapped_column(String(64), default="")
    __table_args__ = (Index("ix_audit_at", "at"),)


class Job(Base):
    """A durable background job: queued -> running (leased) -> done | failed.

    ``dedupe_key`` makes enqueueing idempotent; a running job whose lease expires is retried
    until ``max_attempts``."""

    __tablename__ = "jobs"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=3)
    run_after: Mapped[float] = mapped_column(Float)
    lease_expires_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    worker: Mapped[str | None] = mapped_column(String(128), nullable=True)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True), nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)
    __table_args__ = (Index("ix_jobs_claim", "kind", "status", "run_after"),)


class AnnotatorPause(Base):
    """An annotator paused in one campaign (gold gating, ``annotation_app.gating``): in force while
    ``reinstated_at`` is NULL; a reinstatement keeps the row (the history stays)."""

    __tablename__ = "annotator_pauses"
    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str] = mapped_column(Text)
    score: Mapped[float | None] = mapped_column(Float, nullable=True)
    gold_items: Mapped[int] = mapped_column(Integer, default=0)
    paused_at: Mapped[float] = mapped_column(Float)
    reinstated_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    reinstated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    __table_args__ = (Index("ix_pauses_campaign_user", "campaign_id", "user_id"),
                      Index("uq_pause_in_force", "campaign_id", "user_id", unique=True,  # one in force
                            sqlite_where=text("reinstated_at IS NULL"), postgresql_where=text("reinstated_at IS NULL")))


class CampaignMember(Base):
    """A user assigned to a campaign (``annotation_app.members``): a campaign with members is listed
    to and claimable by its members only (reviewers and admins see every campaign)."""

    __tablename__ = "campaign_members"
    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    added_at: Mapped[float] = mapped_column(Float)
    added_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    __table_args__ = (UniqueConstraint("campaign_id", "user_id", name="uq_campaign_member"),)


class UserGroup(Base):
    """A user in a named group (``annotation_app.admin``): assigning a campaign to a group assigns
    the group's members at that moment."""

    __tablename__ = "user_groups"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    added_at: Mapped[float] = mapped_column(Float)
    __table_args__ = (UniqueConstraint("name", "user_id", name="uq_user_group"),)
