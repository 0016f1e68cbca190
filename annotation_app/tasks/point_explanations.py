"""Point explanations (PixMo-Point-Explanations): the AMA loop where the annotator first marks
numbered point groups on the image and the LLM's answer cites them inline as
``<point id="N">words</point>``. Export turns the cited answer into a pixmo-point-explanations
record: ``parsed_response`` with one ``<|POINT|>`` placeholder per citation, ``inline_text`` (the
cited words), ``alt_text`` (the group's label), ``points`` (0-100 scale) and ``response`` (Molmo
point markup filled in with :func:`pixmo.formatting.fill_point_placeholders`).
"""

from __future__ import annotations

from typing import Any

from annotation_app.tasks import ItemContext, PayloadError, register
from annotation_app.tasks.ama import AmaTask
from annotation_app.tasks.ama_drafts import CITE_RE
from pixmo.formatting import fill_point_placeholders
from pixmo.records import POINT_PLACEHOLDER, PixmoPointExplanations
from pixmo.shards import Annotation


def to_record_fields(answer: str, groups: list[dict[str, Any]], width: int, height: int) -> dict[str, Any]:
    """Split a cited answer into the published point-explanations fields."""
    alt, inline, points = [], [], []
    for m in CITE_RE.finditer(answer):
        i = int(m.group(1)) - 1
        if not 0 <= i < len(groups):
            raise PayloadError(f"answer cites point {i + 1}, but only {len(groups)} groups were marked")
        g = groups[i]
        alt.append(g["label"])
        inline.append(m.group(2).strip())
        points.append([(round(min(100.0, 100 * p["x"] / width), 2), round(min(100.0, 100 * p["y"] / height), 2))
                       for p in g["points"]])
    parsed = CITE_RE.sub(POINT_PLACEHOLDER, answer)
    response = fill_point_placeholders(parsed, points, inline, alt) if points else parsed
    return {"response": response, "parsed_response": parsed, "alt_text": alt, "inline_text": inline, "points": points}


class PointExplanationsTask(AmaTask):
    name = "point_explanations"
    title = "Point, ask, and explain"
    subsets = ("pixmo-point-explanations",)
    with_points = True

    def check(self, payload: Any, item: ItemContext) -> None:
        super().check(payload, item)
        if not payload.points:
            raise PayloadError("points: mark the image regions the question is about")
        to_record_fields(payload.answer, payload.points, item.width, item.height)

    def export(self, payload: dict[str, Any], item: ItemContext, subset: str, meta: dict[str, Any]) -> list[Annotation]:
        if subset != "pixmo-point-explanations":
            raise PayloadError(f"{self.name} cannot export subset {subset!r}; choose one of {self.subsets}")
        fields = to_record_fields(payload["answer"], payload["points"], item.width, item.height)
        rec = PixmoPointExplanations(image_url=item.image_url, image_sha256=item.image_sha256,
                                     question=payload["question"], **fields)
        return [Annotation.of(rec, **meta, **self.meta(payload), point_groups=payload["points"])]


register(PointExplanationsTask())
