"""Campaign assignment: a campaign with members is listed to and claimable by its members only
(reviewers and admins see every campaign); without members it is open to all. API and CLI."""

from __future__ import annotations

from sqlalchemy import select

from annotation_app.db import read_tx
from annotation_app.models import AuditLog


def _names(client):
    return [c["name"] for c in client.get("/api/campaigns").json()]


def _audit(ctx, action):
    with read_tx(ctx.app.state.engine) as conn:
        return [r.detail for r in conn.execute(select(AuditLog.detail).where(AuditLog.action == action))]


def test_assigned_campaign_is_only_for_its_members(dbctx):
    cid, admin = dbctx.campaign_id, dbctx.client("admin")
    ann, other = dbctx.client("annotator"), dbctx.client("throwaway")
    assert _names(other) == ["c1"]  # no members: open to every annotator
    url = f"/api/campaigns/{cid}/members"
    r = admin.post(url, json={"usernames": ["annotator", "annotator"]})
    assert r.status_code == 200 and r.json() == {"added": ["annotator"]}, r.text
    assert admin.post(url, json={"usernames": ["annotator"]}).json() == {"added": []}  # already assigned
    assert [m["username"] for m in admin.get(url).json()] == ["annotator"]
    assert _names(ann) == ["c1"] and _names(other) == []
    assert _names(dbctx.client("reviewer")) == ["c1"]  # reviewers see every campaign
    assert other.get(f"/api/campaigns/{cid}").status_code == 404
    assert other.get(f"/api/campaigns/{cid}/my-progress").status_code == 404
    r = other.post(f"/api/campaigns/{cid}/claim", json={})
    assert r.status_code == 403 and "assigned to other annotators" in r.json()["detail"], r.text
    assert ann.post(f"/api/campaigns/{cid}/claim", json={}).json()["assignment"] is not None
    assert dbctx.client("reviewer").post(f"/api/campaigns/{cid}/claim", json={}).status_code == 200
    assert [d["username"] for d in _audit(dbctx, "campaign.assign")] == ["annotator"]

    r = admin.post(url, json={"usernames": ["nobody", "annotator"]})
    assert r.status_code == 422 and "no user named 'nobody'" in r.json()["detail"]
    uid = dbctx.user_ids["annotator"]
    assert admin.delete(f"{url}/{uid}").status_code == 200
    assert admin.delete(f"{url}/{uid}").status_code == 404
    assert admin.get(url).json() == [] and _names(other) == ["c1"]  # open to all again
    assert other.post(f"/api/campaigns/{cid}/claim", json={}).status_code == 200
    assert _audit(dbctx, "campaign.unassign") == [{"user_id": uid}]
    assert admin.get("/api/campaigns/999/members").status_code == 404
    assert ann.get(url).status_code == 403


def test_cli_assigns_and_unassigns(appctx):
    from typer.testing import CliRunner

    from annotation_app.cli import app as cli

    db = ["--db", str(appctx.app.state.engine.url)]
    run = CliRunner().invoke
    r = run(cli, ["assign", "c1", "annotator", "reviewer", *db])
    assert r.exit_code == 0 and "assigned to: annotator, reviewer" in r.output, r.output
    assert _names(appctx.client("throwaway")) == []
    r = run(cli, ["assign", "c1", "ghost", *db])
    assert r.exit_code != 0 and "no user named 'ghost'" in r.output
    r = run(cli, ["assign", "c1", "annotator", "reviewer", "--remove", *db])
    assert r.exit_code == 0 and "nobody (open to all)" in r.output, r.output
    r = run(cli, ["assign", "nope", "annotator", *db])
    assert r.exit_code != 0 and "no campaign named 'nope'" in r.output
    assert _names(appctx.client("throwaway")) == ["c1"]
