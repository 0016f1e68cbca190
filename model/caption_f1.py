"""The paper's caption F1: an LLM judge splits texts into atomic statements and matches them.

Precision is the share of the caption's statements supported by the reference transcripts; recall
is the share of the references' statements that the caption covers; F1 their harmonic mean. The
judge is any callable ``complete(messages) -> str`` (OpenAI chat messages in, reply text out), so
it can be a fake in tests; :func:`llm_complete` wires the project's client (``pixmo.llm``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from typing import Any

Complete = Callable[[list[dict[str, Any]]], str]

SPLIT_PROMPT = (
    "Split the following description of an image into a list of short, atomic statements. Each statement "
    "must state exactly one fact about the image and make sense on its own. Reply with one statement per "
    "line and nothing else.\n\nDescription:\n{text}"
)
MATCH_PROMPT = (
    "Here is a reference description of an image:\n{reference}\n\nFor each numbered statement below, decide "
    "whether the reference description supports it (it says the same thing, possibly in other words). "
    "Reply with a JSON list of true/false values, one per statement, in order, and nothing else.\n\n"
    "Statements:\n{statements}"
)


def _lines(reply: str) -> list[str]:
    out = []
    for ln in reply.splitlines():
        s = re.sub(r"^\s*(?:[-*\u2022]|\d+[.)])\s*", "", ln).strip()
        if s:
            out.append(s)
    return out


def split_statements(text: str, complete: Complete) -> list[str]:
    """Atomic statements of a text, one per line of the judge's reply (bullets and numbers removed)."""
    if not text.strip():
        return []
    return _lines(complete([{"role": "user", "content": SPLIT_PROMPT.format(text=text.strip())}]))


def parse_judgements(reply: str, n: int) -> list[bool]:
    """A JSON list of n booleans (or yes/no words) from a judge reply; raises ValueError otherwise."""
    m = re.search(r"\[.*\]", reply, re.S)
    values: list[Any]
    if m:
        try:
            values = json.loads(m.group(0).lower())
        except json.JSONDecodeError:
            values = re.findall(r"true|false|yes|no", m.group(0).lower())
    else:
        values = re.findall(r"\b(true|false|yes|no)\b", reply.lower())
    bools = [v if isinstance(v, bool) else str(v).lower() in ("true", "yes", "1") for v in values]
    if len(bools) != n:
        raise ValueError(f"expected {n} judgements, got {len(bools)} in {reply[:200]!r}")
    return bools


def match_statements(statements: Sequence[str], reference: str, complete: Complete, retries: int = 2) -> list[bool]:
    """Which statements the reference text supports (one judge call; a malformed reply is retried)."""
    if not statements:
        return []
    listing = "\n".join(f"{i + 1}. {s}" for i, s in enumerate(statements))
    msgs = [{"role": "user", "content": MATCH_PROMPT.format(reference=reference.strip(), statements=listing)}]
    err: Exception | None = None
    for _ in range(retries + 1):
        try:
            return parse_judgements(complete(msgs), len(statements))
        except ValueError as exc:
            err = exc
    raise ValueError(f"caption judge: {err}")


def caption_f1(caption: str, references: Sequence[str], complete: Complete) -> dict[str, float]:
    """Precision, recall and F1 of a caption against reference transcripts (or captions)."""
    ref_text = "\n".join(r.strip() for r in references if r.strip())
    cap_st = split_statements(caption, complete)
    ref_st = split_statements(ref_text, complete)
    supported = match_statements(cap_st, ref_text, complete)
    covered = match_statements(ref_st, caption, complete)
    p = sum(supported) / len(cap_st) if cap_st else 0.0
    r = sum(covered) / len(ref_st) if ref_st else 0.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": p, "recall": r, "f1": f1, "n_caption": float(len(cap_st)), "n_reference": float(len(ref_st))}


def evaluate_captions(outputs: Sequence[str], references: Sequence[Sequence[str]], complete: Complete
                      ) -> dict[str, float]:
    """Mean precision, recall and F1 over captions (F1 averaged per caption, as the paper reports)."""
    if len(outputs) != len(references):
        raise ValueError(f"{len(outputs)} captions for {len(references)} reference sets")
    rows = [caption_f1(o, r, complete) for o, r in zip(outputs, references, strict=True)]
    keys = ("precision", "recall", "f1")
    out = {k: sum(r[k] for r in rows) / max(len(rows), 1) for k in keys}
    out["n"] = float(len(rows))
    return out


def llm_complete(client: Any = None, *, stage: str = "caption_eval", **params: Any) -> Complete:
    """A ``complete`` callable backed by ``pixmo.llm`` (settings from ``PIXMO_LLM_*``), temperature 0."""
    if client is None:
        from pixmo.llm import get_client

        client = get_client()
    params.setdefault("temperature", 0.0)

    def complete(messages: list[dict[str, Any]]) -> str:
        return client.chat(messages, stage=stage, **params).text

    return complete
