"""``pixmo validate`` on good and corrupted shards: every problem is named, the exit code is 1."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from pixmo import cli_data, tario
from pixmo.shards import file_sha256, write_samples
from pixmo.validate import validate_dir
from tests.pixmo.conftest import make_samples

ROOT = Path(__file__).resolve().parents[2]
SHARD = "shard-000000.tar"


def cli() -> typer.Typer:
    app = typer.Typer()
    cli_data.register(app)
    return app


@pytest.fixture(scope="module")
def good(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("good")
    write_samples(d, make_samples(3), dataset="t", max_count=2)
    return d


def members_of(shard: Path) -> list[tuple[str, bytes]]:
    with open(shard, "rb") as f:
        return list(tario.iter_files(f))


def rewrite(d: Path, edit: Callable[[list[tuple[str, bytes]]], list[tuple[str, bytes]]], *,
            fix_manifest: bool = True) -> None:
    """Re-tar the first shard with edited members; optionally keep the manifest's hash in step."""
    shard = d / SHARD
    chunks = [c for name, data in edit(members_of(shard)) for c in tario.member_bytes(name, data)]
    body = b"".join(chunks)
    shard.write_bytes(body + tario.archive_end(len(body)))
    if fix_manifest:
        m = json.loads((d / "manifest.json").read_text())
        m["shards"][0]["sha256"], m["shards"][0]["bytes"] = file_sha256(shard), shard.stat().st_size
        (d / "manifest.json").write_text(json.dumps(m))


def edit_json(fn: Callable[[dict], None]) -> Callable[[list[tuple[str, bytes]]], list[tuple[str, bytes]]]:
    def edit(members: list[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
        name, data = members[1]
        head = json.loads(data)
        for a in head["annotations"]:  # records are JSON strings (schema 2); edit them as objects,
            a["record"] = json.loads(a["record"])  # which validate also reads (schema 1)
        fn(head)
        members[1] = (name, json.dumps(head).encode())
        return members
    return edit


def points_ann(head: dict) -> dict:
    return next(a for a in head["annotations"] if a["subset"] == "pixmo-points")["record"]


def count_ann(head: dict) -> dict:
    return next(a for a in head["annotations"] if a["subset"] == "pixmo-count")["record"]


def run_validate(d: Path) -> tuple[int, str, dict]:
    report = d.parent / f"{d.name}-report.json"
    res = CliRunner().invoke(cli(), ["validate", str(d), "--json", str(report)], env={"COLUMNS": "250"})
    return res.exit_code, res.output, json.loads(report.read_text())


def problems(report: dict) -> set[tuple[str, str]]:
    return {(p["shard"], p["field"]) for p in report["problems"]}


def test_valid_shards_pass(good):
    code, out, report = run_validate(good)
    assert code == 0, out
    assert "OK" in out and report["ok"] and report["samples"] == 3 and report["shards"] == 2


def key0(d: Path) -> str:
    return members_of(d / SHARD)[0][0].split(".")[0]


CORRUPTIONS = {
    "flipped byte": (lambda d: flip(d / SHARD, 600), {(SHARD, "sha256")}),
    "missing member": (lambda d: rewrite(d, lambda m: m[1:]), {(SHARD, "image")}),
    "bad json": (lambda d: rewrite(d, lambda m: [m[0], (m[1][0], b"{not json")] + m[2:]), {(SHARD, "json")}),
    "wrong field type": (lambda d: rewrite(d, edit_json(lambda h: points_ann(h).update(count="2"))),
                         {(SHARD, "annotations[3].pixmo-points.count")}),
    "points out of range": (lambda d: rewrite(d, edit_json(lambda h: points_ann(h)["points"][0].update(x=150.0))),
                            {(SHARD, "annotations[3].pixmo-points.points[0].x")}),
    "count pixels outside the image": (
        lambda d: rewrite(d, edit_json(lambda h: count_ann(h)["points"]["x"].__setitem__(0, 65.0))),
        {(SHARD, "annotations[7].pixmo-count.points")}),
    "image_sha256 not the key": (
        lambda d: rewrite(d, edit_json(lambda h: points_ann(h).update(image_sha256="b" * 64))),
        {(SHARD, "annotations[3].pixmo-points.image_sha256")}),
    "truncated tar": (lambda d: (d / SHARD).write_bytes((d / SHARD).read_bytes()[:2000]),
                      {(SHARD, "tar"), (SHARD, "sha256"), (SHARD, "samples")}),
}


def flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("name", list(CORRUPTIONS))
def test_each_corruption_is_named(good, tmp_path, name):
    d = tmp_path / "d"
    shutil.copytree(good, d)
    corrupt, expected = CORRUPTIONS[name]
    key = key0(d)
    corrupt(d)
    code, out, report = run_validate(d)
    assert code == 1
    assert "INVALID" in out and SHARD in out
    assert expected <= problems(report), report["problems"]
    if name not in ("flipped byte", "truncated tar"):
        assert any(p["key"] == key for p in report["problems"])
        assert key in out


def test_all_problems_are_reported_not_only_the_first(good, tmp_path):
    d = tmp_path / "d"
    shutil.copytree(good, d)
    rewrite(d, edit_json(lambda h: (points_ann(h).update(count="2"), count_ann(h).update(label=3))))
    flip(d / "shard-000001.tar", 600)
    m = json.loads((d / "manifest.json").read_text())
    m["shards"][1]["samples"] = 5
    (d / "manifest.json").write_text(json.dumps(m))
    report = validate_dir(d).to_json()
    got = problems(report)
    assert {(SHARD, "annotations[3].pixmo-points.count"), (SHARD, "annotations[7].pixmo-count.label"),
            ("shard-000001.tar", "sha256"), ("shard-000001.tar", "samples")} <= got


def test_missing_manifest_and_missing_shard(good, tmp_path):
    d = tmp_path / "d"
    shutil.copytree(good, d)
    (d / "shard-000001.tar").unlink()
    assert ("shard-000001.tar", "file") in problems(validate_dir(d).to_json())
    (d / "manifest.json").unlink()
    report = validate_dir(d).to_json()
    assert ("manifest.json", "manifest") in problems(report) and report["samples"] == 2


def test_installed_pixmo_command_exits_non_zero(good, tmp_path):
    d = tmp_path / "d"
    shutil.copytree(good, d)
    rewrite(d, lambda m: [m[0], (m[1][0], b"[1, 2")] + m[2:])
    res = subprocess.run([str(ROOT / ".venv/bin/pixmo"), "validate", str(d)], capture_output=True, text=True,
                         env={"COLUMNS": "250", "PATH": "/usr/bin:/bin"})
    assert res.returncode == 1
    assert "is not valid JSON" in res.stdout and key0(d) in res.stdout


def test_validate_of_a_single_tar_checks_its_samples_without_a_manifest(tmp_path, capsys):
    from pixmo.cli import main
    from pixmo.shards import write_samples
    from tests.pixmo.conftest import make_samples

    write_samples(tmp_path / "s", make_samples(3), dataset="t", max_count=2)
    assert main(["validate", str(tmp_path / "s" / "shard-000000.tar")]) == 0
    assert "2 samples" in capsys.readouterr().out
    (tmp_path / "bad.tar").write_bytes(b"not a tar at all" * 64)
    assert main(["validate", str(tmp_path / "bad.tar")]) == 1
    out = capsys.readouterr().out
    assert "bad.tar" in out and "Traceback" not in out


def test_a_record_string_that_is_not_json_is_named(tmp_path):
    from pixmo.shards import write_samples
    from pixmo.validate import validate_dir
    from tests.pixmo.conftest import make_samples

    write_samples(tmp_path / "s", make_samples(1), dataset="t")

    def broken(members):
        name, data = members[1]
        head = json.loads(data)
        head["annotations"][0]["record"] = "{not json"
        members[1] = (name, json.dumps(head).encode())
        return members

    rewrite(tmp_path / "s", broken)
    rep = validate_dir(tmp_path / "s")
    assert any(p.field == "annotations[0]" and "not valid JSON" in p.problem for p in rep.problems)
