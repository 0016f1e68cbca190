"""Count: the default detector on images with known content, skipping bad input, splits, HF path."""

from __future__ import annotations

import functools
import http.server
import io
import json
import logging
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from generators.common import package_dir
from generators.count import sources
from generators.count.detectors import Detection, OpenCVDetector, make_detector
from generators.count.generate import DetectConfig, SplitConfig, choose, detect_shard, split_candidates
from generators.runner import plan_tasks, run
from pixmo.records import CountPoints, PixmoCount
from pixmo.shards import Annotation, Sample, iter_samples, sha256_hex, write_samples

SK = package_dir("skimage") / "data"
GRACE = package_dir("matplotlib") / "mpl-data" / "sample_data" / "grace_hopper.jpg"


def _rgb(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


@pytest.fixture(scope="module")
def opencv() -> OpenCVDetector:
    return OpenCVDetector()


@pytest.mark.parametrize("path, label, n", [(SK / "astronaut.png", "face", 1), (GRACE, "face", 1),
                                            (SK / "camera.png", "face", 1), (SK / "chelsea.png", "cat", 1)])
def test_default_detector_counts_known_images(opencv, path, label, n):
    image = _rgb(path)
    dets = opencv.detect(image)
    chosen_label, chosen = choose(dets, opencv.labels, "k")
    assert (chosen_label, len(chosen)) == (label, n)
    x, y = chosen[0].center
    assert 0 <= x <= image.shape[1] and 0 <= y <= image.shape[0]


def test_default_detector_finds_nothing_in_a_coffee_cup(opencv):
    assert opencv.detect(_rgb(SK / "coffee.png")) == []


def test_astronaut_face_point_is_on_her_face(opencv):
    (face,) = [d for d in opencv.detect(_rgb(SK / "astronaut.png")) if d.label == "face"]
    x, y = face.center
    assert 180 < x < 280 and 60 < y < 170  # the face sits at about (225, 115) in the 512x512 image


@pytest.fixture
def image_server(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    shutil.copy(SK / "coins.png", root / "coins.png")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a, **k: None  # type: ignore[attr-defined]
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


def test_unreadable_images_and_detector_errors_are_skipped_and_logged(tmp_path, image_server, monkeypatch, caplog):
    folder = tmp_path / "imgs"
    folder.mkdir()
    shutil.copy(SK / "astronaut.png", folder / "astronaut.png")
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg")
    (tmp_path / "urls.txt").write_text(f"{image_server}/coins.png\n{image_server}/missing.png\n")
    refs = sources.folder_refs(folder) + sources.url_refs(tmp_path / "urls.txt")
    real = OpenCVDetector.detect

    def flaky(self, image):
        if image.shape[:2] == (303, 384):  # coins.png: the detector "crashes" on it
            raise RuntimeError("simulated detector crash")
        return real(self, image)

    monkeypatch.setattr(OpenCVDetector, "detect", flaky)
    caplog.set_level(logging.WARNING)
    summary = run(detect_shard, DetectConfig(), plan_tasks(refs, 2, 0), tmp_path / "out/candidates",
                  dataset="pixmo-count-candidates", split="candidates", progress=False)
    assert summary["stats"] == {"images": 1, "unreadable": 2, "detector_errors": 1}
    text = caplog.text
    assert "broken.jpg" in text and "missing.png" in text and "simulated detector crash" in text
    (s,) = list(iter_samples(tmp_path / "out/candidates", verify=True))
    assert (s.annotations[0].record.label, s.annotations[0].record.count) == ("face", 1)


def _fake_candidates(out: Path, counts: list[int]) -> None:
    rng = np.random.default_rng(0)
    samples = []
    for i, n in enumerate(counts):
        buf = io.BytesIO()
        Image.fromarray(rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)).save(buf, "PNG")
        s = Sample(image=buf.getvalue(), image_url=f"file:/img{i}.png")
        pts = CountPoints(x=[1.0 + k for k in range(n)], y=[2.0] * n)
        s.annotations.append(Annotation.of(PixmoCount(image_url=s.image_url, image_sha256=s.key, count=n, points=pts,
                                                      label="cat")))
        samples.append(s)
    write_samples(out, samples, dataset="pixmo-count-candidates", split="candidates")


def test_splits_balance_train_and_give_equal_eval_counts(tmp_path):
    counts = [0] * 30 + [1] * 25 + [c for c in range(2, 11) for _ in range(12 - c // 2)] + [13] * 3
    _fake_candidates(tmp_path / "cand", counts)
    res = split_candidates(tmp_path / "cand", tmp_path, SplitConfig(eval_per_count=3), seed=1, per_shard=20)
    assert res["validation"]["per_count"] == {c: 3 for c in range(2, 11)} == res["test"]["per_count"]
    train = res["train"]["per_count"]
    assert set(train) <= set(range(0, 11)) and max(train.values()) - min(train.values()) <= 3
    keys = {sp: {s.key for s in iter_samples(tmp_path / sp, verify=True)} for sp in ("train", "validation", "test")}
    assert not (keys["train"] & keys["validation"]) and not (keys["validation"] & keys["test"])
    for s in iter_samples(tmp_path / "validation"):
        a = s.annotations[0]
        assert a.record.points.x == [] and 2 <= a.record.count <= 10
        assert len(a.meta["detector_points"]["x"]) == a.record.count and a.meta["needs_verification"]
    again = split_candidates(tmp_path / "cand", tmp_path / "b", SplitConfig(eval_per_count=3), seed=1, per_shard=20)
    assert again == res
    assert (tmp_path / "b/test/manifest.json").read_bytes() == (tmp_path / "test/manifest.json").read_bytes()


def test_shard_source_yields_every_image(tmp_path):
    _fake_candidates(tmp_path / "s", [0, 1, 2])
    refs = sources.shard_refs(str(tmp_path / "s"))
    got = [(url, data) for ref in refs for url, data in sources.load(ref)]
    assert len(got) == 3
    # the samples' file: URLs are paths of the machine that made them: stored as the bytes' hash
    assert all(u == "sha256:" + sha256_hex(d) for u, d in got)
    with pytest.raises(sources.SourceError):
        sources.folder_refs(tmp_path / "nope")


def test_hf_detector_path_with_a_tiny_random_detr(tmp_path):
    pytest.importorskip("torch")
    from transformers import DetrConfig, DetrForObjectDetection, DetrImageProcessor, ResNetConfig

    bb = ResNetConfig(embedding_size=8, hidden_sizes=[8, 16], depths=[1, 1], out_features=["stage2"])
    labels = {0: "face", 1: "cat", 2: "person"}
    cfg = DetrConfig(use_timm_backbone=False, backbone_config=bb, use_pretrained_backbone=False, d_model=16,
                     encoder_layers=1, decoder_layers=1, encoder_attention_heads=2, decoder_attention_heads=2,
                     encoder_ffn_dim=32, decoder_ffn_dim=32, num_queries=8, num_labels=3, id2label=labels,
                     label2id={v: k for k, v in labels.items()})
    DetrForObjectDetection(cfg).save_pretrained(tmp_path / "detr")
    DetrImageProcessor(size={"shortest_edge": 64, "longest_edge": 96}).save_pretrained(tmp_path / "detr")
    det = make_detector(f"hf:{tmp_path / 'detr'}", threshold=0.0)
    assert det.labels == ("face", "cat", "person")
    image = _rgb(SK / "astronaut.png")
    dets = det.detect(image)
    assert dets and all(isinstance(d, Detection) and d.label in det.labels for d in dets)
    assert all(0 <= d.box[0] <= d.box[2] <= 512 and 0 <= d.box[1] <= d.box[3] <= 512 for d in dets)
    res = detect_shard(DetectConfig(detector=f"hf:{tmp_path / 'detr'}", threshold=0.0),
                       plan_tasks(["bundled:skimage/data/astronaut.png"], 1, 0)[0])
    rec = res.samples[0].annotations[0].record
    assert res.stats["images"] == 1 and rec.count == len(rec.points.x) >= 1 and rec.label in det.labels


def test_cli_runs_on_a_folder_and_output_validates(tmp_path, capsys):
    from typer.testing import CliRunner

    from generators.cli import app

    folder = tmp_path / "imgs"
    folder.mkdir()
    for name in ("astronaut.png", "chelsea.png"):
        shutil.copy(SK / name, folder / name)
    res = CliRunner().invoke(app, ["count", "--images", str(folder), "--out", str(tmp_path / "o"), "--workers", "1",
                                   "--quiet"])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.output.strip().splitlines()[-1])
    assert summary["images"] == 2 and summary["splits"]["train"]["per_count"] == {"1": 2}
    recs = [s.annotations[0].record for s in iter_samples(tmp_path / "o/train", verify=True)]
    assert sorted(r.label for r in recs) == ["cat", "face"]
    from pixmo.cli import main

    capsys.readouterr()
    assert main(["gen", "count", "--images", str(tmp_path / "none"), "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "not a directory" in err and len(err.strip().splitlines()) == 1


def test_rerun_with_other_workers_reuses_the_candidates(tmp_path, capsys):
    """The candidate shards do not depend on --workers (the old code cut the images by the worker count,
    so another --workers detected every image again)."""
    from pixmo.cli import main

    folder = tmp_path / "imgs"
    folder.mkdir()
    for name in ("astronaut.png", "chelsea.png", "coffee.png"):
        shutil.copy(SK / name, folder / name)
    args = ["gen", "count", "--images", str(folder), "--out", str(tmp_path / "o"), "--quiet", "--overwrite"]
    runs = []
    for workers in ("1", "2"):
        capsys.readouterr()
        assert main([*args, "--workers", workers]) == 0
        runs.append(json.loads(capsys.readouterr().out.strip().splitlines()[-1]))
    assert runs[0]["skipped_shards"] == 0 and runs[1]["skipped_shards"] == 3
    assert runs[0]["splits"] == runs[1]["splits"]
