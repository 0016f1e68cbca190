"""Pointing (PixMo-Points): in one assignment the annotator writes referring expressions one after
the other, each with a click on every instance or "not present", until the image is done (at
least ``config.min_expressions`` expressions, default 1).

Payloads: ``{"label", "points", "not_present"}`` (one expression, the original form) or
``{"expressions": [{"label", "points", "not_present"}, ...]}``. Points are pixels of the original
image; exports hold one pixmo-points record per expression on the 0-100 scale
(``collection_method="pointing"``), all in the image's sample.
"""

from __future__ import annotations

import math
from collections.abc import Generator
from typing import Annotated, Any, ClassVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    ValidationError,
    model_serializer,
)

from annotation_app.quality import mean_metrics, point_metrics
from annotation_app.sql import jload
from annotation_app.tasks import ItemContext, ItemSeed, PayloadError, TaskType, format_validation, register
from pixmo.records import PixmoCount, PixmoPoints
from pixmo.shards import Annotation, Sample

MAX_POINTS = 1000
MAX_EXPRESSIONS = 50


class PointIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    x: float
    y: float


class Expression(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    label: str = Field(max_length=300)
    points: list[PointIn] = Field(default_factory=list, max_length=MAX_POINTS)
    not_present: bool = False


class PointingPayload(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    label: str = Field("", max_length=300)
    points: list[PointIn] = Field(default_factory=list, max_length=MAX_POINTS)
    not_present: bool = False
    expressions: list[Expression] | None = Field(None, max_length=MAX_EXPRESSIONS,
                                                 description="several expressions (instead of label/points)")
    flags: list[dict[str, str]] = Field(default_factory=list, max_length=20, description="set by the server")

    @model_serializer(mode="wrap")
    def _one_form(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """Stored in the form it came in: single-expression fields, or ``expressions``."""
        out = handler(self)
        drop = ("expressions",) if self.expressions is None else ("label", "points", "not_present")
        return {k: v for k, v in out.items() if k not in drop}

    def all_expressions(self) -> list[Expression]:
        if self.expressions is not None:
            return self.expressions
        return [Expression(label=self.label, points=self.points, not_present=self.not_present)]


class GoldAnswer(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    label: str = Field("", max_length=300)
    points: list[Annotated[list[float], Field(min_length=2, max_length=2)]] = Field(default_factory=list,
                                                                                   max_length=MAX_POINTS)
    not_present: bool = False


class GoldSet(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    expressions: list[GoldAnswer] = Field(min_length=1, max_length=MAX_EXPRESSIONS)


def norm_label(label: str) -> str:
    """Expressions are matched (duplicates, gold) by lower-cased text with whitespace collapsed."""
    return " ".join(label.lower().split())


def expressions_of(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """The expressions of a stored payload or gold answer, in either form."""
    if payload.get("expressions") is not None:
        return list(payload["expressions"])
    return [{"label": payload.get("label", ""), "points": payload.get("points", []),
             "not_present": bool(payload.get("not_present"))}]


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


def check_answer(p: Any, where: str = "") -> None:
    if p.not_present and p.points:
        raise PayloadError(f"{where}not_present is true but {len(p.points)} points are given")
    if not p.not_present and not p.points:
        raise PayloadError(f"{where}points is empty: click each instance or mark not_present")


def check_expressions(payload: PointingPayload, item: ItemContext) -> None:
    """Every expression named, answered (points xor not present) inside the image, no two alike."""
    if payload.expressions is not None and (payload.label or payload.points or payload.not_present):
        raise PayloadError("give either expressions or label/points/not_present, not both")
    if payload.expressions == []:
        raise PayloadError("expressions is empty: add at least one referring expression")
    several = payload.expressions is not None
    seen: dict[str, int] = {}
    for i, e in enumerate(payload.all_expressions()):
        where = f"expressions.{i}." if several else ""
        if not e.label.strip():
            raise PayloadError(f"{where}label is empty: write the referring expression (also when it is not present)")
        key = norm_label(e.label)
        if key in seen:
            raise PayloadError(f"{where}label {e.label!r} repeats expression {seen[key]}: each expression once")
        seen[key] = i
        check_answer(e, where)
        try:
            check_points(e.points, item)
        except PayloadError as err:
            raise PayloadError(f"{where}{err}") from None


def min_expressions(config: dict[str, Any]) -> int:
    """The campaign's ``min_expressions`` (default 1): how many expressions an image needs."""
    n = config.get("min_expressions", 1)
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_EXPRESSIONS:
        raise PayloadError(f"campaign config min_expressions={n!r} must be an integer from 1 to {MAX_EXPRESSIONS}")
    return n


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
    subsets: ClassVar[tuple[str, ...]] = ("pixmo-points",)
    collection_method = "pointing"

    def check(self, payload: Any, item: ItemContext) -> None:
        check_expressions(payload, item)
        n, need = len(payload.all_expressions()), min_expressions(item.campaign_config)
        if n < need:
            raise PayloadError(f"expressions: {n} given, this campaign asks for at least {need} per image")

    def check_config(self, config: dict[str, Any]) -> None:
        min_expressions(config)

    def expressions(self, payload: dict[str, Any], item: ItemContext) -> list[dict[str, Any]]:
        """(label, points, not_present) of each expression of a stored answer."""
        return [{"label": e.get("label", "").strip(), "points": [] if e.get("not_present") else e.get("points", []),
                 "not_present": bool(e.get("not_present"))} for e in expressions_of(payload)]

    def item_view(self, item: ItemContext) -> dict[str, Any]:
        return {**item.spec, "min_expressions": min_expressions(item.campaign_config)}

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
        """Gold is ``{"label", "points": [[x, y], ...] in pixels, "not_present"}`` or
        ``{"expressions": [that, ...]}``, checked like a submit (but not against min_expressions)."""
        several = isinstance(gold, dict) and "expressions" in gold
        try:
            gs = GoldSet.model_validate(gold).expressions if several else [GoldAnswer.model_validate(gold)]
        except ValidationError as err:
            raise PayloadError(format_validation(err)) from None
        exprs = [{"label": g.label, "points": [{"x": x, "y": y} for x, y in g.points], "not_present": g.not_present}
                 for g in gs]
        try:
            data = {"expressions": exprs} if several else exprs[0]
            payload = self.Payload.model_validate(data)
        except ValidationError as err:
            raise PayloadError(format_validation(err)) from None
        self.check_shape(payload, item)
        out = [{"label": g.label, "points": [[x, y] for x, y in g.points], "not_present": g.not_present} for g in gs]
        return {"expressions": out} if several else out[0]

    def check_shape(self, payload: Any, item: ItemContext) -> None:
        """A submit's checks without the campaign's minimum number of expressions (for gold)."""
        check_expressions(payload, item)

    def score(self, payload: dict[str, Any], gold: dict[str, Any], item: ItemContext,
              config: dict[str, Any]) -> dict[str, float] | None:
        """One expression each: scored as such. Else each gold expression is scored against the
        answer's expression of the same normalised text (a missing one as an empty answer), the
        metrics averaged over gold expressions, plus ``expressions_found`` (the share answered)."""
        preds, golds, r = expressions_of(payload), expressions_of(gold), gold_radius(item, config)

        def one(p: dict[str, Any], g: dict[str, Any]) -> dict[str, float]:
            pred = [[q["x"], q["y"]] for q in p.get("points", [])]
            return point_metrics(pred, bool(p.get("not_present")), g.get("points", []), bool(g.get("not_present")), r)

        if len(preds) == 1 and len(golds) == 1:
            return one(preds[0], golds[0])
        by_text = {norm_label(p.get("label", "")): p for p in preds}
        rows = []
        for g in golds:
            p = by_text.get(norm_label(g.get("label", "")))
            rows.append({**one(p or {}, g), "expressions_found": float(p is not None)})
        return mean_metrics(rows)

    def export(self, payload: dict[str, Any], item: ItemContext, subset: str, meta: dict[str, Any]) -> list[Annotation]:
        """One record per expression."""
        if subset not in self.subsets:
            raise PayloadError(f"{self.name} cannot export subset {subset!r}; choose one of {self.subsets}")
        out = []
        for e in self.expressions(payload, item):
            label, pts = e["label"], e["points"]
            if subset == "pixmo-count":
                rec: Any = PixmoCount(image_url=item.image_url, image_sha256=item.image_sha256, count=len(pts),
                                      label=label, points={"x": [round(p["x"], 2) for p in pts],
                                                           "y": [round(p["y"], 2) for p in pts]})
            else:
                rec = PixmoPoints(image_url=item.image_url, image_sha256=item.image_sha256, points=percent(pts, item),
                                  count=len(pts), label=label, collection_method=self.collection_method)
            out.append(Annotation.of(rec, **meta))
        return out


register(PointingTask())
