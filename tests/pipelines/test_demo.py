"""`make demo` with the tiny preset, and its report opened in Chromium."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from report_browser import open_report

from pipelines.demo import PRESETS, DemoConfig
from pipelines.stages import SKIP_REASONS, Context, Skip, Stage, run_stages

ROOT = Path(__file__).resolve().parents[2]


def assert_skips_declared(summary: dict, preset: DemoConfig) -> None:
    """A stage may be skipped only because the preset leaves it out, or because a stage it depends on was
    skipped that way; any other skip (a package that did not import, say) fails the test."""
    preset_skipped = set(preset.skip)
    for st in summary["stages"]:
        if st["status"] != "skipped":
            continue
        assert st["reason"] in SKIP_REASONS, f"stage {st['name']} skipped without a declared reason: {st}"
        if st["reason"] == "preset":
            assert st["name"] in preset_skipped, st
        else:  # upstream: only behind a stage the preset leaves out
            assert preset_skipped, f"stage {st['name']} skipped ({st['detail']}) although the preset skips nothing"


def test_undeclared_skips_and_broken_packages_fail_the_demo(tmp_path: Path) -> None:
    """A stage that raises an ImportError fails (it is not turned into a skip), and a skip must name a
    declared reason."""
    from rich.console import Console

    def broken(ctx: Context) -> str:
        import model._no_such_module  # noqa: F401 - the broken package under test

        return "unreachable"

    def preset(ctx: Context) -> str:
        raise Skip("preset", "left out")

    ctx = Context(out=tmp_path, config=PRESETS["tiny"], console=Console(quiet=True))
    outcomes = run_stages([Stage("train", broken), Stage("docs", preset)], ctx)
    assert [(o.status, o.reason) for o in outcomes] == [("failed", ""), ("skipped", "preset")]
    assert "ModuleNotFoundError" in outcomes[0].detail
    with pytest.raises(ValueError, match="undeclared skip reason"):
        Skip("package missing", "model is not importable")
    summary = {"stages": [{"name": "train", "status": "skipped", "reason": "", "detail": "?"}]}
    with pytest.raises(AssertionError, match="without a declared reason"):
        assert_skips_declared(summary, PRESETS["tiny"])


@pytest.mark.browser
@pytest.mark.xdist_group("demo")
def test_tiny_demo_report_loads_in_chromium(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    proc = subprocess.run([sys.executable, "-m", "pipelines.demo", "--out", str(out), "--preset", "tiny"],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    assert "report.html" in proc.stdout  # it prints where its outputs are
    summary = json.loads((out / "demo_summary.json").read_text())
    status = {s["name"]: s["status"] for s in summary["stages"]}
    assert status["samples"] == status["validate"] == status["report"] == "ok"
    assert not [n for n, s in status.items() if s == "failed"]
    assert_skips_declared(summary, PRESETS["tiny"])
    _every_shard_set_loads_in_hf_datasets(out, tmp_path / "hf-cache")

    shot = tmp_path / "report.png"
    seen = open_report(out / "report.html", shot)
    images = seen["images"]
    data = seen["data"]
    assert images, "the report has no images"
    broken = [i["alt"] for i in images if not (i["complete"] and i["w"] > 0 and i["h"] > 0)]
    assert not broken, f"images that did not load: {broken}"
    plots = [i for i in images if i["cls"] == "plot"]
    sheets = [i for i in images if i["cls"] == "sheet"]
    assert len(plots) == data["plots"] and len(sheets) == data["sheets"]
    assert data["sheets"] == len(data["datasets"]) >= 1
    assert data["has_curve"] == (status.get("train") == "ok")
    assert shot.stat().st_size > 10_000
    # keep the screenshot as an artifact next to the test's outputs
    artifacts = ROOT / "out" / "test-artifacts"
    artifacts.mkdir(parents=True, exist_ok=True)
    shutil.copy(shot, artifacts / "demo_report.png")


def _every_shard_set_loads_in_hf_datasets(out: Path, cache: Path) -> None:
    """Each shard set the demo writes loads with ``datasets``: by directory (its dataset card) and with
    the webdataset loader given ``pixmo.hfcard.features``; every sample comes back."""
    datasets = pytest.importorskip("datasets")
    from pixmo import hfcard
    from pixmo.shards import read_manifest

    sets = sorted(p.parent for p in out.rglob("manifest.json"))
    assert len(sets) >= 4, sets
    for d in sets:
        n = read_manifest(d)["num_samples"]
        files = sorted(str(p) for p in d.glob("*.tar"))
        by_dir = datasets.load_dataset(str(d), split=read_manifest(d)["split"], cache_dir=str(cache))
        plain = datasets.load_dataset("webdataset", data_files={"train": files}, split="train",
                                      features=hfcard.features(d), cache_dir=str(cache))
        assert len(by_dir) == len(plain) == n, d


@pytest.mark.parametrize(("kw", "says"), [({"clocks": -1}, "clocks must be >= 0"),
                                          ({"train_steps": 0}, "train_steps must be positive"),
                                          ({"shard_size": 0, "train_batch": 0}, "shard_size, train_batch must be")])
def test_demo_config_refuses_impossible_sizes(kw: dict, says: str) -> None:
    from pipelines.demo import PRESETS, DemoConfig

    assert set(PRESETS) == {"full", "tiny"}  # the presets themselves are valid
    with pytest.raises(ValueError, match=says):
        DemoConfig(**kw)
