"""`pixmo gen docs-points`: pixmo-points records from rendered HTML pages, checked against the page's
HTML and the stored image's pixels, not against the generator's own bookkeeping alone."""

from __future__ import annotations

import io
import json
import re

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from generators.cli import app
from generators.docs.points import Page, build_page, centre, render_page
from generators.docs.renderers import RenderContext
from pixmo.records import PixmoPoints
from pixmo.shards import iter_samples


def _gen(out, num=6, seed=5):
    res = CliRunner().invoke(app, ["docs-points", "--num", str(num), "--out", str(out), "--seed", str(seed),
                                   "--per-shard", "3"])
    assert res.exit_code == 0, res.output
    return json.loads(res.output.strip().splitlines()[-1])


def _px(rec, w, h):
    return [(p.x * w / 100, p.y * h / 100) for p in rec.points]


def test_docs_points_end_to_end(tmp_path):
    """One run of 6 pages checked for every property, and a second run for byte identity (made once:
    module fixtures would run twice under xdist)."""
    summary = _gen(tmp_path / "a")
    assert summary["pages"] == 6 and summary["rejected"] == 0
    samples = list(iter_samples(tmp_path / "a", verify=True))
    assert len(samples) == 6
    check_points_lie_inside_their_element_box(samples)
    check_button_boxes_match_the_pixels(samples)
    check_counts_equal_the_matching_elements_in_the_html(samples)
    check_not_present_expressions_have_no_points(samples)
    check_pixmo_validate_passes(tmp_path / "a")
    check_two_runs_with_the_same_seed_are_byte_identical(tmp_path)


def points_inside_boxes(samples, *, centred: bool) -> int:
    """Every point lies in its element's box (and in the image); ``centred``: at the centre of the box
    clipped to the image (order pages). Returns how many points were checked. Shared with the SVG and
    screen families (test_docs_points_svg.py)."""
    n = 0
    for s in samples:
        for ann in s.annotations:
            rec = ann.record
            assert isinstance(rec, PixmoPoints)
            assert rec.count == len(rec.points) == len(ann.meta["boxes"]) == len(ann.meta["elements"])
            assert ann.meta["present"] == (rec.count > 0)
            for (x, y), (x0, y0, x1, y1) in zip(_px(rec, s.width, s.height), ann.meta["boxes"], strict=True):
                assert x0 <= x <= x1 and y0 <= y <= y1, (rec.label, (x, y), (x0, y0, x1, y1))
                assert 0 <= x <= s.width and 0 <= y <= s.height
                if centred:
                    assert abs(x - (max(x0, 0) + min(x1, s.width)) / 2) < 0.05
                    assert abs(y - (max(y0, 0) + min(y1, s.height)) / 2) < 0.05
                n += 1
    return n


def check_points_lie_inside_their_element_box(samples):
    assert points_inside_boxes(samples, centred=True) >= 6 * 8


def check_button_boxes_match_the_pixels(samples):
    """A button is a filled rectangle of the page's button colour: most of its reported box has that
    colour, and a line 2 px outside the box has the page's background colour."""
    checked = 0
    for s in samples:
        im = np.asarray(Image.open(io.BytesIO(s.image)).convert("RGB")).astype(int)
        page_html = s.annotations[0].meta["html"]
        btn = _hex(re.search(r"button\{[^}]*background:(#[0-9a-f]{6})", page_html).group(1))
        bg = _hex(re.search(r"body\{[^}]*background:(#[0-9a-f]{6})", page_html).group(1))
        ann = next(a for a in s.annotations if a.record.label == "button")
        for x0, y0, x1, y1 in ann.meta["boxes"]:
            x0, y0, x1, y1 = round(x0), round(y0), round(x1), round(y1)
            inside = im[y0 + 2:y1 - 2, x0 + 2:x1 - 2].reshape(-1, 3)
            assert (np.abs(inside - btn).max(axis=1) <= 12).mean() > 0.6
            ring = np.concatenate([im[y0 - 2, x0 + 10:x1 - 10], im[y1 + 1, x0 + 10:x1 - 10],
                                   im[y0 + 10:y1 - 10, x0 - 2], im[y0 + 10:y1 - 10, x1 + 1]])
            assert (np.abs(ring - bg).max(axis=1) <= 12).all(), ring[:5]
            checked += 1
    assert checked >= 6


def _hex(h):
    return np.array([int(h[i:i + 2], 16) for i in (1, 3, 5)])


def check_counts_equal_the_matching_elements_in_the_html(samples):
    kinds = {"price": r'<td class="price"', "button": r"<button\b", "checkbox": r'type="checkbox"'}
    seen = set()
    for s in samples:
        page_html = s.annotations[0].meta["html"]
        for ann in s.annotations:
            rec = ann.record
            if rec.label in kinds:
                assert rec.collection_method == "counting"
                assert rec.count == len(re.findall(kinds[rec.label], page_html)), rec.label
                seen.add((rec.label, rec.count > 0))
            elif ann.meta["present"]:
                assert rec.collection_method == "pointing" and rec.count == 1, rec.label
    # prices and buttons always, checkboxes both present and absent across the pages
    assert {("price", True), ("button", True), ("checkbox", True), ("checkbox", False)} <= seen


def check_not_present_expressions_have_no_points(samples):
    for s in samples:
        page_html = s.annotations[0].meta["html"]
        absent = [a for a in s.annotations if not a.meta["present"]]
        assert len(absent) >= 2
        for ann in absent:
            rec = ann.record
            assert rec.count == 0 and rec.points == []
            m = re.fullmatch(r"(.+) button|row labelled (.+)|checkbox", rec.label)
            assert m, rec.label
            if m.group(1):
                assert f">{m.group(1)}</button>" not in page_html
            elif m.group(2):
                assert f">{m.group(2)}</td>" not in page_html and m.group(2) not in page_html
            else:
                assert 'type="checkbox"' not in page_html


def check_pixmo_validate_passes(out):
    from pixmo.validate import validate_dir

    rep = validate_dir(out, progress=False)
    assert rep.ok, rep.problems[:5]
    assert rep.samples == 6


def check_two_runs_with_the_same_seed_are_byte_identical(tmp_path):
    _gen(tmp_path / "b")
    a = sorted(p.name for p in (tmp_path / "a").glob("*.tar"))
    assert a and a == sorted(p.name for p in (tmp_path / "b").glob("*.tar"))
    for name in a:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_boxes_follow_the_downscale_of_a_large_page():
    """A page larger than 2560x1440 is downscaled by the image check; the boxes are in the stored
    image's pixels, so the button's centre still lands on the button."""
    rng = np.random.default_rng(1)
    p = build_page(rng)
    big = p.html.replace("<body>", "<body><div style='height:2200px;background:#dddddd'></div>")
    big = re.sub(r"width:\d+px\}", "width:2500px}", big, count=1)
    png, boxes = render_page(Page(big, p.items, p.buttons, p.checkboxes, 2600, p.absent_item), RenderContext())
    w, h = Image.open(io.BytesIO(png)).size
    assert w * h <= 2560 * 1440 and w < 2600
    im = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    btn = _hex(re.search(r"button\{[^}]*background:(#[0-9a-f]{6})", big).group(1))
    key = f"button:{p.buttons[0]}"
    x0, y0, x1, y1 = boxes[key]
    assert y0 > 2200 * w / 2600 * 0.9  # below the spacer, in the downscaled frame
    # pixels just inside the box's left edge are the button's colour (text is in the middle)
    strip = im[round(y0) + 3:round(y1) - 3, round(x0) + 2:round(x0) + 5].reshape(-1, 3)
    assert (np.abs(strip - btn).max(axis=1) <= 20).mean() > 0.8
    assert centre(boxes[key], w, h) is not None


@pytest.mark.parametrize(("args", "says"), [(["--num", "0"], "--num must be at least 1"),
                                             (["--per-shard", "0"], "--per-shard must be at least 1"),
                                             (["--threads", "0"], "--threads must be at least 1"),
                                             (["--timeout", "0"], "--timeout must be positive"),
                                             (["--workers", "0"], "--workers must be at least 1")])
def test_bad_options_give_one_line_and_exit_2(tmp_path, capsys, args, says):
    from pixmo.cli import main

    assert main(["gen", "docs-points", "--out", str(tmp_path / "x"), *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {says}") and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x").exists()


def test_centre_is_clipped_inside_the_image():
    assert centre((-10, -10, 30, 50), 100, 100) == (15, 25)
    assert centre((90, 90, 130, 110), 100, 100) == (95, 95)
    assert centre((120, 0, 130, 10), 100, 100) is None
