"""Pairwise campaigns through the JSON API: balanced scheduling of model pairs, sides and categories,
no repeated pair per rater, hidden model names, payload checks, import errors, vote export roles."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from fastapi.testclient import TestClient

from annotation_app.campaigns import CampaignIn, ImportError_, create_campaign, import_images
from annotation_app.db import write_tx
from annotation_app.speech import testing as T
from annotation_app.tasks.pairwise import iter_votes
from annotation_app.tasks.pairwise_import import Prompt, import_outputs, plan_pairs

MODELS = ["m1", "m2", "m3", "m4"]


def _prompts(n_by_cat: dict[str, int], models=MODELS) -> list[Prompt]:
    out = []
    for cat, n in n_by_cat.items():
        for i in range(n):
            out.append(Prompt(f"{cat}{i}.png", f"q {cat} {i}", cat, answers={m: f"{m} on {cat}{i}" for m in models}))
    return out


def test_plan_balances_pairs_categories_and_sides():
    prompts = _prompts({"ocr": 6, "chat": 3})
    plan = plan_pairs(prompts, None, seed=0)
    assert len(plan) == 9 * 6 and len({(pi, frozenset((a, b))) for pi, a, b, _ in plan}) == len(plan)
    keys = {(prompts[pi].category, frozenset((a, b))) for pi, a, b, _ in plan}
    assert len(keys) == 12
    # round 0 = the first 12 items: every (category, pair) exactly once; then round 1, 2 ...
    assert {(prompts[pi].category, frozenset((a, b))) for pi, a, b, _ in plan[:12]} == keys
    assert [r for *_, r in plan] == sorted(r for *_, r in plan)
    # sides: within each model pair, each model is shown as A half of the time (+-1)
    side_a = Counter((frozenset((a, b)), a) for _, a, b, _ in plan)
    for pair in {frozenset((a, b)) for _, a, b, _ in plan}:
        x, y = sorted(pair)
        assert abs(side_a[(pair, x)] - side_a[(pair, y)]) <= 1


def test_pairs_per_prompt_picks_the_least_scheduled_pairs():
    plan = plan_pairs(_prompts({"all": 12}), 2, seed=3)
    assert len(plan) == 24
    per_pair = Counter(frozenset((a, b)) for _, a, b, _ in plan)
    assert len(per_pair) == 6 and set(per_pair.values()) == {4}  # 12 prompts x 2 / 6 pairs
    assert set(Counter(pi for pi, *_ in plan).values()) == {2}


@pytest.fixture(scope="module")
def app_env(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("pairwise")
    e = T.make_env(tmp)
    for i in range(3):
        (tmp / f"i{i}.png").write_bytes(T.test_image(i))
    return e


@pytest.fixture
def env(app_env, request):
    """A fresh pairwise campaign (overlap 2) over 3 prompts x 3 models in the module's app."""
    e = app_env
    with write_tx(e.engine) as conn:
        e.cid = create_campaign(conn, CampaignIn(name=f"arena-{request.node.name}", task_type="pairwise", overlap=2),
                                e.ids["admin"])
    rows = [{"image": f"i{i}.png", "prompt": f"prompt {i}", "model": m, "answer": f"answer {i} by {m}",
             "category": cat} for i, cat in enumerate(["ocr", "ocr", "chat"]) for m in ("alpha", "beta", "gamma")]
    assert import_outputs(e.engine, e.media, e.cid, rows, base_dir=e.root) == 9
    return e


def _work(client, env, user, choose):
    seen = []
    while True:
        r = client.post(f"/api/campaigns/{env.cid}/claim", headers=env.headers(user))
        assert r.status_code == 200, r.text
        a = r.json()["assignment"]
        if a is None:
            return seen
        task = a["item"]["task"]
        assert set(task) == {"prompt", "answer_a", "answer_b"}  # no model names, no category
        seen.append((task["prompt"], frozenset((task["answer_a"].split()[-1], task["answer_b"].split()[-1]))))
        r = client.post(f"/api/assignments/{a['assignment_id']}/submit", headers=env.headers(user),
                        json={"client_key": f"ck-{user}-{len(seen)}", "payload": choose(task)})
        assert r.status_code == 200, r.text


def test_two_raters_each_judge_every_pair_once_in_balanced_order(env):
    c = TestClient(env.app)
    ann = _work(c, env, "ann", lambda t: {"choice": "a", "reason": "first"})
    ann2 = _work(c, env, "ann2", lambda t: {"choice": "tie"})
    assert len(ann) == len(set(ann)) == 9 and len(ann2) == len(set(ann2)) == 9  # no repeated pair per rater
    # round-robin: the first 3 items a rater gets are 3 different model pairs
    assert len({pair for _, pair in ann[:3]}) == 3
    assert _work(c, env, "admin", lambda t: {"choice": "b"}) == []  # overlap 2 is used up
    votes = list(iter_votes(env.engine, env.cid))
    assert len(votes) == 18
    assert Counter(v["rater"] for v in votes) == {"ann": 9, "ann2": 9}
    assert {v["winner"] for v in votes if v["rater"] == "ann"} == {"model_a"}
    for v in votes:  # the vote names the model whose answer was on that side
        assert v["model_a"] != v["model_b"] and v["category"] in ("ocr", "chat")
    r = c.get(f"/api/tasks/pairwise/campaigns/{env.cid}/votes", headers=env.headers("ann"))
    assert r.status_code == 403
    r = c.get(f"/api/tasks/pairwise/campaigns/{env.cid}/votes", headers=env.headers("rev"))
    assert r.status_code == 200 and len(r.text.splitlines()) == 18
    assert json.loads(r.text.splitlines()[0])["winner"] == "model_a"
    assert c.get("/api/tasks/pairwise/campaigns/999/votes", headers=env.headers("rev")).status_code == 404


def test_bad_votes_are_refused_naming_the_field(env):
    c = TestClient(env.app)
    a = c.post(f"/api/campaigns/{env.cid}/claim", headers=env.headers("ann")).json()["assignment"]
    for n, (payload, needle) in enumerate([({"choice": "c"}, "choice"), ({"choice": "a", "model": "x"}, "model"),
                                           ({}, "choice"), ({"choice": "a", "reason": "x" * 2001}, "reason")]):
        r = c.post(f"/api/assignments/{a['assignment_id']}/submit", headers=env.headers("ann"),
                   json={"client_key": f"ck-bad-000{n}", "payload": payload})
        assert r.status_code == 422 and needle in r.json()["detail"], (payload, r.text)


def test_import_errors_name_the_problem(env):
    tmp_path = env.root
    ok = {"image": "i0.png", "prompt": "p", "model": "x", "answer": "y"}
    with pytest.raises(ImportError_, match="output 1: 'prompt' must be a non-empty string"):
        import_outputs(env.engine, env.media, env.cid, [{**ok, "prompt": " "}], base_dir=tmp_path)
    with pytest.raises(ImportError_, match="output 1: 'answer' must be a string"):
        import_outputs(env.engine, env.media, env.cid, [{**ok, "answer": None}], base_dir=tmp_path)
    with pytest.raises(ImportError_, match="output 2: model 'x' answered this image and prompt twice"):
        import_outputs(env.engine, env.media, env.cid, [ok, ok], base_dir=tmp_path)
    with pytest.raises(ImportError_, match="two or more models"):
        import_outputs(env.engine, env.media, env.cid, [ok], base_dir=tmp_path)
    with pytest.raises(ImportError_, match="image 'nope.png' not found"):
        import_outputs(env.engine, env.media, env.cid, [{**ok, "image": "nope.png"}, {**ok, "image": "nope.png",
                                                                                   "model": "z"}], base_dir=tmp_path)
    with pytest.raises(ImportError_, match="use `pixmo eval campaign"):
        import_images(env.engine, env.media, env.cid, [("x.png", T.test_image(1))])
    with write_tx(env.engine) as conn:
        other = create_campaign(conn, CampaignIn(name="pts", task_type="pointing"), env.ids["admin"])
    with pytest.raises(ImportError_, match="not pairwise"):
        import_outputs(env.engine, env.media, other, [ok, {**ok, "model": "z"}], base_dir=tmp_path)
