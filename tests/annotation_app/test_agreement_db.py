"""Agreement of caption, pairwise, counting and AMA campaigns read from the database (SQLite and
PostgreSQL) through ``GET /api/campaigns/{id}/agreement``: answers stored as the app stores them
(assignment + annotator submission), numbers equal to the hand-computed cases of test_agreement.py."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import insert, update

from annotation_app.campaigns import CampaignIn, create_campaign
from annotation_app.db import inserted_id, write_tx
from annotation_app.models import Assignment, Item, Submission

USERS = ("throwaway", "annotator", "admin")  # three submitters (the role does not matter here)


def _store(ctx, task_type, answers, spec=None, status="submitted"):
    """A campaign of ``task_type`` whose item k holds ``answers[k]`` (username -> payload)."""
    t = time.time()
    with write_tx(ctx.app.state.engine) as conn:
        cid = create_campaign(conn, CampaignIn(name=f"{task_type}-agree", task_type=task_type, overlap=3), None)
        for k, per_user in enumerate(answers):
            iid = inserted_id(conn.execute(insert(Item).values(
                campaign_id=cid, source_key=f"k{k}", media_key=f"m{k}.png", image_sha256="0" * 64, width=64,
                height=48, spec=spec or {}, overlap=3, taken=len(per_user))))
            for who, payload in per_user.items():
                uid = ctx.user_ids[who]
                aid = inserted_id(conn.execute(insert(Assignment).values(
                    item_id=iid, campaign_id=cid, user_id=uid, status=status, lease_expires_at=t, claimed_at=t,
                    submitted_at=t)))
                sid = inserted_id(conn.execute(insert(Submission).values(
                    assignment_id=aid, item_id=iid, campaign_id=cid, user_id=uid, client_key=f"{cid}-{k}-{who}",
                    payload=payload, kind="annotator", created_at=t)))
                conn.execute(update(Assignment).where(Assignment.id == aid).values(submission_id=sid))
    r = ctx.client("reviewer").get(f"/api/campaigns/{cid}/agreement")
    assert r.status_code == 200, r.text
    return r.json()


def _summary(rep):
    return {m["key"]: m["value"] for m in rep["summary"]}


def _row(rep, who):
    (a,) = [a for a in rep["annotators"] if a["username"] == who]
    return {m["key"]: m["value"] for m in a["metrics"]}


def _cap(caption, transcript):
    return {"recording_id": 1, "caption": caption, "transcript": transcript}


def test_caption_campaign_lengths_overlap_and_spread(dbctx):
    rep = _store(dbctx, "caption", [
        {"throwaway": _cap("a red apple on a table", "uh a red apple on a table"),
         "annotator": _cap("an apple", "an apple"), "admin": _cap("a red apple", "a red apple I think")},
        {"throwaway": _cap("a dog", "a dog")},
    ])
    assert (rep["kind"], rep["answers"], rep["items"], rep["items_with_overlap"], rep["pairs"]) == ("captions", 4, 2, 1, 3)
    s = _summary(rep)
    assert s["caption_words"] == 3.25 and s["caption_words_median"] == 2.5 and s["transcript_words"] == 4.0
    assert s["caption_in_transcript"] == 1.0
    assert s["transcript_in_caption"] == round((6 / 7 + 1 + 3 / 5 + 1) / 4, 4)
    assert s["length_range_words"] == 4.0 and s["length_relative_spread"] == round(4 / (11 / 3), 4)
    assert s["caption_pair_f1"] == round((2 / 8 + 6 / 9 + 2 / 5) / 3, 4)
    assert _row(rep, "annotator")["caption_pair_f1"] == round((2 / 8 + 2 / 5) / 2, 4)
    assert _row(rep, "throwaway")["caption_words"] == 4.0


def test_pairwise_campaign_same_choice_and_fleiss_kappa(dbctx):
    votes = [{"throwaway": "a", "annotator": "a", "admin": "b"}, {"throwaway": "tie", "annotator": "tie", "admin": "tie"},
             {"throwaway": "b"}]
    rep = _store(dbctx, "pairwise", [{u: {"choice": c, "reason": ""} for u, c in v.items()} for v in votes],
                 spec={"prompt": "p", "answer_a": "x", "answer_b": "y"})
    assert (rep["kind"], rep["items_with_overlap"], rep["pairs"]) == ("choices", 2, 6)
    pe = 14 / 36
    assert _summary(rep) == {"same_choice": round(4 / 6, 4), "fleiss_kappa": round((2 / 3 - pe) / (1 - pe), 4)}
    assert _row(rep, "admin") == {"same_choice": 0.5}


def test_counting_campaign_compares_the_one_fixed_label(dbctx):
    pts = lambda *xy: {"label": "", "points": [{"x": float(x), "y": float(y)} for x, y in xy]}  # noqa: E731
    rep = _store(dbctx, "counting", [{"throwaway": pts((10, 10), (30, 30)), "annotator": pts((11, 10))}],
                 spec={"label": "apple"})
    assert _summary(rep) == {"point_f1": round(2 / 3, 4), "count_exact": 0.0, "count_within_one": 1.0,
                             "not_present_agreement": 1.0, "expression_overlap": 1.0}


@pytest.mark.parametrize("task_type", ["ama", "point_explanations"])
def test_free_form_question_campaigns_say_there_is_no_agreement(appctx, task_type):
    rep = _store(appctx, task_type, [{"throwaway": {"question": "q1", "answer": "a"},
                                      "annotator": {"question": "q2", "answer": "b"}}])
    assert (rep["kind"], rep["answers"], rep["summary"], rep["annotators"]) == ("none", 2, [], [])
    assert "each annotator writes their own question" in rep["note"]


def test_gold_items_and_unsubmitted_answers_are_left_out(appctx):
    rep = _store(appctx, "pairwise", [{"throwaway": {"choice": "a"}, "annotator": {"choice": "b"}}],
                 spec={"prompt": "p", "answer_a": "x", "answer_b": "y"}, status="active")
    assert (rep["answers"], rep["pairs"]) == (0, 0)
    with write_tx(appctx.app.state.engine) as conn:
        conn.execute(update(Assignment).values(status="accepted"))
    cid = rep["campaign_id"]
    assert appctx.client("reviewer").get(f"/api/campaigns/{cid}/agreement").json()["pairs"] == 1
    with write_tx(appctx.app.state.engine) as conn:
        conn.execute(update(Item).where(Item.campaign_id == cid).values(gold={"choice": "a"}))
    assert appctx.client("reviewer").get(f"/api/campaigns/{cid}/agreement").json()["pairs"] == 0


def test_a_malformed_stored_answer_is_left_out_and_counted_not_a_500(appctx):
    rep = _store(appctx, "pairwise", [{"throwaway": {"choice": "a"}, "annotator": {"choice": "a"},
                                       "admin": {"vote": "b"}}], spec={"prompt": "p", "answer_a": "x", "answer_b": "y"})
    assert (rep["answers"], rep["unreadable"], rep["pairs"]) == (3, 1, 1)
    assert {m["key"]: m["value"] for m in rep["summary"]} == {"same_choice": 1.0}  # one category: kappa undefined
    rep = _store(appctx, "counting", [{"throwaway": {"points": [{"x": 1}]}, "annotator": {"points": [{"x": 1, "y": 2}]}}],
                 spec={"label": "apple"})
    assert (rep["unreadable"], rep["pairs"]) == (1, 0)
