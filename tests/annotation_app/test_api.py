"""API behaviour: leases (prefetch, expiry, heartbeat, release), idempotent submits, drafts,
review round trip, read-only completed items, gold scoring, import/export, the job queue."""

from __future__ import annotations

import json
import threading
import time

import pytest
from sqlalchemy import text

from annotation_app import jobs
from annotation_app.db import read_tx, write_tx
from annotation_app.export import export_coco, export_shards
from annotation_app.quality import match_points, point_metrics
from pixmo.records import PixmoCount
from pixmo.shards import Annotation, Sample, iter_samples, write_samples

PT = {"label": "red dot", "points": [{"x": 10.0, "y": 12.0}, {"x": 40.0, "y": 30.0}]}


def claim(c, cid, exclude=()):
    r = c.post(f"/api/campaigns/{cid}/claim", json={"exclude": list(exclude)})
    assert r.status_code == 200, r.text
    return r.json()["assignment"]


def submit(c, aid, payload, key):
    return c.post(f"/api/assignments/{aid}/submit", json={"client_key": key, "payload": payload, "duration_ms": 1500})


def test_prefetch_reload_and_lease_limit(appctx):
    c = appctx.client("annotator")
    cid = appctx.campaign_id
    a = claim(c, cid)
    assert claim(c, cid)["assignment_id"] == a["assignment_id"]  # a reload gets the same task back
    b = claim(c, cid, [a["assignment_id"]])  # prefetch the next one
    assert b["assignment_id"] != a["assignment_id"] and b["item"]["id"] != a["item"]["id"]
    r = c.post(f"/api/campaigns/{cid}/claim", json={"exclude": [a["assignment_id"], b["assignment_id"]]})
    assert r.status_code == 409 and "limit 2" in r.json()["detail"]
    assert c.post(f"/api/assignments/{a['assignment_id']}/release").status_code == 200
    other = appctx.client("reviewer")
    assert claim(other, cid)["item"]["id"] == a["item"]["id"]  # the released slot is free again


def test_idempotent_submit_and_key_reuse(appctx):
    c = appctx.client("annotator")
    a = claim(c, appctx.campaign_id)
    r1, r2 = submit(c, a["assignment_id"], PT, "key-aaaa1"), submit(c, a["assignment_id"], PT, "key-aaaa1")
    assert r1.json()["submission_id"] == r2.json()["submission_id"] and r2.json()["replayed"]
    b = claim(c, appctx.campaign_id)
    r = submit(c, b["assignment_id"], PT, "key-aaaa1")
    assert r.status_code == 409 and "already used" in r.json()["detail"]
    with read_tx(appctx.app.state.engine) as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM submissions")).scalar() == 1


def test_expired_lease_frees_the_slot_and_heartbeat_extends(appctx_factory):
    ctx = appctx_factory(lease_seconds=0.4)
    ann, admin, rev = ctx.client("annotator"), ctx.client("admin"), ctx.client("reviewer")
    cid = ctx.campaign_id
    a = claim(ann, cid)
    for _ in range(4):
        time.sleep(0.2)
        assert ann.post(f"/api/assignments/{a['assignment_id']}/heartbeat").status_code == 200
    with read_tx(ctx.app.state.engine) as conn:
        status, exp = conn.execute(text("SELECT status, lease_expires_at FROM assignments WHERE id = :i"),
                                   {"i": a["assignment_id"]}).one()
    assert status == "active" and exp > time.time()  # 0.8 s after the claim, held thanks to heartbeats
    time.sleep(0.6)
    first = claim(admin, cid)
    second = claim(admin, cid, [first["assignment_id"]])
    third = claim(rev, cid)
    got = [x["item"]["id"] for x in (first, second, third)]
    assert a["item"]["id"] in got and len(set(got)) == 3  # the expired slot went to someone else
    r = submit(ann, a["assignment_id"], PT, "key-late-1")
    assert r.status_code == 409 and "lease expired" in r.json()["detail"]


def test_draft_survives_and_reject_returns_to_author_then_read_only(appctx):
    ann, rev = appctx.client("annotator"), appctx.client("reviewer")
    cid = appctx.campaign_id
    a = claim(ann, cid)
    aid = a["assignment_id"]
    draft = {"label": "dot", "points": [{"x": 1.0, "y": 2.0}], "not_present": False}
    assert ann.put(f"/api/assignments/{aid}/draft", json={"draft": draft}).status_code == 200
    assert claim(ann, cid)["draft"] == draft  # a reload brings the draft back
    assert submit(ann, aid, PT, "key-first-1").status_code == 200
    queue = rev.get(f"/api/campaigns/{cid}/review").json()
    entry = next(e for e in queue if e["assignment_id"] == aid)
    assert entry["annotator"] == "annotator" and entry["payload"]["points"] == PT["points"]
    r = rev.post(f"/api/assignments/{aid}/review", json={"decision": "reject", "version": entry["version"]})
    assert r.status_code == 422 and "reason" in r.json()["detail"]
    r = rev.post(f"/api/assignments/{aid}/review", json={"decision": "reject", "reason": "missed one",
                                                         "version": entry["version"]})
    assert r.status_code == 200
    back = claim(ann, cid)
    assert back["assignment_id"] == aid and back["reject_reason"] == "missed one"
    assert any(x["status"] == "rejected" or x["id"] == aid for x in ann.get("/api/my/assignments").json())
    fixed = {**PT, "points": PT["points"] + [{"x": 50.0, "y": 5.0}]}
    assert submit(ann, aid, fixed, "key-second-1").status_code == 200
    entry = next(e for e in rev.get(f"/api/campaigns/{cid}/review").json() if e["assignment_id"] == aid)
    stale = rev.post(f"/api/assignments/{aid}/review", json={"decision": "accept", "version": entry["version"] - 1})
    assert stale.status_code == 409 and "changed since" in stale.json()["detail"]
    assert rev.post(f"/api/assignments/{aid}/review", json={"decision": "accept", "version": entry["version"]}).status_code == 200
    r = submit(ann, aid, PT, "key-third-1")
    assert r.status_code == 409 and "read-only" in r.json()["detail"]
    assert ann.put(f"/api/assignments/{aid}/draft", json={"draft": draft}).status_code == 409
    with read_tx(appctx.app.state.engine) as conn:
        actions = [r[0] for r in conn.execute(text("SELECT action FROM audit_log ORDER BY id"))]
    for act in ("claim", "submit", "review.reject", "claim.returned", "review.accept"):
        assert act in actions


def test_reviewer_edit_and_gold_scoring(appctx):
    ann, rev, admin = appctx.client("annotator"), appctx.client("reviewer"), appctx.client("admin")
    cid = appctx.campaign_id
    with read_tx(appctx.app.state.engine) as conn:
        last = conn.execute(text("SELECT MAX(id) FROM items WHERE campaign_id = :c"), {"c": cid}).scalar()
    gold = {"label": "dot", "points": [[10.0, 12.0], [40.0, 30.0], [60.0, 40.0]], "not_present": False}
    assert admin.put(f"/api/items/{last}/gold", json={"gold": gold}).status_code == 200
    a = claim(ann, cid)
    assert a["item"]["id"] == last  # gold items come first in the stream
    assert submit(ann, a["assignment_id"], {"label": "dot", "points": [{"x": 11.0, "y": 12.5}, {"x": 5.0, "y": 40.0}]},
                  "key-gold-1").status_code == 200
    e = rev.get(f"/api/campaigns/{cid}/review").json()[0]
    r = rev.post(f"/api/assignments/{e['assignment_id']}/review",
                 json={"decision": "edit", "payload": {"label": "dot", "points": [{"x": 70.0, "y": 1.0}]}})
    assert r.status_code == 422 and "outside the image" in r.json()["detail"]
    r = rev.post(f"/api/assignments/{e['assignment_id']}/review",
                 json={"decision": "edit", "payload": {"label": "dots", "points": [{"x": 10.0, "y": 12.0}]}})
    assert r.status_code == 200 and r.json()["status"] == "accepted"
    stats = {s["username"]: s for s in rev.get(f"/api/campaigns/{cid}/annotators").json()}
    g = stats["annotator"]["gold"]
    assert stats["annotator"]["gold_items"] == 1
    assert g["precision"] == pytest.approx(0.5) and g["recall"] == pytest.approx(1 / 3)
    assert g["count_error"] == 1.0 and g["not_present_correct"] == 1.0
    assert stats["annotator"]["reviewed"] == 1 and stats["annotator"]["rejection_rate"] == 0.0
    coco = export_coco(appctx.app.state.engine, cid)
    assert [a["keypoints"] for a in coco["annotations"]] == [[10.0, 12.0, 2]]  # the reviewer's edit is exported
    assert coco["categories"][0]["name"] == "dots"


def test_hungarian_matching_within_radius():
    assert match_points([[0, 0], [10, 0]], [[9, 0], [1, 0]], radius=2) == 2
    # greedy would pair (5,0)->(4,0) and leave (0,0) unmatched; the optimum matches both
    assert match_points([[0, 0], [5, 0]], [[4, 0], [2.5, 0]], radius=3) == 2
    assert match_points([[0, 0]], [[10, 10]], radius=3) == 0
    m = point_metrics([], True, [], True, 5)
    assert m == {"precision": 1.0, "recall": 1.0, "count_error": 0.0, "not_present_correct": 1.0}
    assert point_metrics([[1, 1]], False, [], True, 5)["not_present_correct"] == 0.0


def test_count_shards_become_counting_campaign_and_export_roundtrip(tmp_path, appctx_factory, make_png):
    """Generator output (pixmo-count records) is imported for human verification: one counting item
    per record with the label and points prefilled; the verified answers export as pixmo-count
    records (pixels) or pixmo-points records (percent, collection_method="counting"), and COCO."""
    from typer.testing import CliRunner

    from annotation_app.cli import app as cli

    ctx = appctx_factory()
    url = str(ctx.app.state.engine.url)
    media = ctx.app.state.settings.media_root
    imgs = [make_png(80, 40, seed=s) for s in (7, 8)]
    samples = [Sample(image=imgs[0], image_url="http://example.com/a.png", annotations=[Annotation.of(PixmoCount(
        image_url="http://example.com/a.png", image_sha256=Sample(image=imgs[0]).key, count=2,
        points={"x": [10.0, 70.0], "y": [5.0, 30.0]}, label="apple"))]),
               Sample(image=imgs[1], annotations=[Annotation.of(PixmoCount(
                   image_url="", image_sha256=Sample(image=imgs[1]).key, count=0, points={"x": [], "y": []},
                   label="pear"))])]
    write_samples(tmp_path / "gen", samples, dataset="gen-count")
    run = CliRunner().invoke
    r = run(cli, ["import", "verify", "--shards", str(tmp_path / "gen"), "--db", url, "--media", media])
    assert r.exit_code == 0, r.output
    assert "created counting campaign 'verify'" in r.output and "2 items" in r.output
    cid = next(c["id"] for c in ctx.client("annotator").get("/api/campaigns").json() if c["name"] == "verify")
    ann, rev = ctx.client("annotator"), ctx.client("reviewer")
    got = {}
    for _ in range(2):
        a = claim(ann, cid)
        task = a["item"]["task"]
        assert task["fixed_label"] and task["label"] in ("apple", "pear")
        if task["label"] == "apple":
            assert task["prefill"] == [[10.0, 5.0], [70.0, 30.0]]
            bad = submit(ann, a["assignment_id"], {"label": "pear", "points": [{"x": 1.0, "y": 1.0}]}, "key-bad-1")
            assert bad.status_code == 422 and "label is fixed to 'apple'" in bad.json()["detail"]
            payload = {"points": [{"x": 10.0, "y": 5.0}, {"x": 70.0, "y": 30.0}, {"x": 40.0, "y": 20.0}]}
        else:
            payload = {"points": [], "not_present": True}
        assert submit(ann, a["assignment_id"], payload, f"key-{task['label']}-1").status_code == 200
        got[task["label"]] = payload
    for e in rev.get(f"/api/campaigns/{cid}/review").json():
        assert rev.post(f"/api/assignments/{e['assignment_id']}/review", json={"decision": "accept"}).status_code == 200
    r = run(cli, ["export", "verify", "--out", str(tmp_path / "out"), "--db", url, "--media", media])
    assert r.exit_code == 0, r.output
    recs = {a.record.label: a.record for s in iter_samples(tmp_path / "out", verify=True) for a in s.annotations}
    assert recs["apple"].SUBSET == "pixmo-count" and recs["apple"].count == 3
    assert recs["apple"].points.x == [10.0, 70.0, 40.0] and recs["apple"].image_url == "http://example.com/a.png"
    assert recs["pear"].count == 0 and recs["pear"].points.x == []
    r = run(cli, ["export", "verify", "--out", str(tmp_path / "pts"), "--subset", "pixmo-points", "--db", url,
                  "--media", media])
    assert r.exit_code == 0, r.output
    recs = {a.record.label: a.record for s in iter_samples(tmp_path / "pts") for a in s.annotations}
    assert recs["apple"].collection_method == "counting"
    assert [(p.x, p.y) for p in recs["apple"].points] == [(12.5, 12.5), (87.5, 75.0), (50.0, 50.0)]
    r = run(cli, ["export", "verify", "--out", str(tmp_path / "coco.json"), "--format", "coco", "--db", url,
                  "--media", media])
    coco = json.loads((tmp_path / "coco.json").read_text())
    assert len(coco["annotations"]) == 3 and {c["name"] for c in coco["categories"]} == {"apple", "pear"}
    assert any(im["not_present"] == ["pear"] for im in coco["images"])
    manifest = export_shards(ctx.app.state.engine, ctx.app.state.media, cid, tmp_path / "again")
    assert json.loads(manifest.read_text())["num_samples"] == 2
    r = run(cli, ["export", "verify", "--out", str(tmp_path / "coco.json"), "--format", "coco", "--db", url,
                  "--media", media])  # an earlier export is never replaced silently
    assert r.exit_code != 0 and "--overwrite" in r.output
    r = run(cli, ["export", "verify", "--out", str(tmp_path / "coco.json"), "--format", "coco", "--overwrite",
                  "--db", url, "--media", media])
    assert r.exit_code == 0, r.output


def test_job_queue_retries_and_is_idempotent(appctx):
    engine = appctx.app.state.engine
    with write_tx(engine) as conn:
        j1 = jobs.enqueue(conn, "echo", "item-1", {"n": 1}, max_attempts=2)
        assert jobs.enqueue(conn, "echo", "item-1", {"n": 99}) == j1
        j2 = jobs.enqueue(conn, "boom", "item-2", {}, max_attempts=2)
    job = jobs.claim_job(engine, ["echo"], "w-dead", lease_s=0.05)  # this worker "dies"
    assert job["id"] == j1 and job["attempts"] == 1
    time.sleep(0.1)
    calls = []

    def echo(j):
        calls.append(j["payload"]["n"])
        return {"n": j["payload"]["n"]}

    def boom(j):
        raise RuntimeError("no luck")

    stop = threading.Event()
    for _ in range(3):
        jobs.run_worker(engine, {"echo": echo, "boom": boom}, stop, once=True, worker="w2")
        with write_tx(engine) as conn:
            conn.execute(text("UPDATE jobs SET run_after = 0"))
    with read_tx(engine) as conn:
        done, failed = jobs.get_job(conn, j1), jobs.get_job(conn, j2)
    assert calls == [1] and done["status"] == "done" and done["result"] == {"n": 1} and done["attempts"] == 2
    assert failed["status"] == "failed" and failed["attempts"] == 2 and "no luck" in failed["error"]


def test_folder_and_url_imports_and_private_urls_refused(tmp_path, appctx_factory, make_png):
    import functools
    import http.server

    from typer.testing import CliRunner

    from annotation_app.cli import app as cli

    ctx = appctx_factory()
    url, media = str(ctx.app.state.engine.url), ctx.app.state.settings.media_root
    folder = tmp_path / "imgs"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.png").write_bytes(make_png(30, 20, seed=1))
    (folder / "sub" / "b.png").write_bytes(make_png(30, 20, seed=2))
    (folder / "notes.txt").write_text("not an image")
    run = CliRunner().invoke
    r = run(cli, ["import", "apples", "--folder", str(folder), "--label", "apple", "--db", url, "--media", media])
    assert r.exit_code == 0 and "created counting campaign 'apples'" in r.output and "2 items" in r.output, r.output
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{httpd.server_address[1]}"
        (tmp_path / "urls.txt").write_text(f"# two images\n{base}/a.png\n{base}/sub/b.png\n")
        args = ["import", "web", "--urls", str(tmp_path / "urls.txt"), "--db", url, "--media", media]
        r = run(cli, args)
        assert r.exit_code != 0 and "private address 127.0.0.1; refused" in str(r.exception)
        r = run(cli, args + ["--allow-private"])
        assert r.exit_code == 0 and "2 items in campaign 'web'" in r.output, r.output
    finally:
        httpd.shutdown()
    with read_tx(ctx.app.state.engine) as conn:
        urls = sorted(u for (u,) in conn.execute(text(
            "SELECT image_url FROM items JOIN campaigns c ON c.id = items.campaign_id WHERE c.name = 'web'")))
    assert urls == [f"{base}/a.png", f"{base}/sub/b.png"]


def test_task_types_keep_their_order_whichever_module_is_imported_first():
    """agreement_db imports the caption and pairwise tasks directly: the admin page's task list (and
    its default, pointing) followed that import order."""
    import subprocess
    import sys

    code = ("import annotation_app.agreement_db; from annotation_app.tasks import task_types; "
            "print(','.join(task_types()))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-500:]
    from annotation_app.tasks import BUILTIN

    assert r.stdout.split()[-1].split(",") == BUILTIN
