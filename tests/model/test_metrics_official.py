"""Every quirk of the official Molmo evaluators (docs/spec/metrics.md), in both modes.

The ``official`` values are what allenai/molmo's evaluator code gives for the same output and
ground truth (read from olmo/eval/vqa.py, evaluators.py and util.py; checked by running those
functions on these cases outside the repository). ``fixed`` is our repaired mode.
"""

from __future__ import annotations

import numpy as np
import pytest

from model.examples import Example
from model.metrics import (
    anls,
    clock_scores,
    count_scores,
    evaluate,
    exact_match,
    normalize_vqa,
    parse_count,
    pointing_scores,
    relaxed_correctness,
    select_answer,
    select_option,
    vqa_score,
)
from model.metrics_text import math_vista_score, mmmu_score, real_world_qa_score

# --- VQA normalisation and score ---------------------------------------------------------------


@pytest.mark.parametrize("mode", ["official", "fixed"])
def test_vqa_symbols_outside_the_official_punctuation_set_are_kept(mode):
    for text in ("50%", "$5", "#1", "a&b", "2*3", "x^2", "~5", "a|b"):
        assert normalize_vqa(text, mode=mode) == text
    assert vqa_score("50%", ["50"] * 3, mode=mode) == 0.0


@pytest.mark.parametrize("mode", ["official", "fixed"])
def test_vqa_digit_comma_digit_deletes_every_mark(mode):
    assert normalize_vqa("1,000", mode=mode) == "1000"
    assert normalize_vqa("red, 1,000", mode=mode) == "red 1000"
    assert normalize_vqa("a,b", mode=mode) == "b"  # the comma becomes a space, then the article goes
    assert vqa_score("1,000", ["1000"] * 3, mode=mode) == 1.0


def test_vqa_period_strip_and_its_count_limit():
    for mode in ("official", "fixed"):
        assert normalize_vqa("3.", mode=mode) == "3"
        assert normalize_vqa("3.5", mode=mode) == "3.5"
    # re.UNICODE (32) lands in re.sub's `count`: only the first 32 periods go
    assert normalize_vqa("." * 40 + "x") == "." * 8 + "x"
    assert normalize_vqa("." * 40 + "x", mode="fixed") == "x"


def test_vqa_contractions_table_as_published():
    assert normalize_vqa("dont") == "don't" and normalize_vqa("dont", mode="fixed") == "don't"
    assert normalize_vqa("im") == "im" and normalize_vqa("ive") == "ive"  # capitalised keys never match
    assert normalize_vqa("im", mode="fixed") == "i'm"
    assert normalize_vqa("somebody'd") == "somebodyd"  # the table maps it backwards
    assert normalize_vqa("somebody'd", mode="fixed") == "somebody'd"


@pytest.mark.parametrize("mode", ["official", "fixed"])
def test_vqa_none_means_zero(mode):
    assert normalize_vqa("None", mode=mode) == "0"
    assert vqa_score("none", ["0", "0", "0"], mode=mode) == 1.0


def test_first_answer_marker_wins_officially_last_when_fixed():
    out = "Answer: cat\nAnswer: dog"
    assert select_answer(out) == "cat" and select_answer(out, mode="fixed") == "dog"
    assert vqa_score(out, ["cat"] * 3) == 1.0 and vqa_score(out, ["cat"] * 3, mode="fixed") == 0.0


def test_line_vote_counts_blank_lines_officially():
    out = "cat\n\n\ndog"
    assert select_answer(out) == ""
    assert vqa_score(out, ["cat"] * 3) == 0.0
    assert select_answer(out, mode="fixed") == "cat" and vqa_score(out, ["cat"] * 3, mode="fixed") == 1.0
    assert select_answer("dog\ncat\ncat") == "cat" and select_answer("dog\ncat") == "dog"  # ties: first line


def test_vqa_fixed_mode_averages_leave_one_out_subsets():
    answers = ["cat"] * 3 + ["dog"] * 7
    assert vqa_score("cat", answers) == 1.0
    assert vqa_score("cat", answers, mode="fixed") == pytest.approx((3 * 2 / 3 + 7 * 1) / 10)


# --- ANLS ---------------------------------------------------------------------------------------


def test_anls_keeps_reference_whitespace_officially():
    assert anls("hello world", ["hello  world"]) == pytest.approx(1 - 1 / 12)
    assert anls("hello world", ["hello  world"], mode="fixed") == 1.0
    assert anls("Hello World", ["hello world"]) == 1.0  # lower-cased only
    # "Answer:" text is stripped but not collapsed officially
    assert anls("Answer: hello   world", ["hello world"]) == pytest.approx(1 - 2 / 13)


def test_anls_empty_against_empty_never_raises():
    assert anls("", [""]) == 0.0  # a ZeroDivisionError officially: scored wrong
    assert anls("", [""], mode="fixed") == 1.0
    assert anls("x", []) == 0.0


# --- relaxed correctness ------------------------------------------------------------------------


def test_relaxed_percent_is_a_fraction_officially():
    assert relaxed_correctness("45%", ["0.45"]) == 1.0 and relaxed_correctness("45%", ["45"]) == 0.0
    assert relaxed_correctness("45%", ["45"], mode="fixed") == 1.0
    assert relaxed_correctness("45%", ["0.45"], mode="fixed") == 0.0


def test_relaxed_commas_and_currency_fall_back_to_text():
    assert relaxed_correctness("1,200", ["1200"]) == 0.0 and relaxed_correctness("$12", ["12"]) == 0.0
    assert relaxed_correctness("1,200", ["1200"], mode="fixed") == 1.0
    assert relaxed_correctness("$12", ["12.5"], mode="fixed") == 1.0
    assert relaxed_correctness("1,200", ["1,200"]) == 1.0


def test_relaxed_zero_target_is_string_equality_officially():
    assert relaxed_correctness("0.0", ["0"]) == 0.0 and relaxed_correctness("0", ["0"]) == 1.0
    assert relaxed_correctness("0.0", ["0"], mode="fixed") == 1.0
    assert relaxed_correctness("0.01", ["0"], mode="fixed") == 0.0


def test_exact_match_keeps_the_final_period_officially():
    assert exact_match("Answer: Red.", ["red"]) == 0.0 and exact_match("Answer: Red", ["red"]) == 1.0
    assert exact_match("Answer: Red.", ["red"], mode="fixed") == 1.0


# --- multiple choice ------------------------------------------------------------------------------


def test_multiple_choice_officially_matches_letters_not_texts():
    opts = ["a cat", "a dog", "a bird"]
    assert select_option("B", opts) == 1 and select_option("b.", opts) == 1  # "b." edit distance 1 from "b"
    assert select_option("a bird", opts) == 0  # nearest *letter* by edit distance: "a"
    assert select_option("a bird", opts, mode="fixed") == 2
    assert select_option("A", ["x", "y"], option_names=["x", "x"]) == -1  # an assertion error officially


def test_real_world_qa_and_math_vista_never_raise():
    assert real_world_qa_score("B", "B", "multiple_choice") == 1.0
    assert real_world_qa_score("B", "Yes", "multiple_choice") == 0.0  # index() raises officially
    assert real_world_qa_score("Two.", "2", "short_answer") == 1.0
    meta = {"answer": "2.5", "question_type": "free_form", "answer_type": "float", "precision": 1.0,
            "choices": None}
    assert math_vista_score("2.51", meta) == 0.0  # round(x, 1.0) raises TypeError officially
    assert math_vista_score("2.51", meta, mode="fixed") == 1.0
    assert math_vista_score("2.51", meta | {"precision": 1}) == 1.0
    mc = {"answer": "dog", "question_type": "multi_choice", "answer_type": "text", "choices": ["cat", "dog"]}
    assert math_vista_score("B", mc) == 1.0 and math_vista_score("A", mc) == 0.0


def test_mmmu_parsing():
    opts = ["red", "green", "blue"]
    assert mmmu_score("(B)", "B", "multiple-choice", opts) == 1.0
    assert mmmu_score("I am quite sure that the colour is green here", "B", "multiple-choice", opts) == 1.0
    assert mmmu_score("The answer is 1,000.", "1000", "open") == 1.0
    assert mmmu_score("so it is 7", "8", "open") == 0.0


# --- counting -------------------------------------------------------------------------------------


def test_count_signed_and_underscored_integers_parse_officially():
    assert parse_count("+5") == 5 and parse_count("-3") == -3 and parse_count("1_000") == 1000
    assert count_scores("+5", 5)["correct"] == 1.0
    assert count_scores("1_000", 1000)["correct"] == 1.0
    assert count_scores("+5", 5, mode="fixed")["correct"] == 1.0
    assert count_scores("1_000", 1000, mode="fixed")["valid"] == 0.0


def test_count_a_total_of_stays_on_the_first_line_officially():
    out = "Let me count.\nThere are a total of 7 dogs here"
    assert count_scores(out, 7) == {"correct": 0.0, "close": 0.0, "valid": 0.0}
    assert count_scores(out, 7, mode="fixed")["correct"] == 1.0
    assert count_scores("There are a total of 7 dogs\nin all", 7)["correct"] == 1.0


@pytest.mark.parametrize("mode", ["official", "fixed"])
def test_count_superscript_digit_is_invalid_not_a_crash(mode):
    assert count_scores("Count: ²", 2, mode=mode) == {"correct": 0.0, "close": 0.0, "valid": 0.0}
    assert count_scores("1" * 5000, 1, mode=mode)["correct"] == 0.0


def test_count_none_is_invalid_officially_zero_when_fixed():
    assert count_scores("There are none.", 0)["valid"] == 0.0
    assert count_scores("There are none.", 0, mode="fixed")["correct"] == 1.0


# --- pointing -------------------------------------------------------------------------------------

SIZE = (200, 100)


def _mask(y0, y1, x0, x1):
    m = np.zeros((100, 200), bool)
    m[y0:y1, x0:x1] = True
    return m


MASKS = [_mask(0, 30, 0, 40), _mask(40, 100, 100, 200)]
GT = [(10.0, 10.0), (75.0, 70.0)]  # 0-100, inside the two masks once scaled to 200x100


def test_pointing_pair_lines_need_one_decimal_officially():
    good = "(10.0, 10.0)\n(75.0, 70.0)"
    assert pointing_scores(good, GT, MASKS, SIZE)["f1"] == pytest.approx(1.0)
    for bad in ("(10, 10)\n(75, 70)", "(10.00, 10.00)"):  # valid shape, nothing parsed: crashes officially
        assert pointing_scores(bad, GT, MASKS, SIZE)["f1"] == 0.0
        assert pointing_scores(bad, GT, MASKS, SIZE, mode="fixed")["precision"] == 1.0


def test_pointing_several_point_tags_are_one_valid_answer_officially():
    out = '<point x="10.0" y="10.0" alt="a">a</point> <point x="75.0" y="70.0" alt="b">b</point>'
    assert pointing_scores(out, GT, MASKS, SIZE)["f1"] == pytest.approx(1.0)
    assert pointing_scores(out, GT, MASKS, SIZE, mode="fixed")["f1"] == pytest.approx(1.0)
    assert pointing_scores("Here: " + out, GT, MASKS, SIZE)["f1"] == 0.0  # text before the tag


def test_pointing_legacy_numbered_form():
    out = '<points 1=100,100 2=750,700 alt="a">a</points>'
    assert pointing_scores(out, GT, MASKS, SIZE)["f1"] == pytest.approx(1.0)


def test_pointing_tag_without_alt_is_invalid_officially():
    out = '<point x="10.0" y="10.0">a</point>'
    assert pointing_scores(out, GT, MASKS, SIZE)["f1"] == 0.0
    assert pointing_scores(out, GT, MASKS, SIZE, mode="fixed")["precision"] == 1.0


def test_pointing_gt_units_as_given_officially():
    """Official: GT 0-100 values against pixel predictions, so Hungarian matching can pick the wrong mask."""
    size = (1000, 1000)
    m_a, m_b = np.zeros((1000, 1000), bool), np.zeros((1000, 1000), bool)
    m_a[10:30, 10:30] = True
    m_b[190:210, 190:210] = True
    gt = [(2.0, 2.0), (20.0, 20.0)]
    out = '<point x="2.0" y="2.0" alt="a">a</point>'  # 20 px: inside mask A
    assert pointing_scores(out, gt, [m_a, m_b], size)["precision"] == 0.0  # matched to B (20, 20)
    fixed = pointing_scores(out, gt, [m_a, m_b], size, mode="fixed")
    assert fixed["precision"] == 1.0 and fixed["recall"] == 0.5


def test_pointing_empty_gt_ignores_format():
    assert pointing_scores("There are none.", [], [], SIZE)["f1"] == 1.0
    assert pointing_scores("Click(10.5, 20.5)", [], [], SIZE)["f1"] == 0.0


# --- clocks ---------------------------------------------------------------------------------------


def _clock(hour, minute, second=-1):
    return Example([" User: clocks: What time is being shown? Assistant:"], "clocks", "pixmo-clocks", None,
                   {"hour": hour, "minute": minute, "second": second})


@pytest.mark.parametrize("mode", ["official", "fixed"])
def test_clock_seconds_count_when_the_gt_has_them(mode):
    assert evaluate(["7:57:12"], [_clock(7, 57, 39)], mode=mode)["overall_exact"] == 0.0
    assert evaluate(["7:57:39"], [_clock(7, 57, 39)], mode=mode)["overall_exact"] == 1.0


def test_clock_brackets_and_glued_am_do_not_parse_officially():
    for out in ("(7:40)", "7:40AM"):
        assert clock_scores(out, 7, 40)["overall_exact"] == 0.0
        assert clock_scores(out, 7, 40, mode="fixed")["overall_exact"] == 1.0
    assert clock_scores("It is 7:40 AM", 7, 40)["overall_exact"] == 1.0


def test_clock_only_upper_case_pm_adds_twelve_officially():
    assert clock_scores("7:40 PM", 19, 40)["overall_exact"] == 1.0
    assert clock_scores("7:40 pm", 19, 40)["overall_exact"] == 0.0
    assert clock_scores("7:40 pm", 19, 40, mode="fixed")["overall_exact"] == 1.0


def test_clock_hour_zero_accepts_twelve_but_not_the_reverse():
    assert clock_scores("12:05", 0, 5)["overall_exact"] == 1.0  # the demo's own answers for hour 0
    assert clock_scores("12:05", 0, 5, mode="fixed")["overall_exact"] == 1.0
    assert clock_scores("0:05", 12, 5)["overall_exact"] == 0.0
    assert clock_scores("0:05", 12, 5, mode="fixed")["overall_exact"] == 1.0
    assert clock_scores("12:05", 12, 5, is_test=True)["overall_exact"] == 1.0


def test_clock_unanswerable_and_wrap_around():
    assert clock_scores("The time is not shown.", -1, -1) == {
        "correctly_declines_to_answer": 1.0, "overall_close": 1.0, "overall_exact": 1.0}
    assert clock_scores("11:59", 0, 0, is_test=True)["overall_close"] == 1.0  # 719-minute wrap
    assert clock_scores("The hour is 7", 7, 40)["hour_correct"] == 1.0  # no ':' still reads an hour
    both = evaluate(["no idea", "7:40"], [_clock(-1, -1), _clock(7, 40)])
    assert both["overall_exact"] == 1.0 and both["hour_correct"] == 1.0  # averaged where present


ODD_OUTPUTS = ["", " ", "\n\n", "Answer:", "Answer: Answer:", "²", "٣", "1" * 5000, "nan", "inf", "-inf", "1e999",
               "(1, 2)", "(10, 20)", "Click(1.5, 2.5)", "<point>", '<point x="" y="">', ":::", "12:", ":30",
               "99:99:99", "-1:-1", "é" * 50, "\x08none\x08", "a total of " + "9" * 5000, "0.0%", "%", "$",
               "<img='x'>", "(A) (B) (C)", "\u0000", "🙂 7"]


@pytest.mark.parametrize("mode", ["official", "fixed"])
def test_no_scorer_raises_on_odd_outputs(mode):
    mask = np.ones((48, 64), bool)
    for out in ODD_OUTPUTS:
        vqa_score(out, ["2"] * 3, mode=mode)
        anls(out, ["", "x"], mode=mode)
        relaxed_correctness(out, ["0", "nan", "12%", ""], mode=mode)
        exact_match(out, ["x"], mode=mode)
        select_option(out, ["a", "b"], mode=mode)
        count_scores(out, 3, mode=mode)
        for h, m, s, t in ((7, 40, -1, False), (0, 0, 12, False), (12, 60, -1, True), (-1, -1, -1, True)):
            clock_scores(out, h, m, second=s, is_test=t, mode=mode)
        real_world_qa_score(out, "A", "multiple_choice", mode=mode)
        mmmu_score(out, "B", "multiple-choice", ["x", "y"], mode=mode)
        if len(out) < 1000:  # the point and MMMU number regexes are quadratic on long digit runs, as upstream
            pointing_scores(out, [(10.0, 10.0)], [mask], (64, 48), mode=mode)
            pointing_scores(out, [], [], (64, 48), mode=mode)
            mmmu_score(out, "7", "open", mode=mode)
        for atype, prec in (("integer", None), ("float", 2), ("float", 1.0), ("text", None)):
            math_vista_score(out, {"answer": "1", "question_type": "free_form", "answer_type": atype,
                                   "precision": prec, "choices": None}, mode=mode)
        math_vista_score(out, {"answer": "a", "question_type": "multi_choice", "answer_type": "text",
                               "choices": ["a", "a"]}, mode=mode)
