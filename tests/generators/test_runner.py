"""The shared shard runner: determinism, resume after a kill, config changes, Ray == local."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from generators.clocks.generate import ClockConfig, clock_shard
from generators.runner import ShardResult, ShardTask, plan_tasks, run
from pixmo.shards import iter_samples, read_manifest
from pixmo.shardset import ShardSetExists, staging_dir

CFG = ClockConfig(size=128, examples_per_face=2)
ROOT = Path(__file__).resolve().parents[2]


def _run(out: Path, n: int = 12, per: int = 4, seed: int = 3, **kw) -> dict:
    return run(clock_shard, CFG, plan_tasks(range(n), per, seed), out, dataset="pixmo-clocks", seed=seed,
               progress=False, **kw)


def _shas(out: Path) -> list[str]:
    return [s["sha256"] for s in read_manifest(out)["shards"]]


def test_plan_tasks_splits_items_in_order():
    tasks = plan_tasks(list(range(10)), 4, 7)
    assert [t.items for t in tasks] == [(0, 1, 2, 3), (4, 5, 6, 7), (8, 9)]
    assert {t.seed for t in tasks} == {7} and [t.index for t in tasks] == [0, 1, 2]
    with pytest.raises(ValueError, match="per_shard"):
        plan_tasks([1], 0, 0)


def test_same_seed_gives_byte_identical_shards_and_manifest(tmp_path):
    a, b = _run(tmp_path / "a"), _run(tmp_path / "b", workers=2)
    assert a["shards"] == 3 and a["samples"] == b["samples"]
    assert _shas(tmp_path / "a") == _shas(tmp_path / "b")
    assert (tmp_path / "a/manifest.json").read_bytes() == (tmp_path / "b/manifest.json").read_bytes()
    assert sum(1 for _ in iter_samples(tmp_path / "a", verify=True)) == a["samples"]
    _run(tmp_path / "c", seed=4)
    assert _shas(tmp_path / "c") != _shas(tmp_path / "a")


def test_rerun_skips_done_shards_and_redoes_changed_config(tmp_path):
    out = tmp_path / "o"
    _run(out)
    first = {p.name: p.stat().st_mtime_ns for p in out.glob("*.tar")}
    (out / "shard-000001.tar").unlink()
    again = _run(out)
    assert again["skipped"] == 2
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("*.tar") if p.name != "shard-000001.tar"} == \
        {k: v for k, v in first.items() if k != "shard-000001.tar"}
    with pytest.raises(ShardSetExists):  # another seed is another set: never replaced silently
        _run(out, seed=9)
    other = _run(out, seed=9, mode="overwrite")  # another seed: nothing may be reused
    assert other["skipped"] == 0


def _boom(cfg, task: ShardTask) -> ShardResult:
    if task.index == 1:
        raise RuntimeError("shard 1 breaks")
    return clock_shard(cfg, task)


def test_a_failing_shard_stops_the_run_but_keeps_finished_ones(tmp_path):
    out = tmp_path / "o"
    with pytest.raises(RuntimeError, match="shard 1 breaks"):
        run(_boom, CFG, plan_tasks(range(12), 4, 3), out, dataset="pixmo-clocks", seed=3, progress=False)
    staged = staging_dir(out)  # nothing is published until the run completes
    assert not out.exists()
    assert (staged / "shard-000000.tar").exists() and not (staged / "shard-000001.tar").exists()
    assert _run(out)["skipped"] >= 1


def _boom_at_2(cfg, task: ShardTask) -> ShardResult:
    if task.index == 2:
        raise RuntimeError("shard 2 breaks")
    return clock_shard(cfg, task)


def test_the_shard_written_while_the_next_one_fails_is_finished(tmp_path):
    """One process writes shard i in a writer thread while it makes shard i+1: when shard 2 fails,
    shard 1 (its write still in flight) is completed with its stats file, not lost."""
    out = tmp_path / "o"
    with pytest.raises(RuntimeError, match="shard 2 breaks"):
        run(_boom_at_2, CFG, plan_tasks(range(12), 4, 3), out, dataset="pixmo-clocks", seed=3, progress=False)
    staged = staging_dir(out)
    for i in (0, 1):
        st = json.loads((staged / f"shard-00000{i}.tar.stats.json").read_text())
        assert st["shard"]["bytes"] == (staged / f"shard-00000{i}.tar").stat().st_size
        assert st["started"] > 0 and st["seconds"] >= 0
    assert not (staged / "shard-000002.tar").exists()
    assert _run(out)["skipped"] == 2


def test_killed_cli_run_resumes_without_redoing_finished_shards(tmp_path):
    out, ref = tmp_path / "killed", tmp_path / "ref"
    cmd = [sys.executable, "-m", "pixmo.cli", "gen", "clocks", "--num", "60", "--per-shard", "3", "--size", "160",
           "--workers", "1", "--seed", "5", "--quiet"]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(cmd + ["--out", str(out)], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    staged = staging_dir(out)
    while time.time() < deadline and len(list(staged.glob("*.stats.json"))) < 2 and proc.poll() is None:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = {p.name: p.stat().st_mtime_ns for p in staged.glob("*.tar")}
    assert 2 <= len(done) < 20, "the run should have been killed part way"
    res = subprocess.run(cmd + ["--out", str(out)], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    summary = json.loads(res.stdout.strip().splitlines()[-1])
    assert summary["skipped"] >= len(done) - 1  # a shard may have been mid-stats when killed
    kept = [n for n, t in done.items() if (out / n).stat().st_mtime_ns == t]
    assert len(kept) >= len(done) - 1
    subprocess.run(cmd + ["--out", str(ref)], cwd=ROOT, env=env, capture_output=True, check=True)
    assert _shas(out) == _shas(ref) and not list(out.glob("*.tmp"))


@pytest.mark.xdist_group("ray")
def test_ray_executor_gives_the_same_shards_as_local(tmp_path):
    pytest.importorskip("ray")
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    local = _run(tmp_path / "local", n=8, per=4)
    ray_run = _run(tmp_path / "ray", n=8, per=4, workers=2, executor="ray")
    assert ray_run["samples"] == local["samples"]
    assert _shas(tmp_path / "ray") == _shas(tmp_path / "local")
    assert (tmp_path / "ray/manifest.json").read_bytes() == (tmp_path / "local/manifest.json").read_bytes()
