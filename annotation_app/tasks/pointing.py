"""Pointing (PixMo-Points): write a referring expression, click every instance, or "not present".

Payload points are pixels of the original image; exports hold pixmo-points records on the
0-100 scale (``collection_method="pointing"``).
"""

from __future__ import annotations

import math
from collections.abc import Generator
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from annotation_app.quality import point_metrics
from annotation_app.sql import jload
from annotation_app.tasks import ItemContext, ItemSeed, PayloadError, TaskType, format_validation, register
from pixmo.records import PixmoCount, PixmoPoints
from pixmo.shards import Annotation, Sample

MAX_POINTS = 1000


class PointIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    x: float
    y: float


class PointingPayload(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    label: str = Field("", max_length=300)
    points: list[PointIn] = Field(default_factory=list, max_length=MAX_POINTS)
    not_present: bool = False
    flags: list[dict[str, str]] = Field(default_factory=list, max_length=20, description="set by the server")


class GoldAnswer(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    label: str = Field("", max_length=300)
    points: list[Annotated[list[float], Field(min_length=2, max_length=2)]] = Field(default_factory=list,
                                                                                   max_length=MAX_POINTS)
    not_present: bool = False


def untouched_flags(payload: Any, prefill: list[Any]) -> list[dict[str, str]]:
    """A review flag when the answer is exactly the machine's prefilled points (nobody moved,
    deleted or added one): a person may have submitted without looking."""
    if not prefill or payload.not_present or len(payload.points) != len(prefill):
        return []
    got = sorted((round(p.x, 2), round(p.y, 2)) for p in payload.points)
    if got != sorted((round(float(x), 2), round(float(y), 2)) for x, y in prefill):
        return []
    return [{"code": "untouched_suggestions", "message": f"all {len(prefill)} machine-suggested points were "
                                                          "submitted unchanged"}]


def check_points(points: list[PointIn], item: ItemContext) -> None:
    for i, p in enumerate(points):
        for axis, v, hi in (("x", p.x, item.width), ("y", p.y, item.height)):
            if not math.isfinite(v) or not 0.0 <= v <= hi:
                raise PayloadError(f"points.{i}.{axis}={v!r} is outside the image (0 to {hi} pixels)")


def check_answer(p: PointingPayload) -> None:
    if p.not_present and p.points:
        raise PayloadError(f"not_present is true but {len(p.points)} points are given")
    if not p.not_present and not p.points:
        raise PayloadError("points is empty: click each instance or mark not_present")


def percent(points: list[dict[str, float]], item: ItemContext) -> list[dict[str, float]]:
    return [{"x": round(min(100.0, p["x"] / item.width * 100.0), 4),
             "y": round(min(100.0, p["y"] / item.height * 100.0), 4)} for p in points]


def gold_radius(item: ItemContext, config: dict[str, Any]) -> float:
    """Match radius in pixels: ``gold_radius`` (fraction of the longer side, default 0.05)."""
    return float(config.get("gold_radius", 0.05)) * max(item.width, item.height)


class PointingTask(TaskType):
    name = "pointing"
    title = "Pointing"
    script = "pointing.js"
    Payload = PointingPayload
    subsets = ("pixmo-points",)
    collection_method = "pointing"

    def check(self, payload: Any, item: ItemContext) -> None:
        if not payload.label.strip():
            raise PayloadError("label is empty: write the referring expression (also when it is not present)")
        check_answer(payload)
        check_points(payload.points, item)

    def label_of(self, payload: dict[str, Any], item: ItemContext) -> str:
        return payload.get("label", "").strip()

    def seeds(self, sample: Sample | None, config: dict[str, Any], as_gold: bool = False) -> list[ItemSeed]:
        if sample is None or not as_gold:
            return [ItemSeed()]
        out = []
        for i, a in enumerate(sample.annotations):
            if isinstance(a.record, PixmoPoints):
                pts = [[p.x * sample.width / 100.0, p.y * sample.height / 100.0] for p in a.record.points]
                out.append(ItemSeed(key=f"gold{i}", spec={"hint": a.record.label},
                                    gold={"label": a.record.label, "points": pts, "not_present": not pts}))
        return out or [ItemSeed()]

    def verify_steps(self, payload: Any, assignment: Any, user_id: int) -> Generator[Any, Any, Any]:
        """Flags (server-set, whatever the request said): all machine suggestions submitted untouched."""
        payload.flags = untouched_flags(payload, (jload(assignment.spec) or {}).get("prefill") or [])
        return payload
        yield

    def parse_gold(self, gold: Any, item: ItemContext) -> dict[str, Any]:
        """Gold is ``{"label", "points": [[x, y], ...] in pixels, "not_present"}``, checked like a submit."""
        try:
            g = GoldAnswer.model_validate(gold)
        except ValidationError as err:
            raise PayloadError(format_validation(err)) from None
        self.parse({"label": g.label, "points": [{"x": x, "y": y} for x, y in g.points],
                    "not_present": g.not_present}, item)
        return {"label": g.label, "points": [[x, y] for x, y in g.points], "not_present": g.not_present}

    def score(self, payload: dict[str, Any], gold: dict[str, Any], item: ItemContext,
              config: dict[str, Any]) -> dict[str, float] | None:
        pred = [[p["x"], p["y"]] for p in payload.get("points", [])]
        return point_metrics(pred, bool(payload.get("not_present")), gold.get("points", []),
                             bool(gold.get("not_present")), gold_radius(item, config))

    def export(self, payload: dict[str, Any], item: ItemContext, subset: str, meta: dict[str, Any]) -> list[Annotation]:
        label = self.label_of(payload, item)
        pts = [] if payload.get("not_present") else payload.get("points", [])
        if subset == "pixmo-count":
            rec: Any = PixmoCount(image_url=item.image_url, image_sha256=item.image_sha256, count=len(pts), label=label,
                                  points={"x": [round(p["x"], 2) for p in pts], "y": [round(p["y"], 2) for p in pts]})
        elif subset == "pixmo-points":
            rec = PixmoPoints(image_url=item.image_url, image_sha256=item.image_sha256, points=percent(pts, item),
                              count=len(pts), label=label, collection_method=self.collection_method)
        else:
            raise PayloadError(f"{self.name} cannot export subset {subset!r}; choose one of {self.subsets}")
        return [Annotation.of(rec, **meta)]


register(PointingTask())
