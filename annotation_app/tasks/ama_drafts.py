"""The ask-model-anything loop (PixMo-AMA, docs/spec/pixmo_data.md 7.2) and its point-explanations variant.

The annotator writes a question; the server gathers OCR text (Tesseract) and a caption (the
image's pixmo-cap caption if it was imported with one, else a configured caption endpoint) and a
text-only LLM drafts an answer without seeing the image. The annotator accepts it, or rejects it
with feedback and the LLM revises, until accepted, or writes the answer by hand. Every draft is
stored (``ama_drafts``) with its provenance, decision, feedback and timing.
"""

from __future__ import annotations

import base64
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Connection, insert, select, update

from annotation_app.audit import audit
from annotation_app.claiming import ClaimError, get_campaign, own_assignment
from annotation_app.db import inserted_id, now
from annotation_app.models import Item, table
from annotation_app.speech.models import AmaDraft
from pixmo.llm import LLMClient, LLMSettings, LLMUnavailable
from pixmo.text import levenshtein

D, ITEMS = table(AmaDraft), table(Item)
PROMPT_VERSION = "ama-v1"
SYSTEM = (
    "You answer a person's question about an image that you cannot see. You are given text read from "
    "the image by OCR and a detailed caption of the image written by a captioning model. Answer the "
    "question directly, in a helpful, detailed and natural way, as if you were looking at the image. "
    "Use only what the caption and the OCR text support; if they do not say, say what can and cannot be "
    "told. Never mention the caption, the OCR or that you cannot see the image."
)
POINT_RULE = (
    " The person marked numbered points on the image. When your answer mentions a marked thing, cite "
    "its point inline by wrapping the words for it as <point id=\"N\">words</point>, using only the "
    "given numbers."
)
CITE_RE = re.compile(r"<point id=\"?(\d+)\"?>(.*?)</point>", re.S)


class AmaConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reading_wpm: float = Field(250.0, gt=0, description="accepting faster than this reading speed is flagged")
    min_read_s: float = Field(2.0, ge=0)
    llm_base_url: str | None = None  # default: PIXMO_LLM_BASE_URL
    llm_model: str | None = None
    caption_base_url: str | None = None  # OpenAI-compatible vision chat endpoint for images without a caption
    caption_model: str = "gpt-4o-mini"
    ocr_lang: str = "eng"
    max_rounds: int = Field(10, ge=1, le=50)


def ama_config(campaign_config: dict[str, Any] | None) -> AmaConfig:
    return AmaConfig.model_validate((campaign_config or {}).get("ama") or {})


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance in characters."""
    return levenshtein(a, b)


def llm_client(cfg: AmaConfig) -> LLMClient:
    over: dict[str, Any] = {"cache_dir": ""}
    if cfg.llm_base_url:
        over["base_url"] = cfg.llm_base_url
    if cfg.llm_model:
        over["model"] = cfg.llm_model
    try:
        return LLMClient(LLMSettings(), **over)
    except LLMUnavailable as exc:
        raise ClaimError(503, f"{exc}. You can still write the answer by hand.") from None


# ---------------------------------------------------------------- context


def gather_context(item: Any, image: bytes, cfg: AmaConfig) -> dict[str, Any]:
    """OCR text and a caption for an item (the stored pixmo-cap caption first)."""
    from pixmo import ocr

    try:
        text, ocr_prov = ocr.ocr_text(image, lang=cfg.ocr_lang), ocr.provenance()
    except ocr.OCRError as exc:
        text, ocr_prov = "", {"engine": "tesseract", "error": str(exc)}
    spec = item.spec or {}
    if spec.get("caption"):
        caption, source = spec["caption"], "pixmo-cap"
    elif cfg.caption_base_url:
        caption, source = caption_from_endpoint(image, cfg), f"endpoint:{cfg.caption_model}@{cfg.caption_base_url}"
    else:
        caption, source = "", "none"
    return {"ocr": text, "ocr_provenance": ocr_prov, "caption": caption, "caption_source": source}


def caption_from_endpoint(image: bytes, cfg: AmaConfig) -> str:
    client = LLMClient(LLMSettings(), base_url=cfg.caption_base_url, cache_dir="")
    url = "data:image/png;base64," + base64.b64encode(image).decode()
    msg = [{"role": "user", "content": [{"type": "text", "text": "Describe this image in detail."},
                                        {"type": "image_url", "image_url": {"url": url}}]}]
    return client.chat(msg, stage="ama_caption", model=cfg.caption_model, prompt_version="caption-v1").text.strip()


def point_lines(groups: list[dict[str, Any]], item: Any) -> str:
    out = []
    for i, g in enumerate(groups, 1):
        where = "; ".join(f"({100 * p['x'] / item.width:.1f}%, {100 * p['y'] / item.height:.1f}%)" for p in g["points"])
        out.append(f"[{i}] {g['label']}: {where}")
    return "\n".join(out)


def build_messages(question: str, ctx: dict[str, Any], history: list[Any], points_text: str = "") -> list[dict[str, str]]:
    system = SYSTEM + (POINT_RULE if points_text else "")
    user = (f"Caption of the image:\n{ctx.get('caption') or '(none)'}\n\nText read from the image (OCR):\n"
            f"{ctx.get('ocr') or '(none)'}\n\n" + (f"Marked points (x, y in percent):\n{points_text}\n\n" if points_text else "")
            + f"Question: {question}")
    msgs = [{"role": "system", "content": system}, {"role": "user", "content": user}]
    for d in history:
        msgs.append({"role": "assistant", "content": d.answer})
        msgs.append({"role": "user", "content": f"That answer was rejected. What is wrong: {d.feedback}\n"
                                                "Write a revised answer to the question."})
    return msgs


def cite_validator(n_groups: int) -> Any:
    def check(text: str) -> str:
        t = text.strip()
        if not t:
            raise ValueError("the answer is empty")
        ids = [int(m.group(1)) for m in CITE_RE.finditer(t)]
        if n_groups and not ids:
            raise ValueError('cite the marked points inline with <point id="N">words</point>')
        bad = [i for i in ids if not 1 <= i <= n_groups]
        if bad:
            raise ValueError(f"point ids {bad} do not exist; use 1 to {n_groups}")
        return t
    return check


# ---------------------------------------------------------------- drafts


def _drafts(conn: Connection, assignment_id: int) -> list[Any]:
    return list(conn.execute(select(D).where(D.c.assignment_id == assignment_id).order_by(D.c.round)).all())


def draft_view(d: Any) -> dict[str, Any]:
    return {"draft_id": d.id, "round": d.round, "question": d.question, "answer": d.answer, "decision": d.decision,
            "feedback": d.feedback, "llm": d.llm, "shown_at": d.shown_at, "decided_at": d.decided_at,
            "context": {k: d.context.get(k) for k in ("ocr", "caption", "caption_source", "points")}}


def prepare(conn: Connection, assignment_id: int, user_id: int) -> tuple[Any, Any, Any, list[Any]]:
    a = own_assignment(conn, assignment_id, user_id)
    if a.status not in ("active", "expired"):
        raise ClaimError(409, f"assignment {assignment_id} is {a.status}")
    campaign = get_campaign(conn, a.campaign_id)
    item = conn.execute(select(ITEMS).where(ITEMS.c.id == a.item_id)).one()
    return a, campaign, item, _drafts(conn, assignment_id)


def store_draft(conn: Connection, a: Any, user_id: int, question: str, answer: str, ctx: dict[str, Any],
                llm: dict[str, Any], round_: int) -> dict[str, Any]:
    if _drafts(conn, a.id) and _drafts(conn, a.id)[-1].round >= round_:
        raise ClaimError(409, "another draft was created meanwhile; reload")
    did = inserted_id(conn.execute(insert(D).values(assignment_id=a.id, item_id=a.item_id, user_id=user_id, round=round_,
                                        question=question, answer=answer, context=ctx, llm=llm, decision="pending",
                                        shown_at=now())))
    audit(conn, user_id, "ama.draft", "ama_draft", did, {"assignment_id": a.id, "round": round_})
    return draft_view(conn.execute(select(D).where(D.c.id == did)).one())


def reject(conn: Connection, draft_id: int, user_id: int, feedback: str) -> Any:
    d = conn.execute(select(D).where(D.c.id == draft_id)).first()
    if d is None or d.user_id != user_id:
        raise ClaimError(404, f"draft {draft_id} not found")
    if d.decision != "pending":
        raise ClaimError(409, f"draft {draft_id} was already {d.decision}")
    if not feedback.strip():
        raise ClaimError(422, "feedback: say what is wrong so the model can revise")
    conn.execute(update(D).where(D.c.id == draft_id).values(decision="rejected", feedback=feedback.strip(),
                                                           decided_at=now()))
    return d


def finish(conn: Connection, assignment_id: int, user_id: int, cfg: AmaConfig, *, draft_id: int | None = None,
           answer: str | None = None) -> dict[str, Any]:
    """Accept a draft, or store a hand-written final answer; returns the submit payload."""
    drafts = _drafts(conn, assignment_id)
    own_assignment(conn, assignment_id, user_id)
    if not drafts:
        raise ClaimError(409, "ask a question first")
    last, t = drafts[-1], now()
    if draft_id is not None:
        if last.id != draft_id or last.decision != "pending":
            raise ClaimError(409, f"draft {draft_id} is not the pending draft of this assignment")
        final, source = last.answer, "accepted_draft"
        conn.execute(update(D).where(D.c.id == draft_id).values(decision="accepted", decided_at=t))
    else:
        final, source = (answer or "").strip(), "hand_written"
        if not final:
            raise ClaimError(422, "answer: write the answer, or accept a draft")
        if last.decision == "pending":
            conn.execute(update(D).where(D.c.id == last.id).values(decision="rejected", decided_at=t,
                                                                  feedback="replaced by a hand-written answer"))
    drafts = _drafts(conn, assignment_id)
    audit(conn, user_id, "ama.final", "assignment", assignment_id, {"source": source, "rounds": len(drafts)})
    return final_payload(drafts, final, source, cfg)


def final_payload(drafts: list[Any], final: str, source: str, cfg: AmaConfig) -> dict[str, Any]:
    """The submit payload from the stored drafts (the last one decided): every draft, the final
    answer, the edit distance, the time to decision and the fast-accept flag."""
    last = drafts[-1]
    decision_ms = int(1000 * ((last.decided_at or last.shown_at) - last.shown_at))
    words = len(last.answer.split())
    need_s = max(cfg.min_read_s, 60.0 * words / cfg.reading_wpm)
    flags = []
    if source == "accepted_draft" and decision_ms < 1000 * need_s:
        flags.append({"code": "fast_accept", "message": f"accepted {decision_ms / 1000:.1f} s after it was shown; "
                                                        f"reading {words} words takes about {need_s:.0f} s"})
    return {"question": last.question, "answer": final, "final_source": source,
            "edit_distance": edit_distance(last.answer, final), "time_to_decision_ms": decision_ms,
            "flags": flags, "context": {k: last.context.get(k) for k in ("ocr", "caption", "caption_source")},
            "points": last.context.get("points") or [],
            "drafts": [{k: v for k, v in draft_view(d).items() if k != "context"} for d in drafts]}
