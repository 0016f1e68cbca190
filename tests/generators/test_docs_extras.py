"""Page extras: each docs page keeps the code, the data and the renderer that made it as shard
extras, and ``pixmo export-hf --with-extras`` writes them beside the published rows, never inside."""

from __future__ import annotations

import shutil

import pyarrow.parquet as pq
import pytest

from pixmo.cli import main
from pixmo.hf import published_schema
from pixmo.shards import iter_samples


@pytest.fixture(scope="module")
def docs_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("extras") / "docs"
    assert main(["gen", "docs", "--num", "4", "--out", str(out), "--renderers", "html,graphviz",
                 "--per-shard", "4"]) == 0
    return out


def test_every_page_keeps_its_code_data_and_renderer_as_extras(docs_run):
    samples = list(iter_samples(docs_run, verify=True))
    assert len(samples) == 4
    for s in samples:
        (ann,) = s.annotations
        assert set(s.extras) == {"docs_code.txt", "docs_data.txt", "docs_renderer.txt"}
        assert s.extras["docs_renderer.txt"].decode() == ann.meta["renderer"]
        assert s.extras["docs_code.txt"] and s.extras["docs_data.txt"]
        assert not {"code", "data"} & set(ann.meta)  # kept once, as extras
    assert {s.extras["docs_renderer.txt"] for s in samples} == {b"html", b"graphviz"}


def test_export_keeps_the_published_schema_and_writes_extras_beside_it(docs_run, tmp_path, capsys):
    exp = tmp_path / "hf"
    assert main(["export-hf", str(docs_run), "--out", str(exp), "--with-extras"]) == 0
    by_id = {f"{s.annotations[0].record.image_id}": s for s in iter_samples(docs_run)}
    published = sorted(p for p in exp.glob("*.parquet") if not p.name.endswith(".extras.parquet"))
    assert published
    for path in published:
        subset = path.stem
        got = pq.read_schema(path)
        assert got.remove_metadata() == published_schema(subset)  # exactly the published columns and types
        rows = pq.read_table(path).to_pylist()
        extras = pq.read_table(exp / f"{subset}.extras.parquet").to_pylist()
        assert len(extras) == len(rows)
        for i, (row, ex) in enumerate(zip(rows, extras, strict=True)):
            s = by_id[row["image_id"]]
            assert ex["row"] == i and ex["image_sha256"] == s.key
            assert row["image"]["bytes"] == s.image
            assert ex["docs_code"] == s.extras["docs_code.txt"].decode()
            assert ex["docs_data"] == s.extras["docs_data.txt"].decode()
            assert ex["docs_renderer"] == s.annotations[0].meta["renderer"]
            assert not {"docs_code", "code", "data", "renderer"} & set(row)


def test_without_the_flag_no_extras_file_and_import_ignores_extras_files(docs_run, tmp_path):
    plain, full = tmp_path / "plain", tmp_path / "full"
    assert main(["export-hf", str(docs_run), "--out", str(plain)]) == 0
    assert not list(plain.glob("*.extras.parquet"))
    assert main(["export-hf", str(docs_run), "--out", str(full), "--with-extras"]) == 0
    subset = sorted(p.stem for p in full.glob("*.parquet") if ".extras" not in p.name)[0]
    one = tmp_path / "one"
    one.mkdir()
    for name in (f"{subset}.parquet", f"{subset}.extras.parquet"):
        shutil.copy(full / name, one / name)
    # importing the directory reads the published file only (the extras file would fail the
    # schema check with "unexpected column")
    from pixmo.hf import import_hf

    rep = import_hf(subset, one, tmp_path / "back")
    assert rep.skipped == 0 and rep.imported == pq.read_table(one / f"{subset}.parquet").num_rows
