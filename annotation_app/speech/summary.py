"""Several spoken descriptions of one image -> one caption (the early PixMo-Cap protocol: three
annotators per image). The LLM (or the labelled rule-based fallback) summarises the accepted
transcripts of an item; the result is kept in ``item.spec["summary"]`` and the export then writes
one pixmo-cap record per image holding the summary caption and all the transcripts."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, select, update

from annotation_app.audit import audit
from annotation_app.claiming import A, ClaimError, I
from annotation_app.db import now, read_tx, write_tx
from annotation_app.models import Campaign, Submission, table
from pixmo.cleanup import clean_caption, clean_with_rules
from pixmo.llm import LLMSettings

S = table(Submission)


def accepted_transcripts(engine: Engine, item_id: int) -> tuple[Any, list[tuple[int, str]]]:
    with read_tx(engine) as conn:
        item = conn.execute(select(I).where(I.c.id == item_id)).first()
        if item is None:
            raise ClaimError(404, f"item {item_id} not found")
        camp = conn.execute(select(table(Campaign)).where(Campaign.id == item.campaign_id)).one()
        if camp.task_type != "caption":
            raise ClaimError(422, f"item {item_id} belongs to a {camp.task_type} campaign, not a caption campaign")
        rows = conn.execute(select(S.c.id, S.c.payload).join(A, A.c.submission_id == S.c.id)
                            .where(A.c.item_id == item_id, A.c.status == "accepted").order_by(S.c.id)).all()
    return item, [(r.id, r.payload["transcript"]) for r in rows if r.payload.get("transcript", "").strip()]


def summarise_item(engine: Engine, item_id: int, user_id: int | None = None, *, rules: bool = False,
                   llm_settings: LLMSettings | None = None) -> dict[str, Any]:
    """Summarise the accepted transcripts of an item into one caption and store it on the item."""
    item, subs = accepted_transcripts(engine, item_id)
    if len(subs) < 2:
        raise ClaimError(409, f"item {item_id} has {len(subs)} accepted transcript(s); a summary needs at least 2")
    texts = [t for _, t in subs]
    res = clean_with_rules(texts) if rules else clean_caption(texts, settings=llm_settings)
    summary = {"caption": res.caption, "transcripts": texts, "submission_ids": [i for i, _ in subs],
               "provenance": res.provenance, "created_at": now()}
    with write_tx(engine) as conn:
        spec = dict(conn.execute(select(I.c.spec).where(I.c.id == item_id)).scalar() or {})
        conn.execute(update(I).where(I.c.id == item_id).values(spec={**spec, "summary": summary}))
        audit(conn, user_id, "speech.summarise", "item", item_id, {"n": len(texts), "method": res.method})
    return summary
