"""Counting (PixMo-Count style): the label is given, point at every instance (or "none present").

Items come from a folder with one campaign label (``config.label``) or from shards whose samples
carry pixmo-count / pixmo-points records (generator output sent for human verification): one
item per record, with the label and the generator's points prefilled. Exports pixmo-count
records (pixels) by default, or pixmo-points with ``collection_method="counting"``.
"""

from __future__ import annotations

from typing import Any

from annotation_app.tasks import ItemContext, ItemSeed, PayloadError, register
from annotation_app.tasks.pointing import PointingTask, check_answer, check_points
from pixmo.records import PixmoCount, PixmoPoints
from pixmo.shards import Sample


class CountingTask(PointingTask):
    name = "counting"
    title = "Counting"
    script = "pointing.js"
    subsets = ("pixmo-count", "pixmo-points")
    collection_method = "counting"

    def check(self, payload: Any, item: ItemContext) -> None:
        if payload.expressions is not None:
            raise PayloadError("expressions: a counting item has one fixed label; send label/points/not_present")
        given = item.spec.get("label", "")
        if payload.label.strip() and payload.label.strip() != given:
            raise PayloadError(f"label is fixed to {given!r} for this counting item, got {payload.label!r}")
        check_answer(payload)
        check_points(payload.points, item)

    def check_shape(self, payload: Any, item: ItemContext) -> None:
        self.check(payload, item)

    def label_of(self, payload: dict[str, Any], item: ItemContext) -> str:
        return str(item.spec.get("label", ""))

    def expressions(self, payload: dict[str, Any], item: ItemContext) -> list[dict[str, Any]]:
        absent = bool(payload.get("not_present"))
        return [{"label": self.label_of(payload, item), "points": [] if absent else payload.get("points", []),
                 "not_present": absent}]

    def item_view(self, item: ItemContext) -> dict[str, Any]:
        return {"label": item.spec.get("label", ""), "fixed_label": True, "prefill": item.spec.get("prefill", [])}

    def seeds(self, sample: Sample | None, config: dict[str, Any], as_gold: bool = False) -> list[ItemSeed]:
        out = []
        for i, a in enumerate(sample.annotations if sample else []):
            rec = a.record
            if isinstance(rec, PixmoCount):
                pts = [[x, y] for x, y in zip(rec.points.x, rec.points.y, strict=True)]
            elif isinstance(rec, PixmoPoints):
                pts = [[p.x * sample.width / 100.0, p.y * sample.height / 100.0] for p in rec.points]  # type: ignore[union-attr]
            else:
                continue
            spec = {"label": rec.label, "reference_count": rec.count}
            gold = None
            if as_gold:
                gold = {"label": rec.label, "points": pts, "not_present": rec.count == 0}
            else:
                spec["prefill"] = pts
            out.append(ItemSeed(key=f"r{i}", spec=spec, gold=gold))
        if out:
            return out
        label = str(config.get("label", "")).strip()
        if not label:
            raise PayloadError("a counting campaign over plain images needs config.label (what to count)")
        return [ItemSeed(spec={"label": label})]


register(CountingTask())
