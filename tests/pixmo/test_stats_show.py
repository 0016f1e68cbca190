"""``pixmo stats`` (table, dict, PNG plots) and ``pixmo show`` (points drawn in the right units)."""

from __future__ import annotations

import json

import typer
from PIL import Image
from typer.testing import CliRunner

from pixmo import cli_data
from pixmo.shards import write_samples
from pixmo.show import COLOURS, annotation_points
from pixmo.stats import shard_stats
from tests.pixmo.conftest import make_samples


def cli() -> typer.Typer:
    app = typer.Typer()
    cli_data.register(app)
    return app


def test_stats_dict_table_and_plots(tmp_path):
    write_samples(tmp_path / "s", make_samples(3), dataset="t", max_count=2)
    st = shard_stats(tmp_path / "s", tmp_path / "plots")
    assert st["samples"] == 3
    assert st["annotations"]["pixmo-points"] == 6 and st["annotations"]["pixmo-cap"] == 3
    assert st["images_per_subset"]["pixmo-points"] == 3
    # per image: pixmo-points 2 + 0, points-eval 1, point-explanations 2, count 2
    assert st["points_per_image"] == {"n": 3, "mean": 7.0, "min": 7, "max": 7, "median": 7}
    assert st["count_histogram"] == {"pixmo-count": {"2": 3}, "pixmo-points": {"0": 3, "2": 3}}
    assert st["caption_words"]["mean"] == 6.0 and st["docs_qa_per_image"]["n"] == 3
    assert len(st["plots"]) == 4
    for p in st["plots"]:
        with Image.open(p) as im:
            assert im.format == "PNG" and im.size[0] > 100
    saved = json.loads((tmp_path / "plots" / "stats.json").read_text())
    assert saved["annotations"] == st["annotations"]
    res = CliRunner().invoke(cli(), ["stats", str(tmp_path / "s"), "--out", str(tmp_path / "p2")],
                             env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert "pixmo-points" in res.output and "points_per_image: n=3 mean=7.0" in res.output
    assert "count_histogram.png" in res.output


def test_show_draws_points_in_each_subsets_unit(tmp_path, capsys):
    (sample,) = make_samples(1, size=(200, 160))
    write_samples(tmp_path / "s", [sample], dataset="t")
    out = tmp_path / "show.png"
    res = CliRunner().invoke(cli(), ["show", str(tmp_path / "s"), sample.key[:10], "--out", str(out)],
                             env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert sample.key in res.output and "[pixmo-cap] caption=A red square" in res.output
    with Image.open(out) as im:
        assert im.size[0] >= 200 and im.size[1] > 160  # image plus the text panel
        # pixmo-points (annotation 3) stores percent: (90, 5) -> pixel (180, 8)
        assert im.getpixel((180, 8)) == Image.new("RGB", (1, 1), COLOURS[3]).getpixel((0, 0))
    assert annotation_points("pixmo-count", {"points": {"x": [10.0], "y": [20.0]}}, (200, 160)) == [(10.0, 20.0)]
    assert annotation_points("pixmo-points", {"points": [{"x": 10.0, "y": 20.0}]}, (200, 160)) == [(20.0, 32.0)]
    from pixmo.cli import main

    capsys.readouterr()
    assert main(["show", str(tmp_path / "s"), "ffff", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "no sample with key 'ffff'" in err and len(err.strip().splitlines()) == 1
