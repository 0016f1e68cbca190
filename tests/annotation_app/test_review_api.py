"""Review over the API: nobody reviews their own work (not listed, and refused), paging, filters
by annotator and flags."""

from __future__ import annotations


def _submit(ctx, who, n=1):
    c = ctx.client(who)
    out = []
    for i in range(n):
        a = c.post(f"/api/campaigns/{ctx.campaign_id}/claim", json={}).json()["assignment"]
        r = c.post(f"/api/assignments/{a['assignment_id']}/submit",
                   json={"client_key": f"key-{who}-{i}", "payload": {"label": "dog", "points": [{"x": 1.0, "y": 2.0}]}})
        assert r.status_code == 200, r.text
        out.append(a["assignment_id"])
    return out


def test_nobody_reviews_their_own_work(dbctx):
    (own,) = _submit(dbctx, "admin")
    (other,) = _submit(dbctx, "annotator")
    admin = dbctx.client("admin")
    listed = [e["assignment_id"] for e in admin.get(f"/api/campaigns/{dbctx.campaign_id}/review").json()]
    assert listed == [other]
    r = admin.post(f"/api/assignments/{own}/review", json={"decision": "accept"})
    assert r.status_code == 403 and "your own work" in r.json()["detail"], r.text
    assert dbctx.client("reviewer").post(f"/api/assignments/{own}/review", json={"decision": "accept"}).status_code == 200


def test_review_queue_pages_and_filters(dbctx):
    mine = _submit(dbctx, "annotator", 2)
    theirs = _submit(dbctx, "throwaway", 1)
    rev = dbctx.client("reviewer")
    url = f"/api/campaigns/{dbctx.campaign_id}/review"
    pages = [[e["assignment_id"] for e in rev.get(url, params={"limit": 1, "offset": k}).json()] for k in range(4)]
    assert pages == [[mine[0]], [mine[1]], [theirs[0]], []]
    by = rev.get(url, params={"annotator": "throwaway"}).json()
    assert [e["assignment_id"] for e in by] == theirs and by[0]["task_type"] == "pointing"
    assert rev.get(url, params={"flagged": "true"}).json() == []
