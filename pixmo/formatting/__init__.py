"""Molmo text formats: points, counting, clocks, style prefixes, prompt templates."""

from pixmo.formatting.clocks import CLOCK_NOT_SHOWN, CLOCK_PROMPT, clock_answer, parse_clock
from pixmo.formatting.points import (
    NONE_ANSWER,
    POINT_FORMATS,
    count_answer,
    fill_point_placeholders,
    is_valid_point_format,
    molmo2_coords,
    parse_count,
    parse_points,
    pointing_answer,
    points_to_text,
    round_points,
)
from pixmo.formatting.prompts import TEMPLATES, no_pointing_prefix, sample_prompt
from pixmo.formatting.styles import (
    HOW_MANY_RE,
    assistant_turn,
    format_options,
    length_hint,
    most_frequent_answer,
    option_letter,
    style_prefix,
    user_turn,
    with_prefix,
)

__all__ = [
    "CLOCK_NOT_SHOWN",
    "CLOCK_PROMPT",
    "HOW_MANY_RE",
    "NONE_ANSWER",
    "POINT_FORMATS",
    "TEMPLATES",
    "assistant_turn",
    "clock_answer",
    "count_answer",
    "fill_point_placeholders",
    "format_options",
    "is_valid_point_format",
    "length_hint",
    "molmo2_coords",
    "most_frequent_answer",
    "no_pointing_prefix",
    "option_letter",
    "parse_clock",
    "parse_count",
    "parse_points",
    "pointing_answer",
    "points_to_text",
    "round_points",
    "sample_prompt",
    "style_prefix",
    "user_turn",
    "with_prefix",
]
