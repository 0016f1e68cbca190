"""Parquet in the published schema -> import-hf -> shards -> export-hf -> the same rows."""

from __future__ import annotations

import csv
import hashlib
import json
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import typer
from typer.testing import CliRunner

from pixmo import cli_data
from pixmo.shards import iter_samples
from pixmo.validate import validate_dir
from tests.pixmo.conftest import image_bytes

# The published Arrow types, written out here from docs/spec/pixmo_data.md section 2 (independently of pixmo.hf).
S, F64, F32, I32, I64, B = pa.string(), pa.float64(), pa.float32(), pa.int32(), pa.int64(), pa.bool_()
XY = pa.list_(pa.struct([("x", F64), ("y", F64)]))
PUBLISHED = {
    "pixmo-points": pa.schema([("image_url", S), ("image_sha256", S), ("points", XY), ("count", I64),
                               ("label", S), ("collection_method", S)]),
    "pixmo-count": pa.schema([("image_url", S), ("image_sha256", S), ("count", I32),
                              ("points", pa.struct([("x", pa.list_(F32)), ("y", pa.list_(F32))])), ("label", S)]),
    "pixmo-cap": pa.schema([("image_url", S), ("caption", S), ("transcripts", pa.list_(S))]),
    "pixmo-cap-qa": pa.schema([("image_url", S), ("question", S), ("answer", S)]),
    "pixmo-ask-model-anything": pa.schema([("image_url", S), ("image_sha256", S), ("question", S), ("answer", S)]),
    "pixmo-points-eval": pa.schema([("image_url", S), ("image_sha256", S), ("label", S), ("points", XY),
                                    ("masks", pa.list_(pa.list_(pa.list_(B))))]),
    "pixmo-point-explanations": pa.schema([
        ("image_url", S), ("image_sha256", S), ("question", S), ("response", S), ("parsed_response", S),
        ("alt_text", pa.list_(S)), ("inline_text", pa.list_(S)), ("points", pa.list_(pa.list_(pa.list_(F64))))]),
    "pixmo-clocks": pa.schema([
        ("example_id", S), ("watchface_id", S), ("watchface_name", S), ("watch_time", S), ("time_format", S),
        ("shows_seconds", B), ("hour_visible", I32), ("minute_visible", I32), ("second_visible", I32), ("text", S)]),
    "pixmo-docs-charts": pa.schema([("image", pa.struct([("bytes", pa.binary()), ("path", S)])), ("image_id", S),
                                    ("questions", pa.struct([("question", pa.list_(S)), ("answer", pa.list_(S))]))]),
}

IMGS = [image_bytes(100 + i, (80, 60)) for i in range(4)]
SHAS = [hashlib.sha256(b).hexdigest() for b in IMGS]
URLS = [f"https://img.example.org/photo-{i}.jpg" for i in range(4)]


def rows_for(subset: str) -> list[dict]:
    if subset == "pixmo-points":  # interleaved images, a "not present" row, float64 values
        return [
            {"image_url": URLS[0], "image_sha256": SHAS[0], "points": [{"x": 12.3, "y": 45.6}, {"x": 1 / 3, "y": 99.9}],
             "count": 2, "label": "dog", "collection_method": "pointing"},
            {"image_url": URLS[1], "image_sha256": SHAS[1], "points": [], "count": 0, "label": "unicorn",
             "collection_method": "pointing"},
            {"image_url": URLS[0], "image_sha256": SHAS[0], "points": [{"x": 50.0, "y": 50.0}], "count": 1,
             "label": "the red ball", "collection_method": "counting"},
        ]
    if subset == "pixmo-count":
        return [{"image_url": URLS[2], "image_sha256": SHAS[2], "count": 2, "label": "cup",
                 "points": {"x": [12.3, 79.5], "y": [0.1, 59.9]}},
                {"image_url": URLS[3], "image_sha256": SHAS[3], "count": 7, "label": "cup",
                 "points": {"x": [], "y": []}}]
    if subset == "pixmo-cap":
        return [{"image_url": URLS[0], "caption": "A photo of a dog.", "transcripts": ["um a dog", "a dog sitting"]},
                {"image_url": URLS[1], "caption": "Noise.", "transcripts": ["noise"]}]
    if subset == "pixmo-cap-qa":
        return [{"image_url": URLS[0], "question": "[USER] Any dogs? [ASSISTANT]", "answer": "One."}]
    if subset == "pixmo-ask-model-anything":
        return [{"image_url": URLS[1], "image_sha256": SHAS[1], "question": "What is it?", "answer": "Noise."},
                {"image_url": URLS[1], "image_sha256": SHAS[1], "question": "Colour?", "answer": "Many."}]
    if subset == "pixmo-points-eval":
        return [{"image_url": URLS[2], "image_sha256": SHAS[2], "label": "cup", "points": [{"x": 10.0, "y": 20.0}],
                 "masks": [[[True, False, False], [False, True, True]]]}]
    if subset == "pixmo-point-explanations":
        return [{"image_url": URLS[3], "image_sha256": SHAS[3], "question": "Where?",
                 "response": 'It is <point x="10.0" y="20.0" alt="cup">here</point>.',
                 "parsed_response": "It is <|POINT|>.", "alt_text": ["cup"], "inline_text": ["here"],
                 "points": [[[10.0, 20.0]]]},
                {"image_url": URLS[3], "image_sha256": SHAS[3], "question": "?", "response": "garbled",
                 "parsed_response": None, "alt_text": [], "inline_text": [], "points": []}]
    if subset == "pixmo-clocks":
        return [{"example_id": "abc/004_2022-05-02T07:57:39.1_urbane", "watchface_id": "abcdefghij",
                 "watchface_name": "urbane", "watch_time": "004_2022-05-02T07:57:39", "time_format": "Without AM/PM",
                 "shows_seconds": False, "hour_visible": 7, "minute_visible": 57, "second_visible": -1,
                 "text": "7:57"}]
    if subset == "pixmo-docs-charts":
        return [{"image": {"bytes": IMGS[0], "path": None}, "image_id": "chart-0",
                 "questions": {"question": ["Title?", "Max?"], "answer": ["Sales", "42"]}},
                {"image": {"bytes": IMGS[1], "path": "chart-1.png"}, "image_id": "chart-1",
                 "questions": {"question": ["Min?"], "answer": ["1"]}}]
    raise KeyError(subset)


def cli() -> typer.Typer:
    app = typer.Typer()
    cli_data.register(app)
    return app


@pytest.fixture
def images_dir(tmp_path) -> Path:
    d = tmp_path / "images"
    (d / "sub").mkdir(parents=True)
    for i, data in enumerate(IMGS):  # names unrelated to the hashes
        (d / ("sub" if i % 2 else ".") / f"download_{i}_xyz.bin").write_bytes(data)
    (d / "notes.txt").write_text("not an image")
    return d


def write_table(path: Path, subset: str, rows: list[dict]) -> pa.Table:
    table = pa.Table.from_pylist(rows, schema=PUBLISHED[subset])
    pq.write_table(table, path)
    return table


def invoke(*args: str) -> str:
    res = CliRunner().invoke(cli(), list(args), env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    return res.output


@pytest.mark.parametrize("subset", list(PUBLISHED))
def test_round_trip_gives_the_same_rows(tmp_path, images_dir, subset):
    src = tmp_path / f"{subset}.parquet"
    original = write_table(src, subset, rows_for(subset))
    url_map = tmp_path / "map.csv"
    with open(url_map, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["image_url", "file"])
        for i, url in enumerate(URLS):
            w.writerow([url, f"{'sub/' if i % 2 else ''}download_{i}_xyz.bin"])
        w.writerow(["abc/004_2022-05-02T07:57:39.1_urbane", "download_2_xyz.bin"])
    out = invoke("import-hf", subset, str(src), "--images-dir", str(images_dir), "--url-map", str(url_map),
                 "--out", str(tmp_path / "shards"), "--per-shard", "1")
    assert "image missing" in out
    assert validate_dir(tmp_path / "shards").ok
    invoke("export-hf", str(tmp_path / "shards"), "--out", str(tmp_path / "export"))
    exported = pq.read_table(tmp_path / "export" / f"{subset}.parquet")
    assert exported.schema.equals(original.schema), (exported.schema, original.schema)
    assert exported.to_pylist() == original.to_pylist()
    assert sorted(p.name for p in (tmp_path / "export").iterdir()) == [f"{subset}.parquet"]


def test_annotations_of_one_image_share_one_sample(tmp_path, images_dir):
    write_table(tmp_path / "p.parquet", "pixmo-points", rows_for("pixmo-points"))
    invoke("import-hf", "pixmo-points", str(tmp_path / "p.parquet"), "--images-dir", str(images_dir),
           "--out", str(tmp_path / "s"))
    samples = list(iter_samples(tmp_path / "s"))
    assert [(s.key, len(s.annotations)) for s in samples] == [(SHAS[0], 2), (SHAS[1], 1)]
    assert samples[0].image == IMGS[0] and samples[0].image_url == URLS[0]


def test_missing_images_are_counted_and_reported(tmp_path, images_dir):
    rows = rows_for("pixmo-points")
    rows.append({**rows[1], "image_sha256": "f" * 64, "image_url": "https://gone.example/x.jpg"})
    write_table(tmp_path / "p.parquet", "pixmo-points", rows)
    out = invoke("import-hf", "pixmo-points", str(tmp_path / "p.parquet"), "--images-dir", str(images_dir),
                 "--out", str(tmp_path / "s"))
    assert re.search(r"image missing\s*│\s*1 │", out)
    report = json.loads((tmp_path / "s" / "import_report.json").read_text())
    assert report["rows"] == 4 and report["imported"] == 3 and report["skipped"] == 1
    assert report["missing_image"] == [{"row": 3, "image_url": "https://gone.example/x.jpg",
                                        "image_sha256": "f" * 64, "ref": "https://gone.example/x.jpg"}]
    res = CliRunner().invoke(cli(), ["import-hf", "pixmo-points", str(tmp_path / "p.parquet"), "--images-dir",
                                     str(images_dir), "--out", str(tmp_path / "s2"), "--strict"])
    assert res.exit_code == 1


def test_points_above_100_are_reported_unless_declared_pixels(tmp_path, images_dir):
    big = image_bytes(200, (640, 480))
    sha = hashlib.sha256(big).hexdigest()
    (images_dir / "big.png").write_bytes(big)
    rows = [{"image_url": "u", "image_sha256": sha, "points": [{"x": 320.0, "y": 240.0}, {"x": 160.0, "y": 48.0}],
             "count": 2, "label": "dog", "collection_method": "pointing"}]
    write_table(tmp_path / "p.parquet", "pixmo-points", rows)
    out = invoke("import-hf", "pixmo-points", str(tmp_path / "p.parquet"), "--images-dir", str(images_dir),
                 "--out", str(tmp_path / "s"))
    assert "--points-in-pixels" in out
    report = json.loads((tmp_path / "s" / "import_report.json").read_text())
    assert report["imported"] == 0 and report["pixel_points"] == [{"row": 0, "image_url": "u", "max": 320.0}]
    invoke("import-hf", "pixmo-points", str(tmp_path / "p.parquet"), "--images-dir", str(images_dir),
           "--out", str(tmp_path / "px"), "--points-in-pixels")
    (sample,) = iter_samples(tmp_path / "px")
    pts = [(p.x, p.y) for p in sample.annotations[0].record.points]  # type: ignore[attr-defined]
    assert pts == [(50.0, 50.0), (25.0, 10.0)]


def test_capqa_stray_index_column_is_dropped_and_cache_names_are_found(tmp_path, images_dir):
    table = pa.table({"image_url": [URLS[3]], "question": ["[USER] Hi [ASSISTANT]"], "answer": ["Hello"],
                      "__index_level_0__": pa.array([7], pa.int64())})
    pq.write_table(table, tmp_path / "q.parquet")
    # the Molmo downloader names its cache file by the sha256 of the URL string
    (images_dir / hashlib.sha256(URLS[3].encode()).hexdigest()).write_bytes(IMGS[3])
    invoke("import-hf", "pixmo-cap-qa", str(tmp_path / "q.parquet"), "--images-dir", str(images_dir),
           "--out", str(tmp_path / "s"))
    (sample,) = iter_samples(tmp_path / "s")
    assert sample.key == SHAS[3] and sample.annotations[0].record.to_row() == {
        "image_url": URLS[3], "question": "[USER] Hi [ASSISTANT]", "answer": "Hello"}


def test_invalid_rows_are_reported_with_field_and_value(tmp_path, images_dir):
    rows = rows_for("pixmo-points")
    rows[0]["count"] = 5
    write_table(tmp_path / "p.parquet", "pixmo-points", rows)
    out = invoke("import-hf", "pixmo-points", str(tmp_path / "p.parquet"), "--images-dir", str(images_dir),
                 "--out", str(tmp_path / "s"))
    assert "invalid row 0" in out and "count=5 but 2 points" in out
