"""Message formatting and style prefixes (docs/spec/molmo.md section 6.1-6.3)."""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

DEMO_STYLES = frozenset({"point_count", "pointing", "user_qa", "long_caption"})
NEVER_PREFIXED = frozenset({"android_control", "demo"})
EVAL_STYLE_ALIASES = {"eval_short_answer": "vqa2", "eval_multiple_choice": "a_okvqa_mc"}
DEFAULT_INFERENCE_LEN = 65


def length_hint(response: str, rng: np.random.Generator, sigma: float = 25.0) -> int:
    """``floor((len(text) + int(N(0, sigma))) / 15)``, the caption length hint."""
    n = len(response) + int(rng.normal(0.0, sigma))
    return n // 15


def style_prefix(
    style: str,
    kind: str,
    rng: np.random.Generator,
    *,
    response: str | None = None,
) -> str:
    """The system/style prefix for one example, without the joining space.

    kind ``style``: ``"{style}:"``. kind ``style_and_length`` (pre-training): 90% ``"{style} {n}:"``
    with the length hint of ``response``, 10% ``"{style} :"``; at inference (``response=None``)
    ``"{style} 65:"``. kind ``demo_or_style`` (fine-tuning): the demo styles get no prefix 90% of the
    time, ``android_control``/``demo`` never, every other style always ``"{style}:"``.
    kind ``none``: no prefix.
    """
    style = EVAL_STYLE_ALIASES.get(style, style)
    if kind == "none":
        return ""
    if kind == "style":
        return f"{style}:"
    if kind == "style_and_length":
        if response is None:
            return f"{style} {DEFAULT_INFERENCE_LEN}:"
        if rng.random() < 0.1:
            return f"{style} :"
        return f"{style} {length_hint(response, rng)}:"
    if kind == "demo_or_style":
        if style in NEVER_PREFIXED:
            return ""
        if style in DEMO_STYLES:
            return f"{style}:" if rng.random() < 0.1 else ""
        return f"{style}:"
    raise ValueError(f"unknown style-prefix kind {kind!r}")


def with_prefix(prefix: str, prompt: str) -> str:
    """Join a prefix to the first user message with one space; an empty prompt is the prefix alone."""
    if not prefix:
        return prompt
    return f"{prefix} {prompt}" if prompt else prefix


def user_turn(prompt: str, *, message_format: str = "role", leading_space: bool = True) -> str:
    """``" User: {prompt} Assistant:"`` (role format) or the bare prompt (format ``none``)."""
    text = f"User: {prompt} Assistant:" if message_format == "role" else prompt
    return (" " + text) if leading_space else text


def assistant_turn(response: str, *, leading_space: bool = True) -> str:
    return (" " + response) if leading_space else response


def format_options(question: str, options: Sequence[str]) -> str:
    """Multiple-choice prompt: ``question\\nA: opt1\\nB: opt2\\n``."""
    letters = [chr(ord("A") + i) for i in range(len(options))]
    body = "\n".join(f"{letter}: {opt}" for letter, opt in zip(letters, options, strict=True))
    return f"{question}\n{body}\n"


def option_letter(options: Sequence[str], answer: str) -> str:
    return chr(ord("A") + list(options).index(answer))


HOW_MANY_RE = re.compile(r"^how many", re.I)


def most_frequent_answer(answers: Sequence[str], rng: np.random.Generator) -> str:
    """The most frequent of several reference answers (VQA style), ties broken at random with ``rng``."""
    if not answers:
        raise ValueError("most_frequent_answer needs at least one answer")
    counts: dict[str, int] = {}
    for a in answers:
        counts[a] = counts.get(a, 0) + 1
    top = max(counts.values())
    best = [a for a in counts if counts[a] == top]
    return best[int(rng.integers(len(best)))] if len(best) > 1 else best[0]
