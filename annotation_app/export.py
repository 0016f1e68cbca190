"""Export a campaign to PixMo shards (through ``pixmo.shards``) or to COCO-keypoints JSON."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select

from annotation_app.agreement_cli import render
from annotation_app.agreement_db import campaign_agreement
from annotation_app.claiming import A, I, item_context
from annotation_app.db import read_tx
from annotation_app.media import MediaStore
from annotation_app.models import Campaign, Submission, table
from annotation_app.tasks import get_task_type
from pixmo.shards import Sample, ShardWriter

S = table(Submission)


def answers(engine: Engine, campaign_id: int, include_unreviewed: bool = False) -> Iterator[tuple[Any, Any, Any]]:
    """(campaign, item, submission) for every accepted answer (and submitted ones if asked), by item."""
    states = ["accepted", "submitted"] if include_unreviewed else ["accepted"]
    with read_tx(engine) as conn:
        campaign = conn.execute(select(table(Campaign)).where(Campaign.id == campaign_id)).first()
        if campaign is None:
            raise KeyError(f"campaign {campaign_id} not found")
        rows = conn.execute(select(I, S.c.id.label("sid"), S.c.payload, S.c.user_id.label("uid"))
                            .join(A, A.c.item_id == I.c.id).join(S, S.c.id == A.c.submission_id)
                            .where(A.c.campaign_id == campaign_id, A.c.status.in_(states))
                            .order_by(I.c.id, A.c.id)).all()
    for r in rows:
        yield campaign, r, r


def export_shards(engine: Engine, media: MediaStore, campaign_id: int, out_dir: str | Path, *,
                  subset: str | None = None, include_unreviewed: bool = False, max_count: int = 1000,
                  mode: str = "new") -> Path:
    """Write one sample per image holding every exported record (the writer merges the records of
    every answer and expression on the same image); returns the manifest path."""
    writer: ShardWriter | None = None
    with read_tx(engine) as conn:
        c = conn.execute(select(Campaign.task_type).where(Campaign.id == campaign_id)).first()
        proof_ok = get_task_type(c.task_type).proof_check(conn, campaign_id) if c else None
    for campaign, item, sub in answers(engine, campaign_id, include_unreviewed):
        task = get_task_type(campaign.task_type)
        sub_name = subset or task.subsets[0]
        if writer is None:
            writer = ShardWriter(out_dir, dataset=f"annotation-{campaign.name}", max_count=max_count, resume=False,
                                 mode=mode,
                                 config={"campaign": campaign.name, "task_type": campaign.task_type,
                                         "subset": sub_name, "include_unreviewed": include_unreviewed})
        ctx = item_context(item, campaign.config)
        meta = {"source": "annotation_app", "campaign": campaign.name, "item_id": item.id,
                "submission_id": sub.sid, "annotator_id": sub.uid, "gold": item.gold is not None,
                **({"source_path": item.meta["source_path"]} if (item.meta or {}).get("source_path") else {})}
        anns = task.export(sub.payload, ctx, sub_name, meta)
        extras = task.export_extras(sub.payload, ctx, media) if hasattr(task, "export_extras") else {}
        if proof_ok is not None and not proof_ok(sub.payload, sub.uid):
            extras = {}  # the proof is not the submitter's: never shipped as theirs
            for a in anns:
                a.meta["provenance"] = "unverified"
        for a in anns:  # name only audio that ships (deleted, unexported or unverified audio does not)
            if a.meta.get("audio_member") and a.meta["audio_member"] not in extras:
                a.meta["audio_member"] = None
        writer.write(Sample(image=media.get(item.media_key), annotations=anns, image_url=item.image_url or "",
                            extras=extras))
    if writer is None:
        writer = ShardWriter(out_dir, dataset=f"annotation-campaign-{campaign_id}", resume=False, mode=mode)
    write_report(engine, campaign_id, writer.work_dir, include_unreviewed)
    return writer.close()


def write_report(engine: Engine, campaign_id: int, folder: Path, include_unreviewed: bool) -> None:
    """``report.json`` and ``report.md`` beside the shards: the agreement between annotators over
    the answers the export ships (accepted ones, plus submitted ones with ``include_unreviewed``)."""
    with read_tx(engine) as conn:
        name = conn.execute(select(Campaign.name).where(Campaign.id == campaign_id)).scalar()
        agreement = campaign_agreement(conn, campaign_id, accepted_only=not include_unreviewed)
    report = {"campaign": name, "task_type": agreement["task_type"], "include_unreviewed": include_unreviewed,
              "agreement": agreement}
    (folder / "report.json").write_text(json.dumps(report, indent=1) + "\n")
    (folder / "report.md").write_text(f"# Export report: {name}\n\n## Agreement between annotators\n\n"
                                      f"Definitions: docs/spec/agreement.md of the PixMo toolkit.\n\n"
                                      f"```\n{render(agreement, str(name))}\n```\n")


def export_coco(engine: Engine, campaign_id: int, include_unreviewed: bool = False) -> dict[str, Any]:
    """COCO keypoints: one category per label with a single keypoint "point"; one annotation per
    clicked point (``keypoints=[x, y, 2]``, a zero-size box); images list the labels marked absent."""
    images: dict[int, dict[str, Any]] = {}
    cats: dict[str, int] = {}
    anns: list[dict[str, Any]] = []
    for campaign, item, sub in answers(engine, campaign_id, include_unreviewed):
        task = get_task_type(campaign.task_type)
        if not hasattr(task, "expressions"):
            continue  # only pointing-like task types have points
        img = images.setdefault(item.id, {"id": item.id, "file_name": item.media_key, "width": item.width,
                                          "height": item.height, "image_sha256": item.image_sha256,
                                          "coco_url": item.image_url or "", "not_present": [],
                                          "source_path": (item.meta or {}).get("source_path")})
        for e in task.expressions(sub.payload, item_context(item, campaign.config)):
            cid = cats.setdefault(e["label"], len(cats) + 1)
            if e["not_present"]:
                img["not_present"].append(e["label"])
            for p in e["points"]:
                x, y = float(p["x"]), float(p["y"])
                anns.append({"id": len(anns) + 1, "image_id": item.id, "category_id": cid, "keypoints": [x, y, 2],
                             "num_keypoints": 1, "bbox": [x, y, 0.0, 0.0], "area": 0.0, "iscrowd": 0,
                             "annotator_id": sub.uid, "submission_id": sub.sid})
    return {
        "info": {"description": "PixMo annotation app export (COCO keypoints)"},
        "images": list(images.values()),
        "annotations": anns,
        "categories": [{"id": i, "name": n, "supercategory": "object", "keypoints": ["point"], "skeleton": []}
                       for n, i in cats.items()],
    }
