"""`pixmo gen docs-points --family svg|screen`: pixmo-points records from SVG pages and web screens,
checked against the SVG/HTML source and the stored image's pixels, not the generator's bookkeeping."""

from __future__ import annotations

import io
import json
import re

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from generators.cli import app
from generators.docs.points_svg import COLORS, KINDS
from pixmo.shards import iter_samples
from tests.generators.test_docs_points import points_inside_boxes

pytestmark = pytest.mark.browser


def _gen(out, family, num=6, seed=3):
    res = CliRunner().invoke(app, ["docs-points", "--family", family, "--num", str(num), "--out", str(out),
                                   "--seed", str(seed), "--per-shard", "3"])
    assert res.exit_code == 0, res.output
    return json.loads(res.output.strip().splitlines()[-1])


def _fill(svg, key):
    return re.search(rf'data-pt="{re.escape(key)}"[^>]*?fill="(#[0-9a-f]{{6}})"', svg).group(1)


def _rgb(h):
    return np.array([int(h[i:i + 2], 16) for i in (1, 3, 5)])


_SHAPE = {"circle": r"<circle data-pt=\"shape:", "square": r"<rect data-pt=\"shape:"}


def _kind_count(svg, kind):
    if kind in _SHAPE:
        return len(re.findall(_SHAPE[kind], svg))
    corners = {"triangle": 3, "star": 10, "hexagon": 6}[kind]
    return sum(len(pts.split()) == corners for pts in re.findall(r'<polygon data-pt="shape:[^>]*points="([^"]+)"', svg))


def test_svg_points_land_on_their_shapes_and_counts_match_the_svg(tmp_path):
    summary = _gen(tmp_path / "svg", "svg")
    assert summary["pages"] == 6 and summary["rejected"] == 0 and summary["not_present"] >= 6
    samples = list(iter_samples(tmp_path / "svg", verify=True))
    assert points_inside_boxes(samples, centred=False) >= 20
    seen = set()
    for s in samples:
        im = np.asarray(Image.open(io.BytesIO(s.image)).convert("RGB")).astype(int)
        svg = s.annotations[0].meta["svg"]
        for ann in s.annotations:
            rec = ann.record
            for p, key in zip(rec.points, ann.meta["elements"], strict=True):
                # the pixel under each point has its shape's (or bar's) fill colour
                x, y = int(p.x * s.width / 100), int(p.y * s.height / 100)
                assert np.abs(im[y, x] - _rgb(_fill(svg, key))).max() <= 12, (rec.label, key)
            if rec.label in KINDS:
                assert rec.count == _kind_count(svg, rec.label), rec.label
                seen.add(("kind", rec.count > 0))
            elif rec.label.endswith(" shape"):
                color = rec.label.split()[0]
                assert rec.count == len(re.findall(rf'data-pt="shape:\d+" fill="{COLORS[color]}"', svg))
            elif rec.label == "bar":
                assert rec.count == len(re.findall(r'data-pt="bar:', svg)) >= 3
                seen.add(("bar", True))
            elif not ann.meta["present"]:
                name = re.sub(r"^(shape labelled|bar for) ", "", rec.label)
                assert f">{name}<" not in svg and f'"bar:{name}"' not in svg, rec.label
                seen.add(("absent", True))
    assert {("kind", True), ("kind", False), ("bar", True), ("absent", True)} <= seen
    from pixmo.validate import validate_dir

    assert validate_dir(tmp_path / "svg", progress=False).ok


def test_screen_points_match_the_html_and_runs_repeat_byte_for_byte(tmp_path):
    summary = _gen(tmp_path / "a", "screen")
    assert summary["pages"] == 6 and summary["rejected"] == 0
    samples = list(iter_samples(tmp_path / "a", verify=True))
    assert points_inside_boxes(samples, centred=False) >= 6 * 6
    kinds = {"button": r"<button\b", "navigation link": r'<a data-pt="nav:', "text field": r'class="field"'}
    for s in samples:
        page = s.annotations[0].meta["html"]
        for ann in s.annotations:
            rec = ann.record
            if rec.label in kinds:
                assert rec.count == len(re.findall(kinds[rec.label], page)), rec.label
            elif not ann.meta["present"]:
                m = re.fullmatch(r"(.+) (button|link in the navigation bar)", rec.label)
                assert m and f">{m.group(1)}</" not in page, rec.label
            else:
                assert rec.count == 1 and rec.collection_method == "pointing"
    _gen(tmp_path / "b", "screen")
    for tar in sorted((tmp_path / "a").glob("*.tar")):
        assert tar.read_bytes() == (tmp_path / "b" / tar.name).read_bytes(), tar.name


def test_unknown_family_is_one_line_error(tmp_path, capsys):
    from pixmo.cli import main

    assert main(["gen", "docs-points", "--out", str(tmp_path / "x"), "--family", "pdf"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --family must be order, svg or screen") and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x").exists()
