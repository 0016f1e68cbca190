"""`pixmo gen docs` reruns: run options (--threads, --workers, a larger --num) are not part of the
fingerprinted config, so a rerun reuses the finished shards and ends byte-identical to one run."""

from __future__ import annotations

import json
from pathlib import Path

from pixmo.cli import main
from pixmo.shards import read_manifest

DOCS = ["gen", "docs", "--per-shard", "2", "--renderers", "matplotlib", "--seed", "4"]


def _gen(capsys, out: Path, *args: str) -> dict:
    capsys.readouterr()
    assert main([*DOCS, "--out", str(out), *args]) == 0, capsys.readouterr().err
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def _tars(out: Path) -> dict[str, tuple[str, int]]:
    return {sh["name"]: (sh["sha256"], (out / sh["name"]).stat().st_mtime_ns) for sh in read_manifest(out)["shards"]}


def test_rerun_with_other_threads_workers_or_more_documents_reuses_finished_shards(tmp_path, capsys):
    out, ref = tmp_path / "docs", tmp_path / "ref"
    assert _gen(capsys, out, "--num", "4", "--threads", "2")["skipped"] == 0
    first = _tars(out)
    manifest = (out / "manifest.json").read_bytes()
    # the same documents with more threads: nothing is rendered again (the old code refused the rerun,
    # and with --overwrite made every shard again, as --threads was in the fingerprinted config)
    assert _gen(capsys, out, "--num", "4", "--threads", "3")["skipped"] == 2
    assert _tars(out) == first and (out / "manifest.json").read_bytes() == manifest
    # an interrupted run (one shard missing), finished with other --threads and --workers
    (out / "shard-000001.tar").unlink()
    again = _gen(capsys, out, "--num", "4", "--threads", "1", "--workers", "2")
    assert again["skipped"] == 1 and again["shards"] == 2
    assert _tars(out)["shard-000000.tar"] == first["shard-000000.tar"]
    # more documents with the same seed: the finished shards stay, the new ones are added
    more = _gen(capsys, out, "--num", "6", "--threads", "2")
    assert more["skipped"] == 2 and more["shards"] == 3
    assert _tars(out)["shard-000000.tar"] == first["shard-000000.tar"]
    _gen(capsys, ref, "--num", "6", "--threads", "4")
    assert {k: v[0] for k, v in _tars(out).items()} == {k: v[0] for k, v in _tars(ref).items()}
    assert (out / "manifest.json").read_bytes() == (ref / "manifest.json").read_bytes()
    # fewer documents would drop finished ones: refused unless --overwrite
    before = _tars(out)
    assert main([*DOCS, "--out", str(out), "--num", "2"]) == 2
    err = capsys.readouterr().err
    assert "holds 6 items of this run and this one plans 2" in err and len(err.strip().splitlines()) == 1
    assert _tars(out) == before


def test_an_edited_personas_file_is_new_content_not_a_resume(tmp_path, capsys):
    """The personas file used to be fingerprinted by its path: after editing it in place, a rerun
    reported every shard as finished and kept documents written for the old personas."""
    from generators.docs.config import PERSONAS_FILE

    personas = tmp_path / "personas.jsonl"
    lines = PERSONAS_FILE.read_text().splitlines()
    personas.write_text("\n".join(lines[:12]) + "\n")
    out = tmp_path / "docs"
    assert _gen(capsys, out, "--num", "2", "--personas", str(personas))["skipped"] == 0
    assert _gen(capsys, out, "--num", "2", "--personas", str(personas))["skipped"] == 1  # unchanged: resumes
    personas.write_text("\n".join(lines[12:24]) + "\n")
    capsys.readouterr()
    rc = main([*DOCS, "--out", str(out), "--num", "2", "--personas", str(personas)])
    captured = capsys.readouterr()
    # refused with one line (the directory holds a set made from other content); --overwrite remakes it
    assert rc == 2 and captured.err.count("\n") == 1 and "already holds a shard set" in captured.err
    assert _gen(capsys, out, "--num", "2", "--personas", str(personas), "--overwrite")["skipped"] == 0
