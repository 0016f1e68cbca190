"""Response models of the JSON API (the request models live next to their routes).

Each lists exactly the keys its route returns (``extra="forbid"``: a key the code adds without adding
it here fails the route's tests instead of being dropped silently), in the shape the pages' scripts
(``annotation_app/static/*.js``) read. Task-specific parts (``item.task``, payloads, drafts) stay JSON
objects: each task type defines them (``TaskType.item_view``, ``TaskType.parse``); a route that returns a payload for the page to submit
uses the task's own payload model (``tasks.ama.AmaPayload``, ``tasks.caption.CaptionPayload``).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, RootModel

JsonObject = dict[str, Any]


class Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Ok(Out):
    ok: Literal[True] = True


class Health(Out):
    status: str


# ---------------------------------------------------------------- work


class ItemView(Out):
    id: int
    media_url: str
    width: int
    height: int
    task: JsonObject  # TaskType.item_view


class AssignmentView(Out):
    assignment_id: int
    status: str
    version: int
    lease_expires_at: float | None
    draft: Any  # the saved draft (task-defined), or the rejected answer to fix; null when none
    reject_reason: str | None
    item: ItemView


class ClaimOut(Out):
    assignment: AssignmentView | None  # null: nothing left in this campaign


class LeaseOut(Out):
    lease_expires_at: float


class DraftSaved(Out):
    saved_at: float


class SubmitOut(Out):
    submission_id: int
    assignment_id: int
    replayed: bool


class MyAssignment(Out):
    id: int
    status: str
    campaign_id: int
    reject_reason: str | None
    item_id: int
    name: str  # the campaign's name


# ---------------------------------------------------------------- auth and users


class LoginOut(Out):
    user_id: int
    role: str
    csrf_token: str


class Me(Out):
    user_id: int
    username: str
    role: str
    via: str


class TokenCreated(Out):
    id: int
    token: str  # shown once; only its hash is stored
    name: str


class TokenRow(Out):
    id: int
    name: str
    created_at: float
    expires_at: float | None
    revoked_at: float | None


class UserCreated(Out):
    id: int
    username: str
    role: str


class UserRow(Out):
    id: int
    username: str
    role: str
    active: bool
    created_at: float


class UserPatched(Out):
    id: int
    role: str | None = None  # only the fields that were changed are returned
    active: bool | None = None


class AuditRow(Out):
    id: int
    at: float
    user_id: int | None
    action: str
    object_type: str
    object_id: str
    detail: JsonObject | None
    ip: str


# ---------------------------------------------------------------- campaigns


class TaskTypeOut(Out):
    name: str
    title: str
    subsets: list[str]


class CampaignCreated(Out):
    id: int
    name: str


class CampaignRow(Out):
    id: int
    name: str
    task_type: str
    instructions: str
    overlap: int
    status: Literal["open", "paused", "closed"] = "open"


class Progress(Out):
    items: int
    gold_items: int
    slots: int
    taken: int
    by_status: dict[str, int]
    percent_done: float


class CampaignDetail(CampaignRow):
    config: JsonObject
    progress: Progress


class ItemsAdded(Out):
    item_ids: list[int]


class UrlsImported(Out):
    items: int


class GoldOut(Out):
    item_id: int
    gold: JsonObject | None


class Coco(Out):
    """COCO keypoints (one category per label with a single keypoint ``point``)."""

    info: JsonObject
    images: list[JsonObject]
    annotations: list[JsonObject]
    categories: list[JsonObject]


class ShardsOut(Out):
    manifest: str


class PauseOut(Out):
    reason: str
    score: float | None
    gold_items: int
    paused_at: float


class AnnotatorStats(Out):
    user_id: int
    username: str
    submissions: int
    items_per_hour: float | None  # answers per hour of active time
    active_seconds: float  # sum over answers of the time shown (or claim to submit), each capped at 300 s
    median_seconds_per_item: float | None
    reviewed: int
    rejection_rate: float | None
    gold_items: int
    gold: dict[str, float] | None  # mean precision, recall, count error, ... over scored gold items
    gold_unscorable: int
    paused: PauseOut | None  # gold gating: the pause in force


class Member(Out):
    user_id: int
    username: str
    role: str
    added_at: float


class MembersAdded(Out):
    added: list[str]


class MyProgress(Out):
    done_today: int  # answers since the start of the caller's day
    done_total: int
    remaining: int  # items with a free slot not yet worked on + own leases and returned items
    paused: str | None  # the reason of the gold-gating pause in force


class AgreementMetric(Out):
    key: str  # agreement_db.METRICS
    label: str  # column title
    help: str  # one-line definition (docs/spec/agreement.md has the full one)
    value: float | None  # the mean over ``n`` units, rounded to 4 decimals; None without units
    n: int


class AnnotatorAgreement(Out):
    user_id: int
    username: str
    items_with_overlap: int  # items they answered that another annotator answered too
    pairs: int  # (item, other annotator) comparisons
    metrics: list[AgreementMetric]


class Agreement(Out):
    campaign_id: int
    task_type: str
    kind: Literal["points", "captions", "choices", "none"]
    note: str  # why there is nothing to compare, if so
    answers: int  # annotators' answers counted (non-gold items, submitted or accepted)
    unreadable: int  # of those, answers left out because their stored payload is malformed
    items: int
    items_with_overlap: int  # items with answers of two or more annotators
    pairs: int  # (item, annotator pair) comparisons
    summary: list[AgreementMetric]
    annotators: list[AnnotatorAgreement]


# ---------------------------------------------------------------- review


class ReviewEntry(Out):
    assignment_id: int
    version: int
    status: str
    annotator: str
    submitted_at: float | None
    payload: JsonObject | None
    duration_ms: int | None
    reject_reason: str | None
    task_type: str
    flags: list[Any]
    source_path: str | None  # the item's file path as imported (folder or upload), if known
    item: ItemView


class ReviewDone(Out):
    assignment_id: int
    status: str
    review_id: int


# ---------------------------------------------------------------- caption (speech)


class Consent(Out):
    consented: bool
    version: str
    given_at: float | None
    revoked_at: float | None


class ConsentWithText(Consent):
    text: str


class RecordingView(Out):
    recording_id: int
    assignment_id: int
    status: str
    mime: str
    bytes: int
    elapsed_ms: int | None
    segments: dict[str, list[int]]  # part number -> the chunk numbers stored
    next_segment: int
    duration_s: float | None
    speech_s: float | None
    transcript: str | None
    caption: str | None
    stt: JsonObject | None
    cleanup: JsonObject | None
    flags: list[Any]
    error: str | None
    has_audio: bool


class RecordingStarted(RecordingView):
    config: JsonObject  # the campaign's recorder settings (speech.config.SpeechConfig)


class ChunkStored(Out):
    recording_id: int
    segment: int
    seq: int
    stored: bool  # false: this chunk was stored before (a resend)
    bytes: int


class WordDiff(RootModel[list[tuple[Literal["equal", "delete", "insert"], str]]]):
    """[op, words] pairs, raw transcript -> cleaned caption."""


class RetentionOut(Out):
    recordings: int
    files: int


class Summary(Out):
    caption: str
    transcripts: list[str]
    submission_ids: list[int]
    provenance: JsonObject
    created_at: float


# ---------------------------------------------------------------- AMA / point explanations


class DraftView(Out):
    draft_id: int
    round: int
    question: str
    answer: str
    decision: str
    feedback: str | None
    llm: JsonObject | None
    shown_at: float
    decided_at: float | None
    context: JsonObject



# ---------------------------------------------------------------- admin page (routes/admin.py)


class StatusOut(Out):
    id: int
    status: Literal["open", "paused", "closed"]
    previous: str


class Group(Out):
    name: str
    usernames: list[str]


class AdminItem(Out):
    id: int
    media_url: str
    width: int
    height: int
    gold: JsonObject | None
    source_path: str | None
    overlap: int
    taken: int
    answers: int


class ItemPage(Out):
    total: int
    items: list[AdminItem]


class ExportJob(Out):
    id: int
    campaign_id: int | None
    format: str | None
    status: Literal["queued", "running", "done", "failed"]
    done: int
    total: int
    filename: str | None
    bytes: int | None
    error: str | None
