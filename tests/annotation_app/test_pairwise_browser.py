"""Pairwise campaign in Chromium: a rater judges every item (keys and clicks, one with a reason),
model names never reach the page, votes are stored and exported as JSONL (route and function)
with the A/B sides mapped back to the right models."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select

from annotation_app.campaigns import CampaignIn, create_campaign
from annotation_app.db import read_tx, write_tx
from annotation_app.models import Submission
from annotation_app.speech import testing as T
from annotation_app.tasks.pairwise import export_votes
from annotation_app.tasks.pairwise_import import import_outputs
from pixmo.elo import EloConfig, rate

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("pairwise_browser"),
              pytest.mark.skipif(not shutil.which("chromium"), reason="needs chromium")]

ART = Path(__file__).resolve().parents[2] / "out" / "test-artifacts"
# "strong" always answers correctly, "weak" never, "mid" only on the first image
MODELS = ("strong-ckpt", "mid-ckpt", "weak-ckpt")


def _outputs(tmp):
    rows = []
    for i, (prompt, cat) in enumerate([("How many cups are there?", "counting"), ("What does the sign say?", "ocr")]):
        (tmp / f"img{i}.png").write_bytes(T.test_image(i))
        for m in MODELS:
            good = m == "strong-ckpt" or (m == "mid-ckpt" and i == 0)
            answer = f"CORRECT answer {i} from an anonymous model" if good else f"wrong answer {i} ({len(m)} words)"
            rows.append({"image": f"img{i}.png", "prompt": prompt, "model": m, "answer": answer, "category": cat})
    return rows


def test_rater_completes_pairwise_items_votes_stored_and_exported(tmp_path):
    from playwright.sync_api import sync_playwright

    env = T.make_env(tmp_path)
    with write_tx(env.engine) as conn:
        cid = create_campaign(conn, CampaignIn(name="arena", task_type="pairwise", overlap=1), env.ids["admin"])
    n_items = import_outputs(env.engine, env.media, cid, _outputs(tmp_path), base_dir=tmp_path, seed=1)
    assert n_items == 6  # 2 prompts x 3 model pairs
    server = T.Server(env.app)
    picks = []
    try:
        with sync_playwright() as p:
            b = p.chromium.launch(executable_path=shutil.which("chromium"), headless=True, args=T.CHROMIUM_ARGS)
            ctx = b.new_context(viewport={"width": 1200, "height": 900}, bypass_csp=True)  # for wait_for_function
            assert ctx.request.post(f"{server.url}/api/auth/login",
                                    data={"username": "ann", "password": "ann-password-123"}).ok
            page = ctx.new_page()
            page.goto(f"{server.url}/campaigns/{cid}/annotate")
            page.wait_for_function("document.body.dataset.ready === '1'")
            for k in range(n_items):
                page.wait_for_selector("#pw-answer-a")
                aid = page.evaluate("document.body.dataset.assignmentId")
                html = page.content()
                assert not any(m in html for m in MODELS), "model names must stay hidden"
                a, bb = page.inner_text("#pw-answer-a"), page.inner_text("#pw-answer-b")
                choice = "tie" if ("CORRECT" in a) == ("CORRECT" in bb) else "a" if "CORRECT" in a else "b"
                if choice == "tie" and "CORRECT" not in a:
                    choice = "both_bad"
                page.click("body")  # keyboard focus on the page, not a text field
                if k % 2 == 0:
                    page.keyboard.press({"a": "1", "b": "b", "tie": "t", "both_bad": "4"}[choice])
                else:
                    page.click(f"#pw-choice-{choice}")
                page.wait_for_function(f"document.body.dataset.pairwiseChoice === '{choice}'")
                reason = ""
                if k == 0:
                    reason = "judged on correctness first"
                    page.keyboard.press("r")
                    page.keyboard.type(reason)
                    page.keyboard.press("Escape")
                picks.append((a, bb, choice, reason))
                if k == 0:  # the page as a rater sees it, kept as a test artifact
                    ART.mkdir(parents=True, exist_ok=True)
                    page.screenshot(path=str(ART / "pairwise_task.png"), full_page=True)
                page.keyboard.press("Enter")
                page.wait_for_function(f"document.body.dataset.assignmentId !== '{aid}'")
            page.wait_for_selector("#done", state="visible")
            # reviewers download the votes as JSONL; annotators may not
            r = ctx.request.get(f"{server.url}/api/tasks/pairwise/campaigns/{cid}/votes")
            assert r.status == 403
            rev = b.new_context(bypass_csp=True)
            assert rev.request.post(f"{server.url}/api/auth/login",
                                    data={"username": "rev", "password": "rev-password-123"}).ok
            rp = rev.new_page()  # the core review page mounts the same widget (read-only keys) on Edit
            rp.goto(f"{server.url}/campaigns/{cid}/review")
            rp.wait_for_selector(".review-entry .edit").click()
            rp.wait_for_selector("#pw-answer-a")
            assert rp.locator(".pw-choices button.primary").count() == 1
            r = rev.request.get(f"{server.url}/api/tasks/pairwise/campaigns/{cid}/votes")
            assert r.ok and "ndjson" in r.headers["content-type"]
            route_votes = [json.loads(line) for line in r.text().splitlines()]
            b.close()
    finally:
        server.stop()

    with read_tx(env.engine) as conn:
        assert conn.execute(select(func.count()).select_from(Submission).where(Submission.campaign_id == cid)).scalar() == 6
    out = tmp_path / "votes.jsonl"
    assert export_votes(env.engine, cid, out) == 6
    votes = [json.loads(line) for line in out.read_text().splitlines()]
    assert [v["submission_id"] for v in votes] == [v["submission_id"] for v in route_votes]
    pairs = {frozenset((v["model_a"], v["model_b"])) for v in votes}
    assert len(pairs) == 3 and {v["rater"] for v in votes} == {"ann"}
    assert votes[0]["reason"] == picks[0][3] and all(v["reason"] == "" for v in votes[1:])
    for v in votes:
        good = {m for m in MODELS if m == "strong-ckpt" or (m == "mid-ckpt" and v["category"] == "counting")}
        expect = ("tie" if (v["model_a"] in good) == (v["model_b"] in good) and v["model_a"] in good
                  else "both_bad" if not ({v["model_a"], v["model_b"]} & good)
                  else "model_a" if v["model_a"] in good else "model_b")
        assert v["winner"] == expect, v
    fit = rate(votes, EloConfig(bootstrap=20))
    assert fit.order()[0] == fit.models.index("strong-ckpt")
