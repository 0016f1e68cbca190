"""`pixmo mix` (stream and materialise) and `pixmo report` on small shard sets."""

from __future__ import annotations

import io
import json
import math
import re
from pathlib import Path

import numpy as np
from PIL import Image
from typer.testing import CliRunner

from pipelines.cli import app
from pipelines.samples import DEMO_META, demo_samples
from pixmo.mixture import MixtureConfig, mixture_rates
from pixmo.records import parse_record
from pixmo.shards import Annotation, Sample, iter_samples, read_manifest, sha256_hex, write_samples

runner = CliRunner()


def _random_set(out: Path, n: int, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    samples = []
    for _ in range(n):
        buf = io.BytesIO()
        Image.fromarray(rng.integers(0, 255, (20, 30, 3), dtype=np.uint8)).save(buf, "PNG")
        data = buf.getvalue()
        rec = parse_record("pixmo-count", {"image_url": "", "image_sha256": sha256_hex(data), "count": 1,
                                           "points": {"x": [3.0], "y": [4.0]}, "label": "dot"})
        samples.append(Sample(image=data, annotations=[Annotation.of(rec, **DEMO_META)]))
    write_samples(out, samples, dataset="random", max_count=40)
    return out


def _sets(tmp: Path) -> tuple[Path, Path, Path]:
    big = _random_set(tmp / "sets" / "big", 100, 1)
    small = tmp / "sets" / "small"
    write_samples(small, demo_samples(), dataset="bundled")
    cfg = tmp / "mix.json"
    cfg.write_text(json.dumps({"sources": [
        {"name": "big", "path": str(big), "style": "point_count"},
        {"name": "small", "path": str(small), "cap": 4, "style": "pointing"}]}))
    return big, small, cfg


def test_mix_stream_and_materialise_follow_sqrt_rates(tmp_path: Path) -> None:
    big, small, cfg = _sets(tmp_path)
    rates = mixture_rates(MixtureConfig.load(cfg))
    expect_big = math.sqrt(100) / (math.sqrt(100) + math.sqrt(4))  # small is capped at 4
    assert abs(rates["big"] - expect_big) < 1e-9

    res = runner.invoke(app, ["mix", str(cfg), "--stream", "--num", "600"])
    assert res.exit_code == 0, res.output
    assert "big" in res.output and "small" in res.output

    out = tmp_path / "mixed"
    res = runner.invoke(app, ["mix", str(cfg), "--out", str(out), "--num", "300", "--per-shard", "50"])
    assert res.exit_code == 0, res.output
    summary = json.loads((out / "mixture.json").read_text())
    drawn = {s["name"]: s["drawn"] for s in summary["sources"]}
    assert sum(drawn.values()) == 300
    share = drawn["big"] / 300
    assert abs(share - expect_big) < 4 * math.sqrt(expect_big * (1 - expect_big) / 300)
    samples = list(iter_samples(out, verify=True))
    keys = [s.key for s in samples]
    assert len(keys) == len(set(keys)) == summary["unique_images"]
    assert summary["repeated_draws"] == 300 - len(keys)
    styles = {a.meta["mixture_source"]: a.meta.get("style") for s in samples for a in s.annotations}
    assert styles == {"big": "point_count", "small": "pointing"}
    assert read_manifest(out)["num_samples"] == len(keys)


def test_mix_needs_out_or_stream(tmp_path: Path) -> None:
    _, _, cfg = _sets(tmp_path)
    res = runner.invoke(app, ["mix", str(cfg)])
    assert res.exit_code != 0 and "--out" in res.output
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    res = runner.invoke(app, ["mix", str(bad), "--stream"])
    assert res.exit_code != 0 and "sources" in res.output


def test_report_of_a_folder_of_shard_sets(tmp_path: Path) -> None:
    _sets(tmp_path)
    out = tmp_path / "r.html"
    res = runner.invoke(app, ["report", str(tmp_path / "sets"), "--out", str(out), "--title", "Two sets"])
    assert res.exit_code == 0, res.output
    html = out.read_text()
    assert "<title>Two sets</title>" in html
    data = json.loads(re.search(r"id='report-data'>(.*?)</script>", html).group(1))
    assert {d["name"] for d in data["datasets"]} == {"big", "small"}
    assert {d["name"]: d["samples"] for d in data["datasets"]} == {"big": 100, "small": 8}
    imgs = re.findall(r'<img class="(\w+)" alt="[^"]*" src="data:image/(png|jpeg);base64,([A-Za-z0-9+/=]+)"', html)
    assert sum(c == "plot" for c, _, _ in imgs) == data["plots"] == 3
    assert sum(c == "sheet" for c, _, _ in imgs) == data["sheets"] == 2
    import base64

    for _, _, b64 in imgs:  # every embedded picture decodes
        Image.open(io.BytesIO(base64.b64decode(b64))).verify()
    assert "http://" not in html and "https://" not in html  # self-contained


def test_report_refuses_a_folder_without_shards(tmp_path: Path) -> None:
    res = runner.invoke(app, ["report", str(tmp_path), "--out", str(tmp_path / "r.html")])
    assert res.exit_code != 0 and "manifest.json" in res.output


def _shared_image_sets(tmp: Path) -> tuple[Path, Path, list[bytes]]:
    """Two sources holding the same 3 images with different annotations (count vs. points)."""
    rng = np.random.default_rng(5)
    imgs = []
    for _ in range(3):
        buf = io.BytesIO()
        Image.fromarray(rng.integers(0, 255, (20, 30, 3), dtype=np.uint8)).save(buf, "PNG")
        imgs.append(buf.getvalue())
    a = [Sample(image=d, annotations=[Annotation.of(parse_record("pixmo-count", {
        "image_url": "", "image_sha256": sha256_hex(d), "count": 1, "points": {"x": [3.0], "y": [4.0]},
        "label": "dot"}))]) for d in imgs]
    b = [Sample(image=d, annotations=[Annotation.of(parse_record("pixmo-points", {
        "image_url": "", "image_sha256": sha256_hex(d), "points": [{"x": 50.0, "y": 50.0}], "count": 1,
        "label": "dot", "collection_method": "pointing"}))]) for d in imgs]
    write_samples(tmp / "a", a, dataset="a")
    write_samples(tmp / "b", b, dataset="b")
    return tmp / "a", tmp / "b", imgs


def test_mix_keeps_the_annotations_of_every_source_that_drew_an_image(tmp_path: Path) -> None:
    from pipelines.mix import materialise

    a, b, imgs = _shared_image_sets(tmp_path)
    cfg = MixtureConfig.load(_write_cfg(tmp_path, [
        {"name": "counting", "path": str(a), "style": "point_count"},
        {"name": "pointing", "path": str(b), "style": "pointing"}]))
    summary = materialise(cfg, tmp_path / "mixed", 60, progress=False)
    samples = list(iter_samples(tmp_path / "mixed", verify=True))
    assert sorted(s.key for s in samples) == sorted(sha256_hex(d) for d in imgs)
    for s in samples:  # each image holds one annotation per source, tagged with that source's style
        tags = sorted((a.subset, a.meta["mixture_source"], a.meta["style"]) for a in s.annotations)
        assert tags == [("pixmo-count", "counting", "point_count"), ("pixmo-points", "pointing", "pointing")]
        assert sum(a.meta["mixture_draws"] for a in s.annotations) >= 2
    assert summary["unique_images"] == 3 and summary["images_from_several_sources"] == 3
    assert summary["annotations_written"] == 6 == sum(len(s.annotations) for s in samples)
    assert {r["name"]: r["annotations_written"] for r in summary["sources"]} == {"counting": 3, "pointing": 3}
    assert sum(r["drawn"] for r in summary["sources"]) == 60
    assert json.loads((tmp_path / "mixed" / "mixture.json").read_text())["annotations_written"] == 6


def _write_cfg(tmp: Path, sources: list[dict]) -> Path:
    p = tmp / "mix.json"
    p.write_text(json.dumps({"sources": sources}))
    return p


def test_mixture_stream_holds_at_most_the_shuffle_buffer_and_covers_each_epoch(tmp_path: Path) -> None:
    from pixmo.mixture import MixtureSource, _epochs

    src = _random_set(tmp_path / "r", 30, 2)  # 30 samples in shards of 40 -> one shard
    write_samples(tmp_path / "r2", list(iter_samples(src)), dataset="random", max_count=7)  # 5 shards
    keys = {s.key for s in iter_samples(src)}
    stream = _epochs(MixtureSource("r", str(tmp_path / "r2")), seed=1, buffer=4)
    first = [next(stream).key for _ in range(30)]
    second = [next(stream).key for _ in range(30)]
    assert set(first) == set(second) == keys and len(set(first)) == 30
    assert first != second  # a new order every epoch


def test_report_skips_a_killed_writers_staging_folder(tmp_path: Path) -> None:
    from pipelines.report import find_shard_dirs

    _random_set(tmp_path / "sets" / "a", 3, 1)
    _random_set(tmp_path / "sets" / ".b.staging", 3, 2)  # what a writer killed before publishing leaves
    assert [name for name, _ in find_shard_dirs(tmp_path / "sets")] == ["a"]
