"""Shards: webdataset/tar compatibility, determinism, atomicity under SIGKILL, resume, fsspec."""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import textwrap
from pathlib import Path

import fsspec
import pytest
import webdataset as wds

from pixmo import tario
from pixmo.shards import (
    Sample,
    ShardError,
    file_sha256,
    iter_samples,
    read_manifest,
    shard_urls,
    verify_checksums,
    write_samples,
)
from pixmo.shardset import staging_dir
from tests.pixmo.conftest import image_bytes, make_samples

ROOT = Path(__file__).resolve().parents[2]


def rows(sample: Sample) -> list[tuple[str, dict]]:
    return [(a.subset, a.record.to_row()) for a in sample.annotations]


def test_samples_read_back_identically(tmp_path, samples):
    samples[0].extras["wav"] = b"RIFF fake audio"
    write_samples(tmp_path, samples, dataset="t", max_count=4)
    back = list(iter_samples(tmp_path, verify=True))
    assert [s.key for s in back] == [s.key for s in samples]
    for a, b in zip(samples, back, strict=True):
        assert (b.image, b.image_url, b.width, b.height, b.extras) == (a.image, a.image_url, 64, 48, a.extras)
        assert rows(b) == rows(a)


def test_webdataset_reads_the_same_samples(tmp_path, samples):
    write_samples(tmp_path, samples, dataset="t", max_count=4)
    urls = shard_urls(tmp_path)
    assert len(urls) == 2
    got = list(wds.WebDataset(urls, shardshuffle=False, empty_check=False))
    ours = {s.key: s for s in iter_samples(tmp_path)}
    assert [d["__key__"] for d in got] == list(ours)
    for d in got:
        s = ours[d["__key__"]]
        assert d["png"] == s.image
        head = json.loads(d["json"])
        assert head["image_sha256"] == s.key and head["width"] == 64
        # schema 2: record and meta are JSON strings, one type for every annotation of every sample
        assert all(isinstance(a["record"], str) and isinstance(a["meta"], str) for a in head["annotations"])
        assert [(a["subset"], json.loads(a["record"])) for a in head["annotations"]] == rows(s)


def test_tar_lists_and_tarfile_reads_the_members(tmp_path, samples):
    write_samples(tmp_path, samples[:2], dataset="t")
    shard = tmp_path / "shard-000000.tar"
    listed = subprocess.run(["tar", "-tf", str(shard)], capture_output=True, text=True, check=True).stdout.split()
    want = [f"{s.key}.{ext}" for s in samples[:2] for ext in ("png", "json")]
    assert listed == want
    with tarfile.open(shard) as tf:
        assert tf.getnames() == want
        assert tf.extractfile(want[0]).read() == samples[0].image  # type: ignore[union-attr]
        assert all(m.mtime == 0 and m.mode == 0o644 for m in tf.getmembers())


def test_same_input_twice_gives_the_same_sha256(tmp_path):
    a = write_samples(tmp_path / "a", make_samples(5), dataset="t", max_count=2)
    b = write_samples(tmp_path / "b", make_samples(5), dataset="t", max_count=2)
    ma, mb = json.loads(a.read_text()), json.loads(b.read_text())
    assert ma == mb and len(ma["shards"]) == 3
    for sh in ma["shards"]:
        assert file_sha256(tmp_path / "a" / sh["name"]) == file_sha256(tmp_path / "b" / sh["name"]) == sh["sha256"]


def test_manifest_counts_units_and_rolling_by_size(tmp_path):
    samples = make_samples(4, size=(128, 128))
    big = len(samples[0].image) + 2048
    write_samples(tmp_path, samples, dataset="t", split="validation", max_count=100, max_size=2 * big)
    m = read_manifest(tmp_path)
    assert m["split"] == "validation" and m["num_samples"] == 4 and m["schema_version"] == 2
    assert [sh["samples"] for sh in m["shards"]] == [2, 2]
    assert m["shards"][0]["annotations"]["pixmo-points"] == 4
    assert m["units"]["pixmo-points"] == "percent" and m["units"]["pixmo-count"] == "pixels"


def test_annotations_of_the_same_image_are_grouped_into_one_sample(tmp_path):
    img = image_bytes(1)
    first, second = make_samples(1, start=1)[0], make_samples(1, start=1)[0]
    first.annotations, second.annotations = first.annotations[:2], second.annotations[2:4]
    write_samples(tmp_path, [first, Sample(image=image_bytes(2)), second], dataset="t")
    back = list(iter_samples(tmp_path))
    assert len(back) == 2 and back[0].key == Sample(image=img).key
    assert [a.subset for a in back[0].annotations] == ["pixmo-cap", "pixmo-ask-model-anything",
                                                       "pixmo-cap-qa", "pixmo-points"]


def test_rerun_after_a_kill_keeps_identical_staged_shards(tmp_path):
    out = tmp_path / "out"
    write_samples(tmp_path / "ref", make_samples(4), dataset="t", max_count=2)
    staging = staging_dir(out)  # what a run killed after its first shard leaves
    staging.mkdir()
    shutil.copy(tmp_path / "ref" / "shard-000000.tar", staging / "shard-000000.tar")
    ino = (staging / "shard-000000.tar").stat().st_ino
    write_samples(out, make_samples(4), dataset="t", max_count=2)
    assert (out / "shard-000000.tar").stat().st_ino == ino
    assert not staging.exists()
    assert read_manifest(out) == read_manifest(tmp_path / "ref")
    verify_checksums(out)


KILLED_WRITER = textwrap.dedent("""
    import sys, time
    from pixmo import shards, tario
    from tests.pixmo.conftest import make_samples
    calls = {"n": 0}
    real = tario.member_bytes
    def slow(name, data):
        calls["n"] += 1
        if calls["n"] == 11:  # inside the third shard: two samples of 4 members are written
            print("MID", flush=True)
            time.sleep(60)
        return real(name, data)
    shards.tario.member_bytes = slow
    shards.write_samples(sys.argv[1], make_samples(8), dataset="t", max_count=2)
""")


def test_killed_writer_leaves_no_partial_shard_and_a_rerun_completes_the_set(tmp_path):
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, str(out)], cwd=ROOT, stdout=subprocess.PIPE,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == b"MID"
        staging = staging_dir(out)
        assert list(staging.glob("shard-000002.tar.*.tmp")), "the third shard should be in progress"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        proc.kill()
    assert not out.exists(), "nothing is published before the run completes"
    assert sorted(p.name for p in staging.glob("*.tar")) == ["shard-000000.tar", "shard-000001.tar"]
    for shard in staging.glob("*.tar"):  # what was written is complete
        with open(shard, "rb") as f:
            assert len(list(tario.iter_files(f))) == 4  # 2 samples x (image, json)
    write_samples(out, make_samples(8), dataset="t", max_count=2)
    write_samples(tmp_path / "ref", make_samples(8), dataset="t", max_count=2)
    assert read_manifest(out) == read_manifest(tmp_path / "ref")
    assert not list(out.glob("*.tmp")) and not staging.exists()
    verify_checksums(out)


def test_verify_detects_a_flipped_byte(tmp_path):
    write_samples(tmp_path, make_samples(2), dataset="t")
    shard = tmp_path / "shard-000000.tar"
    data = bytearray(shard.read_bytes())
    data[700] ^= 0xFF
    shard.write_bytes(bytes(data))
    with pytest.raises(ShardError, match="sha256 .* does not match"):
        list(iter_samples(tmp_path, verify=True))


def test_reader_streams_from_fsspec_urls(tmp_path):
    write_samples(tmp_path / "s", make_samples(3), dataset="t", max_count=2)
    fs = fsspec.filesystem("memory")
    for p in (tmp_path / "s").iterdir():
        fs.pipe(f"/pixmo-test/{p.name}", p.read_bytes())
    keys = [s.key for s in iter_samples("memory://pixmo-test", verify=True)]
    assert keys == [s.key for s in iter_samples(tmp_path / "s")]
    assert [s.key for s in iter_samples(f"file://{tmp_path / 's'}")] == keys
    fs.rm("/pixmo-test", recursive=True)


def test_reader_streams_s3_urls_from_a_local_s3_server(tmp_path, s3_bucket):
    """s3:// (s3fs against moto's standalone server): the reader used to pass ``block_size`` to the
    filesystem, which s3fs refuses, so no S3 set could be read."""
    write_samples(tmp_path / "s", make_samples(3), dataset="t", max_count=2)
    for p in (tmp_path / "s").iterdir():
        s3_bucket(f"sets/s/{p.name}", p.read_bytes())
    keys = [s.key for s in iter_samples("s3://pixmo/sets/s", verify=True)]
    assert keys == [s.key for s in iter_samples(tmp_path / "s")]


def test_truncated_tar_is_reported_with_the_shard_name(tmp_path):
    write_samples(tmp_path, make_samples(2), dataset="t")
    shard = tmp_path / "shard-000000.tar"
    shard.write_bytes(shard.read_bytes()[:1500])
    with pytest.raises(ShardError, match="shard-000000.tar: archive ends early"):
        list(iter_samples(tmp_path))


def test_tario_reads_long_names_from_gnu_and_pax_archives():
    long = "d/" + "k" * 120 + ".json"
    for fmt in (tarfile.GNU_FORMAT, tarfile.PAX_FORMAT):
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=fmt) as tf:
            for name, data in ((long, b"{}"), ("short.txt", b"x" * 700)):
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
            d = tarfile.TarInfo("adir")
            d.type = tarfile.DIRTYPE
            tf.addfile(d)
        buf.seek(0)
        assert list(tario.iter_files(buf)) == [(long, b"{}"), ("short.txt", b"x" * 700)]


def test_copy_of_a_shard_dir_is_still_valid(tmp_path):
    write_samples(tmp_path / "a", make_samples(2), dataset="t")
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    verify_checksums(tmp_path / "b")


@pytest.mark.parametrize(("name", "size"), [("a" * 64 + ".jpg", 12345), ("x.json", 0), ("k" * 100, 8**11 - 1),
                                            ("d" * 30 + "/" + "k" * 90, 5), ("é.png", 7)])
def test_fast_member_header_is_byte_identical_to_tarfile(name, size):
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = size, 0, 0o644
    assert tario.member_header(name, size) == info.tobuf(tarfile.USTAR_FORMAT, "utf-8", "surrogateescape")
