"""Molmo text formats: docs/spec/molmo.md section 11 facts 13-15 and docs/spec/pixmo_data.md section 9 facts 13-19."""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pixmo.formatting import (
    CLOCK_NOT_SHOWN,
    CLOCK_PROMPT,
    HOW_MANY_RE,
    NONE_ANSWER,
    TEMPLATES,
    assistant_turn,
    clock_answer,
    count_answer,
    fill_point_placeholders,
    format_options,
    is_valid_point_format,
    length_hint,
    most_frequent_answer,
    no_pointing_prefix,
    option_letter,
    parse_clock,
    parse_count,
    parse_points,
    pointing_answer,
    points_to_text,
    round_points,
    sample_prompt,
    style_prefix,
    user_turn,
    with_prefix,
)

MULTI = '<points x1="2.5" y1="50.0" x2="5.0" y2="20.0" alt="dog">dog</points>'


# --- docs/spec/molmo.md 11.13 / docs/spec/pixmo_data.md 9.13-9.16 -----------------------------------------------------


def test_molmo_fact13_points_formatting():
    assert points_to_text([(10, 20), (5, 50)], "Dog", image_size=(200, 100)) == MULTI
    assert count_answer([(10, 20), (5, 50)], "Dog", image_size=(200, 100)) == f"Counting the {MULTI} shows a total of 2."
    assert points_to_text([(33.333, 66.666)], "dog") == '<point x="33.3" y="66.7" alt="dog">dog</point>'
    assert count_answer([], "dog") == NONE_ANSWER == "There are none."
    assert pointing_answer([], "dog") == "There are none."


def test_fact13_single_point_has_one_decimal_and_alt_defaults_to_label():
    assert points_to_text([(5, 7)], "cat") == '<point x="5.0" y="7.0" alt="cat">cat</point>'
    assert points_to_text([(5, 7)], "cat", alt="a cat") == '<point x="5.0" y="7.0" alt="a cat">cat</point>'


def test_fact14_sorting_happens_after_rounding_with_numpy_half_even():
    # 35.45 rounds to 35.4 with numpy (Python's round gives 35.5); y breaks the tie after rounding
    assert points_to_text([(35.45, 1)], "a") == '<point x="35.4" y="1.0" alt="a">a</point>'
    text = points_to_text([(10.04, 9.0), (9.96, 1.0), (3.0, 99.0)], "a")
    assert text == '<points x1="3.0" y1="99.0" x2="10.0" y2="1.0" x3="10.0" y3="9.0" alt="a">a</points>'


def test_fact15_counting_answer_single_point():
    assert count_answer([(50, 50)], "Cup", image_size=(100, 100)) == (
        'Counting the <point x="50.0" y="50.0" alt="cup">cup</point> shows a total of 1.')


def test_fact16_pixel_normalisation_is_x_over_w_over_100():
    w, h = 640, 480
    assert points_to_text([(320, 120)], "a", image_size=(w, h)) == points_to_text([(320 / (w / 100), 120 / (h / 100))], "a")


# --- parsing (docs/spec/molmo.md 8.1-8.3, facts 22-23) ------------------------------------------------------


coord = st.floats(min_value=0, max_value=100, allow_nan=False)


def _close(got, want, tol_x, tol_y):
    """Every wanted point has a parsed point within the tolerance, and the counts agree."""
    assert len(got) == len(want)
    for wx, wy in want:
        assert any(abs(gx - wx) <= tol_x and abs(gy - wy) <= tol_y for gx, gy in got), (wx, wy, got)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(coord, coord), min_size=1, max_size=12))
def test_format_then_parse_gives_the_points_back_to_0_1(points):
    got = parse_points(points_to_text(points, "thing"))
    _close(got, points, 0.05 + 1e-9, 0.05 + 1e-9)
    assert got == round_points(points)  # in the documented order


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(coord, coord), min_size=1, max_size=8), st.integers(16, 4000), st.integers(16, 4000))
def test_format_then_parse_in_pixels(points_pct, w, h):
    pixels = [(x / 100 * w, y / 100 * h) for x, y in points_pct]
    got = parse_points(points_to_text(pixels, "a", image_size=(w, h)), image_size=(w, h))
    _close(got, pixels, 0.0005 * w * (1 + 1e-9), 0.0005 * h * (1 + 1e-9))


def test_parse_points_accepts_the_reference_forms_and_drops_values_above_100():
    assert parse_points(MULTI) == [(2.5, 50.0), (5.0, 20.0)]
    assert parse_points("Click(12.5, 40.0)") == [(12.5, 40.0)]
    assert parse_points("(1.0, 2.0)\n(3.5, 4.5)") == [(1.0, 2.0), (3.5, 4.5)]
    assert parse_points("p=123,456") == [(12.3, 45.6)]
    assert parse_points('<points x1="150.0" y1="2.0" x2="3.0" y2="4.0" alt="a">a</points>') == [(3.0, 4.0)]
    assert parse_points('<point x="50.0" y="25.0" alt="a">a</point>', image_size=(200, 100)) == [(100.0, 25.0)]
    assert parse_points("The dog is here") == []
    assert is_valid_point_format(MULTI) and not is_valid_point_format("The dog is here")


def test_molmo_fact22_count_parsing():
    assert parse_count(f"Counting the {MULTI} shows a total of 7.") == 7
    assert parse_count("seven.") == 7
    assert parse_count("There are none.") is None  # the reference quirk
    assert parse_count("There are none.", none_is_zero=True) == 0
    assert parse_count("I see a total of 12 dogs here") == 12


def test_molmo_fact23_clock_parsing():
    assert parse_clock("10:15") == (10, 15, None)
    assert parse_clock("The time shown is 7:57:39 PM") == (19, 57, 39)
    assert parse_clock(CLOCK_NOT_SHOWN) is None


# --- docs/spec/molmo.md 11.14 / docs/spec/pixmo_data.md 9.19: length prefix -----------------------------------------------


def test_molmo_fact14_length_prefix():
    caption = "x" * 1250
    n = length_hint(caption, np.random.default_rng(0), sigma=0.0)
    assert n == 83
    assert user_turn(with_prefix(f"long_caption {n}:", ""), message_format="none") == " long_caption 83:"
    prefix = style_prefix("long_caption", "style_and_length", np.random.default_rng(0))  # inference
    assert user_turn(with_prefix(prefix, ""), message_format="none") == " long_caption 65:"
    rng = np.random.default_rng(1)
    draws = [style_prefix("long_caption", "style_and_length", rng, response=caption) for _ in range(3000)]
    unconditioned = sum(d == "long_caption :" for d in draws) / len(draws)
    assert 0.07 < unconditioned < 0.13
    values = [int(m.group(1)) for d in draws if (m := re.fullmatch(r"long_caption (\d+):", d))]
    assert len(values) + round(unconditioned * len(draws)) == len(draws)
    assert 82 <= np.mean(values) <= 84 and min(values) >= 83 - 8 and max(values) <= 83 + 8


def test_fact19_caption_styles_are_long_caption_and_transcript():
    rng = np.random.default_rng(3)
    for style in ("long_caption", "transcript"):
        p = style_prefix(style, "style_and_length", rng, response="y" * 300)
        assert re.fullmatch(rf"{style} (\d+)?:", p)
        assert sample_prompt(style, rng) in TEMPLATES[style]


# --- docs/spec/molmo.md 11.15: fine-tune prompts; docs/spec/pixmo_data.md 9.17-9.18 -----------------------------------------


def test_molmo_fact15_fine_tune_prompts():
    rng = np.random.default_rng(0)
    answer = most_frequent_answer(["red", "blue", "red"], rng)
    vqa = user_turn(with_prefix(style_prefix("vqa2", "demo_or_style", rng), "What color?"))
    assert [vqa, assistant_turn(answer)] == [" User: vqa2: What color? Assistant:", " red"]
    options = ["cat", "dog"]
    mc = user_turn(with_prefix(style_prefix("eval_multiple_choice", "demo_or_style", rng),
                               format_options("Which?", options)))
    assert mc == " User: a_okvqa_mc: Which?\nA: cat\nB: dog\n Assistant:"
    assert assistant_turn(option_letter(options, "dog")) == " B"
    clocks = user_turn(with_prefix(style_prefix("clocks", "demo_or_style", rng), CLOCK_PROMPT))
    assert clocks == " User: clocks: What time is being shown? Assistant:"


def test_demo_styles_are_unprefixed_about_90_percent_of_the_time():
    rng = np.random.default_rng(5)
    draws = [style_prefix("pointing", "demo_or_style", rng) for _ in range(2000)]
    assert 0.07 < draws.count("pointing:") / len(draws) < 0.13
    assert set(draws) == {"", "pointing:"}
    assert style_prefix("demo", "demo_or_style", rng) == ""
    assert style_prefix("point_qa", "demo_or_style", rng) == "point_qa:"


def test_most_frequent_answer_breaks_ties_with_the_rng():
    seen = {most_frequent_answer(["a", "b"], np.random.default_rng(s)) for s in range(20)}
    assert seen == {"a", "b"}


@pytest.mark.parametrize(("hour", "minute", "second", "ampm", "want"), [
    (7, 57, 39, True, "The time shown is 7:57:39 AM"),
    (0, 5, -1, True, "The time shown is 12:05 AM"),
    (12, 0, -1, True, "The time shown is 12:00 PM"),
    (23, 59, 1, True, "The time shown is 11:59:01 PM"),
    (5, 3, -1, False, "The time shown is 5:03"),
    (-1, -1, -1, False, "The time is not shown in the image."),
])
def test_fact17_clock_answers(hour, minute, second, ampm, want):
    assert CLOCK_PROMPT == "What time is being shown?"
    assert clock_answer(hour, minute, second, ampm=ampm) == want


def test_clock_noon_quirk_is_available():
    assert clock_answer(12, 0, ampm=True, noon_is_am=True) == "The time shown is 12:00 AM"


def test_fact18_how_many_questions_get_a_no_pointing_prefix():
    rng = np.random.default_rng(0)
    assert HOW_MANY_RE.match("How many dogs are there?") and HOW_MANY_RE.match("how MANY cats")
    assert not HOW_MANY_RE.match("Tell me how many dogs")
    prefixes = {no_pointing_prefix(rng) for _ in range(200)}
    assert len(prefixes) >= 10 and "No pointing: " in prefixes


def test_point_explanations_placeholders_are_filled_in_order():
    out = fill_point_placeholders("A <|POINT|> and a <|POINT|>.", [[(10, 20)], [(1, 2), (3, 4)]],
                                  ["Dog", "cats"], ["dog", "cat"])
    assert out == ('A <point x="10.0" y="20.0" alt="dog">Dog</point> and a '
                   '<points x1="1.0" y1="2.0" x2="3.0" y2="4.0" alt="cat">cats</points>.')


def test_prompt_templates_fill_the_lowercased_label():
    rng = np.random.default_rng(0)
    for kind in ("pointing", "point_count"):
        p = sample_prompt(kind, rng, label="Red Car")
        assert "red car" in p and "{label}" not in p
    with pytest.raises(ValueError):
        sample_prompt("nope", rng)


def test_parse_count_never_raises_on_superscript_digits():
    """'²' passes str.isdigit() but int() refuses it: a model output must parse as invalid, not crash."""
    from pixmo.formatting import parse_count

    assert parse_count("Count: ²") is None
    assert parse_count("a total of ²") is None
    assert parse_count("There are 3") == 3
