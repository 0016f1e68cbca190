"""Ask-model-anything (PixMo-AMA): question -> LLM draft from OCR + caption -> accept, or reject
with feedback and revise, or write by hand. The loop lives in ``ama_drafts`` / ``ama_routes``;
the submit payload is built by the server and holds every draft, the final answer, the edit
distance, the time to decision and the flags (accepting faster than reading time).

Export: pixmo-ask-model-anything records (``image_url``, ``image_sha256``, ``question``,
``answer``); the drafts, feedback, timing and LLM provenance go into the annotation ``meta``.
"""

from __future__ import annotations

from collections.abc import Generator
from types import SimpleNamespace
from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from annotation_app.sql import Op, Q, jload
from annotation_app.tasks import ItemContext, ItemSeed, PayloadError, TaskType, register
from pixmo.records import PixmoAskModelAnything, PixmoCap
from pixmo.shards import Annotation, Sample

_DRAFTS = Q("SELECT id, user_id, round, question, answer, context, llm, decision, feedback, shown_at, decided_at "
            "FROM ama_drafts WHERE assignment_id = :a ORDER BY round")


class DraftOut(BaseModel):
    model_config = ConfigDict(extra="ignore")
    draft_id: int
    round: int = Field(ge=1)
    question: str
    answer: str
    decision: Literal["pending", "accepted", "rejected"]
    feedback: str | None = None
    llm: dict[str, Any] = Field(default_factory=dict)
    shown_at: float
    decided_at: float | None = None


class AmaPayload(BaseModel):
    model_config = ConfigDict(extra="forbid")
    question: str = Field(min_length=1, max_length=2000)
    answer: str = Field(min_length=1, max_length=20000)
    final_source: Literal["accepted_draft", "hand_written"]
    edit_distance: int = Field(ge=0)
    time_to_decision_ms: int = Field(ge=0)
    flags: list[dict[str, str]] = Field(default_factory=list, max_length=20)
    context: dict[str, Any] = Field(default_factory=dict)
    points: list[dict[str, Any]] = Field(default_factory=list, max_length=20)
    drafts: list[DraftOut] = Field(min_length=1, max_length=50)


class AmaTask(TaskType):
    name = "ama"
    title = "Ask the model anything"
    script = "ama_task.js"
    Payload = AmaPayload
    subsets = ("pixmo-ask-model-anything",)
    with_points = False

    def check(self, payload: Any, item: ItemContext) -> None:
        if payload.final_source == "accepted_draft" and payload.answer != payload.drafts[-1].answer:
            raise PayloadError("answer: an accepted draft must be submitted unchanged (or write it by hand)")

    def verify_steps(self, payload: Any, assignment: Any, user_id: int) -> Generator[Op, Any, AmaPayload]:
        """The drafts must be this assignment's drafts as the server stored them (by id), the last one
        decided; the stored payload is rebuilt from them (timing and flags computed by the server)."""
        from annotation_app.tasks.ama_drafts import ama_config, final_payload

        rows = yield Op("rows", _DRAFTS, {"a": assignment.id})
        stored = [SimpleNamespace(**{k: jload(v) if k in ("context", "llm") else v for k, v in r.items()})
                  for r in rows if r["user_id"] == user_id]
        sent = [d.draft_id for d in payload.drafts]
        if not stored or sent != [d.id for d in stored]:
            raise PayloadError(f"drafts: draft ids {sent} are not the drafts the server made for this assignment "
                               f"({[d.id for d in stored]})")
        last = stored[-1]
        want = "accepted" if payload.final_source == "accepted_draft" else "rejected"
        if last.decision != want:
            raise PayloadError(f"drafts: the last draft is {last.decision}; accept it or write the answer by hand "
                               "through the draft routes first")
        if payload.final_source == "accepted_draft" and payload.answer != last.answer:
            raise PayloadError("answer: an accepted draft must be submitted unchanged (or write it by hand)")
        cfg = ama_config(jload(assignment.config) or {})
        return AmaPayload.model_validate(final_payload(stored, payload.answer, payload.final_source, cfg))

    def seeds(self, sample: Sample | None, config: dict[str, Any], as_gold: bool = False) -> list[ItemSeed]:
        caps = [a.record.caption for a in (sample.annotations if sample else []) if isinstance(a.record, PixmoCap)]
        return [ItemSeed(spec={"caption": caps[0]} if caps else {})]

    def item_view(self, item: ItemContext) -> dict[str, Any]:
        return {"with_points": self.with_points}

    def meta(self, payload: dict[str, Any]) -> dict[str, Any]:
        return {k: payload.get(k) for k in ("final_source", "edit_distance", "time_to_decision_ms", "flags",
                                            "drafts", "context")}

    def export(self, payload: dict[str, Any], item: ItemContext, subset: str, meta: dict[str, Any]) -> list[Annotation]:
        if subset != "pixmo-ask-model-anything":
            raise PayloadError(f"{self.name} cannot export subset {subset!r}; choose one of {self.subsets}")
        rec = PixmoAskModelAnything(image_url=item.image_url, image_sha256=item.image_sha256,
                                    question=payload["question"], answer=payload["answer"])
        return [Annotation.of(rec, **meta, **self.meta(payload))]

    def router(self) -> APIRouter | None:
        from annotation_app.tasks.ama_routes import router

        return router(self.with_points)


register(AmaTask())
