"""Agreement report cost: ``agreement_db.campaign_agreement`` (what the quality page's agreement
section, the export report and ``pixmo annotate agreement`` compute) against the baseline of
``stats.annotators`` (the quality page's existing per-annotator table) over the same campaign on
SQLite: N pointing items, 3 annotators each, 9 expressions per answer with 0-10 points.

    .venv/bin/python benchmarks/bench_agreement.py --quick
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select

from annotation_app.agreement_db import campaign_agreement
from annotation_app.campaigns import CampaignIn, create_campaign
from annotation_app.db import make_engine, migrate, read_tx, write_tx
from annotation_app.models import Assignment, Item, Submission, User
from annotation_app.stats import annotators


def _answer(rng: random.Random, base: dict[str, list[tuple[float, float]]]) -> dict[str, object]:
    exprs = [{"label": label, "points": [{"x": x + rng.gauss(0, 5), "y": y + rng.gauss(0, 5)} for x, y in pts],
              "not_present": not pts} for label, pts in base.items()]
    return {"expressions": exprs, "flags": []}


def _new_id(key: Any) -> int:
    assert key is not None
    return int(key[0])


def seed(url: str, n_items: int) -> int:
    rng, t = random.Random(0), time.time()
    engine = make_engine(url)
    with write_tx(engine) as conn:
        users = [_new_id(conn.execute(insert(User).values(username=f"u{k}", password_hash="x", role="annotator",
                                                          active=True, created_at=t)).inserted_primary_key)
                 for k in range(3)]
        cid = create_campaign(conn, CampaignIn(name="bench", task_type="pointing", overlap=3), None)
        conn.execute(insert(Item), [{"campaign_id": cid, "source_key": f"k{i}", "media_key": f"m{i}", "image_sha256": "0" * 64,
                                     "width": 640, "height": 480, "spec": {}, "overlap": 3, "taken": 3}
                                    for i in range(n_items)])
        items = conn.execute(select(Item.id)).scalars().all()
        conn.execute(insert(Assignment), [{"item_id": i, "campaign_id": cid, "user_id": u, "status": "submitted",
                                           "lease_expires_at": t, "claimed_at": t - 30, "submitted_at": t}
                                          for i in items for u in users])
        rows = conn.execute(select(Assignment.id, Assignment.item_id, Assignment.user_id)).all()
        bases = {i: {f"thing {e}": [(rng.uniform(0, 600), rng.uniform(0, 400)) for _ in range(rng.randint(0, 10))]
                     for e in range(9)} for i in items}
        conn.execute(insert(Submission), [{"assignment_id": a, "item_id": i, "campaign_id": cid, "user_id": u,
                                           "client_key": f"key-{a}", "payload": _answer(rng, bases[i]),
                                           "duration_ms": 20000, "kind": "annotator", "created_at": t}
                                          for a, i, u in rows])
    engine.dispose()
    return cid


def timed(fn, repeat: int) -> float:  # noqa: ANN001
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="300 items instead of 2000")
    args = ap.parse_args()
    n = 300 if args.quick else 2000
    url = f"sqlite:///{Path(tempfile.mkdtemp()) / 'bench.db'}"
    migrate(url)
    cid = seed(url, n)
    engine = make_engine(url)

    def run(fn):  # noqa: ANN001, ANN202
        with read_tx(engine) as conn:
            return fn(conn, cid)

    base_s = timed(lambda: run(annotators), 3)
    ours_s = timed(lambda: run(campaign_agreement), 3)
    rep = run(campaign_agreement)
    f1 = next(m for m in rep["summary"] if m["key"] == "point_f1")
    print(f"{n} items x 3 annotators x 9 expressions ({rep['pairs']} pairs, {f1['n']} F1 units)")
    print(f"{'':38}{'seconds':>8}{'ratio':>10}")
    print(f"{'stats.annotators (quality table)':38}{base_s:8.3f}{1.0:10.2f}")
    print(f"{'agreement_db.campaign_agreement':38}{ours_s:8.3f}{ours_s / base_s:10.2f}x the baseline")
    print(json.dumps({"items": n, "pairs": rep["pairs"], "f1_units": f1["n"], "baseline_s": round(base_s, 3),
                      "ours_s": round(ours_s, 3), "ratio": round(ours_s / base_s, 2),
                      "items_per_s": round(n / ours_s, 1)}))


if __name__ == "__main__":
    main()
