"""Gold share: gold items mixed into each annotator's stream at a campaign's rate, at positions
nobody can predict, instead of all coming first (claiming.wants_gold)."""

from __future__ import annotations

import random

from sqlalchemy import update

from annotation_app.campaigns import add_image, get_campaign_row
from annotation_app.claiming import wants_gold
from annotation_app.db import write_tx
from annotation_app.models import Campaign
from tests.annotation_app.conftest import png

GOLD = {"label": "dog", "points": [[10.0, 10.0]]}
ANSWER = {"label": "dog", "points": [{"x": 10.0, "y": 10.0}]}


def _campaign(ctx, items: int, gold: int, config: dict) -> set[int]:
    """Campaign c1 grown to ``items`` items, the first ``gold`` of them gold; returns the gold ids."""
    with write_tx(ctx.app.state.engine) as conn:
        c = get_campaign_row(conn, ctx.campaign_id)
        for i in range(items - 3):
            add_image(conn, ctx.app.state.media, c, png(64, 48, seed=100 + i))
        conn.execute(update(Campaign).where(Campaign.id == ctx.campaign_id).values(config={"gold_overlap": 1000, **config}))
    admin = ctx.client("admin")
    for item_id in range(1, gold + 1):
        assert admin.put(f"/api/items/{item_id}/gold", json={"gold": GOLD}).status_code == 200
    return set(range(1, gold + 1))


def _stream(ctx) -> list[int]:
    """The item ids one annotator is given, claiming and answering until nothing is left."""
    ann, cid, out = ctx.client("annotator"), ctx.campaign_id, []
    while True:
        r = ann.post(f"/api/campaigns/{cid}/claim", json={})
        assert r.status_code == 200, r.text
        a = r.json()["assignment"]
        if a is None:
            return out
        out.append(a["item"]["id"])
        r = ann.post(f"/api/assignments/{a['assignment_id']}/submit",
                     json={"client_key": f"share-key-{len(out)}", "payload": ANSWER})
        assert r.status_code == 200, r.text


def test_gold_items_are_mixed_in_at_the_share_and_every_item_is_still_served(dbctx):
    gold = _campaign(dbctx, 36, 6, {"gold_share": 0.2})
    ids = _stream(dbctx)
    assert sorted(ids) == list(range(1, 37))  # every item once
    g = 0
    for k, item in enumerate(ids[:30], 1):  # until the gold items run out at about 6 / 0.2 = 30 claims
        g += item in gold
        assert abs(g - 0.2 * k) <= 1.0 + 1e-9, (k, g, ids)
    assert sum(i in gold for i in ids[:3]) <= 2  # not all at the start


def test_without_a_share_gold_items_come_first(dbctx):
    gold = _campaign(dbctx, 12, 4, {})
    ids = _stream(dbctx)
    assert set(ids[:4]) == gold and len(ids) == 12


def test_positions_differ_between_annotators_and_the_rate_holds_over_a_long_run():
    def stream(seed: int, n: int, share: float) -> list[bool]:
        rng, out = random.Random(seed), []
        for k in range(n):
            out.append(wants_gold(sum(out), k, share, rng.random()))
        return out

    a, b = stream(1, 10_000, 0.1), stream(2, 10_000, 0.1)
    assert a != b  # unpredictable positions
    for s in (a, b):
        assert abs(sum(s) - 1_000) <= 1
        assert all(abs(sum(s[:k]) - 0.1 * k) <= 1.0 + 1e-9 for k in range(1, 10_001))
        gaps = [len(x) for x in "".join("g" if v else "." for v in s).split("g")[1:-1]]
        assert max(gaps) <= 20 and len(set(gaps)) > 5  # at most 2 / share apart, spaced irregularly
    assert wants_gold(0, 10, 0.1, draw=0.99) is True  # behind by more than one: gold whatever the draw
    assert wants_gold(2, 5, 0.1, draw=0.0) is False  # ahead: not gold whatever the draw
