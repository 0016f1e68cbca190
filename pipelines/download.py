"""`pixmo download`: a published PixMo subset (Parquet of URLs + sha256) -> verified shards + failure report.

Rows are grouped by image (``pixmo.download.plan_items``) and split into shards of
``images_per_shard`` images; every shard is an independent task of the shared shard runner
(``generators.runner``), so finished shards are skipped on a rerun and the same run goes to Ray
with ``executor="ray"``. Inside a shard, ``pixmo.download`` fetches with threads and keeps a
state file, so a killed shard resumes without re-fetching what it finished.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from generators.runner import STATS_SUFFIX, ShardResult, ShardTask, fingerprint, plan_tasks, run
from pixmo.download import (
    DownloadConfig,
    DownloadError,
    ItemState,
    Outcome,
    download_items,
    item_sample,
    plan_items,
)
from pixmo.records import RECORD_TYPES
from pixmo.shards import Sample, decode_sample, iter_raw, sha256_hex, shard_name
from pixmo.shardset import staging_dir

FAILURES = "failures.json"
STATE_DIR = ".state"


@dataclass(frozen=True)
class ImportConfig:
    """What an import's shards depend on: fingerprinted per shard by the runner and written to the
    manifest (the same fields, so the same fingerprints, as the plain class it replaces)."""

    subset: str
    images_per_shard: int = 1000
    source: tuple[str, ...] = ()  # the Parquet file names: another source is another set

    def __post_init__(self) -> None:
        if self.images_per_shard < 1:
            raise ValueError(f"images per shard must be at least 1, got {self.images_per_shard}")


@dataclass(frozen=True)
class ImportRun:
    """How an import runs, not what it makes: where its state lives, download tuning (threads,
    delays, retries) and the per-image bar. Not fingerprinted, so a rerun with other tuning still
    skips the shards it finished; bound into the shard function with ``functools.partial``."""

    out: str
    download: DownloadConfig = field(default_factory=DownloadConfig)
    progress: bool = False  # per-image progress bar (only for in-process runs)


# --- reading the published rows ------------------------------------------------------------


def parquet_files(source: str) -> list[Path]:
    """A local .parquet file, a directory of them, or a hub dataset name (needs network)."""
    p = Path(source)
    if p.is_file():
        return [p]
    if p.is_dir():
        files = sorted(p.rglob("*.parquet"))
        if not files:
            raise DownloadError(f"{source}: no .parquet files in this directory")
        return files
    if "/" in source and not source.startswith((".", "/")):
        return _hub_files(source)
    raise DownloadError(f"{source}: no such file or directory (nor a hub name like allenai/pixmo-points)")


def _hub_files(name: str) -> list[Path]:
    try:
        from huggingface_hub import snapshot_download
    except ImportError:
        raise DownloadError("hub names need huggingface_hub: pip install huggingface_hub") from None
    try:
        local = snapshot_download(repo_id=name, repo_type="dataset", allow_patterns=["*.parquet"])
    except Exception as exc:  # offline, unknown repo, auth
        raise DownloadError(f"could not fetch the Parquet files of {name} from the hub: {exc} "
                            "(offline? unset HF_HUB_OFFLINE, or pass a local --parquet path)") from None
    return parquet_files(local)


def read_rows(source: str, limit: int | None = None) -> list[dict[str, Any]]:
    import pyarrow.parquet as pq

    rows: list[dict[str, Any]] = []
    for f in parquet_files(source):
        try:
            rows.extend(pq.read_table(f).to_pylist())
        except Exception as exc:
            raise DownloadError(f"{f}: not a readable Parquet file: {exc}") from None
        if limit is not None and len(rows) >= limit:
            return rows[:limit]
    return rows


# --- one shard -----------------------------------------------------------------------------


def _state_dir(out: str, index: int) -> Path:
    return staging_dir(out) / STATE_DIR / shard_name(index)


def _failure_row(item: Any, out: Outcome) -> dict[str, Any]:
    return {"key": out.key, "rows": out.rows, "urls": item.urls, "url": out.url, "kind": out.kind,
            "reason": out.reason, "status": out.status, "detail": out.detail, "attempts": out.attempts}


def _previous(cfg: ImportConfig, task: ShardTask, out: str) -> tuple[list[Sample], set[str] | None]:
    """The samples of this shard made by an earlier run of the same shard, and the keys of the items
    that failed then (None when there is no such shard): a rerun only fetches those again."""
    d = staging_dir(out)
    tar, stats = d / shard_name(task.index), d / (shard_name(task.index) + STATS_SUFFIX)
    if not (tar.exists() and stats.exists()):
        return [], None
    st = json.loads(stats.read_text())
    if st.get("fingerprint") != fingerprint(cfg, task):
        return [], None
    failed = {f["key"] for f in st["stats"].get("failures", [])}
    return [decode_sample(k, m, validate=False) for k, m in iter_raw(str(tar))], failed


def download_shard(cfg: ImportConfig, task: ShardTask, opts: ImportRun) -> ShardResult:
    """Fetch the images of one shard; good ones become samples, bad ones failure rows. When an
    earlier run made this shard, its samples are kept and only its failed items are fetched again."""
    state = ItemState(_state_dir(opts.out, task.index))
    samples, failed_before = _previous(cfg, task, opts.out)
    items = [it for it in task.items if failed_before is None or it.key in failed_before]
    failures = []
    counts: Counter = Counter(ok=len(samples), annotations=sum(len(s.annotations) for s in samples))
    fetched: list[tuple[Any, Outcome, bytes]] = []
    with _progress(opts.progress, len(items), f"shard {task.index}") as tick:
        for item, out, data in download_items(items, opts.download, state):
            tick()
            if out.ok and data is not None:
                fetched.append((item, out, data))
            else:
                counts[out.kind] += 1
                failures.append(_failure_row(item, out))
    same = Counter(sha256_hex(d) for it, _, d in fetched if it.sha256 is None)
    for item, out, data in fetched:
        n = same[sha256_hex(data)] if item.sha256 is None else 1
        if n > 1:  # identical bytes behind several URLs of a hashless subset: a host's placeholder
            counts["wrong"] += 1
            failures.append(_failure_row(item, Outcome(
                out.key, False, out.url, "placeholder",
                f"the same bytes (sha256 {sha256_hex(data)[:16]}...) came from {n} different URLs",
                out.status, out.attempts, out.rows)))
            continue
        counts["ok"] += 1
        samples.append(item_sample(cfg.subset, item, out, data))
        counts["annotations"] += len(item.rows)
    stats = {"images": counts["ok"], "dead": counts["dead"], "wrong": counts["wrong"],
             "annotations": counts["annotations"], "failures": failures}
    return ShardResult(samples, stats)


class _progress:
    def __init__(self, on: bool, total: int, label: str):
        self.on, self.total, self.label = on, total, label

    def __enter__(self) -> Any:
        if not self.on:
            return lambda: None
        from rich.progress import Progress

        self.bar = Progress()
        self.bar.start()
        tid = self.bar.add_task(f"images ({self.label})", total=self.total)
        return lambda: self.bar.advance(tid)

    def __exit__(self, *_: Any) -> None:
        if self.on:
            self.bar.stop()


# --- the whole run -------------------------------------------------------------------------


def import_subset(subset: str, source: str, out: str | Path, *, dl: DownloadConfig | None = None,
                  images_per_shard: int = 1000, workers: int = 1, executor: str = "local",
                  limit: int | None = None, progress: bool = True, seed: int = 0,
                  mode: str = "new") -> dict[str, Any]:
    """Read the Parquet rows, download every image into shards, write ``failures.json``.

    A rerun of the same command keeps the images it has and fetches again every item that failed
    (``retried`` in the summary). ``mode`` is the shard writer's (new/overwrite/append).
    """
    if subset not in RECORD_TYPES:
        raise DownloadError(f"unknown subset {subset!r}; expected one of {', '.join(RECORD_TYPES)}")
    if "image_url" not in RECORD_TYPES[subset].model_fields:
        raise DownloadError(f"{subset} embeds its images or ships none; there is nothing to download")
    names = tuple(f.name for f in parquet_files(source))
    rows = read_rows(source, limit)
    items, rejected = plan_items(subset, rows)
    out = Path(out)
    cfg = ImportConfig(subset, images_per_shard, source=names)
    opts = ImportRun(str(out), dl or DownloadConfig(), progress=progress and workers <= 1 and executor == "local")
    tasks = plan_tasks(items, images_per_shard, seed)
    retried = _failed_before(cfg, tasks, out) if mode != "overwrite" else 0
    summary = run(partial(download_shard, opts=opts), cfg, tasks, out, dataset=subset, seed=seed, workers=workers,
                  executor=executor, progress=progress and not opts.progress, mode=mode,
                  redo=lambda st: bool(st.get("failures")))
    first = summary["first_index"]
    report = failure_report(out, [t.index + first for t in tasks], rejected, len(rows), len(items))
    shutil.rmtree(out / STATE_DIR, ignore_errors=True)  # finished shards need their state no more
    return {**summary, **{k: report[k] for k in ("rows", "images", "ok", "dead", "wrong", "bad_records")},
            "retried": retried}


def _failed_before(cfg: ImportConfig, tasks: list[ShardTask], out: Path) -> int:
    """How many items an earlier run of these shards (published or staged) failed: this run retries them."""
    n = 0
    for t in tasks:
        for d in (staging_dir(out), out):
            stats = d / (shard_name(t.index) + STATS_SUFFIX)
            if stats.exists():
                st = json.loads(stats.read_text())
                if st.get("fingerprint") == fingerprint(cfg, t):
                    n += len(st["stats"].get("failures", []))
                break
    return n


def failure_report(out: Path, indices: list[int], rejected: list[dict[str, Any]], n_rows: int,
                   n_images: int) -> dict[str, Any]:
    """Gather every shard's failures into ``failures.json``: counts by kind and reason, and each failure."""
    failures: list[dict[str, Any]] = []
    ok = 0
    for i in indices:
        st = json.loads((out / (shard_name(i) + STATS_SUFFIX)).read_text())["stats"]
        ok += int(st.get("images", 0))
        failures.extend(st.get("failures", []))
    by_reason = Counter(f["reason"] for f in failures)
    by_reason.update(r["reason"] for r in rejected)
    report = {
        "rows": n_rows, "images": n_images, "ok": ok,
        "dead": sum(f["kind"] == "dead" for f in failures), "wrong": sum(f["kind"] == "wrong" for f in failures),
        "bad_records": len(rejected), "by_reason": dict(sorted(by_reason.items())),
        "failures": failures, "rejected_rows": rejected,
    }
    (out / FAILURES).write_text(json.dumps(report, indent=2, sort_keys=True, default=str))
    return report


def failure_rate(report: dict[str, Any]) -> float:
    """Share of the images that did not arrive (0 when there were none to fetch)."""
    return 1.0 - report["ok"] / report["images"] if report["images"] else 0.0


def print_report(report: dict[str, Any], console: Any) -> None:
    from rich.table import Table

    t = Table(title=f"download: {report['ok']}/{report['images']} images ok, {report['dead']} dead, "
                    f"{report['wrong']} wrong, {report['bad_records']} bad rows")
    for c in ("reason", "count", "example url", "detail"):
        t.add_column(c, overflow="fold")
    examples: dict[str, dict[str, Any]] = {}
    for f in report["failures"]:
        examples.setdefault(f["reason"], f)
    for reason, n in report["by_reason"].items():
        ex = examples.get(reason, {})
        t.add_row(reason, str(n), str(ex.get("url", "")), str(ex.get("detail", ""))[:80])
    console.print(t)
