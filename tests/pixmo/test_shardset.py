"""Writers never silently replace data: refuse, --overwrite (atomic, no strays), --append, kill -9,
and `pixmo manifest rebuild`."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pixmo.cli import main
from pixmo.hf import SCHEMAS
from pixmo.shards import MANIFEST, iter_samples, read_manifest, sha256_hex, verify_checksums, write_samples
from pixmo.shardset import JOURNAL, ShardSetExists, rebuild_manifest, recover, staging_dir
from pixmo.validate import validate_dir
from tests.pixmo.conftest import image_bytes, make_samples

ROOT = Path(__file__).resolve().parents[2]


def snapshot(d: Path) -> dict[str, str]:
    """Every file under ``d`` (relative name -> sha256 of its bytes)."""
    return {p.relative_to(d).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(d.rglob("*")) if p.is_file()}


def test_writing_into_a_set_of_other_data_is_refused_and_leaves_it_intact(tmp_path):
    out = tmp_path / "out"
    write_samples(out, make_samples(6), dataset="a", max_count=2)
    before = snapshot(out)
    with pytest.raises(ShardSetExists, match="--overwrite.*--append"):
        write_samples(out, make_samples(2, start=10), dataset="b", max_count=2)
    assert snapshot(out) == before
    assert not staging_dir(out).exists()


def test_directory_with_other_files_is_refused(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(ShardSetExists, match="already holds files"):
        write_samples(out, make_samples(1), dataset="b")
    assert (out / "notes.txt").read_text() == "mine"


def test_overwrite_replaces_the_set_with_no_stray_shards(tmp_path):
    out = tmp_path / "out"
    write_samples(out, make_samples(6), dataset="a", max_count=2)  # 3 shards
    write_samples(out, make_samples(2, start=10), dataset="b", max_count=2, mode="overwrite")  # 1 shard
    assert sorted(p.name for p in out.iterdir()) == ["README.md", MANIFEST, "shard-000000.tar"]  # README: the HF card
    assert [s.key for s in iter_samples(out)] == [s.key for s in make_samples(2, start=10)]
    assert validate_dir(out).ok


def test_append_numbers_new_shards_after_the_old_and_extends_the_manifest(tmp_path):
    out = tmp_path / "out"
    write_samples(out, make_samples(4), dataset="a", max_count=2)
    old = read_manifest(out)["shards"]
    write_samples(out, make_samples(3, start=10), dataset="a", max_count=2, mode="append")
    man = read_manifest(out)
    assert [s["name"] for s in man["shards"]] == [f"shard-{i:06d}.tar" for i in range(4)]
    assert man["shards"][:2] == old and man["num_samples"] == 7
    keys = [s.key for s in iter_samples(out, verify=True)]
    assert keys == [s.key for s in make_samples(4)] + [s.key for s in make_samples(3, start=10)]
    assert validate_dir(out).ok


def test_stray_shard_not_in_the_manifest_fails_validation(tmp_path):
    out = tmp_path / "out"
    write_samples(out, make_samples(2), dataset="a", max_count=1)
    (out / "shard-000007.tar").write_bytes((out / "shard-000000.tar").read_bytes())
    rep = validate_dir(out)
    assert not rep.ok and any("shard-000007.tar" in p.shard and "not in the manifest" in p.problem
                              for p in rep.problems)


KILLED = textwrap.dedent("""
    import sys, time
    from pixmo import shards, tario
    from tests.pixmo.conftest import make_samples
    calls = {"n": 0}
    real = tario.member_bytes
    def slow(name, data):
        calls["n"] += 1
        if calls["n"] == 11:  # inside the third shard
            print("MID", flush=True)
            time.sleep(60)
        return real(name, data)
    shards.tario.member_bytes = slow
    shards.write_samples(sys.argv[1], make_samples(8, start=20), dataset="new", max_count=2, mode=sys.argv[2])
""")


@pytest.mark.parametrize("mode", ["overwrite", "append"])
def test_kill_9_mid_write_leaves_the_old_set_and_the_next_run_completes(tmp_path, mode):
    out = tmp_path / "out"
    write_samples(out, make_samples(6), dataset="old", max_count=2)
    before = snapshot(out)
    proc = subprocess.Popen([sys.executable, "-c", KILLED, str(out), mode], cwd=ROOT, stdout=subprocess.PIPE,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == b"MID"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        proc.kill()
    assert snapshot(out) == before, "the killed run changed the existing set"
    write_samples(out, make_samples(8, start=20), dataset="new", max_count=2, mode=mode)
    n = 8 if mode == "overwrite" else 14
    assert read_manifest(out)["num_samples"] == n and validate_dir(out).ok
    assert not staging_dir(out).exists()


def test_a_run_killed_during_the_swap_or_the_append_is_rolled_back(tmp_path):
    out = tmp_path / "out"
    write_samples(out, make_samples(2), dataset="old")
    before = snapshot(out)
    os.replace(out, tmp_path / ".out.old")  # killed between the two renames of an overwrite
    recover(out)
    assert snapshot(out) == before
    (out / "shard-000001.tar").write_bytes(b"half moved")  # killed while moving appended shards in
    (out / JOURNAL).write_text(json.dumps({"files": ["shard-000001.tar"]}))
    recover(out)
    assert snapshot(out) == before


def test_a_failed_mix_keeps_the_existing_manifest(tmp_path):
    from pipelines.mix import materialise
    from pixmo.mixture import MixtureConfig, MixtureSource

    src, out = tmp_path / "src", tmp_path / "mixed"
    write_samples(src, make_samples(3), dataset="s")
    write_samples(out, make_samples(2, start=10), dataset="kept")
    before = snapshot(out)
    (src / "shard-000000.tar").write_bytes(b"broken")  # the source breaks while the mixture is drawn
    cfg = MixtureConfig([MixtureSource("s", str(src))])
    with pytest.raises(Exception, match="shard-000000.tar"):
        materialise(cfg, out, 5, mode="overwrite", progress=False)
    assert snapshot(out) == before


def test_manifest_rebuild_recreates_a_deleted_manifest(tmp_path):
    out = tmp_path / "out"
    write_samples(out, make_samples(5), dataset="a", max_count=2)
    want = read_manifest(out)
    (out / MANIFEST).unlink()
    assert main(["manifest", "rebuild", str(out), "--dataset", "a"]) == 0
    got = read_manifest(out)
    assert got["shards"] == want["shards"] and got["num_samples"] == 5 and got["units"] == want["units"]
    verify_checksums(out)
    with pytest.raises(Exception, match="no .tar files"):
        rebuild_manifest(tmp_path / "empty")


def _points_parquet(path: Path, images: list[bytes], label: str) -> None:
    rows = [{"image_url": f"https://x.example/{sha256_hex(b)[:8]}.png", "image_sha256": sha256_hex(b),
             "points": [{"x": 10.0, "y": 20.0}], "count": 1, "label": label, "collection_method": "pointing"}
            for b in images]
    pq.write_table(pa.Table.from_pylist(rows, schema=SCHEMAS["pixmo-points"]), path)


def test_import_hf_of_two_files_keeps_both_and_a_second_import_needs_a_flag(tmp_path, capsys):
    imgs = tmp_path / "images"
    imgs.mkdir()
    a, b = [image_bytes(i) for i in range(3)], [image_bytes(i) for i in range(3, 5)]
    for i, data in enumerate(a + b):
        (imgs / f"{i}.png").write_bytes(data)
    _points_parquet(tmp_path / "train-0.parquet", a, "dog")
    _points_parquet(tmp_path / "train-1.parquet", b, "cat")
    out = tmp_path / "set"
    args = ["import-hf", "pixmo-points", "--images-dir", str(imgs), "--out", str(out)]
    assert main([*args[:2], str(tmp_path / "train-0.parquet"), str(tmp_path / "train-1.parquet"), *args[2:]]) == 0
    assert read_manifest(out)["num_samples"] == 5
    both = tmp_path / "both"
    both.mkdir()
    for n in ("train-0.parquet", "train-1.parquet"):
        os.replace(tmp_path / n, both / n)
    out2 = tmp_path / "set2"
    assert main([*args[:2], str(both / "train-0.parquet"), "--images-dir", str(imgs), "--out", str(out2)]) == 0
    capsys.readouterr()
    assert main([*args[:2], str(both / "train-1.parquet"), "--images-dir", str(imgs), "--out", str(out2)]) == 2
    err = capsys.readouterr().err
    assert "already holds a shard set" in err and len(err.strip().splitlines()) == 1
    assert read_manifest(out2)["num_samples"] == 3
    assert main([*args[:2], str(both / "train-1.parquet"), "--images-dir", str(imgs), "--out", str(out2),
                 "--append"]) == 0
    assert read_manifest(out2)["num_samples"] == 5 and validate_dir(out2).ok
    out3 = tmp_path / "set3"
    assert main([*args[:2], str(both), "--images-dir", str(imgs), "--out", str(out3)]) == 0
    assert {s.key for s in iter_samples(out3)} == {s.key for s in iter_samples(out)}


def test_the_same_command_again_publishes_only_identical_data(tmp_path):
    """A rerun (same dataset, split, config, seed) is not a conflict when it writes the same shards;
    when its data changed (a re-export after new submissions, an edited input file of the same name)
    it is refused like any other set, and the existing set stays exactly as it was."""
    from pixmo.shards import write_samples
    from pixmo.shardset import ShardSetExists, staging_dir
    from tests.pixmo.conftest import make_samples

    out = tmp_path / "s"
    write_samples(out, make_samples(3), dataset="t", config={"source": "a.parquet"})
    before = snapshot(out)
    write_samples(out, make_samples(3), dataset="t", config={"source": "a.parquet"})
    assert snapshot(out) == before
    with pytest.raises(ShardSetExists, match="data differ"):
        write_samples(out, make_samples(4), dataset="t", config={"source": "a.parquet"})
    assert snapshot(out) == before and not staging_dir(out).exists()
    write_samples(out, make_samples(4), dataset="t", config={"source": "a.parquet"}, mode="overwrite")
    assert snapshot(out) != before
