"""Hugging Face `datasets` reads what the toolkit writes: export-hf Parquet with features (images
load as images) and single-format, single-subset shard sets through the webdataset loader."""

from __future__ import annotations

import glob
from pathlib import Path

import pytest
from PIL import Image

from tests.pixmo.test_hf import PUBLISHED, cli, images_dir, rows_for, write_table  # noqa: F401 (fixture)

datasets = pytest.importorskip("datasets")


def _load(kind: str, files: list[str], tmp: Path):
    return datasets.load_dataset(kind, data_files={"train": files}, split="train", cache_dir=str(tmp / "hf-cache"))


@pytest.mark.parametrize("subset", ["pixmo-docs-charts", "pixmo-points", "pixmo-count", "pixmo-clocks"])
def test_exported_parquet_loads_with_features_and_docs_images_as_images(tmp_path, images_dir, subset):  # noqa: F811
    from typer.testing import CliRunner

    src = tmp_path / f"{subset}.parquet"
    write_table(src, subset, rows_for(subset))
    runner = CliRunner()
    url_map = tmp_path / "map.json"
    url_map.write_text('{"abc/004_2022-05-02T07:57:39.1_urbane": "download_2_xyz.bin"}')
    res = runner.invoke(cli(), ["import-hf", subset, str(src), "--images-dir", str(images_dir), "--url-map",
                                str(url_map), "--out", str(tmp_path / "s")])
    assert res.exit_code == 0, res.output
    res = runner.invoke(cli(), ["export-hf", str(tmp_path / "s"), "--out", str(tmp_path / "x")])
    assert res.exit_code == 0, res.output
    ds = _load("parquet", [str(tmp_path / "x" / f"{subset}.parquet")], tmp_path)
    assert set(ds.features) == set(PUBLISHED[subset].names)
    row = ds[0]
    if subset.startswith("pixmo-docs-"):
        assert isinstance(ds.features["image"], datasets.Image)
        assert isinstance(row["image"], Image.Image) and row["image"].size[0] > 0
    if subset == "pixmo-points":
        assert row["points"][0].keys() == {"x", "y"}


def test_a_single_subset_shard_set_loads_with_the_webdataset_loader(tmp_path, images_dir):  # noqa: F811
    from typer.testing import CliRunner

    write_table(tmp_path / "p.parquet", "pixmo-points", rows_for("pixmo-points"))
    res = CliRunner().invoke(cli(), ["import-hf", "pixmo-points", str(tmp_path / "p.parquet"), "--images-dir",
                                     str(images_dir), "--out", str(tmp_path / "s")])
    assert res.exit_code == 0, res.output
    ds = _load("webdataset", sorted(glob.glob(str(tmp_path / "s" / "*.tar"))), tmp_path)
    assert len(ds) == 2 and isinstance(ds[0]["png"], Image.Image)
    assert ds[0]["json"]["annotations"][0]["subset"] == "pixmo-points"


def test_a_set_mixing_every_subset_loads_with_one_type_per_field(tmp_path):
    """Schema 2: record and meta are JSON strings, so samples holding different subsets (and meta
    with different keys) give one Arrow type for every field."""
    import json

    from pixmo.shards import iter_samples, write_samples
    from tests.pixmo.conftest import make_samples

    samples = make_samples(7)
    samples[0].annotations[0].meta = {"hf_file": "a.parquet", "hf_row": 3}
    samples[6].annotations[1].meta = {"scene": {"face": None, "hands": [1, 2]}}
    write_samples(tmp_path / "s", samples, dataset="t", max_count=3)
    ds = _load("webdataset", sorted(glob.glob(str(tmp_path / "s" / "*.tar"))), tmp_path)
    assert len(ds) == 7
    ours = {s.key: s for s in iter_samples(tmp_path / "s")}
    for row in ds:
        anns = row["json"]["annotations"]
        want = ours[row["__key__"]].annotations
        assert [(a["subset"], json.loads(a["record"]), json.loads(a["meta"])) for a in anns] == \
            [(a.subset, a.record.to_row(), a.meta) for a in want]


def _mixed_samples():
    """JPEG and PNG images alternating, and an audio member on one sample only: what the demo's
    bundled set, mixtures and caption campaigns look like to a loader."""
    import io

    import numpy as np

    from pixmo.shards import Sample

    out = []
    for i in range(12):
        buf = io.BytesIO()
        Image.fromarray(np.full((20, 30, 3), i * 9, np.uint8)).save(buf, "JPEG" if i % 2 else "PNG")
        out.append(Sample(image=buf.getvalue()))
    out[8].extras["wav"] = b"RIFF-audio"
    return out


def test_a_set_of_mixed_image_formats_and_members_loads_by_directory_and_with_features(tmp_path):
    """The webdataset loader infers columns from 5 samples and refuses (or drops) the rest; every set
    carries a dataset card (README.md) and ``pixmo.hfcard.features`` with all of its columns."""
    from pixmo import hfcard
    from pixmo.shards import write_samples

    write_samples(tmp_path / "s", _mixed_samples(), dataset="t", max_count=5)
    files = sorted(glob.glob(str(tmp_path / "s" / "*.tar")))
    with pytest.raises(ValueError, match="same prefix or the same types"):
        _load("webdataset", files, tmp_path / "plain")  # what a set without a card gets
    by_dir = datasets.load_dataset(str(tmp_path / "s"), split="train", cache_dir=str(tmp_path / "c1"))
    with_features = datasets.load_dataset("webdataset", data_files={"train": files}, split="train",
                                          features=hfcard.features(tmp_path / "s"), cache_dir=str(tmp_path / "c2"))
    for ds in (by_dir, with_features):
        assert len(ds) == 12 and set(ds.features) >= {"jpg", "png", "json", "wav"}
        assert isinstance(ds.features["png"], datasets.Image)
        rows = list(ds)
        assert sum(r["jpg"] is not None for r in rows) == 6 and sum(r["png"] is not None for r in rows) == 6
        assert [r["wav"] for r in rows if r["wav"] is not None] == [b"RIFF-audio"]


def test_the_card_follows_appends_and_manifest_rebuilds(tmp_path):
    from pixmo import hfcard
    from pixmo.shards import read_manifest, write_samples
    from pixmo.shardset import rebuild_manifest

    samples = _mixed_samples()
    jpegs = [s for s in samples if s.image_ext == "jpg" and not s.extras]
    write_samples(tmp_path / "s", jpegs, dataset="t")
    assert "png" not in (tmp_path / "s" / "README.md").read_text()
    write_samples(tmp_path / "s", [s for s in samples if s not in jpegs], dataset="t", mode="append")
    card = (tmp_path / "s" / "README.md").read_text()
    assert "'png'" in card and "'wav'" in card
    (tmp_path / "s" / "README.md").unlink()
    rebuild_manifest(tmp_path / "s")
    assert hfcard.member_extensions(read_manifest(tmp_path / "s")) == ["jpg", "png", "json", "wav"]
    assert (tmp_path / "s" / "README.md").read_text() == card
