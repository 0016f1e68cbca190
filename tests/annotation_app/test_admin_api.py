"""The admin page's API on SQLite and PostgreSQL: roles (annotators and reviewers get 403, a
manager cannot make or touch admins), campaign status (pause stops new claims but keeps held
leases submittable; close also hides the campaign), groups, items and gold from an answer,
server-side imports confined to the import root, per-campaign leases, and export jobs whose
download is byte for byte the CLI's export."""

from __future__ import annotations

import io
import json
import tarfile
import time

import pytest
from sqlalchemy import insert

from annotation_app.db import write_tx
from annotation_app.models import User
from annotation_app.security import new_token
from tests.annotation_app.conftest import _HASH, png

POINT = {"label": "red square", "points": [{"x": 10.0, "y": 12.0}]}


def add_user(ctx, name, role):
    """A user with an API token; returns a client for them."""
    with write_tx(ctx.app.state.engine) as conn:
        uid = conn.execute(insert(User).values(username=name, password_hash=_HASH, role=role, active=True,
                                               created_at=time.time())).inserted_primary_key[0]
        ctx.user_ids[name], ctx.tokens[name] = uid, new_token(conn, uid, "test")[1]
    return ctx.client(name)


def answer(client, cid, key, payload=POINT):
    r = client.post(f"/api/campaigns/{cid}/claim", json={})
    assert r.status_code == 200, r.text
    aid = r.json()["assignment"]["assignment_id"]
    r = client.post(f"/api/assignments/{aid}/submit", json={"client_key": key, "payload": payload, "duration_ms": 4000})
    assert r.status_code == 200, r.text
    return aid


def wait_job(client, job):
    for _ in range(300):
        if job["status"] in ("done", "failed"):
            return job
        time.sleep(0.05)
        job = client.get(f"/api/export-jobs/{job['id']}").json()
    raise AssertionError(f"export job did not finish: {job}")


def test_admin_endpoints_need_the_manager_role(dbctx):
    cid = dbctx.campaign_id
    calls = [("GET", "/admin", None), ("PUT", f"/api/campaigns/{cid}/status", {"status": "paused"}),
             ("GET", "/api/groups", None), ("POST", "/api/groups/g/members", {"usernames": ["annotator"]}),
             ("POST", f"/api/campaigns/{cid}/groups", {"group": "g"}), ("GET", f"/api/campaigns/{cid}/items", None),
             ("POST", "/api/items/1/gold/from-answer", None), ("POST", f"/api/campaigns/{cid}/export-jobs", {}),
             ("GET", "/api/export-jobs/1", None), ("POST", f"/api/campaigns/{cid}/import", {"folder": "x"}),
             ("POST", "/api/campaigns", {"name": "x", "task_type": "pointing"}), ("GET", "/api/users", None)]
    for who in ("annotator", "reviewer"):
        c = dbctx.client(who)
        for method, url, body in calls:
            r = c.request(method, url, json=body)
            assert r.status_code == 403 and "needs the manager role" in r.json()["detail"], (who, url, r.text)
    mgr = add_user(dbctx, "mgr", "manager")
    assert mgr.get("/admin").status_code == 200
    assert mgr.get("/api/groups").json() == []
    page = dbctx.client("annotator").get("/")
    assert 'href="/admin"' not in page.text and 'href="/admin"' in mgr.get("/").text


def test_a_manager_manages_users_up_to_manager_and_never_admins(dbctx):
    mgr = add_user(dbctx, "mgr", "manager")
    for role in ("annotator", "reviewer", "manager"):
        r = mgr.post("/api/users", json={"username": f"new-{role}", "password": "long-enough-1", "role": role})
        assert r.status_code == 201, r.text
    r = mgr.post("/api/users", json={"username": "boss", "password": "long-enough-1", "role": "admin"})
    assert r.status_code == 403 and "cannot manage admin accounts" in r.json()["detail"]
    ann = dbctx.user_ids["annotator"]
    assert mgr.patch(f"/api/users/{ann}", json={"role": "reviewer"}).status_code == 200
    assert mgr.patch(f"/api/users/{ann}", json={"role": "admin"}).status_code == 403
    assert mgr.patch(f"/api/users/{dbctx.user_ids['admin']}", json={"active": False}).status_code == 403
    users = {u["username"]: u for u in mgr.get("/api/users").json()}
    assert users["annotator"]["role"] == "reviewer" and users["admin"]["active"] and "boss" not in users
    assert dbctx.client("admin").patch(f"/api/users/{ann}", json={"role": "admin"}).status_code == 200


def test_pause_stops_new_claims_keeps_held_leases_and_close_hides_the_campaign(dbctx):
    cid, ann, mgr = dbctx.campaign_id, dbctx.client("annotator"), add_user(dbctx, "mgr", "manager")
    held = ann.post(f"/api/campaigns/{cid}/claim", json={}).json()["assignment"]
    r = mgr.put(f"/api/campaigns/{cid}/status", json={"status": "paused"})
    assert r.json() == {"id": cid, "status": "paused", "previous": "open"}
    again = ann.post(f"/api/campaigns/{cid}/claim", json={}).json()["assignment"]
    assert again["assignment_id"] == held["assignment_id"]  # the lease already held comes back
    r = ann.post(f"/api/assignments/{held['assignment_id']}/submit",
                 json={"client_key": "key-held-1", "payload": POINT, "duration_ms": 3000})
    assert r.status_code == 200, r.text
    r = ann.post(f"/api/campaigns/{cid}/claim", json={})
    assert r.status_code == 409 and "paused by a manager" in r.json()["detail"]
    assert [c["status"] for c in ann.get("/api/campaigns").json()] == ["paused"]
    mgr.put(f"/api/campaigns/{cid}/status", json={"status": "closed"})
    assert ann.get("/api/campaigns").json() == [] and len(mgr.get("/api/campaigns").json()) == 1
    assert ann.post(f"/api/campaigns/{cid}/claim", json={}).status_code == 409
    mgr.put(f"/api/campaigns/{cid}/status", json={"status": "open"})
    assert ann.post(f"/api/campaigns/{cid}/claim", json={}).json()["assignment"] is not None
    assert mgr.put(f"/api/campaigns/{cid}/status", json={"status": "gone"}).status_code == 422
    assert mgr.put("/api/campaigns/999/status", json={"status": "open"}).status_code == 404


def test_a_campaign_assigned_to_a_group_is_for_its_members_only(dbctx):
    cid, mgr = dbctx.campaign_id, add_user(dbctx, "mgr", "manager")
    other = add_user(dbctx, "other", "annotator")
    r = mgr.post("/api/groups/team-a/members", json={"usernames": ["annotator", "annotator"]})
    assert r.json() == {"added": ["annotator"]}
    assert mgr.post("/api/groups/team-a/members", json={"usernames": ["ghost"]}).status_code == 422
    assert mgr.get("/api/groups").json() == [{"name": "team-a", "usernames": ["annotator"]}]
    assert mgr.post(f"/api/campaigns/{cid}/groups", json={"group": "nobody"}).status_code == 422
    assert mgr.post(f"/api/campaigns/{cid}/groups", json={"group": "team-a"}).json() == {"added": ["annotator"]}
    assert [m["username"] for m in mgr.get(f"/api/campaigns/{cid}/members").json()] == ["annotator"]
    assert other.get("/api/campaigns").json() == [] and other.post(f"/api/campaigns/{cid}/claim", json={}).status_code == 403
    assert len(dbctx.client("annotator").get("/api/campaigns").json()) == 1
    assert mgr.delete("/api/groups/team-a/members/annotator").status_code == 200
    assert mgr.delete("/api/groups/team-a/members/annotator").status_code == 404


def test_items_list_and_gold_taken_from_an_answer(dbctx):
    cid, mgr = dbctx.campaign_id, add_user(dbctx, "mgr", "manager")
    answer(dbctx.client("annotator"), cid, "key-one-1")
    page = mgr.get(f"/api/campaigns/{cid}/items").json()
    assert page["total"] == 3 and [i["answers"] for i in page["items"]] == [1, 0, 0]
    first, second = page["items"][0]["id"], page["items"][1]["id"]
    r = mgr.post(f"/api/items/{first}/gold/from-answer")
    assert r.status_code == 200, r.text
    assert r.json()["gold"]["points"] == [[10.0, 12.0]] and r.json()["gold"]["label"] == "red square"
    r = mgr.post(f"/api/items/{second}/gold/from-answer")
    assert r.status_code == 422 and "no accepted or submitted answer" in r.json()["detail"]
    gold = mgr.get(f"/api/campaigns/{cid}/items?gold_only=true").json()
    assert gold["total"] == 1 and gold["items"][0]["id"] == first
    assert mgr.put(f"/api/items/{first}/gold", json={"gold": None}).json()["gold"] is None
    assert mgr.get(f"/api/campaigns/{cid}/items?gold_only=true").json()["total"] == 0
    assert mgr.get("/api/campaigns/999/items").status_code == 404


def test_server_imports_stay_inside_the_import_root(dbctx, tmp_path):
    cid, mgr = dbctx.campaign_id, add_user(dbctx, "mgr", "manager")
    r = mgr.post(f"/api/campaigns/{cid}/import", json={"folder": "imgs"})
    assert r.status_code == 403 and "PIXMO_APP_IMPORT_ROOT" in r.json()["detail"]
    root = tmp_path / "imports"
    (root / "imgs" / "sub").mkdir(parents=True)
    (root / "imgs" / "sub" / "new.png").write_bytes(png(40, 30, seed=77))
    (tmp_path / "secret").mkdir()
    dbctx.app.state.settings.import_root = str(root)
    for bad in ("../secret", str(tmp_path / "secret")):
        r = mgr.post(f"/api/campaigns/{cid}/import", json={"folder": bad})
        assert r.status_code == 403 and "outside the import root" in r.json()["detail"], r.text
    assert mgr.post(f"/api/campaigns/{cid}/import", json={"folder": "nope"}).status_code == 422
    assert mgr.post(f"/api/campaigns/{cid}/import", json={}).status_code == 422
    r = mgr.post(f"/api/campaigns/{cid}/import", json={"folder": "imgs"})
    assert r.status_code == 201 and r.json() == {"items": 1}, r.text
    paths = [i["source_path"] for i in mgr.get(f"/api/campaigns/{cid}/items").json()["items"]]
    assert paths[-1] == "sub/new.png"


def test_a_campaign_lease_applies_to_claims_and_heartbeats(dbctx):
    mgr = add_user(dbctx, "mgr", "manager")
    bad = mgr.post("/api/campaigns", json={"name": "x", "task_type": "pointing", "config": {"lease_seconds": 5}})
    assert bad.status_code == 422 and "lease_seconds" in bad.json()["detail"]
    r = mgr.post("/api/campaigns", json={"name": "short", "task_type": "pointing", "config": {"lease_seconds": 45}})
    cid = r.json()["id"]
    files = [("files", ("a.png", png(20, 20, seed=5), "image/png"))]
    assert mgr.post(f"/api/campaigns/{cid}/images", files=files).status_code == 201
    ann = dbctx.client("annotator")
    t = time.time()
    a = ann.post(f"/api/campaigns/{cid}/claim", json={}).json()["assignment"]
    assert t + 40 < a["lease_expires_at"] < time.time() + 46  # 45 s, not the server's 600 s
    hb = ann.post(f"/api/assignments/{a['assignment_id']}/heartbeat").json()["lease_expires_at"]
    assert hb < time.time() + 46


@pytest.mark.parametrize("fmt", ["coco", "shards"])
def test_export_job_download_is_the_cli_export(dbctx, tmp_path, fmt):
    from typer.testing import CliRunner

    from annotation_app.cli import app as cli

    cid, mgr = dbctx.campaign_id, add_user(dbctx, "mgr", "manager")
    for who in ("annotator", "reviewer"):
        answer(dbctx.client(who), cid, f"key-{who}")
    job = mgr.post(f"/api/campaigns/{cid}/export-jobs", json={"format": fmt, "include_unreviewed": True})
    assert job.status_code == 202, job.text
    job = wait_job(mgr, job.json())
    assert job["status"] == "done" and job["done"] == job["total"] == 2, job
    got = mgr.get(f"/api/export-jobs/{job['id']}/download")
    assert got.status_code == 200 and len(got.content) == job["bytes"]
    out = tmp_path / ("cli.json" if fmt == "coco" else "cli-shards")
    args = ["export", "c1", "--out", str(out), "--format", fmt, "--include-unreviewed",
            "--db", dbctx.app.state.engine.url.render_as_string(hide_password=False),
            "--media", dbctx.app.state.settings.media_root]
    r = CliRunner().invoke(cli, args)
    assert r.exit_code == 0, r.output
    if fmt == "coco":
        assert got.content == out.read_bytes()
        assert len(got.json()["annotations"]) == 2
    else:
        with tarfile.open(fileobj=io.BytesIO(got.content)) as tar:
            members = {m.name.split("/", 1)[1]: tar.extractfile(m).read() for m in tar.getmembers()}
        cli_files = {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()}
        assert members == cli_files and "manifest.json" in members
    assert dbctx.client("annotator").get(f"/api/export-jobs/{job['id']}/download").status_code == 403
    assert mgr.get("/api/export-jobs/999/download").status_code == 404


def test_cli_does_what_the_admin_page_does(appctx, tmp_path):
    from typer.testing import CliRunner

    from annotation_app.cli import app as cli

    db = ["--db", str(appctx.app.state.engine.url)]

    def run(*args):
        return CliRunner().invoke(cli, [*args, *db])

    (tmp_path / "instr.txt").write_text("Point at the dogs.")
    r = run("create-campaign", "dogs", "--instructions-file", str(tmp_path / "instr.txt"), "--overlap", "2",
            "--lease-seconds", "120", "--min-expressions", "3", "--gold-threshold", "0.5")
    assert r.exit_code == 0 and "created pointing campaign 'dogs'" in r.output, r.output
    detail = appctx.client("admin").get("/api/campaigns/2").json()
    assert detail["instructions"] == "Point at the dogs." and detail["overlap"] == 2
    assert detail["config"] == {"lease_seconds": 120.0, "min_expressions": 3, "gold_threshold": 0.5,
                                "gold_min_items": 5, "gold_overlap": 1000}
    r = run("create-campaign", "bad", "--lease-seconds", "1")
    assert r.exit_code != 0 and "lease_seconds must be" in r.output
    r = run("campaign-status", "dogs", "paused")
    assert r.exit_code == 0 and "open -> paused" in r.output
    assert run("campaign-status", "dogs", "asleep").exit_code != 0
    r = run("group", "team", "annotator", "reviewer")
    assert r.exit_code == 0 and "group 'team': annotator, reviewer" in r.output, r.output
    r = run("assign-group", "dogs", "team")
    assert r.exit_code == 0 and "assigned annotator, reviewer to 'dogs'" in r.output, r.output
    r = run("set-role", "reviewer", "manager")
    assert r.exit_code == 0 and appctx.client("admin").get("/api/users").json()[2]["role"] == "manager"
    assert run("set-role", "reviewer", "king").exit_code != 0
    answer(appctx.client("annotator"), appctx.campaign_id, "cli-key-01")
    r = run("items", "c1")
    rows = [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]
    assert [x["answers"] for x in rows] == [1, 0, 0]
    r = run("gold", str(rows[0]["id"]), "--from-answer")
    assert r.exit_code == 0 and '"points": [[10.0, 12.0]]' in r.output, r.output
    assert len([x for x in run("items", "c1", "--gold-only").stdout.splitlines() if x.startswith("{")]) == 1
    assert run("gold", str(rows[0]["id"]), "--unmark").exit_code == 0
    assert run("gold", str(rows[1]["id"]), "--from-answer").exit_code != 0
    assert run("gold", str(rows[1]["id"])).exit_code != 0  # exactly one way must be given


def test_shards_exported_by_a_job_import_back_as_gold(appctx, tmp_path):
    cid, mgr = appctx.campaign_id, add_user(appctx, "mgr", "manager")
    answer(appctx.client("annotator"), cid, "key-gold-1")
    job = wait_job(mgr, mgr.post(f"/api/campaigns/{cid}/export-jobs", json={"include_unreviewed": True}).json())
    root = tmp_path / "imports"
    root.mkdir()
    with tarfile.open(fileobj=io.BytesIO(mgr.get(f"/api/export-jobs/{job['id']}/download").content)) as tar:
        tar.extractall(root, filter="data")
    appctx.app.state.settings.import_root = str(root)
    new = mgr.post("/api/campaigns", json={"name": "gold-set", "task_type": "pointing"}).json()["id"]
    r = mgr.post(f"/api/campaigns/{new}/import", json={"shards": f"campaign-{cid}", "as_gold": True})
    assert r.status_code == 201 and r.json() == {"items": 1}, r.text
    (item,) = mgr.get(f"/api/campaigns/{new}/items?gold_only=true").json()["items"]
    assert item["gold"]["label"] == "red square"
