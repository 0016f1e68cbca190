"""Clocks: labels agree with the renderer's scene, and the scene agrees with the pixels."""

from __future__ import annotations

import datetime as dt
import hashlib

import cv2
import numpy as np
import pytest

from generators.clocks import geom
from generators.clocks.generate import ClockConfig, face_and_layer, make_example, make_sample, make_samples
from generators.clocks.render import render
from generators.clocks.spec import FAMILY_NAMES
from pixmo.formatting import CLOCK_PROMPT, clock_answer, parse_clock
from pixmo.records import PixmoClocks, clock_text, parse_record

SEED = 20240917
N = 1000
# one worker builds the 1,000 examples once for every test of this module
pytestmark = pytest.mark.xdist_group("clocks-1000")


def _set_time(rec: PixmoClocks) -> dt.datetime:
    return dt.datetime.fromisoformat(rec.watch_time.split("_", 1)[1])


def _expected_angles(t: dt.datetime) -> dict[str, float]:
    h, m, s = t.hour, t.minute, t.second
    return {"hour": 30 * (h % 12) + 0.5 * m + s / 120, "minute": 6 * m + 0.1 * s, "second": 6.0 * s}


def _angle_diff(a: float, b: float) -> float:
    return abs((a - b + 180) % 360 - 180)


@pytest.fixture(scope="module")
def examples():
    cfg = ClockConfig()
    return cfg, [make_example(i, cfg, SEED) for i in range(N)]


def test_labels_match_the_set_time_and_formats(examples):
    cfg, exs = examples
    formats = set()
    for ex in exs:
        rec = ex.record
        parse_record("pixmo-clocks", rec.to_row())  # the published schema, exactly
        t = _set_time(rec)
        assert rec.watchface_id in rec.example_id and rec.example_id.endswith("_" + rec.watchface_name)
        formats.add((rec.time_format, rec.shows_seconds))
        if rec.time_format == "Time not shown":
            assert not ex.scene.hands and rec.hour_visible == -1
            continue
        ampm = rec.time_format == "With AM/PM"
        assert rec.hour_visible == (t.hour if ampm else t.hour % 12)
        assert rec.minute_visible == t.minute
        assert rec.second_visible == (t.second if rec.shows_seconds else -1)
        assert rec.text == clock_text(rec.hour_visible, rec.minute_visible, rec.second_visible, ampm=ampm)
        parsed = parse_clock(clock_answer(rec.hour_visible, rec.minute_visible, rec.second_visible, ampm=ampm))
        assert parsed is not None and parsed[0] % 12 == t.hour % 12 and parsed[1] == t.minute
    assert {f for f, _ in formats} == {"With AM/PM", "Without AM/PM", "Time not shown"}
    seen: dict[str, str] = {}
    for ex in exs:  # one image never carries two different times
        key = hashlib.sha256(ex.image.tobytes()).hexdigest()
        assert seen.setdefault(key, ex.record.text) == ex.record.text, ex.record.example_id
    assert {s for _, s in formats} == {True, False}


def test_scene_angles_match_the_labelled_time(examples):
    _, exs = examples
    checked = 0
    for ex in exs:
        if not ex.scene.hands:
            continue
        want = _expected_angles(_set_time(ex.record))
        names = [h.name for h in ex.scene.hands]
        assert names[:2] == ["hour", "minute"]
        assert ("second" in names) == ex.record.shows_seconds
        h = np.array(ex.scene.homography)
        for hand in ex.scene.hands:
            assert _angle_diff(hand.angle, want[hand.name]) < 1e-6, (ex.record.example_id, hand.name)
            # the tip lies at that angle from the centre in the dial frame, mapped into the image
            tip = geom.apply_h(h, np.array([geom.polar(hand.center_dial, hand.length, hand.angle)]))[0]
            assert np.allclose(tip, hand.tip, atol=1e-6)
            dial_tip = geom.apply_h(np.linalg.inv(h), np.array([hand.tip]))[0] - np.array(hand.center_dial)
            assert _angle_diff(np.degrees(np.arctan2(dial_tip[0], -dial_tip[1])), want[hand.name]) < 1e-3
        checked += 1
    assert checked > 0.7 * N


def _mask(hands: list, size: int, grow: int = 0, caps: list | None = None) -> np.ndarray:
    m = np.zeros((size, size), np.uint8)
    for poly in [p for hand in hands for p in hand.polygons] + (caps or []):
        cv2.fillPoly(m, [np.round(np.asarray(poly) * 16).astype(np.int32)], 255, cv2.LINE_8, 4)
    if grow > 0:
        m = cv2.dilate(m, np.ones((2 * grow + 1, 2 * grow + 1), np.uint8))
    elif grow < 0:
        m = cv2.erode(m, np.ones((3, 3), np.uint8), iterations=-grow)
    return m > 0


def test_hands_are_in_the_pixels_where_the_scene_says(examples):
    """Drawing the hands changes pixels only where the scene's hand polygons are; inside each
    polygon the pixels have the hand's colour; and each hand stands out from the dial below it."""
    cfg, exs = examples
    hands_checked = 0
    for i, ex in enumerate(exs):
        if not ex.scene.hands:
            continue
        face, layer = face_and_layer(i // cfg.examples_per_face, cfg, SEED)
        bare, _ = render(face, layer, ex.time, shown=ex.shown, hands=False)
        changed = np.abs(ex.image.astype(int) - bare).max(axis=2) > 30
        outside = changed & ~_mask(ex.scene.hands, cfg.size, grow=4, caps=ex.scene.caps)
        assert outside.sum() <= 0.01 * max(1, changed.sum()), (ex.record.example_id, int(outside.sum()))
        for k, hand in enumerate(ex.scene.hands):
            covered = _mask(ex.scene.hands[k + 1:], cfg.size, grow=4, caps=ex.scene.caps)
            inside = _mask([hand], cfg.size, grow=-1) & ~covered
            if inside.sum() < 8:
                continue  # (almost) all under a later hand
            color = np.array(hand.color)
            on = np.abs(ex.image[inside].astype(int) - color).max(axis=1)
            off = np.abs(bare[inside].astype(int) - color).max(axis=1)
            assert np.mean(on <= 40) >= 0.9, (ex.record.example_id, hand.name)
            # a hand may cross a window or numerals of its own colour, but most of it stands out
            assert np.mean(off > 40) >= 0.5, (ex.record.example_id, hand.name, float(np.mean(off > 40)))
            hands_checked += 1
    assert hands_checked > N


def test_every_font_draws_every_clock_glyph():
    from generators.clocks.canvas import font
    from generators.clocks.spec import FONTS

    for name in FONTS:
        f = font(name, 24)
        for ch in "0123456789:-AMPXIVLSUNTHWEDFRO":
            assert np.asarray(f.getmask(ch)).sum() > 0, (name, ch)  # a font without the glyph draws nothing


def test_digital_faces_show_the_labelled_text(examples):
    cfg, exs = examples
    seen = 0
    for i, ex in enumerate(exs):
        if ex.face.digital is None or not ex.shown:
            continue
        face, layer = face_and_layer(i // cfg.examples_per_face, cfg, SEED)
        other = dt.datetime(2021, 1, 1, (ex.time.hour + 5) % 24, (ex.time.minute + 17) % 60, (ex.time.second + 7) % 60)
        moved, _ = render(face, layer, type(ex.time)(other.hour, other.minute, other.second, ex.time.day,
                                                     ex.time.weekday))
        assert np.abs(moved.astype(int) - ex.image).max() > 100  # another time draws other digits
        t = _set_time(ex.record)
        text = ex.scene.digital_text.strip()
        hh, mm = text.split(":")[:2]
        assert int(mm) == t.minute and int(hh) % 12 == t.hour % 12
        if ex.record.time_format == "With AM/PM" and ex.scene.ampm_text:
            assert ex.scene.ampm_text == ("AM" if t.hour < 12 else "PM")
        seen += 1
    assert seen > 20


def test_at_least_30_families_all_render_distinct_faces():
    assert len(FAMILY_NAMES) >= 30
    hashes = set()
    for fam in FAMILY_NAMES:
        cfg = ClockConfig(size=160, families=(fam,))
        ex = make_example(0, cfg, 1)
        assert ex.face.family == fam
        assert ex.image.shape == (160, 160, 3) and ex.image.std() > 10
        hashes.add(hashlib.sha256(ex.image.tobytes()).hexdigest())
    assert len(hashes) == len(FAMILY_NAMES)


def test_sample_carries_the_molmo_clock_qa():
    s = make_sample(3, ClockConfig(size=160), 7)
    a = s.annotations[0]
    assert a.meta["question"] == CLOCK_PROMPT
    rec = a.record
    assert a.meta["answer"] == clock_answer(rec.hour_visible, rec.minute_visible, rec.second_visible,
                                            ampm=rec.time_format == "With AM/PM")
    assert s.image_ext == "jpg" and (s.width, s.height) == (160, 160)


def test_augmentation_keeps_the_scene_true():
    cfg = ClockConfig(size=192, augment=True)
    sizes = set()
    for i in range(40):
        ex = make_example(i, cfg, 5)
        hgt, wid = ex.image.shape[:2]
        sizes.add((wid, hgt))
        h = np.array(ex.scene.homography)
        for hand in ex.scene.hands:
            tip = geom.apply_h(h, np.array([geom.polar(hand.center_dial, hand.length, hand.angle)]))[0]
            assert np.allclose(tip, hand.tip, atol=1e-6)
            assert -1 <= tip[0] <= wid + 1 and -1 <= tip[1] <= hgt + 1
    assert len(sizes) > 10  # rotation, scale and padding change the image size


def test_same_seed_same_bytes_other_seed_other_bytes():
    cfg = ClockConfig(size=128)
    a = [make_sample(i, cfg, 11).image for i in range(6)]
    b = [make_sample(i, cfg, 11).image for i in range(6)]
    c = [make_sample(i, cfg, 12).image for i in range(6)]
    assert a == b and a != c


def test_batched_samples_equal_one_by_one():
    """The shard path draws a batch, then encodes it: the same bytes and records as one at a time,
    whatever the batch size and wherever it cuts a face's examples."""
    cfg = ClockConfig(size=128)
    one = [make_sample(i, cfg, 4) for i in range(3, 17)]
    for batch in (1, 4, 0):
        got = make_samples(range(3, 17), cfg, 4, batch=batch)
        assert [s.image for s in got] == [s.image for s in one]
        assert [s.key for s in got] == [s.key for s in one]
        assert [s.annotations[0].record for s in got] == [s.annotations[0].record for s in one]
        assert [s.annotations[0].meta for s in got] == [s.annotations[0].meta for s in one]
