"""import-hf checks the schema before the first row and never answers a bad row with a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pixmo.cli import main
from pixmo.hf import SCHEMAS
from pixmo.shards import iter_samples, sha256_hex
from tests.pixmo.conftest import image_bytes


def _rows(imgs: list[bytes]) -> list[dict]:
    return [{"image_url": f"https://x.example/{i}.png", "image_sha256": sha256_hex(b),
             "points": [{"x": 10.0, "y": 20.0}], "count": 1, "label": "dog", "collection_method": "pointing"}
            for i, b in enumerate(imgs)]


@pytest.fixture
def imgs(tmp_path) -> tuple[Path, list[bytes]]:
    d = tmp_path / "images"
    d.mkdir()
    data = [image_bytes(i) for i in range(3)]
    for i, b in enumerate(data):
        (d / f"{i}.png").write_bytes(b)
    return d, data


def _import(tmp_path: Path, subset: str, table: pa.Table, images_dir: Path, capsys) -> tuple[int, str, str]:
    src = tmp_path / "in.parquet"
    pq.write_table(table, src)
    capsys.readouterr()
    rc = main(["import-hf", subset, str(src), "--images-dir", str(images_dir), "--out", str(tmp_path / "out")])
    out = capsys.readouterr()
    return rc, out.out, out.err


@pytest.mark.parametrize(("change", "expect"), [
    (lambda t: t.drop_columns(["label"]), "missing column 'label' for pixmo-points"),
    (lambda t: t.append_column("notes", pa.array(["x"] * t.num_rows)), "unexpected column 'notes'"),
    (lambda t: t.set_column(t.schema.get_field_index("count"), "count", pa.array(["1"] * t.num_rows)),
     "column 'count' is string, expected int64"),
])
def test_column_problems_are_one_line_naming_the_column_before_any_row(tmp_path, imgs, capsys, change, expect):
    table = change(pa.Table.from_pylist(_rows(imgs[1]), schema=SCHEMAS["pixmo-points"]))
    rc, _, err = _import(tmp_path, "pixmo-points", table, imgs[0], capsys)
    assert rc == 2 and expect in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists(), "no empty set is written"


def test_the_file_of_another_subset_is_named_as_such(tmp_path, imgs, capsys):
    caps = pa.Table.from_pylist([{"image_url": "u", "caption": "c", "transcripts": ["t"]}], schema=SCHEMAS["pixmo-cap"])
    rc, _, err = _import(tmp_path, "pixmo-points", caps, imgs[0], capsys)
    assert rc == 2 and "its columns are those of pixmo-cap" in err


def test_large_string_and_int32_variants_are_accepted(tmp_path, imgs, capsys):
    table = pa.Table.from_pylist(_rows(imgs[1]), schema=SCHEMAS["pixmo-points"])
    table = table.cast(pa.schema([pa.field(f.name, pa.large_string() if f.type == pa.string() else
                                           pa.int32() if f.name == "count" else f.type) for f in table.schema]))
    rc, out, _ = _import(tmp_path, "pixmo-points", table, imgs[0], capsys)
    assert rc == 0 and len(list(iter_samples(tmp_path / "out"))) == 3


def test_a_null_coordinate_is_a_counted_bad_row_not_a_traceback(tmp_path, imgs, capsys):
    rows = _rows(imgs[1])
    rows[1]["points"] = [{"x": None, "y": 20.0}]
    for pixels in (False, True):
        table = pa.Table.from_pylist(rows, schema=SCHEMAS["pixmo-points"])
        pq.write_table(table, tmp_path / "in.parquet")
        args = ["import-hf", "pixmo-points", str(tmp_path / "in.parquet"), "--images-dir", str(imgs[0]),
                "--out", str(tmp_path / f"out{pixels}")] + (["--points-in-pixels"] if pixels else [])
        assert main(args) == 0
        report = json.loads((tmp_path / f"out{pixels}" / "import_report.json").read_text())
        assert report["imported"] == 2 and [r["row"] for r in report["invalid"]] == [1]


def test_an_undecodable_image_file_is_named_and_the_other_rows_are_imported(tmp_path, imgs, capsys):
    d, data = imgs
    cut = data[2][: len(data[2]) // 2]
    (d / "2.png").write_bytes(cut)  # a truncated download whose hash the row names
    rows = _rows(data)
    rows[2]["image_sha256"] = sha256_hex(cut)
    rc, out, _ = _import(tmp_path, "pixmo-points", pa.Table.from_pylist(rows, schema=SCHEMAS["pixmo-points"]), d,
                         capsys)
    assert rc == 0 and "2.png" in out
    report = json.loads((tmp_path / "out" / "import_report.json").read_text())
    assert report["imported"] == 2 and report["bad_image"][0]["row"] == 2
    assert "2.png" in report["bad_image"][0]["error"]


def test_a_file_that_is_not_parquet_is_named(tmp_path, imgs, capsys):
    bad = tmp_path / "notes.parquet"
    bad.write_text("hello")
    assert main(["import-hf", "pixmo-points", str(bad), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "notes.parquet" in err and len(err.strip().splitlines()) == 1
