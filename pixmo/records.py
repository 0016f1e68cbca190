"""The one record schema: a typed record per published PixMo subset.

Field names and types are exactly those of the published Hugging Face datasets
(see docs/spec/pixmo_data.md section 2). Each record class declares:

- ``SUBSET``: the subset name used in shards and exports (``pixmo-points`` ...);
- ``UNIT``: the unit of its coordinates, ``"percent"`` (0-100 of width/height),
  ``"pixels"``, or ``None`` when it holds no coordinates.

Validation errors name the field and the offending value.
"""

from __future__ import annotations

import json
import re
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
POINT_PLACEHOLDER = "<|POINT|>"
CLOCK_TIME_FORMATS = ("With AM/PM", "Without AM/PM", "Time not shown")
DOCS_CONFIGS = ("charts", "tables", "diagrams", "other")
INT32_MAX = 2**31 - 1

Unit = Literal["percent", "pixels"] | None


class RecordError(ValueError):
    """A record failed validation; the message names the field and the value."""


class Point(BaseModel):
    model_config = ConfigDict(extra="forbid")
    x: float
    y: float


class Record(BaseModel):
    """Base of every subset record. Unknown fields are refused."""

    model_config = ConfigDict(extra="forbid", validate_assignment=False)
    SUBSET: ClassVar[str] = ""
    UNIT: ClassVar[Unit] = None

    def to_row(self) -> dict[str, Any]:
        """The record as a published row (plain JSON types)."""
        return self.model_dump(mode="json")


def _check_sha(v: str) -> str:
    if not SHA256_RE.match(v):
        raise ValueError(f"image_sha256 must be 64 lowercase hex characters, got {v!r}")
    return v


def _check_percent(points: list[tuple[float, float]], field: str) -> None:
    for i, (x, y) in enumerate(points):
        for name, v in (("x", x), ("y", y)):
            if not (0.0 <= v <= 100.0) or v != v:
                raise ValueError(f"{field}[{i}].{name}={v!r} is outside 0-100 (this subset stores percent)")


class PixmoCap(Record):
    SUBSET: ClassVar[str] = "pixmo-cap"
    image_url: str
    caption: str
    transcripts: list[str] = Field(min_length=1)


class PixmoAskModelAnything(Record):
    SUBSET: ClassVar[str] = "pixmo-ask-model-anything"
    image_url: str
    image_sha256: str
    question: str
    answer: str

    _sha = field_validator("image_sha256")(_check_sha)


class PixmoCapQA(Record):
    SUBSET: ClassVar[str] = "pixmo-cap-qa"
    image_url: str
    question: str
    answer: str

    @field_validator("question")
    @classmethod
    def _tags(cls, v: str) -> str:
        s = v.strip()
        if not s.startswith("[USER]") or not s.endswith("[ASSISTANT]"):
            raise ValueError(f"question must start with [USER] and end with [ASSISTANT], got {v[:60]!r}")
        tags = re.findall(r"\[(USER|ASSISTANT)\]", s)
        if any(t != ("USER" if i % 2 == 0 else "ASSISTANT") for i, t in enumerate(tags)):
            raise ValueError(f"question turns must alternate [USER] and [ASSISTANT], got tags {tags}")
        return v

    def turns(self) -> list[tuple[str, str]]:
        """The dialogue as (role, text) pairs, the final answer included."""
        parts = re.split(r"\[(USER|ASSISTANT)\]", self.question)
        out = [(parts[i].lower(), parts[i + 1].strip()) for i in range(1, len(parts), 2)]
        out[-1] = ("assistant", self.answer)
        return out


class PixmoPoints(Record):
    SUBSET: ClassVar[str] = "pixmo-points"
    UNIT: ClassVar[Unit] = "percent"
    image_url: str
    image_sha256: str
    points: list[Point]
    count: int
    label: str
    collection_method: Literal["pointing", "counting"]

    _sha = field_validator("image_sha256")(_check_sha)

    @model_validator(mode="after")
    def _consistent(self) -> PixmoPoints:
        if self.count != len(self.points):
            raise ValueError(f"count={self.count} but {len(self.points)} points are given")
        _check_percent([(p.x, p.y) for p in self.points], "points")
        return self


class PixmoPointsEval(Record):
    SUBSET: ClassVar[str] = "pixmo-points-eval"
    UNIT: ClassVar[Unit] = "percent"
    image_url: str
    image_sha256: str
    label: str
    points: list[Point]
    masks: list[list[list[bool]]]

    _sha = field_validator("image_sha256")(_check_sha)

    @model_validator(mode="after")
    def _consistent(self) -> PixmoPointsEval:
        if len(self.masks) != len(self.points):
            raise ValueError(f"masks has {len(self.masks)} entries but points has {len(self.points)}")
        for i, mask in enumerate(self.masks):
            if len({len(row) for row in mask}) > 1:
                raise ValueError(f"masks[{i}] is not rectangular (rows of different lengths)")
        _check_percent([(p.x, p.y) for p in self.points], "points")
        return self


class PixmoPointExplanations(Record):
    SUBSET: ClassVar[str] = "pixmo-point-explanations"
    UNIT: ClassVar[Unit] = "percent"
    image_url: str
    image_sha256: str
    question: str
    response: str
    parsed_response: str | None
    alt_text: list[str]
    inline_text: list[str]
    points: list[list[tuple[float, float]]]

    _sha = field_validator("image_sha256")(_check_sha)

    @model_validator(mode="after")
    def _consistent(self) -> PixmoPointExplanations:
        n = len(self.points)
        if self.parsed_response is not None:
            k = self.parsed_response.count(POINT_PLACEHOLDER)
            if k != n:
                raise ValueError(f"parsed_response has {k} {POINT_PLACEHOLDER} placeholders but points has {n} groups")
        if not (len(self.inline_text) == len(self.alt_text) == n):
            raise ValueError(
                f"len(points)={n}, len(inline_text)={len(self.inline_text)}, len(alt_text)={len(self.alt_text)} differ"
            )
        for i, group in enumerate(self.points):
            _check_percent(list(group), f"points[{i}]")
        return self


class CountPoints(BaseModel):
    """pixmo-count points: a Sequence of struct, stored as parallel lists, in pixels."""

    model_config = ConfigDict(extra="forbid")
    x: list[float]
    y: list[float]

    @model_validator(mode="after")
    def _same_len(self) -> CountPoints:
        if len(self.x) != len(self.y):
            raise ValueError(f"points.x has {len(self.x)} values but points.y has {len(self.y)}")
        return self


class PixmoCount(Record):
    SUBSET: ClassVar[str] = "pixmo-count"
    UNIT: ClassVar[Unit] = "pixels"
    image_url: str
    image_sha256: str
    count: int
    points: CountPoints
    label: str

    _sha = field_validator("image_sha256")(_check_sha)

    @model_validator(mode="after")
    def _consistent(self) -> PixmoCount:
        n = len(self.points.x)
        if n and n != self.count:
            raise ValueError(f"count={self.count} but {n} points are given")
        if not n and not (self.count == 0 or 2 <= self.count <= 10):
            raise ValueError(f"count={self.count} without points: only 0 or 2-10 (val/test) are valid")
        if not 0 <= self.count <= INT32_MAX:
            raise ValueError(f"count={self.count} is outside 0..{INT32_MAX} (int32)")
        if any(not v >= 0 for v in self.points.x + self.points.y):
            raise ValueError("points must be non-negative pixel coordinates")
        return self

    def check_image_size(self, width: int, height: int) -> None:
        for i, (x, y) in enumerate(zip(self.points.x, self.points.y, strict=True)):
            if x > width or y > height:
                raise ValueError(f"points[{i}]=({x}, {y}) lies outside the {width}x{height} image")


class PixmoClocks(Record):
    SUBSET: ClassVar[str] = "pixmo-clocks"
    example_id: str
    watchface_id: str
    watchface_name: str
    watch_time: str
    time_format: str
    shows_seconds: bool
    hour_visible: int
    minute_visible: int
    second_visible: int
    text: str

    @model_validator(mode="after")
    def _consistent(self) -> PixmoClocks:
        if self.time_format not in CLOCK_TIME_FORMATS:
            raise ValueError(f"time_format={self.time_format!r} is not one of {CLOCK_TIME_FORMATS}")
        if self.time_format == "Time not shown":
            if (self.hour_visible, self.minute_visible, self.second_visible) != (-1, -1, -1):
                raise ValueError("time_format 'Time not shown' needs hour/minute/second_visible == -1")
            return self
        ampm = self.time_format == "With AM/PM"
        hi = 23 if ampm else 11
        if not 0 <= self.hour_visible <= hi:
            raise ValueError(f"hour_visible={self.hour_visible} is outside 0..{hi} for {self.time_format!r}")
        if not 0 <= self.minute_visible <= 59:
            raise ValueError(f"minute_visible={self.minute_visible} is outside 0..59")
        if self.shows_seconds != (self.second_visible >= 0) or self.second_visible > 59:
            raise ValueError(f"second_visible={self.second_visible} disagrees with shows_seconds={self.shows_seconds}")
        expected = clock_text(self.hour_visible, self.minute_visible, self.second_visible, ampm=ampm)
        if self.text != expected:
            raise ValueError(f"text={self.text!r} but the visible fields give {expected!r}")
        return self


def clock_text(hour: int, minute: int, second: int = -1, *, ampm: bool) -> str:
    """The pixmo-clocks ``text`` for visible fields (``7:57:39 AM``, ``5:34:22``, ``12:09``)."""
    h12 = hour % 12 or 12
    s = f"{h12}:{minute:02d}"
    if second >= 0:
        s += f":{second:02d}"
    if ampm:
        s += " AM" if hour < 12 else " PM"
    return s


class DocsQuestions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    question: list[str]
    answer: list[str]

    @model_validator(mode="after")
    def _same_len(self) -> DocsQuestions:
        if len(self.question) != len(self.answer):
            raise ValueError(f"questions has {len(self.question)} questions but {len(self.answer)} answers")
        return self


class _PixmoDocs(Record):
    image_id: str
    questions: DocsQuestions


class PixmoDocsCharts(_PixmoDocs):
    SUBSET: ClassVar[str] = "pixmo-docs-charts"


class PixmoDocsTables(_PixmoDocs):
    SUBSET: ClassVar[str] = "pixmo-docs-tables"


class PixmoDocsDiagrams(_PixmoDocs):
    SUBSET: ClassVar[str] = "pixmo-docs-diagrams"


class PixmoDocsOther(_PixmoDocs):
    SUBSET: ClassVar[str] = "pixmo-docs-other"


class AcademicQA(Record):
    """One question of an academic fine-tuning set (VQA v2, ChartQA, AI2D ...) imported by
    ``pixmo import-academic`` (docs/spec/benchmarks.md section 4). Not a PixMo subset: the toolkit's
    own schema for every such set. ``answers`` keeps every annotator's answer; multiple choice keeps
    ``options`` and the correct ``answer_idx``."""

    SUBSET: ClassVar[str] = "academic-qa"
    image_url: str
    image_sha256: str
    style: str = Field(min_length=1)
    question: str
    answers: list[str]
    options: list[str] = Field(default_factory=list)
    answer_idx: int | None = None
    source_set: str = Field(min_length=1)

    _sha = field_validator("image_sha256")(_check_sha)

    @model_validator(mode="after")
    def _consistent(self) -> AcademicQA:
        if self.options:
            if self.answer_idx is None or not 0 <= self.answer_idx < len(self.options):
                raise ValueError(f"answer_idx={self.answer_idx!r} does not index the {len(self.options)} options")
        elif self.answer_idx is not None:
            raise ValueError(f"answer_idx={self.answer_idx} is given without options")
        elif not self.answers:
            raise ValueError("a question needs at least one answer (or options with answer_idx)")
        return self


RECORD_TYPES: dict[str, type[Record]] = {
    cls.SUBSET: cls
    for cls in (
        PixmoCap,
        PixmoAskModelAnything,
        PixmoCapQA,
        PixmoPoints,
        PixmoPointsEval,
        PixmoPointExplanations,
        PixmoCount,
        PixmoClocks,
        PixmoDocsCharts,
        PixmoDocsTables,
        PixmoDocsDiagrams,
        PixmoDocsOther,
        AcademicQA,
    )
}
SUBSETS = tuple(RECORD_TYPES)


def docs_record_type(config: str) -> type[Record]:
    """The pixmo-docs record class for a config name (charts, tables, diagrams, other)."""
    if config not in DOCS_CONFIGS:
        raise RecordError(f"unknown pixmo-docs config {config!r}; expected one of {DOCS_CONFIGS}")
    return RECORD_TYPES[f"pixmo-docs-{config}"]


def _format_error(subset: str, err: ValidationError) -> str:
    parts = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"]) or "(record)"
        msg = e["msg"].removeprefix("Value error, ")
        value = e.get("input")
        shown = repr(value)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        parts.append(f"{subset}: field {loc!r}: {msg} (value {shown})")
    return "; ".join(parts)


def parse_record(subset: str, data: dict[str, Any], *, strict: bool = False) -> Record:
    """Validate a published row as a record of ``subset``; raises RecordError naming field and value.

    ``strict=True`` refuses values of the wrong JSON type instead of coercing them (``"3"`` or
    ``3.0`` for an int, ``1`` for a bool), as ``pixmo validate`` does.
    """
    cls = RECORD_TYPES.get(subset)
    if cls is None:
        raise RecordError(f"unknown subset {subset!r}; expected one of {', '.join(SUBSETS)}")
    if not isinstance(data, dict):
        raise RecordError(f"{subset}: a record must be a JSON object, got {type(data).__name__}")
    try:
        if strict:  # JSON mode: arrays are valid tuples, but no str->int or float->int coercion
            return cls.model_validate_json(json.dumps(data), strict=True)
        return cls.model_validate(data)
    except ValidationError as err:
        raise RecordError(_format_error(subset, err)) from None


def image_sha256_of(record: Record) -> str | None:
    """The record's ``image_sha256`` if its subset publishes one."""
    return getattr(record, "image_sha256", None)
