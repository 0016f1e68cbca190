"""Every writer command refuses to replace a set silently, and a kill -9 in the middle of a
generator run with --overwrite leaves the previous set intact; the next run completes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from pixmo.cli import main
from pixmo.shards import read_manifest
from pixmo.shardset import staging_dir
from pixmo.validate import validate_dir
from tests.pixmo.test_shardset import snapshot

ROOT = Path(__file__).resolve().parents[2]
CLOCKS = ["gen", "clocks", "--num", "8", "--per-shard", "2", "--size", "96", "--workers", "1", "--quiet"]


def test_gen_refuses_another_set_and_overwrites_or_appends_when_told(tmp_path, capsys):
    out = tmp_path / "clocks"
    assert main([*CLOCKS, "--out", str(out), "--seed", "1"]) == 0
    before = snapshot(out)
    assert main([*CLOCKS, "--out", str(out), "--seed", "1"]) == 0  # the same command again: a rerun
    assert snapshot(out) == before
    capsys.readouterr()
    assert main([*CLOCKS, "--out", str(out), "--seed", "2"]) == 2
    err = capsys.readouterr().err
    assert "already holds a shard set" in err and len(err.strip().splitlines()) == 1
    assert snapshot(out) == before
    assert main([*CLOCKS, "--out", str(out), "--seed", "2", "--append"]) == 0
    assert [s["name"] for s in read_manifest(out)["shards"]] == [f"shard-{i:06d}.tar" for i in range(8)]
    assert validate_dir(out).ok
    assert main([*CLOCKS, "--out", str(out), "--seed", "3", "--overwrite"]) == 0
    assert len(read_manifest(out)["shards"]) == 4 and validate_dir(out).ok
    assert not list(out.glob("*.tmp")) and not staging_dir(out).exists()


def test_kill_9_during_gen_overwrite_keeps_the_old_set_and_the_rerun_completes(tmp_path):
    out = tmp_path / "clocks"
    assert main([*CLOCKS, "--out", str(out), "--seed", "1"]) == 0
    before = snapshot(out)
    cmd = [sys.executable, "-m", "pixmo.cli", "gen", "clocks", "--num", "60", "--per-shard", "3", "--size", "160",
           "--workers", "1", "--quiet", "--seed", "7", "--overwrite", "--out", str(out)]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    staged = staging_dir(out)
    deadline = time.time() + 120
    while time.time() < deadline and len(list(staged.glob("*.stats.json"))) < 2 and proc.poll() is None:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert len(list(staged.glob("*.tar"))) < 20, "the run should have been killed part way"
    assert snapshot(out) == before, "the killed run touched the published set"
    res = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-2000:]
    assert read_manifest(out)["num_samples"] == 60 and validate_dir(out).ok


def test_generated_clock_set_loads_with_the_hf_webdataset_loader(tmp_path):
    import glob

    import pytest

    datasets = pytest.importorskip("datasets")
    out = tmp_path / "clocks"
    assert main([*CLOCKS, "--out", str(out), "--seed", "1"]) == 0  # meta holds nested, partly null scene facts
    ds = datasets.load_dataset("webdataset", data_files={"train": sorted(glob.glob(str(out / "*.tar")))},
                               split="train", cache_dir=str(tmp_path / "hf"))
    assert len(ds) == 8 and ds[0]["json"]["annotations"][0]["subset"] == "pixmo-clocks"


def test_gen_docs_refuses_another_set_and_overwrites_when_told(tmp_path, capsys):
    out = tmp_path / "docs"
    docs = ["gen", "docs", "--num", "2", "--per-shard", "2", "--renderers", "matplotlib", "--threads", "2",
            "--out", str(out)]
    assert main([*docs, "--seed", "1"]) == 0
    before = snapshot(out)
    capsys.readouterr()
    assert main([*docs, "--seed", "2"]) == 2
    assert "already holds a shard set" in capsys.readouterr().err
    assert snapshot(out) == before
    assert main([*docs, "--seed", "2", "--overwrite"]) == 0
    assert snapshot(out) != before and validate_dir(out).ok
