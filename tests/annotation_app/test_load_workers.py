"""The issue-18 load test, short: ``pixmo annotate serve --workers 2`` on PostgreSQL, 20 simulated
annotators for 20 s (drafts, releases, replayed submits, walk-aways past a 3 s lease so leases
expire and are swept by both processes), then from the database: no item held or answered beyond
its overlap, and exactly the acknowledged submissions stored. No timing is asserted; the
5-minute, 200-annotator run is ``benchmarks/bench_app_load.py`` (figures in benchmarks/README.md)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _bench() -> object:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    spec = importlib.util.spec_from_file_location("bench_app_load", ROOT / "benchmarks" / "bench_app_load.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.xdist_group("app_load")
def test_two_workers_20_annotators_no_double_claims_no_lost_submissions(pg_url, tmp_path):
    out = _bench().load_test(pg_url, str(tmp_path / "media"), annotators=20, workers=2, seconds=20.0,  # type: ignore[attr-defined]
                             rate=40.0, lease_s=3.0)
    print(out)
    assert out["first_errors"] == [] and out["errors"] == 0
    assert out["acked_submissions"] > 100, "the run must have done real work"
    assert out["late_submits_refused"] + out["replayed_submits"] > 0, "the late and replayed paths ran"
    assert out["overlap_samples"] > 10
    assert out["invariants"] == dict.fromkeys(out["invariants"], 0), out["invariants"]
