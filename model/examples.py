"""PixMo records -> Molmo conversations (docs/spec/pixmo_data.md section 3, docs/spec/molmo.md section 6).

Every subset of ``pixmo.records.RECORD_TYPES`` is handled. An :class:`Example` is one
conversation: formatted turn texts (user, assistant, ...) built only with ``pixmo.formatting``,
plus the ground truth an evaluator needs in ``meta``. With ``for_training=False`` the last
assistant turn is left out (inference) and its text is kept in ``Example.answer``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from pixmo import records as R
from pixmo.formatting import (
    CLOCK_PROMPT,
    HOW_MANY_RE,
    assistant_turn,
    clock_answer,
    count_answer,
    fill_point_placeholders,
    format_options,
    no_pointing_prefix,
    option_letter,
    pointing_answer,
    sample_prompt,
    style_prefix,
    user_turn,
    with_prefix,
)
from pixmo.shards import Annotation, Sample

POINT_STYLES = ("pointing", "point_count")
STYLE_KINDS = ("style", "style_and_length", "demo_or_style", "none")  # pixmo.formatting.style_prefix


@dataclass(frozen=True)
class ExampleConfig:
    """How records become conversations. Defaults: Molmo fine-tuning (docs/spec/molmo.md 7.2)."""

    style_kind: str = "demo_or_style"  # style | style_and_length | demo_or_style | none
    message_format: str = "role"  # role: " User: {prompt} Assistant:"; none: the bare prompt
    prompt_type: str = "uber_model"  # uber_model: prompt templates; none: empty caption prompts
    cap_mode: str = "caption"  # caption | transcript_and_caption (one random transcript too)
    points_style: str = "pointing"  # style of pixmo-points / pixmo-count: pointing | point_count
    max_points: int = 40  # expressions with more points are not used for training (paper B.2)
    capqa_style: str = "synthetic_qa"
    no_pointing: bool = True  # "how many" questions of AMA / CapQA get a no-pointing prefix
    capqa_prefix_quirk: bool = False  # reference bug: prefix messages[0] instead of the matched question
    for_training: bool = True
    point_format: str = "molmo"  # molmo (v1, 0-100) | molmo2 (coords on 0-1000): the model family's format

    def __post_init__(self) -> None:
        choices = {"style_kind": STYLE_KINDS, "message_format": ("role", "none"), "prompt_type": ("uber_model", "none"),
                   "cap_mode": ("caption", "transcript_and_caption"), "points_style": POINT_STYLES,
                   "point_format": ("molmo", "molmo2")}
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"ExampleConfig.{name} must be one of {', '.join(allowed)}; "
                                 f"got {getattr(self, name)!r}")
        if self.max_points < 1:
            raise ValueError(f"ExampleConfig.max_points must be >= 1, got {self.max_points}")

    @classmethod
    def pretraining(cls, **kw: Any) -> ExampleConfig:
        """Caption pre-training (docs/spec/molmo.md 7.1): length-hinted style prefixes, empty prompts."""
        base: dict[str, Any] = dict(style_kind="style_and_length", message_format="none", prompt_type="none",
                                    cap_mode="transcript_and_caption")
        base.update(kw)
        return cls(**base)


@dataclass
class Example:
    """One conversation about an image."""

    messages: list[str]  # formatted turns: user, assistant, user, ... (ends with a user turn at inference)
    style: str
    subset: str
    answer: str | None = None  # the final target text
    meta: dict[str, Any] = field(default_factory=dict)
    weight: float = 1.0


Pairs = list[tuple[str, str | None]]


def conversation(style: str, pairs: Pairs, rng: np.random.Generator, cfg: ExampleConfig) -> list[str]:
    """Format (prompt, answer) turns; the style prefix joins the first prompt (docs/spec/molmo.md 6.1-6.2)."""
    first_answer = pairs[0][1] if cfg.for_training else None
    prefix = style_prefix(style, cfg.style_kind, rng, response=first_answer)
    msgs: list[str] = []
    for i, (prompt, answer) in enumerate(pairs):
        msgs.append(user_turn(with_prefix(prefix, prompt) if i == 0 else prompt, message_format=cfg.message_format))
        if answer is not None:
            msgs.append(assistant_turn(answer))
    return msgs


def _example(style: str, subset: str, pairs: Pairs, rng, cfg: ExampleConfig, **meta: Any) -> Example:
    answer = pairs[-1][1]
    if not cfg.for_training:
        pairs = pairs[:-1] + [(pairs[-1][0], None)]
    return Example(conversation(style, pairs, rng, cfg), style, subset, answer, meta)


def _prompt(kind: str, rng, cfg: ExampleConfig, label: str | None = None, default: str = "") -> str:
    if cfg.prompt_type == "none":
        return default
    return sample_prompt(kind, rng, label)


def _no_point(question: str, rng, cfg: ExampleConfig) -> str:
    if cfg.no_pointing and HOW_MANY_RE.match(question.strip()):
        return no_pointing_prefix(rng) + question
    return question


# --- one handler per subset --------------------------------------------------------------

def _cap(rec: R.PixmoCap, sample: Sample, rng, cfg, style) -> list[Example]:
    meta = {"caption": rec.caption, "transcripts": list(rec.transcripts)}
    out = [_example(style or "long_caption", rec.SUBSET, [(_prompt("long_caption", rng, cfg), rec.caption)], rng,
                    cfg, **meta)]
    if cfg.cap_mode == "transcript_and_caption":
        t = rec.transcripts[int(rng.integers(len(rec.transcripts)))]
        out.append(_example("transcript", rec.SUBSET, [(_prompt("transcript", rng, cfg), t)], rng, cfg, **meta))
    return out


def _ama(rec: R.PixmoAskModelAnything, sample, rng, cfg, style) -> list[Example]:
    q = _no_point(rec.question, rng, cfg)
    return [_example(style or "user_qa", rec.SUBSET, [(q, rec.answer)], rng, cfg, answers=[rec.answer])]


def _capqa(rec: R.PixmoCapQA, sample, rng, cfg, style) -> list[Example]:
    turns = rec.turns()
    users = [t for role, t in turns if role == "user"]
    answers = [t for role, t in turns if role == "assistant"]
    if len(users) != len(answers):
        return []  # not alternating: cannot be trained on
    if cfg.capqa_prefix_quirk:
        if cfg.no_pointing and any(HOW_MANY_RE.match(u.strip()) for u in users):
            users[0] = no_pointing_prefix(rng) + users[0]
    else:
        users = [_no_point(u, rng, cfg) for u in users]
    return [_example(style or cfg.capqa_style, rec.SUBSET, list(zip(users, answers, strict=True)), rng, cfg,
                     answers=[answers[-1]])]


def _point_example(subset: str, label: str, pts: list[tuple[float, float]], rng, cfg, style, *,
                   image_size: tuple[int, int] | None, **meta: Any) -> list[Example]:
    style = style if style in POINT_STYLES else cfg.points_style
    if cfg.for_training and len(pts) > cfg.max_points:
        return []
    answer = pointing_answer(pts, label, image_size=image_size, fmt=cfg.point_format) if style == "pointing" \
        else count_answer(pts, label, image_size=image_size, fmt=cfg.point_format)
    prompt = _prompt(style, rng, cfg, label, default=label.lower())
    return [_example(style, subset, [(prompt, answer)], rng, cfg, label=label, **meta)]


def _points(rec: R.PixmoPoints, sample, rng, cfg, style) -> list[Example]:
    pts = [(p.x, p.y) for p in rec.points]
    return _point_example(rec.SUBSET, rec.label, pts, rng, cfg, style, image_size=None, points=pts,
                          count=rec.count, collection_method=rec.collection_method)


def _points_eval(rec: R.PixmoPointsEval, sample, rng, cfg, style) -> list[Example]:
    pts = [(p.x, p.y) for p in rec.points]
    return _point_example(rec.SUBSET, rec.label, pts, rng, cfg, style or "pointing", image_size=None,
                          points=pts, count=len(pts), masks=rec.masks)


def _count(rec: R.PixmoCount, sample, rng, cfg, style) -> list[Example]:
    pts = list(zip(rec.points.x, rec.points.y, strict=True))
    if not pts and rec.count > 0:  # val/test: only the count is known
        if cfg.for_training:
            return []
        style = style if style in POINT_STYLES else "point_count"
        ex = Example(conversation(style, [(_prompt(style, rng, cfg, rec.label, rec.label.lower()), None)], rng, cfg),
                     style, rec.SUBSET, None, {"label": rec.label, "count": rec.count})
        return [ex]
    return _point_example(rec.SUBSET, rec.label, pts, rng, cfg, style, image_size=(sample.width, sample.height),
                          points_px=pts, count=rec.count)


def _explanations(rec: R.PixmoPointExplanations, sample, rng, cfg, style) -> list[Example]:
    if rec.parsed_response is None:
        return []  # Molmo drops rows whose response failed parsing
    answer = fill_point_placeholders(rec.parsed_response, [list(g) for g in rec.points], rec.inline_text,
                                     rec.alt_text)
    return [_example(style or "point_qa", rec.SUBSET, [(rec.question, answer)], rng, cfg, answers=[answer])]


def _clocks(rec: R.PixmoClocks, sample, rng, cfg, style) -> list[Example]:
    ampm = rec.time_format == "With AM/PM"
    answer = clock_answer(rec.hour_visible, rec.minute_visible, rec.second_visible, ampm=ampm)
    return [_example(style or "clocks", rec.SUBSET, [(CLOCK_PROMPT, answer)], rng, cfg, hour=rec.hour_visible,
                     minute=rec.minute_visible, second=rec.second_visible, time_format=rec.time_format)]


def _docs(rec, sample, rng, cfg, style) -> list[Example]:
    name = style or "pixmo_docs_" + rec.SUBSET.removeprefix("pixmo-docs-")
    qs = rec.questions
    return [_example(name, rec.SUBSET, [(q, a)], rng, cfg, answers=[a]) for q, a in zip(qs.question, qs.answer,
                                                                                          strict=True)]


def _academic(rec: R.AcademicQA, sample, rng, cfg, style) -> list[Example]:
    """An imported academic set: its style prefix (``vqa2:`` ...), the question as is, and as target
    the most frequent annotator answer (ties: the first given); multiple choice as A/B/C letters."""
    style = style or rec.style
    if rec.options:
        assert rec.answer_idx is not None  # the record guarantees it
        ex = multiple_choice_example(rec.question, rec.options, rec.options[rec.answer_idx], rng, style=style,
                                     cfg=cfg, subset=rec.SUBSET, answer_idx=rec.answer_idx)
        ex.meta["answer_idx"] = rec.answer_idx
        return [ex]
    answer = max(rec.answers, key=rec.answers.count)
    return [_example(style, rec.SUBSET, [(rec.question, answer)], rng, cfg, answers=list(rec.answers),
                     source_set=rec.source_set)]


HANDLERS: dict[str, Callable[..., list[Example]]] = {
    "pixmo-cap": _cap,
    "pixmo-ask-model-anything": _ama,
    "pixmo-cap-qa": _capqa,
    "pixmo-points": _points,
    "pixmo-points-eval": _points_eval,
    "pixmo-point-explanations": _explanations,
    "pixmo-count": _count,
    "pixmo-clocks": _clocks,
    "pixmo-docs-charts": _docs,
    "pixmo-docs-tables": _docs,
    "pixmo-docs-diagrams": _docs,
    "pixmo-docs-other": _docs,
    "academic-qa": _academic,
}
assert set(HANDLERS) == set(R.RECORD_TYPES), "every published subset needs a handler"


def annotation_to_examples(ann: Annotation, sample: Sample, rng: np.random.Generator, cfg: ExampleConfig,
                           style: str | None = None) -> list[Example]:
    handler = HANDLERS.get(ann.subset)
    if handler is None:
        raise ValueError(f"no Molmo formatting for subset {ann.subset!r}")
    style = style or ann.meta.get("style")  # a mixture source's style tag (pipelines.mix)
    out = handler(ann.record, sample, rng, cfg, style)
    for ex in out:
        ex.meta.setdefault("image_size", (sample.width, sample.height))
        ex.meta.setdefault("key", sample.key)
    return out


def sample_to_examples(sample: Sample, rng: np.random.Generator, *, style_kind: str | None = None,
                       cfg: ExampleConfig | None = None, style: str | None = None,
                       for_training: bool | None = None) -> list[Example]:
    """Every conversation of every annotation of a sample, formatted with ``pixmo.formatting``.

    ``style`` overrides the style of the sample's subsets (for pixmo-points / pixmo-count it picks
    ``pointing`` or ``point_count``, e.g. from a mixture source).
    """
    cfg = cfg or ExampleConfig()
    if style_kind is not None:
        cfg = replace(cfg, style_kind=style_kind)
    if for_training is not None:
        cfg = replace(cfg, for_training=for_training)
    out: list[Example] = []
    for ann in sample.annotations:
        out += annotation_to_examples(ann, sample, rng, cfg, style)
    return out


def multiple_choice_example(question: str, options: list[str], answer: str, rng: np.random.Generator, *,
                            style: str = "a_okvqa_mc", cfg: ExampleConfig | None = None,
                            subset: str = "multiple-choice", answer_idx: int | None = None) -> Example:
    """``question\\nA: opt1\\nB: opt2\\n`` with the answer letter as target (docs/spec/molmo.md 6.3, fact 15).
    ``answer_idx`` picks the correct option when options repeat a text."""
    cfg = cfg or ExampleConfig()
    letter = option_letter(options, answer) if answer_idx is None else chr(ord("A") + answer_idx)
    return _example(style, subset, [(format_options(question, options), letter)], rng, cfg,
                    options=list(options), answers=[letter], option_answer=answer)
