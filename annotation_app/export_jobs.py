"""Campaign exports as background jobs (``annotation_app.jobs``) for the browser: start one, poll
its progress, download the file.

The file is what ``pixmo annotate export`` writes: COCO is the same JSON file byte for byte
(``write_coco``, which the CLI uses too); shards are the CLI's shard directory packed in one
deterministic tar (sorted names, fixed times and owners), so each member equals the CLI's file.
Progress counts the answers written so far (``done``/``total``) in the job's ``result``.
"""

from __future__ import annotations

import json
import secrets
import shutil
import tarfile
import threading
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, func, select, update

from annotation_app import jobs
from annotation_app.claiming import A
from annotation_app.export import export_coco, export_shards
from annotation_app.media import MediaStore
from annotation_app.models import Job, table

KIND = "export"
FORMATS = ("shards", "coco")
J = table(Job)


def write_coco(engine: Engine, campaign_id: int, out: Path, include_unreviewed: bool = False) -> dict[str, Any]:
    """Write the COCO export to ``out`` atomically (a temporary file renamed); returns the data."""
    data = export_coco(engine, campaign_id, include_unreviewed)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1))
    tmp.replace(out)
    return data


def tar_dir(src: Path, out: Path) -> None:
    """Pack ``src`` into ``out`` as ``<src name>/<file>`` members with sorted names and zeroed
    times and owners, so the same files make the same tar."""
    tmp = out.with_name(out.name + ".tmp")
    with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as tar:
        for p in sorted(q for q in src.rglob("*") if q.is_file()):
            info = tarfile.TarInfo(f"{src.name}/{p.relative_to(src).as_posix()}")
            info.size, info.mtime, info.mode = p.stat().st_size, 0, 0o644
            with p.open("rb") as f:
                tar.addfile(info, f)
    tmp.replace(out)


def total_answers(conn: Connection, campaign_id: int, include_unreviewed: bool) -> int:
    states = ["accepted", "submitted"] if include_unreviewed else ["accepted"]
    return int(conn.execute(select(func.count()).select_from(A).where(
        A.c.campaign_id == campaign_id, A.c.status.in_(states), A.c.submission_id.is_not(None))).scalar() or 0)


def start(conn: Connection, campaign_id: int, fmt: str, include_unreviewed: bool, subset: str | None,
          by: int) -> int:
    """Queue an export job (inside the caller's transaction); returns its id."""
    total = total_answers(conn, campaign_id, include_unreviewed)
    payload = {"campaign_id": campaign_id, "format": fmt, "include_unreviewed": include_unreviewed,
               "subset": subset, "by": by, "total": total}
    return jobs.enqueue(conn, KIND, f"{KIND}:{campaign_id}:{secrets.token_hex(8)}", payload, max_attempts=2)


def view(job: dict[str, Any]) -> dict[str, Any]:
    """What the browser polls: status, progress and, when done, the file's name and size."""
    res, pay = job.get("result") or {}, job["payload"] or {}
    return {"id": job["id"], "campaign_id": pay.get("campaign_id"), "format": pay.get("format"),
            "status": job["status"], "done": int(res.get("done", 0)), "total": int(res.get("total", pay.get("total", 0))),
            "filename": res.get("filename"), "bytes": res.get("bytes"),
            "error": (job.get("error") or "").strip().splitlines()[0] if job.get("error") else None}


class _Counting(MediaStore):
    """The media store, reporting each image read (one per exported sample) to ``tick``."""

    def __init__(self, inner: MediaStore, tick: Any):
        self.__dict__.update(inner.__dict__)
        self._tick = tick

    def get(self, key: str) -> bytes:
        data = super().get(key)
        self._tick()
        return data


def handler(engine: Engine, media: MediaStore, exports_root: Path) -> jobs.Handler:
    """The job handler: writes the export under ``exports_root/job-<id>/`` and returns the result."""

    def run(job: dict[str, Any]) -> dict[str, Any]:
        p, jid = job["payload"], job["id"]
        work = exports_root / f"job-{jid}"
        shutil.rmtree(work, ignore_errors=True)  # a retried job starts again from nothing
        work.mkdir(parents=True)
        done = [0]

        def tick() -> None:
            done[0] += 1
            if done[0] % 20 == 0 or done[0] == p["total"]:
                _progress(engine, jid, done[0], p["total"])

        name = f"campaign-{p['campaign_id']}"
        if p["format"] == "coco":
            out = work / f"{name}.json"
            data = write_coco(engine, p["campaign_id"], out, p["include_unreviewed"])
            done[0] = p["total"] if data["annotations"] or data["images"] else 0
        else:
            export_shards(engine, _Counting(media, tick), p["campaign_id"], work / name, subset=p.get("subset"),
                          include_unreviewed=p["include_unreviewed"])
            out = work / f"{name}.tar"
            tar_dir(work / name, out)
        return {"done": max(done[0], p["total"]), "total": p["total"], "filename": out.name,
                "path": str(out), "bytes": out.stat().st_size}

    return run


def _progress(engine: Engine, job_id: int, done: int, total: int) -> None:
    from annotation_app.db import write_tx

    with write_tx(engine) as conn:
        conn.execute(update(J).where(J.c.id == job_id, J.c.status == "running")
                     .values(result={"done": done, "total": total}))


def run_soon(engine: Engine, media: MediaStore, exports_root: Path) -> threading.Thread:
    """Run queued export jobs in a background thread of this process until none is left."""
    t = threading.Thread(target=jobs.run_worker, name="export-jobs", daemon=True,
                         args=(engine, {KIND: handler(engine, media, exports_root)}, threading.Event()),
                         kwargs={"once": True, "lease_s": 900.0})
    t.start()
    return t


def exports_root(settings: Any) -> Path:
    """Where export jobs write (next to the media root, like the shards export route)."""
    return Path(settings.media_root).parent / "exports"


def read_result(conn: Connection, job_id: int) -> dict[str, Any] | None:
    job = jobs.get_job(conn, job_id)
    return job if job is not None and job["kind"] == KIND else None

