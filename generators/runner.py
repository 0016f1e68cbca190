"""The shared shard runner: (config, seed, shard index) -> samples -> one shard, in parallel.

Every shard is an independent task. A finished shard has its ``.tar`` and a ``.stats.json``
beside it; a rerun skips those and only makes the missing ones, then writes the manifest from
all the stats files. The same function runs in a local process pool or on Ray.

Each stats file records a fingerprint of (config, seed, items); a shard whose fingerprint does
not match the current run (another config or seed) is made again instead of being reused. So
``config`` holds what the shards' bytes depend on and nothing else (it also goes into the
manifest); how to make them (threads, time limits) is bound into ``fn`` with ``functools.partial``,
and how many (``--num``) and where (``--workers``, ``--executor``) are the tasks and ``run``'s own
arguments, so changing any of those reuses the finished shards. A rerun of the same command over a
published set that would hold fewer items (a smaller ``--num``) is refused unless ``mode`` is
``overwrite``.
Everything is made in a staging directory beside the output and published at the end
(``pixmo.shardset``): an output that holds another set is refused unless ``mode`` is
``overwrite`` or ``append``, and a killed run leaves the published set as it was.
A shard that fails stops the run with the error after the shards already running finish;
finished shards stay, so the rerun only makes what is missing.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import shutil
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from pixmo.shards import (
    Sample,
    ShardInfo,
    group_samples,
    remove_stale_tmp,
    shard_name,
    write_manifest,
    write_shard,
)
from pixmo.shardset import ShardSetExists, StagedSet

log = logging.getLogger(__name__)

STATS_SUFFIX = ".stats.json"


@dataclass(frozen=True)
class ShardTask:
    """One unit of work: which shard, its seed, and the items it covers (ints or input refs)."""

    index: int
    seed: int
    items: tuple[Any, ...]


@dataclass
class ShardResult:
    """What a shard function returns: the samples plus any counters worth keeping."""

    samples: list[Sample]
    stats: dict[str, Any] = field(default_factory=dict)


ShardFn = Callable[[Any, ShardTask], ShardResult]  # fn(config, task), picklable (a module function or a partial)


def plan_tasks(items: Sequence[Any], per_shard: int, seed: int) -> list[ShardTask]:
    """Split items into consecutive shards of ``per_shard``."""
    if per_shard <= 0:
        raise ValueError(f"per_shard must be positive, got {per_shard}")
    return [
        ShardTask(i, seed, tuple(items[start : start + per_shard]))
        for i, start in enumerate(range(0, len(items), per_shard))
    ]


def _stats_path(out: Path, index: int) -> Path:
    return out / (shard_name(index) + STATS_SUFFIX)


def fingerprint(config: Any, task: ShardTask) -> str:
    """What a shard's bytes depend on: the config, the task's seed and its items."""
    blob = json.dumps([config_dict(config), task.seed, list(task.items)], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def is_done(out: Path, index: int, fp: str | None = None) -> bool:
    """The shard and its stats exist (and, if ``fp`` is given, were made by the same config)."""
    out = Path(out)
    if not ((out / shard_name(index)).exists() and _stats_path(out, index).exists()):
        return False
    if fp is None:
        return True
    try:
        return json.loads(_stats_path(out, index).read_text()).get("fingerprint") == fp
    except (OSError, json.JSONDecodeError):
        return False


def run_shard(fn: ShardFn, config: Any, task: ShardTask, out: str) -> dict[str, Any]:
    """Make and write one shard (atomic), then its stats file. Runs in a worker."""
    started = time.time()
    return write_result(config, task, fn(config, task), out, started)


def write_result(config: Any, task: ShardTask, result: ShardResult, out: str, started: float) -> dict[str, Any]:
    """Write a made shard (atomic, fsync'ed), then its stats file, which marks the shard done."""
    out_dir = Path(out)
    info = write_shard(out_dir / shard_name(task.index), group_samples(result.samples))
    stats = {"shard": info.to_json(), "items": len(task.items), "stats": result.stats,
             "fingerprint": fingerprint(config, task), "started": round(started, 3),
             "seconds": round(time.time() - started, 3)}
    tmp = _stats_path(out_dir, task.index).with_suffix(".tmp")
    tmp.write_text(json.dumps(stats, indent=2, sort_keys=True, default=str))
    os.replace(tmp, _stats_path(out_dir, task.index))
    return stats


def config_dict(config: Any) -> dict[str, Any]:
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        return json.loads(json.dumps(dataclasses.asdict(config), default=str))
    if hasattr(config, "model_dump"):
        return config.model_dump(mode="json")
    return dict(config or {})


def run(
    fn: ShardFn,
    config: Any,
    tasks: Sequence[ShardTask],
    out: str | Path,
    *,
    dataset: str,
    split: str = "train",
    seed: int = 0,
    workers: int = 1,
    executor: str = "local",
    progress: bool = True,
    mode: str = "new",
    redo: Callable[[dict[str, Any]], bool] | None = None,
    finalize: Callable[[Path, Sequence[ShardTask]], Any] | None = None,
) -> dict[str, Any]:
    """Run every task not yet done, write the manifest and publish the set. Returns a summary.

    The shards are made in a staging directory beside ``out`` (``pixmo.shardset``): ``mode`` is
    new/overwrite/append, and a killed run leaves ``out`` as it was. Finished shards of the same
    run (in the staging directory or the published set) are reused unless ``redo(stats)`` says so.
    ``finalize(staging_dir, tasks)`` runs once every shard is made, before the manifest: a run-wide
    pass (the docs near-duplicate filter) that may rewrite shards and their stats files.
    """
    staged = StagedSet(out, mode=mode, keep_staging=True, same_as={
        "dataset": dataset, "split": split, "config": config_dict(config), "seed": seed})
    out_dir = staged.dir
    if mode == "new" and staged.mode == "overwrite":  # the same command again over its published set
        _refuse_fewer_items(staged.out, tasks)
    if staged.mode == "overwrite":
        _link_finished(staged.out, out_dir)
    remove_stale_tmp(out_dir)  # a killed earlier run may have left half-written files
    if staged.first_index:
        tasks = [dataclasses.replace(t, index=t.index + staged.first_index) for t in tasks]
    todo = [t for t in tasks if not is_done(out_dir, t.index, fingerprint(config, t))
            or (redo is not None and redo(json.loads(_stats_path(out_dir, t.index).read_text())["stats"]))]
    skipped = len(tasks) - len(todo)
    if executor == "ray":
        _run_ray(fn, config, todo, out_dir, workers, progress)
    elif executor == "local":
        _run_local(fn, config, todo, out_dir, workers, progress)
    else:
        raise ValueError(f"unknown executor {executor!r}; use 'local' or 'ray'")
    if finalize is not None:
        finalize(out_dir, tasks)
    infos, totals = list(staged.existing), dict[str, Any]()
    for t in tasks:
        st = json.loads(_stats_path(out_dir, t.index).read_text())
        infos.append(ShardInfo(**st["shard"]))
        _add_totals(totals, st["stats"])
    write_manifest(out_dir, infos, dataset=dataset, split=split, config=config_dict(config), seed=seed)
    manifest = staged.commit()
    return {"manifest": str(manifest), "shards": len(tasks), "skipped": skipped, "redone": len(todo),
            "first_index": staged.first_index, "samples": sum(i.samples for i in infos[staged.first_index:]),
            "stats": totals}


def _refuse_fewer_items(out: Path, tasks: Sequence[ShardTask]) -> None:
    """Data is not dropped silently: a rerun planning fewer items than the published set holds
    (per its stats files) needs ``overwrite``."""
    held = 0
    for p in out.glob("*" + STATS_SUFFIX):
        try:
            held += int(json.loads(p.read_text())["items"])
        except (OSError, ValueError, KeyError, TypeError):
            return  # not a set this runner wrote: nothing to compare with
    planned = sum(len(t.items) for t in tasks)
    if planned < held:
        raise ShardSetExists(f"{out} holds {held} items of this run and this one plans {planned}; pass "
                             "--overwrite to replace it with the smaller set")


def _link_finished(src: Path, dst: Path) -> None:
    """Hard-link the shards and stats files of the published set into the staging directory, so a
    rerun reuses what is finished (``is_done`` checks their fingerprints) without touching ``src``."""
    if not src.is_dir():
        return
    for p in src.iterdir():
        if p.is_file() and (p.name.endswith(".tar") or p.name.endswith(STATS_SUFFIX)) and not (dst / p.name).exists():
            try:
                os.link(p, dst / p.name)
            except OSError:
                shutil.copy2(p, dst / p.name)


def _add_totals(totals: dict[str, Any], stats: dict[str, Any]) -> None:
    """Sum numbers, and dicts of numbers key by key (e.g. counts per family)."""
    for k, v in stats.items():
        if isinstance(v, bool):
            continue
        if isinstance(v, int | float):
            totals[k] = totals.get(k, 0) + v
        elif isinstance(v, dict):
            _add_totals(totals.setdefault(k, {}), v)


def _bar(progress: bool, label: str) -> Progress:
    return Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), disable=not progress)


def _run_local(fn: ShardFn, config: Any, todo: list[ShardTask], out: Path, workers: int, progress: bool) -> None:
    with _bar(progress, "shards") as bar:
        tid = bar.add_task("shards", total=len(todo))
        if workers <= 1:
            _run_pipelined(fn, config, todo, out, lambda: bar.advance(tid))
            return
        with ProcessPoolExecutor(max_workers=min(workers, len(todo) or 1)) as pool:
            futs = [pool.submit(run_shard, fn, config, t, str(out)) for t in todo]
            try:
                for f in as_completed(futs):
                    f.result()
                    bar.advance(tid)
            except BaseException:
                pool.shutdown(wait=True, cancel_futures=True)
                raise


def _run_pipelined(fn: ShardFn, config: Any, todo: list[ShardTask], out: Path, advance: Callable[[], None]) -> None:
    """One process: a writer thread writes (and fsyncs) shard i while shard i+1 is made, so the
    disk's fsync does not stall the work. At most two shards are held in memory. A shard is done
    (its stats file written) only after its bytes are on disk; an error waits for the write in flight."""
    with ThreadPoolExecutor(1, thread_name_prefix="shard-writer") as writer:
        pending: Future | None = None
        for t in todo:
            started = time.time()
            result = fn(config, t)
            if pending is not None:
                pending.result()
                advance()
            pending = writer.submit(write_result, config, t, result, str(out), started)
        if pending is not None:
            pending.result()
            advance()


def _run_ray(fn: ShardFn, config: Any, todo: list[ShardTask], out: Path, workers: int, progress: bool) -> None:
    import ray

    if not todo:
        return
    started = not ray.is_initialized()
    if started:
        os.environ.setdefault("RAY_AUTH_MODE", "disabled")
        ray.init(num_cpus=max(workers, 1), include_dashboard=False, log_to_driver=False,
                 object_store_memory=256 * 2**20, ignore_reinit_error=True)
    try:
        remote = ray.remote(run_shard)
        refs = [remote.remote(fn, config, t, str(out)) for t in todo]
        with _bar(progress, "shards (ray)") as bar:
            tid = bar.add_task("shards", total=len(todo))
            while refs:
                done, refs = ray.wait(refs, num_returns=1)
                ray.get(done)
                bar.advance(tid)
    finally:
        if started:
            ray.shutdown()
