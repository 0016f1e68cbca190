"""A persisted ledger of the personas docs runs used, so later runs draw unused personas first.

The ledger is an append-only JSONL file (``--ledger PATH``). Two kinds of lines::

    {"run": "<id>", "start": {"out": ..., "seed": ..., "split": ...}}   # first time a run starts
    {"run": "<id>", "persona": "<text>"}                                  # a persona the run used

A run is identified by its output directory, seed and fingerprinted config (``run_id``), so a
resumed run, or the same command with a larger ``--num``, is the same run. A run's *view* is the
set of personas used by other runs in the lines **before its own first start line**: on resume the
view is the same set, whatever other runs appended in between, so a resumed run plans the same
personas and writes byte-identical shards. The pipeline puts the personas of the run's split that
are not in the view first (in the seeded order), then the used ones (``persona_order``).
Appends hold an exclusive ``flock`` so concurrent runs do not interleave lines.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

import numpy as np


def run_id(out: str | Path, seed: int, config: dict[str, Any]) -> str:
    """Which run this is: the resolved output directory, the seed and the config (without the
    ledger digest, which is derived from the view)."""
    cfg = {k: v for k, v in config.items() if k != "used_personas_sha256"}
    blob = json.dumps([str(Path(out).resolve()), seed, cfg], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[IO[str]]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+", encoding="utf-8") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            f.seek(0)
            yield f
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _lines(f: IO[str], where: Path) -> list[dict[str, Any]]:
    rows = []
    for n, line in enumerate(f.read().splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            raise ValueError(f"ledger {where}:{n}: not JSON") from None
        if not isinstance(row, dict) or not isinstance(row.get("run"), str):
            raise ValueError(f"ledger {where}:{n}: each line needs a string field 'run'")
        rows.append(row)
    return rows


def _view(rows: list[dict[str, Any]], run: str) -> set[str] | None:
    """Personas used by other runs before this run's start line; None if the run never started."""
    used: set[str] = set()
    for row in rows:
        if row["run"] == run and "start" in row:
            return used
        if row["run"] != run and isinstance(row.get("persona"), str):
            used.add(row["persona"])
    return None


def open_run(path: str | Path, run: str, start: dict[str, Any]) -> frozenset[str]:
    """The run's view of the ledger (personas used before it); the first call appends its start line."""
    p = Path(path)
    with _locked(p) as f:
        rows = _lines(f, p)
        view = _view(rows, run)
        if view is None:
            view = _view(rows + [{"run": run, "start": start}], run) or set()
            f.write(json.dumps({"run": run, "start": start}, sort_keys=True) + "\n")
    return frozenset(view)


def record_used(path: str | Path, run: str, personas: Iterable[str]) -> int:
    """Append the personas this run used that the ledger does not yet hold for it; returns how many."""
    p = Path(path)
    with _locked(p) as f:
        have = {r["persona"] for r in _lines(f, p) if r["run"] == run and isinstance(r.get("persona"), str)}
        new = sorted(set(personas) - have)
        f.seek(0, 2)
        f.writelines(json.dumps({"run": run, "persona": x}, ensure_ascii=False) + "\n" for x in new)
    return len(new)


def digest(used: Iterable[str]) -> str:
    """What the documents depend on: the sha256 of the sorted used personas ("" when none)."""
    names = sorted(set(used))
    return hashlib.sha256("\n".join(names).encode()).hexdigest() if names else ""


def persona_order(n_or_names: Sequence[str], seed: int, used: frozenset[str] = frozenset()) -> list[int]:
    """Indices into the personas: the seeded permutation, with the unused ones first (a stable
    partition, so with nothing used it is the plain permutation the pipeline always drew)."""
    perm = [int(i) for i in np.random.default_rng([seed, 99]).permutation(len(n_or_names))]
    if not used:
        return perm
    return [i for i in perm if n_or_names[i] not in used] + [i for i in perm if n_or_names[i] in used]
