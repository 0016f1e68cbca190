"""The statement builder (``sql.Chain``): one definition emits each database's SQL, and the claim
and submit chains run on both databases with the same results."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text

from annotation_app import claiming, sql
from annotation_app.audit import audit_step
from annotation_app.db import raw_tx, read_tx

PICK = sql.Chain(
    sql.Step("pick", "SELECT id FROM items WHERE campaign_id = :c ORDER BY id LIMIT 1", lock="FOR UPDATE SKIP LOCKED"),
    sql.Step("bump", "UPDATE items SET priority = priority + 1 WHERE id = {pick.id} RETURNING id, priority"),
    audit_step("test.bump", "item", "{bump.id}", ":detail"),
    out=("bump.id", "bump.priority AS new_priority"),
)


def test_one_definition_emits_each_dialect():
    assert [q.sqlite for q in PICK.lite] == [
        "SELECT id FROM items WHERE campaign_id = :c ORDER BY id LIMIT 1",
        "UPDATE items SET priority = priority + 1 WHERE id = :pick__id RETURNING id, priority",
        "INSERT INTO audit_log (at, user_id, action, object_type, object_id, detail, ip) "
        "VALUES (:t, :u, 'test.bump', 'item', CAST(:bump__id AS TEXT), :detail, :ip)",
    ]
    assert PICK.pg.pg == (
        "WITH pick AS (SELECT id FROM items WHERE campaign_id = %(c)s ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED), "
        "bump AS (UPDATE items SET priority = priority + 1 WHERE id = (SELECT id FROM pick) RETURNING id, priority), "
        "aud AS (INSERT INTO audit_log (at, user_id, action, object_type, object_id, detail, ip) "
        "SELECT %(t)s, %(u)s, 'test.bump', 'item', CAST(bump.id AS TEXT), CAST(%(detail)s AS json), %(ip)s FROM bump) "
        "SELECT bump.id AS id, bump.priority AS new_priority FROM bump")
    assert PICK.pg.apg.startswith("WITH pick AS (SELECT id FROM items WHERE campaign_id = $1 ")
    assert PICK.pg.names == ["c", "t", "u", "detail", "ip"]


def test_a_single_locked_select_differs_only_by_its_lock():
    load = claiming._LOAD
    assert load.pg.pg.endswith("WHERE a.id = %(id)s FOR UPDATE OF a")
    assert load.lite[0].sqlite.endswith("WHERE a.id = :id")


def test_a_reference_to_a_step_that_returns_nothing_is_refused():
    with pytest.raises(ValueError, match=r"step 'b' refers to \['a.id'\], which no earlier step returns"):
        sql.Chain(sql.Step("a", "UPDATE items SET taken = 0 WHERE id = :i"),
                  sql.Step("b", "UPDATE items SET taken = 1 WHERE id = {a.id}"), out=("a.id",))
    with pytest.raises(ValueError, match="refers to"):
        sql.Chain(sql.Step("b", "SELECT {later.id}"), sql.Step("later", "SELECT 1 AS id"), out=("b.id",))


def _run(ctx, chain, params):
    with raw_tx(ctx.app.state.engine) as conn:
        return sql.run(chain.run(params, postgres=not conn.sqlite), conn)


def _audit(ctx, action):
    with read_tx(ctx.app.state.engine) as conn:
        return [dict(r._mapping) for r in conn.execute(
            text("SELECT object_type, object_id, detail FROM audit_log WHERE action = :a ORDER BY id"), {"a": action})]


def _json(v):
    return json.loads(v) if isinstance(v, str) else v  # SQLite gives the text, psycopg decodes json


def test_a_chain_runs_on_both_databases(dbctx):
    p = {"c": dbctx.campaign_id, "t": 1.0, "u": dbctx.user_ids["admin"], "ip": "", "detail": json.dumps({"why": "test"})}
    with read_tx(dbctx.app.state.engine) as conn:
        before = conn.execute(text("SELECT priority FROM items WHERE id = 1")).scalar()
    assert _run(dbctx, PICK, p) == {"id": 1, "new_priority": before + 1}
    assert _run(dbctx, PICK, {**p, "c": 999}) is None  # nothing picked: nothing bumped, nothing audited
    aud = _audit(dbctx, "test.bump")
    assert [(a["object_type"], a["object_id"]) for a in aud] == [("item", "1")]
    assert [_json(a["detail"]) for a in aud] == [{"why": "test"}]


def test_claim_chain_takes_a_slot_and_audits_on_both_databases(dbctx):
    uid = dbctx.user_ids["annotator"]
    p = {"c": dbctx.campaign_id, "u": uid, "exp": 2e9, "t": 1e9, "ip": "1.2.3.4"}
    rows = [_run(dbctx, claiming._TAKE_NEW, p) for _ in range(4)]
    assert [r["item_id"] for r in rows[:3]] == [1, 2, 3] and rows[3] is None  # 3 items, one slot each for this user
    assert all(r["id"] is not None and r["version"] == 1 and r["media_key"].startswith("img/") for r in rows[:3])
    aud = _audit(dbctx, "claim")
    assert [a["object_id"] for a in aud] == [str(r["id"]) for r in rows[:3]]
    assert [_json(a["detail"]) for a in aud] == [{"item_id": 1}, {"item_id": 2}, {"item_id": 3}]
