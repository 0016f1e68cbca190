"""docs/spec/pixmo_data.md section 9 facts 1-12: the record schemas, their units and their validation."""

from __future__ import annotations

import hashlib

import pytest

from pixmo.records import (
    DOCS_CONFIGS,
    RECORD_TYPES,
    PixmoCapQA,
    PixmoClocks,
    RecordError,
    clock_text,
    docs_record_type,
    parse_record,
)
from tests.pixmo.conftest import all_subset_annotations, image_bytes

SHA = "a" * 64
POINTS_ROW = {"image_url": "u", "image_sha256": SHA, "points": [{"x": 1.0, "y": 2.0}], "count": 1,
              "label": "dog", "collection_method": "pointing"}


def fields(subset: str) -> set[str]:
    return set(RECORD_TYPES[subset].model_fields)


def test_every_published_subset_has_a_record_type_with_exactly_the_published_fields():
    assert fields("pixmo-points") == {"image_url", "image_sha256", "points", "count", "label", "collection_method"}
    assert fields("pixmo-count") == {"image_url", "image_sha256", "count", "points", "label"}
    assert fields("pixmo-cap") == {"image_url", "caption", "transcripts"}
    assert fields("pixmo-ask-model-anything") == {"image_url", "image_sha256", "question", "answer"}
    assert fields("pixmo-cap-qa") == {"image_url", "question", "answer"}
    assert fields("pixmo-points-eval") == {"image_url", "image_sha256", "label", "points", "masks"}
    assert fields("pixmo-point-explanations") == {"image_url", "image_sha256", "question", "response",
                                                  "parsed_response", "alt_text", "inline_text", "points"}
    assert fields("pixmo-clocks") == {"example_id", "watchface_id", "watchface_name", "watch_time", "time_format",
                                      "shows_seconds", "hour_visible", "minute_visible", "second_visible", "text"}
    for c in DOCS_CONFIGS:
        assert fields(f"pixmo-docs-{c}") == {"image_id", "questions"}
        assert docs_record_type(c).SUBSET == f"pixmo-docs-{c}"


def test_units_are_declared_per_subset():
    assert RECORD_TYPES["pixmo-points"].UNIT == "percent"
    assert RECORD_TYPES["pixmo-points-eval"].UNIT == "percent"
    assert RECORD_TYPES["pixmo-point-explanations"].UNIT == "percent"
    assert RECORD_TYPES["pixmo-count"].UNIT == "pixels"
    assert RECORD_TYPES["pixmo-cap"].UNIT is None


def test_fact1_points_record_round_trips_as_a_published_row():
    rec = parse_record("pixmo-points", POINTS_ROW)
    assert rec.to_row() == POINTS_ROW
    with pytest.raises(RecordError, match="collection_method"):
        parse_record("pixmo-points", {**POINTS_ROW, "collection_method": "clicking"})
    with pytest.raises(RecordError, match="unknown subset"):
        parse_record("pixmo-pointz", POINTS_ROW)
    with pytest.raises(RecordError, match="field .mask.: Extra inputs"):
        parse_record("pixmo-points", {**POINTS_ROW, "mask": []})


@pytest.mark.parametrize("sha", ["A" * 64, "a" * 63, "g" * 64, ""])
def test_sha256_format_is_checked_and_the_error_names_field_and_value(sha):
    with pytest.raises(RecordError) as exc:
        parse_record("pixmo-points", {**POINTS_ROW, "image_sha256": sha})
    assert "image_sha256" in str(exc.value) and repr(sha) in str(exc.value)


def test_fact2_count_equals_len_points_and_not_present_rows():
    parse_record("pixmo-points", {**POINTS_ROW, "points": [], "count": 0})
    with pytest.raises(RecordError, match="count=2 but 1 points"):
        parse_record("pixmo-points", {**POINTS_ROW, "count": 2})
    count_row = {"image_url": "u", "image_sha256": SHA, "label": "dog"}
    for n in range(2, 11):  # val/test: empty points, count 2..10
        parse_record("pixmo-count", {**count_row, "count": n, "points": {"x": [], "y": []}})
    with pytest.raises(RecordError, match="count=11 without points"):
        parse_record("pixmo-count", {**count_row, "count": 11, "points": {"x": [], "y": []}})
    with pytest.raises(RecordError, match="count=3 but 2 points"):
        parse_record("pixmo-count", {**count_row, "count": 3, "points": {"x": [1, 2], "y": [1, 2]}})


def test_percent_coordinates_are_range_checked():
    for bad in (100.5, -0.1, float("nan")):
        with pytest.raises(RecordError, match=r"points\[0\]\.x=.*outside 0-100"):
            parse_record("pixmo-points", {**POINTS_ROW, "points": [{"x": bad, "y": 2.0}]})


def test_fact3_count_points_are_parallel_pixel_lists_checked_against_the_image():
    rec = parse_record("pixmo-count", {"image_url": "u", "image_sha256": SHA, "count": 2, "label": "dog",
                                       "points": {"x": [150.0, 10.0], "y": [20.0, 90.0]}})
    assert rec.to_row()["points"] == {"x": [150.0, 10.0], "y": [20.0, 90.0]}
    rec.check_image_size(200, 100)
    with pytest.raises(ValueError, match="outside the 100x100 image"):
        rec.check_image_size(100, 100)
    with pytest.raises(RecordError, match="points.x has 2 values but points.y has 1"):
        parse_record("pixmo-count", {"image_url": "u", "image_sha256": SHA, "count": 2, "label": "d",
                                     "points": {"x": [1.0, 2.0], "y": [1.0]}})


def test_fact4_cap_needs_at_least_one_transcript():
    parse_record("pixmo-cap", {"image_url": "u", "caption": "c", "transcripts": ["t"]})
    with pytest.raises(RecordError, match="transcripts"):
        parse_record("pixmo-cap", {"image_url": "u", "caption": "c", "transcripts": []})


def test_fact5_ama_fields_are_strings():
    with pytest.raises(RecordError, match="answer"):
        parse_record("pixmo-ask-model-anything", {"image_url": "u", "image_sha256": SHA, "question": "q", "answer": 3})


def test_fact6_capqa_tags_and_turns():
    rec = PixmoCapQA(image_url="u", question="[USER] Hi [ASSISTANT] Hello! [USER] A joke? [ASSISTANT]", answer="No.")
    assert rec.turns() == [("user", "Hi"), ("assistant", "Hello!"), ("user", "A joke?"), ("assistant", "No.")]
    for bad in ("Hi [ASSISTANT]", "[USER] Hi", "[USER] a [USER] b [ASSISTANT]"):
        with pytest.raises(RecordError, match="question"):
            parse_record("pixmo-cap-qa", {"image_url": "u", "question": bad, "answer": "x"})


def test_fact7_docs_questions_are_equal_length_lists():
    parse_record("pixmo-docs-tables", {"image_id": "t1", "questions": {"question": ["a", "b"], "answer": ["1", "2"]}})
    with pytest.raises(RecordError, match="2 questions but 1 answers"):
        parse_record("pixmo-docs-tables", {"image_id": "t1", "questions": {"question": ["a", "b"], "answer": ["1"]}})
    with pytest.raises(RecordError):
        docs_record_type("maps")


CLOCK = {"example_id": "St7PA0gwwp/004_2022-05-02T07:57:39.129326_urbane", "watchface_id": "St7PA0gwwp",
         "watchface_name": "urbane", "watch_time": "004_2022-05-02T07:57:39", "time_format": "With AM/PM",
         "shows_seconds": True, "hour_visible": 7, "minute_visible": 57, "second_visible": 39, "text": "7:57:39 AM"}


def test_fact8_clock_fields_are_consistent_with_text():
    parse_record("pixmo-clocks", CLOCK)
    parse_record("pixmo-clocks", {**CLOCK, "time_format": "Without AM/PM", "hour_visible": 5, "minute_visible": 34,
                                  "second_visible": 22, "text": "5:34:22"})
    parse_record("pixmo-clocks", {**CLOCK, "time_format": "Without AM/PM", "shows_seconds": False, "hour_visible": 0,
                                  "minute_visible": 9, "second_visible": -1, "text": "12:09"})
    assert clock_text(19, 5, ampm=True) == "7:05 PM" and clock_text(0, 0, ampm=True) == "12:00 AM"
    with pytest.raises(RecordError, match="text='7:57:39' but the visible fields give '7:57:39 AM'"):
        parse_record("pixmo-clocks", {**CLOCK, "text": "7:57:39"})
    with pytest.raises(RecordError, match="hour_visible=13 is outside 0..11"):
        parse_record("pixmo-clocks", {**CLOCK, "time_format": "Without AM/PM", "hour_visible": 13, "text": "1:57:39"})
    with pytest.raises(RecordError, match="second_visible=39 disagrees with shows_seconds=False"):
        parse_record("pixmo-clocks", {**CLOCK, "shows_seconds": False})
    hidden = {**CLOCK, "time_format": "Time not shown", "hour_visible": -1, "minute_visible": -1,
              "second_visible": -1, "shows_seconds": False, "text": ""}
    assert isinstance(parse_record("pixmo-clocks", hidden), PixmoClocks)


def test_fact9_points_eval_has_one_mask_per_point():
    row = {"image_url": "u", "image_sha256": SHA, "label": "d", "points": [{"x": 1.0, "y": 1.0}],
           "masks": [[[True, False], [False, False]]]}
    parse_record("pixmo-points-eval", row)
    with pytest.raises(RecordError, match="masks has 2 entries but points has 1"):
        parse_record("pixmo-points-eval", {**row, "masks": row["masks"] * 2})


def test_fact10_point_explanations_placeholders_match_points():
    row = {"image_url": "u", "image_sha256": SHA, "question": "q", "response": "r",
           "parsed_response": "A <|POINT|> and <|POINT|>.", "alt_text": ["a", "b"], "inline_text": ["x", "y"],
           "points": [[[10.0, 20.0]], [[30.0, 40.0], [50.0, 60.0]]]}
    parse_record("pixmo-point-explanations", row)
    with pytest.raises(RecordError, match="2 <\\|POINT\\|> placeholders but points has 1"):
        parse_record("pixmo-point-explanations", {**row, "points": row["points"][:1], "alt_text": ["a"],
                                                  "inline_text": ["x"]})
    with pytest.raises(RecordError, match="inline_text"):
        parse_record("pixmo-point-explanations", {**row, "inline_text": ["x"]})
    with pytest.raises(RecordError, match=r"points\[1\]\[1\].x=150.0"):
        parse_record("pixmo-point-explanations", {**row, "points": [[[10.0, 20.0]], [[30.0, 40.0], [150.0, 60.0]]]})
    parse_record("pixmo-point-explanations", {**row, "parsed_response": None})  # failed parses are kept as null


def test_fact11_image_sha256_is_the_hash_of_the_image_bytes_not_the_url():
    img = image_bytes(7)
    url = "https://example.com/7.png"
    anns = all_subset_annotations(img, url, 64, 48)
    shas = {a.record.image_sha256 for a in anns if hasattr(a.record, "image_sha256")}
    assert shas == {hashlib.sha256(img).hexdigest()}
    assert hashlib.sha256(url.encode()).hexdigest() not in shas


def test_strict_parsing_refuses_wrong_json_types_that_lax_parsing_coerces():
    assert parse_record("pixmo-points", {**POINTS_ROW, "count": "1"}).count == 1  # lax: coerced
    for bad in ({"count": "1"}, {"count": 1.0}, {"label": 5}, {"points": [{"x": "1", "y": 2.0}]}):
        with pytest.raises(RecordError):
            parse_record("pixmo-points", {**POINTS_ROW, **bad}, strict=True)
    with pytest.raises(RecordError, match="shows_seconds"):
        parse_record("pixmo-clocks", {**CLOCK, "shows_seconds": 1}, strict=True)
    parse_record("pixmo-points", {**POINTS_ROW, "points": [{"x": 1, "y": 2}]}, strict=True)  # int is a valid float
