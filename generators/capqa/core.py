"""pixmo-cap records in, pixmo-cap-qa records out: the LLM sees the caption, never the image.

Each input shard becomes one output shard with the same images; every conversation the LLM writes
becomes one record whose ``question`` holds the dialogue prefix with ``[USER]``/``[ASSISTANT]`` tags
and whose ``answer`` is the last assistant turn, exactly as published.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass, field
from typing import Any

from generators.runner import ShardResult, ShardTask
from pixmo.records import PixmoCap, PixmoCapQA
from pixmo.shards import Annotation, Sample, iter_samples

log = logging.getLogger(__name__)
PROMPT_VERSION = "capqa-v1"
_TURN = re.compile(r"^\s*(USER|ASSISTANT)\s*:\s*(.*)$", re.I)


@dataclass(frozen=True)
class CapQAConfig:
    """What is asked (fingerprinted with each shard's seed and input shard path; in the manifest)."""

    conversations: int = 3  # asked for per caption
    max_turns: int = 3
    llm: dict[str, Any] = field(default_factory=dict)  # LLMSettings overrides; {} -> environment

    def __post_init__(self) -> None:
        if self.conversations < 1:
            raise ValueError(f"--conversations must be at least 1, got {self.conversations}")
        if self.max_turns < 1:
            raise ValueError(f"max_turns must be at least 1, got {self.max_turns}")
        if "api_key" in self.llm:
            raise ValueError("set the API key as PIXMO_LLM_API_KEY, not in the config (configs go into the manifest)")


def prompt(caption: str, n: int, max_turns: int) -> str:
    return (
        "Here is a detailed description of an image:\n<description>\n" + caption.strip() + "\n</description>\n"
        f"Write {n} different conversations between a user looking at this image and an assistant who "
        "answers only from what the description says. Vary the questions: details, counting, reasoning, "
        f"creative requests. Each conversation has 1 to {max_turns} turns. Never mention the description. "
        "Write every turn as a line starting with 'USER:' or 'ASSISTANT:'; separate conversations with a "
        "line '---'. Write nothing else.")


def parse_conversations(text: str) -> list[list[tuple[str, str]]]:
    """Conversations of alternating (user, assistant) turns; raises ValueError if none is well formed."""
    out = []
    for chunk in re.split(r"^\s*-{3,}\s*$", text, flags=re.M):
        turns: list[list[str]] = []
        for line in chunk.splitlines():
            m = _TURN.match(line)
            if m:
                turns.append([m.group(1).upper(), m.group(2).strip()])
            elif turns and line.strip():
                turns[-1][1] += " " + line.strip()
        roles = [r for r, _ in turns]
        if (turns and len(turns) % 2 == 0 and all(t for _, t in turns)
                and roles == ["USER", "ASSISTANT"] * (len(turns) // 2)):
            out.append([(turns[i][1], turns[i + 1][1]) for i in range(0, len(turns), 2)])
    if not out:
        raise ValueError("no conversation with alternating 'USER:' / 'ASSISTANT:' lines ending with ASSISTANT")
    return out


def to_record(image_url: str, convo: list[tuple[str, str]]) -> PixmoCapQA:
    parts = []
    for i, (q, a) in enumerate(convo):
        parts.append(f"[USER] {q} [ASSISTANT]" + ("" if i == len(convo) - 1 else f" {a}"))
    return PixmoCapQA(image_url=image_url, question=" ".join(parts), answer=convo[-1][1])


def _captions(sample: Sample) -> list[PixmoCap]:
    return [a.record for a in sample.annotations if isinstance(a.record, PixmoCap)]


def make_shard(cfg: CapQAConfig, task: ShardTask) -> ShardResult:
    from pixmo.llm import LLMClient, LLMSettings

    client = LLMClient(LLMSettings(**cfg.llm)) if cfg.llm else LLMClient()
    inputs = [(s, cap) for path in task.items for s in iter_samples(path) for cap in _captions(s)]
    calls = [{"messages": prompt(cap.caption, cfg.conversations, cfg.max_turns), "stage": "capqa",
              "validate": parse_conversations, "prompt_version": PROMPT_VERSION, "temperature": 1.0,
              "seed": int(hashlib.sha256((s.key + cap.caption).encode()).hexdigest()[:8], 16) ^ task.seed}
             for s, cap in inputs]
    results = client.chat_many(calls)
    samples, failed = [], 0
    for (s, cap), res in zip(inputs, results, strict=True):
        if isinstance(res, Exception):
            failed += 1
            log.warning("capqa: no QA for image %s: %s", s.key[:12], res)
            continue
        anns = [Annotation.of(to_record(cap.image_url, c), generator="capqa", turns=len(c),
                              provenance=res.provenance()) for c in res.parsed]
        samples.append(Sample(image=s.image, annotations=anns, image_url=cap.image_url or s.image_url,
                              image_ext=s.image_ext, width=s.width, height=s.height, key=s.key))
    usage = client.usage()["total"]
    stats = {"captions": len(inputs), "failed": failed, "records": sum(len(x.annotations) for x in samples),
             **{f"llm_{k}": v for k, v in usage.items()}}
    return ShardResult(samples, stats)
