"""Molmo2's point format (`<points coords="IMAGE ID X Y ...">`, 0-1000) next to v1's, and parsing both."""

from __future__ import annotations

import numpy as np
import pytest

from pixmo.formatting import (
    count_answer,
    is_valid_point_format,
    parse_points,
    pointing_answer,
    points_to_text,
)


def test_molmo2_points_text_is_image_index_then_id_x_y_on_0_1000():
    text = points_to_text([(10.5, 20.04), (5, 50)], "Dog", fmt="molmo2")
    assert text == '<points coords="1 1 050 500 2 105 200">dog</points>'
    assert points_to_text([(320, 120)], "a", image_size=(640, 480), fmt="molmo2") == \
        '<points coords="1 1 500 250">a</points>'
    assert points_to_text([(100, 100)], "a", fmt="molmo2") == '<points coords="1 1 1000 1000">a</points>'


def test_molmo2_count_and_pointing_answers():
    assert count_answer([(10, 20), (90, 5)], "boats", fmt="molmo2") == \
        'Counting the <points coords="1 1 100 200 2 900 050">boats</points> shows a total of 2.'
    assert pointing_answer([], "boats", fmt="molmo2") == "There are none."
    with pytest.raises(ValueError):
        points_to_text([(1, 2)], "a", fmt="molmo3")


def test_v1_format_unchanged_by_default():
    assert points_to_text([(10.5, 20.2)], "dog") == '<point x="10.5" y="20.2" alt="dog">dog</point>'


def test_parse_points_reads_molmo2_forms_and_v1_alike():
    assert parse_points('<points coords="1 1 308 305 2 752 377">curb ramp</points>') == [(30.8, 30.5), (75.2, 37.7)]
    # several images (';'), an alt attribute, the self-closing form, tracks, and a value above 1000 dropped
    text = ('Counting the <points coords="1 1 555 169;2 3 649 154 4 709 162" alt="boats">the boats</points> and '
            '<points coords="0.5 1 100 200"/> <tracks coords="1 1 010 020"/> <points coords="1 1 1200 5">x</points>')
    assert parse_points(text) == [(55.5, 16.9), (64.9, 15.4), (70.9, 16.2), (10.0, 20.0), (1.0, 2.0)]
    assert parse_points('<points coords="1 1 500 250">a</points>', image_size=(640, 480)) == [(320.0, 120.0)]
    v1 = '<points x1="10.5" y1="20.2" x2="90.0" y2="5.0" alt="dog">dog</points>'
    assert parse_points(v1) == [(10.5, 20.2), (90.0, 5.0)]
    assert is_valid_point_format(points_to_text([(1, 2), (3, 4)], "a", fmt="molmo2"))


def test_molmo2_round_trip_within_half_a_unit():
    rng = np.random.default_rng(0)
    for _ in range(50):
        pts = rng.uniform(0, 100, size=(int(rng.integers(1, 12)), 2))
        got = np.array(parse_points(points_to_text(pts, "a", fmt="molmo2")))
        want = np.array(sorted(np.round(pts * 10).astype(int).tolist())) / 10
        assert got.shape == pts.shape and np.abs(got - want).max() < 1e-9
