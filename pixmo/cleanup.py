"""Caption cleanup: spoken transcripts -> one written caption (PixMo-Cap, docs/spec/pixmo_data.md section 7.1).

Two paths, always labelled in the provenance:

- ``llm``: an OpenAI-compatible chat model (through :mod:`pixmo.llm`) rewrites one transcript or
  summarises several transcripts of the same image into one caption. The endpoint, model, prompt
  version and prompt hash are stored with the result.
- ``rules``: offline and deterministic. Removes fillers (um, uh, you know...), stutters and
  repeated phrases, fixes casing and end punctuation. With several transcripts it keeps the
  longest cleaned one. Used when no endpoint is configured.

    from pixmo.cleanup import clean_caption
    res = clean_caption(["um so this is a a photo of ..."])      # rules unless PIXMO_LLM_BASE_URL is set
    res.caption, res.method, res.provenance
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

from pixmo.llm import LLMClient, LLMSettings, LLMUnavailable

PROMPT_VERSION = "cap-cleanup-v1"
RULES_VERSION = "rules-v1"

SYSTEM_PROMPT = (
    "You turn spoken descriptions of an image into one written caption. The speakers looked at the "
    "image and talked for about a minute, answering: what the image is at first glance; the objects "
    "and their counts; what any text says; where the objects are; subtle details; the background; "
    "the style and colours. Write one detailed, fluent caption in plain prose. Keep every visual fact "
    "the speakers state, drop speech artifacts (fillers, false starts, repetitions, self-corrections: "
    "keep the corrected version), do not add facts, and do not mention the speakers or the audio."
)


@dataclass
class CleanupResult:
    caption: str
    method: str  # "llm" or "rules"
    provenance: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------- rule-based

FILLERS = [
    r"u+h+m*", r"u+m+", r"e+r+m*", r"a+h+", r"h+m+", r"mm+", r"e+h+",
    r"you know", r"i mean", r"sort of", r"kind of like", r"like i said", r"let me see", r"let's see",
    r"okay so", r"ok so", r"so yeah", r"yeah so", r"and yeah", r"basically", r"i guess",
]
_FILLER_RE = re.compile(r",?\s*(?<![\w'])(?:" + "|".join(FILLERS) + r")(?![\w'])[,.]?", re.IGNORECASE)
_LEAD_RE = re.compile(r"^(?:(?:so|okay|ok|well|yeah|right|alright|and)[,.]?\s+)+", re.IGNORECASE)
_SPACE_RE = re.compile(r"\s+")


def _dedupe_ngrams(words: list[str], max_n: int = 4) -> list[str]:
    """Drop immediate repeats of 1..max_n word sequences ("the the", "on the left on the left")."""
    def norm(w: str) -> str:
        return re.sub(r"[^\w']", "", w.lower())

    out: list[str] = []
    for w in words:
        out.append(w)
        for n in range(max_n, 0, -1):
            if len(out) >= 2 * n and [norm(x) for x in out[-n:]] == [norm(x) for x in out[-2 * n:-n]]:
                if all(norm(x) for x in out[-n:]):
                    del out[-n:]
                    break
    return out


def _sentence_case(text: str) -> str:
    text = re.sub(r"\bi\b", "I", text)
    text = re.sub(r"\bi'(m|ve|ll|d)\b", lambda m: "I'" + m.group(1), text)
    parts = re.split(r"([.!?]\s+)", text)
    out = "".join(p[:1].upper() + p[1:] if i % 2 == 0 else p for i, p in enumerate(parts))
    if out and out[-1] not in ".!?":
        out += "."
    return out


def rule_cleanup(transcript: str) -> str:
    """Offline cleanup of one transcript: fillers, repetitions, spacing, casing, end punctuation."""
    text = _FILLER_RE.sub(" ", transcript)
    text = _SPACE_RE.sub(" ", text).strip()
    sentences = re.split(r"(?<=[.!?])\s+", text)
    cleaned = []
    for s in sentences:
        s = _LEAD_RE.sub("", s.strip())
        s = " ".join(_dedupe_ngrams(s.split()))
        s = re.sub(r"\s+([,.!?;:])", r"\1", s)
        s = re.sub(r"([,;:])\1+", r"\1", s).strip(" ,;:")
        if re.sub(r"[^\w]", "", s):
            cleaned.append(s if s[-1] in ".!?" else s + ".")
    return _sentence_case(" ".join(cleaned))


def rules_provenance(n: int) -> dict[str, Any]:
    return {"method": "rules", "version": RULES_VERSION, "n_transcripts": n,
            "note": "offline rule-based cleanup (no LLM): fillers, repetitions, casing removed"}


def clean_with_rules(transcripts: list[str]) -> CleanupResult:
    cleaned = [rule_cleanup(t) for t in transcripts if t.strip()]
    caption = max(cleaned, key=lambda c: len(c.split()), default="")
    return CleanupResult(caption, "rules", rules_provenance(len(transcripts)))


# ---------------------------------------------------------------- LLM


def build_messages(transcripts: list[str]) -> list[dict[str, str]]:
    if len(transcripts) == 1:
        user = f"Transcript:\n{transcripts[0].strip()}\n\nWrite the caption."
    else:
        body = "\n\n".join(f"Transcript {i + 1}:\n{t.strip()}" for i, t in enumerate(transcripts))
        user = (f"{len(transcripts)} people described the same image. Combine everything they say into "
                f"one caption; where they disagree, keep what most of them say.\n\n{body}\n\nWrite the caption.")
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]


def _validate(text: str) -> str:
    t = text.strip()
    if len(t.split()) < 3:
        raise ValueError("the caption is too short; write the full caption")
    if re.match(r"(?i)^(as an ai|i'm sorry|i cannot)", t):
        raise ValueError("reply with the caption only")
    return t


def prompt_sha256() -> str:
    return hashlib.sha256(SYSTEM_PROMPT.encode()).hexdigest()[:16]


def clean_with_llm(transcripts: list[str], client: LLMClient) -> CleanupResult:
    res = client.chat(build_messages(transcripts), stage="caption_cleanup", validate=_validate,
                      prompt_version=PROMPT_VERSION, temperature=0.0)
    prov = {"method": "llm", **res.provenance(), "prompt_sha256": prompt_sha256(), "n_transcripts": len(transcripts)}
    return CleanupResult(res.parsed, "llm", prov)


def clean_caption(transcripts: list[str], client: LLMClient | None = None,
                  settings: LLMSettings | None = None) -> CleanupResult:
    """One caption from one or more transcripts: the LLM if one is configured, else the rules.

    An LLM that is configured but fails raises :class:`pixmo.llm.LLMError` (callers retry); only a
    missing endpoint falls back to the rules, and the result says so.
    """
    texts = [t for t in transcripts if t and t.strip()]
    if not texts:
        raise ValueError("no transcript text to clean")
    if client is None:
        try:
            client = LLMClient(settings)
        except LLMUnavailable:
            return clean_with_rules(texts)
    return clean_with_llm(texts, client)
