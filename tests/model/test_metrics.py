"""docs/spec/molmo.md section 11 facts 21-23 and the other metrics of section 8; caption F1 with a fake judge."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from model.caption_f1 import caption_f1, evaluate_captions, llm_complete, parse_judgements, split_statements
from model.examples import Example, multiple_choice_example
from model.metrics import (
    anls,
    clock_scores,
    count_scores,
    evaluate,
    exact_match,
    normalize_vqa,
    pointing_scores,
    relaxed_correctness,
    select_answer,
    select_option,
    vqa_score,
)


def square_mask(h, w, y0, y1, x0, x1):
    m = np.zeros((h, w), bool)
    m[y0:y1, x0:x1] = True
    return m


def test_fact21_pointing():
    size = (200, 100)
    assert pointing_scores("There are none.", [], [], size) == {"precision": 1.0, "recall": 1.0, "f1": 1.0}
    assert pointing_scores('<point x="5.0" y="5.0" alt="a">a</point>', [], [], size)["f1"] == 0.0
    masks = [square_mask(100, 200, 0, 20, 0, 20), square_mask(100, 200, 50, 90, 150, 190)]
    gt = [(5.0, 10.0), (85.0, 70.0)]  # percent of (200, 100)
    assert pointing_scores("The dog is here", gt, masks, size)["f1"] == 0.0
    one = pointing_scores('<point x="5.0" y="10.0" alt="dog">dog</point>', gt, masks, size)
    assert one["precision"] == 1.0 and one["recall"] == 0.5
    both = pointing_scores('<points x1="5.0" y1="10.0" x2="85.0" y2="70.0" alt="dog">dog</points>', gt, masks, size)
    assert both["f1"] == pytest.approx(1.0)
    outside = pointing_scores('<point x="50.0" y="50.0" alt="dog">dog</point>', gt, masks, size)
    assert outside["precision"] == 0.0
    # a prediction with points but an invalid overall format scores 0, like the reference
    assert pointing_scores('Sure! <point x="5.0" y="10.0" alt="dog">dog</point> there', gt, masks, size)["f1"] == 0


def test_pointing_without_masks_uses_distance():
    gt = [(10.0, 10.0), (90.0, 90.0)]
    s = pointing_scores('<points x1="11.0" y1="10.0" x2="50.0" y2="50.0" alt="d">d</points>', gt, None, (100, 100))
    assert s["precision"] == 0.5 and s["recall"] == 0.5


def test_fact22_count_parsing():
    out = 'Counting the <points x1="1.0" y1="2.0" alt="dog">dog</points> shows a total of 7.'
    assert count_scores(out, 7) == {"correct": 1.0, "close": 1.0, "valid": 1.0}
    assert count_scores("seven.", 7)["correct"] == 1.0
    assert count_scores("8", 7) == {"correct": 0.0, "close": 1.0, "valid": 1.0}
    assert count_scores("There are none.", 0)["valid"] == 0.0  # the reference quirk
    assert count_scores("There are none.", 0, none_is_zero=True)["correct"] == 1.0


def test_fact23_clock_parsing():
    assert clock_scores("10:15", 10, 15)["overall_exact"] == 1.0
    assert clock_scores("The time shown is 12:00", 0, 0, is_test=True)["overall_exact"] == 1.0
    assert clock_scores("12:00", 0, 0)["overall_exact"] == 1.0  # the official evaluator accepts 12 for hour 0
    assert clock_scores("The time shown is 7:57:39 PM", 19, 57)["overall_exact"] == 1.0
    close = clock_scores("10:17", 10, 15)
    assert close["overall_exact"] == 0.0 and close["overall_close"] == 1.0 and close["hour_correct"] == 1.0
    assert clock_scores("10:17", 10, 15, is_test=True)["overall_close"] == 0.0  # tolerance 1 in test mode
    assert clock_scores("10:59", 10, 0, is_test=True)["minute_close"] == 1.0  # wrap-around
    assert clock_scores("The time is not shown in the image.", -1, -1)["overall_exact"] == 1.0
    assert clock_scores("3:00", -1, -1)["overall_exact"] == 0.0


def test_vqa_anls_relaxed_exact():
    assert normalize_vqa("Two dogs!") == "2 dogs"
    assert vqa_score("two", ["2", "2", "2", "two", "3"]) == 1.0
    assert vqa_score("3", ["2", "2", "3"]) == pytest.approx(1 / 3)
    assert anls("hello world", ["Hello World"]) == 1.0
    assert anls("hello wrld", ["hello world"]) == pytest.approx(1 - 1 / 11)
    assert anls("goodbye", ["hello world"]) == 0.0
    assert relaxed_correctness("10.4", ["10"]) == 1.0 and relaxed_correctness("10.6", ["10"]) == 0.0
    assert relaxed_correctness("Yes", ["yes"]) == 1.0
    assert exact_match("Answer: Red", ["red"]) == 1.0 and exact_match("Answer: Red.", ["red"], mode="fixed") == 1.0
    assert select_answer("blue\nred\nred") == "red"


def test_multiple_choice_matching():
    opts = ["a cat", "a dog", "a bird"]
    assert select_option("B", opts) == 1
    assert select_option("a bird", opts, mode="fixed") == 2
    assert select_option("I think it is a dog here", opts, mode="fixed") == 1
    assert select_option("a brid", opts, mode="fixed") == 2
    e = multiple_choice_example("Which?", opts, "a dog", np.random.default_rng(0), cfg=None)
    assert evaluate(["B"], [e])["accuracy"] == 1.0


def test_evaluate_counting_reports_per_count():
    exs = [Example([" User: q Assistant:"], "point_count", "pixmo-count", None, {"count": c}) for c in (2, 2, 3)]
    out = evaluate(["2", "3", "3"], exs)
    assert out["correct"] == pytest.approx(2 / 3) and out["correct_2"] == 0.5 and out["correct_3"] == 1.0


def fake_judge(messages):
    """A deterministic stand-in for the LLM: sentences as statements, word overlap as support."""
    text = messages[-1]["content"]
    if text.startswith("Split"):
        body = text.split("Description:\n", 1)[1]
        return "\n".join(f"- {s.strip()}" for s in re.split(r"[.\n]", body) if s.strip())
    ref = text.split("Here is a reference description of an image:\n", 1)[1].split("\n\nFor each", 1)[0].lower()
    stmts = re.findall(r"^\d+\. (.*)$", text.split("Statements:\n", 1)[1], re.M)
    return json.dumps([all(w in ref for w in s.lower().split()) for s in stmts])


def test_caption_f1_with_fake_judge():
    caption = "A red square. A blue circle. A purple dragon."
    refs = ["um there is a red square and a blue circle", "also a green tree"]
    s = caption_f1(caption, refs, fake_judge)
    assert s["n_caption"] == 3 and s["precision"] == pytest.approx(2 / 3)
    assert s["n_reference"] == 2 and s["recall"] == 0.0  # reference sentences not fully in the caption
    assert split_statements("", fake_judge) == []
    out = evaluate_captions([caption, "A red square."], [refs, ["a red square"]], fake_judge)
    assert out["n"] == 2 and out["precision"] == pytest.approx((2 / 3 + 1) / 2)
    assert parse_judgements("Sure: [true, false, yes]", 3) == [True, False, True]
    with pytest.raises(ValueError, match="expected 2"):
        parse_judgements("[true]", 2)


def test_caption_f1_through_pixmo_llm_and_local_server(tmp_path):
    from pixmo.llm import LLMClient, LLMSettings
    from pixmo.testing import serve

    with serve(lambda req: fake_judge(req["messages"])) as srv:
        client = LLMClient(LLMSettings.tiny(srv.base_url, cache_dir=str(tmp_path / "cache")))
        s = caption_f1("A red square. A blue circle.", ["a red square and a blue circle"], llm_complete(client))
        assert s["precision"] == 1.0 and s["recall"] == 0.0 and s["n_reference"] == 1
        reqs = srv.chat_requests()
        assert len(reqs) == 4 and reqs[0]["temperature"] == 0.0


def test_score_examples_from_records():
    """Ground truth kept by model.examples scores the matching answers as correct."""
    from pixmo_samples import sample_with

    from model.examples import sample_to_examples

    exs = sample_to_examples(sample_with(["count", "points", "points_eval", "clock", "charts"]),
                             np.random.default_rng(0), for_training=False)
    by = {(e.subset, e.style): e for e in exs}
    count = by[("pixmo-count", "pointing")]
    assert evaluate([count.answer], [count])["f1"] == pytest.approx(1.0)
    assert evaluate(['<point x="90.0" y="90.0" alt="apple">apple</point>'], [count])["precision"] == 0.0
    pts = by[("pixmo-points", "pointing")]
    assert evaluate([pts.answer], [pts])["f1"] == pytest.approx(1.0)
    pe = by[("pixmo-points-eval", "pointing")]  # masks: rows 10-29, cols 5-39 of 160x120
    assert evaluate([pe.answer], [pe])["f1"] == pytest.approx(1.0)
    clock = by[("pixmo-clocks", "clocks")]
    assert evaluate([clock.answer], [clock])["overall_exact"] == 1.0
    docs = [e for e in exs if e.style == "pixmo_docs_charts"]
    assert evaluate([e.answer for e in docs], docs)["anls"] == 1.0


def test_caption_task_uses_the_judge_or_reports_it_missing(monkeypatch):
    from pixmo_samples import sample_with

    from model.examples import sample_to_examples

    monkeypatch.delenv("PIXMO_LLM_BASE_URL", raising=False)
    (cap,) = sample_to_examples(sample_with(["cap"]), np.random.default_rng(0), for_training=False)
    assert evaluate(["A red square."], [cap]) == {"judge_unavailable": 1.0, "n": 1.0}
    out = evaluate(["A red square."], [cap], complete=fake_judge)
    assert out["precision"] == 1.0 and out["recall"] == 0.5  # "a square" is covered, "um a red square" is not
