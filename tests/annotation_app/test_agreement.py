"""Agreement maths (annotation_app.agreement) against hand-computed cases, edge cases included:
one annotator only, both "not present", no points, unequal point counts, one expression each with
different texts. Definitions: docs/spec/agreement.md."""

from __future__ import annotations

import numpy as np
import pytest

from annotation_app.agreement import (
    CaptionAnswer,
    Expr,
    PointItem,
    caption_agreement,
    choice_agreement,
    compare_expressions,
    fleiss_kappa,
    matches,
    paired_expressions,
    point_agreement,
    point_f1,
    token_f1,
    token_overlap,
    tokens,
)
from annotation_app.quality import match_points

R = 3.2  # 0.05 x the longer side of a 64 x 48 image


def E(label, *pts, absent=False):  # noqa: N802 - reads like the dataclass
    return Expr(label, tuple(pts), absent)


def values(rep, who=None):
    ms = rep.summary if who is None else rep.per_annotator[who].metrics
    return {k: m.value for k, m in ms.items()}


# --- points ------------------------------------------------------------------------------------

def test_point_f1_is_symmetric_and_counts_one_to_one_matches_within_the_radius():
    a, b = [(10.0, 10.0), (30.0, 30.0)], [(11.0, 10.0), (50.0, 40.0)]
    assert point_f1(a, b, R) == point_f1(b, a, R) == 0.5  # 1 match: 2 * 1 / (2 + 2)
    assert point_f1([(10.0, 10.0)], [(10.0, 12.0), (10.0, 8.0)], R) == pytest.approx(2 / 3)  # one-to-one: 1 match
    assert point_f1([(0.0, 0.0)], [(3.2, 0.0)], R) == 1.0  # on the radius counts
    assert point_f1([(0.0, 0.0)], [(3.3, 0.0)], R) == 0.0


def test_shortcut_counts_like_the_hungarian_matching():
    """``matches`` skips the solver when no point has two candidates; it must count as the solver does."""
    rng = np.random.default_rng(0)
    for _ in range(500):
        a = [tuple(p) for p in rng.uniform(0, 20, (int(rng.integers(1, 8)), 2))]
        b = [tuple(p) for p in rng.uniform(0, 20, (int(rng.integers(1, 8)), 2))]
        r = float(rng.choice([1.0, 3.0, 6.0]))
        assert matches(a, b, r) == matches(b, a, r) == match_points(a, b, r)
    # a point with two candidates goes to the solver: (0,0) could take either, (5,0) only the second
    assert matches([(0.0, 0.0), (5.0, 0.0)], [(-2.0, 0.0), (2.5, 0.0)], 3.0) == 2


def test_point_f1_without_points():
    assert point_f1([], [], R) is None  # both "not present": no F1 unit
    assert point_f1([(1.0, 1.0)], [], R) == 0.0  # points against none: total disagreement


def test_both_not_present_agree_on_count_and_presence_but_give_no_f1():
    assert compare_expressions(E("cat", absent=True), E("cat", absent=True), R) == {
        "count_exact": 1.0, "count_within_one": 1.0, "not_present_agreement": 1.0}


def test_unequal_point_counts():
    got = compare_expressions(E("dog", (1, 1), (20, 20), (40, 40)), E("dog", (1, 2)), R)
    assert got == {"count_exact": 0.0, "count_within_one": 0.0, "not_present_agreement": 1.0, "point_f1": 0.5}
    got = compare_expressions(E("dog", (1, 1)), E("dog", absent=True), R)
    assert got == {"count_exact": 0.0, "count_within_one": 1.0, "not_present_agreement": 0.0, "point_f1": 0.0}


def test_expressions_pair_by_normalised_text_or_one_each_whatever_the_text():
    a = [E("Red  Car", (1, 1)), E("dog", (5, 5))]
    b = [E("red car", (1, 1)), E("bird", (9, 9))]
    assert [(x.label, y.label) for x, y in paired_expressions(a, b)] == [("Red  Car", "red car")]
    assert len(paired_expressions([E("car", (1, 1))], [E("the red car", (1, 1))])) == 1
    assert paired_expressions([E("car", (1, 1))], [E("cat", (1, 1)), E("dog", (1, 1))]) == []


def test_one_annotator_only_gives_no_agreement():
    rep = point_agreement([PointItem(R, {7: [E("dog", (1, 1))]})])
    assert rep.items == 1 and rep.items_with_overlap == 0 and rep.pairs == 0
    assert values(rep) == {}
    assert rep.per_annotator == {}


# Three annotators (1, 2, 3) on two items; worked out by hand in the comments.
ITEM1 = PointItem(R, {
    1: [E("dog", (10, 10), (30, 30)), E("cat", absent=True)],
    2: [E("Dog", (11, 10), (50, 40)), E("cat", absent=True), E("bird", (5, 5))],
    3: [E("dog", (10, 12)), E("cat", (20, 20))],
})
# 1-2: dog F1 .5, count 2=2, np ok; cat both absent: no F1, count 0=0, np ok; overlap 2/3 (bird only 2)
# 1-3: dog F1 2/3 (1 of 2+1), counts 2 vs 1 (within one), np ok; cat F1 0, 0 vs 1, np differs; overlap 1
# 2-3: dog F1 2/3 (d = sqrt 5 < 3.2), 2 vs 1, np ok; cat F1 0, 0 vs 1, np differs; overlap 2/3
ITEM2 = PointItem(R, {  # one expression each: paired whatever the text
    1: [E("red car", (40, 20))],
    2: [E("the red car", (41, 20), (60, 40))],
    3: [E("car", absent=True)],
})
# 1-2: F1 2/3, 1 vs 2 within one, np ok; 1-3: F1 0, 1 vs 0 within one, np differs; 2-3: F1 0, 2 vs 0, np differs
ITEM3 = PointItem(R, {1: [E("dog", (3, 3))]})  # one annotator only: no pair


def test_three_annotators_campaign_summary_is_the_hand_computed_one():
    rep = point_agreement([ITEM1, ITEM2, ITEM3])
    assert (rep.items, rep.items_with_overlap, rep.pairs) == (3, 2, 6)
    assert values(rep) == pytest.approx({
        "point_f1": (0.5 + 2 / 3 + 0 + 2 / 3 + 0 + 2 / 3 + 0 + 0) / 8,  # = 0.3125
        "count_exact": 2 / 9, "count_within_one": 8 / 9, "not_present_agreement": 5 / 9,
        "expression_overlap": (2 / 3 + 1 + 2 / 3 + 1 + 1 + 1) / 6})
    assert rep.summary["point_f1"].n == 8 and rep.summary["count_exact"].n == 9


def test_three_annotators_per_annotator_rows_are_the_hand_computed_ones():
    rep = point_agreement([ITEM1, ITEM2, ITEM3])
    assert values(rep, 1) == pytest.approx({"point_f1": (0.5 + 2 / 3 + 0 + 2 / 3 + 0) / 5, "count_exact": 2 / 6,
                                            "count_within_one": 1.0, "not_present_agreement": 4 / 6,
                                            "expression_overlap": (2 / 3 + 1 + 1 + 1) / 4})
    assert values(rep, 2) == pytest.approx({"point_f1": (0.5 + 2 / 3 + 0 + 2 / 3 + 0) / 5, "count_exact": 2 / 6,
                                            "count_within_one": 5 / 6, "not_present_agreement": 4 / 6,
                                            "expression_overlap": (2 / 3 + 2 / 3 + 1 + 1) / 4})
    assert values(rep, 3) == pytest.approx({"point_f1": (2 / 3 + 0 + 2 / 3 + 0 + 0 + 0) / 6, "count_exact": 0.0,
                                            "count_within_one": 5 / 6, "not_present_agreement": 2 / 6,
                                            "expression_overlap": (1 + 2 / 3 + 1 + 1) / 4})
    assert [(rep.per_annotator[u].items, rep.per_annotator[u].pairs) for u in (1, 2, 3)] == [(2, 4)] * 3


def test_no_points_at_all_leaves_point_f1_undefined():
    rep = point_agreement([PointItem(R, {1: [E("cat", absent=True)], 2: [E("cat", absent=True)]})])
    assert values(rep) == {"count_exact": 1.0, "count_within_one": 1.0, "not_present_agreement": 1.0,
                           "expression_overlap": 1.0}


def test_answers_with_no_shared_expression_only_lower_expression_overlap():
    rep = point_agreement([PointItem(R, {1: [E("a", (1, 1)), E("b", (2, 2))], 2: [E("c", (1, 1)), E("d", (2, 2))]})])
    assert values(rep) == {"expression_overlap": 0.0}


# --- captions ----------------------------------------------------------------------------------

def test_tokens_and_token_overlap():
    assert tokens("Two red apples, don't you think? 3x") == ["two", "red", "apples", "don't", "you", "think", "3x"]
    cap, tr = tokens("a red apple and a cup"), tokens("um a red red apple uh next to a cup")
    # common multiset: a x2, red, apple, cup = 5 of 6 caption tokens, of 10 transcript tokens
    assert token_overlap(cap, tr) == (5 / 6, 5 / 10)
    assert token_overlap([], tr) == (None, 0.0)
    assert token_f1(tokens("a red apple"), tokens("a green apple here")) == 2 * 2 / 7
    assert token_f1([], []) is None


def test_caption_statistics_and_between_annotator_spread():
    item1 = [CaptionAnswer(1, "a red apple on a table", "uh a red apple on a table"),  # 6 words, transcript 7
             CaptionAnswer(2, "an apple", "an apple"),  # 2 words
             CaptionAnswer(3, "a red apple", "a red apple I think")]  # 3 words, transcript 5
    item2 = [CaptionAnswer(1, "a dog", "a dog")]  # one annotator: statistics only
    rep = caption_agreement([item1, item2])
    assert (rep.items, rep.items_with_overlap, rep.pairs) == (2, 1, 3)
    s = values(rep)
    assert s["caption_words"] == pytest.approx((6 + 2 + 3 + 2) / 4)
    assert s["caption_words_median"] == pytest.approx(2.5)
    assert s["transcript_words"] == pytest.approx((7 + 2 + 5 + 2) / 4)
    assert s["caption_in_transcript"] == 1.0
    assert s["transcript_in_caption"] == pytest.approx((6 / 7 + 1 + 3 / 5 + 1) / 4)
    assert s["length_range_words"] == 4.0  # 6 - 2
    assert s["length_relative_spread"] == pytest.approx(4 / (11 / 3))
    f12, f13, f23 = 2 * 1 / 8, 2 * 3 / 9, 2 * 1 / 5  # apple | a, red, apple | apple
    assert s["caption_pair_f1"] == pytest.approx((f12 + f13 + f23) / 3)
    assert values(rep, 2)["caption_pair_f1"] == pytest.approx((f12 + f23) / 2)
    assert values(rep, 1)["caption_words"] == 4.0  # (6 + 2) / 2 over its two answers


# --- choices -----------------------------------------------------------------------------------

def test_fleiss_kappa_matches_the_published_worked_example():
    """The 10 subjects x 14 raters x 5 categories example of Fleiss' kappa (Wikipedia, "Fleiss'
    kappa", worked example): P = 0.378, P_e = 0.213, kappa = 0.210."""
    table = [[0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
             [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7]]
    items = []
    for row in table:
        cats = [c for c, n in enumerate(row) for _ in range(n)]
        items.append(dict(enumerate(cats)))
    assert fleiss_kappa(items) == pytest.approx(0.20993, abs=1e-4)


def test_fleiss_kappa_edge_cases():
    assert fleiss_kappa([{1: "a"}]) is None  # one rating: no pair
    assert fleiss_kappa([{1: "a", 2: "a"}, {1: "a", 2: "a"}]) is None  # one category only: undefined
    assert fleiss_kappa([{1: "a", 2: "b"}, {1: "b", 2: "a"}]) == pytest.approx(-1.0)  # P = 0, P_e = 0.5
    assert fleiss_kappa([{1: "a", 2: "a"}, {1: "b", 2: "b"}]) == pytest.approx(1.0)


def test_choice_agreement_same_choice_rate_and_kappa():
    items = [{1: "a", 2: "a", 3: "b"}, {1: "tie", 2: "tie", 3: "tie"}, {1: "b"}]
    rep = choice_agreement(items)
    assert (rep.items, rep.items_with_overlap, rep.pairs) == (3, 2, 6)
    s = values(rep)
    assert s["same_choice"] == pytest.approx(4 / 6)  # item 1: 1 of 3 pairs; item 2: 3 of 3
    # P_1 = (4 + 1 - 3) / 6 = 1/3, P_2 = 1, P = 2/3; p = a 2/6, b 1/6, tie 3/6: P_e = (4 + 1 + 9) / 36
    pe = 14 / 36
    assert s["fleiss_kappa"] == pytest.approx((2 / 3 - pe) / (1 - pe))
    assert values(rep, 3)["same_choice"] == pytest.approx(2 / 4)
    assert values(rep, 1)["same_choice"] == pytest.approx(3 / 4)
