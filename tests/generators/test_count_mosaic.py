"""Count mosaics: pasted faces are what the detector finds; the CLI labels them with the detector."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from PIL import Image

from generators.count.detectors import OpenCVDetector
from generators.count.mosaic import MosaicConfig, make_mosaic, sprites, write_mosaics
from pixmo.shards import iter_samples


def test_detector_finds_the_pasted_faces():
    det, faces = OpenCVDetector(), sprites(0.15)
    rng = np.random.default_rng(3)
    cfg = MosaicConfig(num=12)
    found = []
    for _ in range(12):
        data, k = make_mosaic(rng, cfg, faces)
        image = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
        assert image.shape == (224, 224, 3)
        found.append((k, sum(d.label == "face" for d in det.detect(image))))
    assert {k for k, _ in found} <= {1, 2, 3, 4}
    assert sum(k == n for k, n in found) >= 11, found  # the detector agrees with the paste (nearly) always


def test_bad_mosaic_config_is_refused(tmp_path):
    with pytest.raises(ValueError, match="do not fit"):
        write_mosaics(tmp_path, MosaicConfig(num=1, max_k=5, grid=2), seed=0)


def test_cli_mosaic_source_gives_detector_labelled_records(tmp_path):
    from typer.testing import CliRunner

    from generators.cli import app

    res = CliRunner().invoke(app, ["count", "--mosaic", "16", "--mosaic-max", "3", "--eval-per-count", "1",
                                   "--out", str(tmp_path / "o"), "--workers", "1", "--quiet"])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.output.strip().splitlines()[-1])
    assert summary["mosaic"]["images"] == 16 and summary["mosaic"]["dropped_disagreeing"] <= 2
    truth = json.loads((tmp_path / "o/mosaic_images/truth.json").read_text())
    recs = [s.annotations[0].record for s in iter_samples(tmp_path / "o/train", verify=True)]
    assert recs and all(r.label == "face" and 1 <= r.count <= 3 for r in recs)
    for r in recs:  # records come from the detector and agree with the pasted count
        assert r.count == truth[r.image_url] == len(r.points.x)
        assert all(0 <= x <= 224 for x in r.points.x)
