"""The persona ledger (``--ledger``): a later run draws the personas earlier runs did not use first;
a resumed or extended run keeps its own view of the ledger and stays byte-identical; with --split
only the split's personas are drawn."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from generators.docs import ledger
from generators.docs.config import PERSONAS_FILE, load_personas
from generators.docs.splits import personas_for
from pixmo.cli import main
from pixmo.shards import iter_samples, read_manifest

DOCS = ["gen", "docs", "--renderers", "html", "--per-shard", "2", "--seed", "3"]


def test_a_runs_view_is_what_other_runs_used_before_it_first_started(tmp_path):
    path = tmp_path / "ledger.jsonl"
    assert ledger.open_run(path, "A", {}) == frozenset()
    assert ledger.record_used(path, "A", ["p1", "p2"]) == 2
    assert ledger.record_used(path, "A", ["p2"]) == 0  # already recorded for A
    assert ledger.open_run(path, "B", {}) == {"p1", "p2"}
    ledger.record_used(path, "B", ["p3"])
    assert ledger.open_run(path, "A", {}) == frozenset()  # B's personas came after A started
    assert ledger.open_run(path, "B", {}) == {"p1", "p2"}
    assert ledger.open_run(path, "C", {}) == {"p1", "p2", "p3"}
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    assert sum("start" in x for x in lines) == 3  # one start line per run, however often it opens


def test_persona_order_puts_the_unused_first_in_the_seeded_order():
    names = [f"p{i}" for i in range(10)]
    plain = ledger.persona_order(names, 5)
    assert sorted(plain) == list(range(10))
    used = frozenset({"p0", "p3", "p7"})
    order = ledger.persona_order(names, 5, used)
    assert [names[i] for i in order[:7]] == [names[i] for i in plain if names[i] not in used]
    assert {names[i] for i in order[7:]} == used
    assert ledger.digest([]) == "" and ledger.digest(["b", "a"]) == ledger.digest(["a", "b", "a"])


def _personas_file(tmp_path: Path, n: int) -> Path:
    p = tmp_path / "personas.jsonl"
    p.write_text("\n".join(PERSONAS_FILE.read_text().splitlines()[:n]) + "\n")
    return p


def _gen(capsys, out: Path, *args: str) -> dict:
    capsys.readouterr()
    assert main([*DOCS, "--out", str(out), *args]) == 0, capsys.readouterr().err
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def _personas(out: Path) -> list[str]:
    return [s.annotations[0].meta["persona"] for s in iter_samples(out)]


def _tars(out: Path) -> dict[str, str]:
    return {sh["name"]: sh["sha256"] for sh in read_manifest(out)["shards"]}


def test_later_runs_draw_unused_personas_and_a_resumed_run_is_byte_identical(tmp_path, capsys):
    people = _personas_file(tmp_path, 8)
    led = tmp_path / "ledger.jsonl"
    a, b, b2, c = (tmp_path / n for n in ("a", "b", "b2", "c"))
    common = ("--num", "4", "--personas", str(people), "--ledger", str(led))
    assert _gen(capsys, a, *common)["ledger"]["added"] == 4
    first_a, pa = _tars(a), set(_personas(a))
    snapshot = tmp_path / "after_a.jsonl"
    shutil.copy(led, snapshot)
    res_b = _gen(capsys, b, *common)
    pb = set(_personas(b))
    assert len(pa) == len(pb) == 4 and not pa & pb  # the second run drew the 4 unused personas
    assert res_b["ledger"]["used_before"] == 4
    # the same ledger contents and seed give the same documents (another output directory)
    _gen(capsys, b2, "--num", "4", "--personas", str(people), "--ledger", str(snapshot))
    assert _tars(b2) == _tars(b) and set(_personas(b2)) == pb
    # A resumed after B wrote to the ledger: its view is still the one it started with
    (a / "shard-000001.tar").unlink()
    again = _gen(capsys, a, *common)
    assert again["skipped"] == 1 and _tars(a) == first_a and set(_personas(a)) == pa
    more = _gen(capsys, a, "--num", "6", "--personas", str(people), "--ledger", str(led))
    assert more["skipped"] == 2 and {k: v for k, v in _tars(a).items() if k in first_a} == first_a
    # every persona is used: a third run reuses some, and says so
    res_c = _gen(capsys, c, *common)
    assert res_c["ledger"]["used_before"] == 8 and len(set(_personas(c))) == 4
    stats = json.loads((c / "shard-000000.tar.stats.json").read_text())["stats"]
    assert stats["personas_reused"] == 2


def test_with_a_split_the_ledger_draws_only_that_splits_personas(tmp_path, capsys):
    led = tmp_path / "ledger.jsonl"
    test_personas = {p.persona for p in personas_for(load_personas(), "test")}
    assert len(test_personas) == 4
    _gen(capsys, tmp_path / "train", "--num", "2", "--split", "train", "--ledger", str(led))
    _gen(capsys, tmp_path / "t1", "--num", "2", "--split", "test", "--ledger", str(led))
    t2 = _gen(capsys, tmp_path / "t2", "--num", "2", "--split", "test", "--ledger", str(led))
    assert t2["ledger"]["used_before"] == 2  # the train run's personas are not the test split's
    p1, p2 = set(_personas(tmp_path / "t1")), set(_personas(tmp_path / "t2"))
    assert len(p1) == len(p2) == 2 and not p1 & p2 and p1 | p2 == test_personas
