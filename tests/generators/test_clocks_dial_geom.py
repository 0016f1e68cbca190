"""Body geometry cached in generators.clocks.dial_geom draws exactly what mapping the dial-space
polygons through the Canvas draws, is shared between faces of a body, and is read-only."""

import cv2
import numpy as np
import pytest

from generators.clocks import body as bodies
from generators.clocks import dial, dial_geom, geom
from generators.clocks.canvas import Canvas

SIZE = 200


def _canvas(index: int, warp: bool) -> tuple[Canvas, tuple[float, float], float, str]:
    b = bodies.LIBRARY[index]
    cv = Canvas(np.full((SIZE, SIZE, 3), 90, np.uint8), bodies.homography(index, SIZE, warp),
                identity=not (warp and b.warp > 0))
    return cv, (b.center[0] * SIZE, b.center[1] * SIZE), b.radius * SIZE * 0.86, b.shape


@pytest.mark.parametrize("kind", ["60", "railway", "double", "12", "batons", "dots", "minute-dots"])
@pytest.mark.parametrize("index,warp", [(3, True), (40, True), (12, False)])
def test_tick_parts_draw_like_the_canvas(kind, index, warp):
    cv, c, r, shape = _canvas(index, warp)
    parts, outlines = dial_geom.tick_parts(kind, shape, c, r, dial_geom.h_key(cv.h), cv.identity)
    cv2.fillPoly(cv.arr, parts, (200, 10, 10), cv2.LINE_AA, geom.SHIFT)
    for o in outlines:
        cv2.polylines(cv.arr, [o], True, (200, 10, 10), 1, cv2.LINE_AA, geom.SHIFT)
    ref, *_ = _canvas(index, warp)
    ref.fill(dial_geom._tick_polys(kind, shape, c, r), (200, 10, 10), disjoint=True)
    if kind == "railway":
        for f in (0.95, 0.99):
            ref.outline(geom.shape_points(shape, c, r * 0.96 * f), (200, 10, 10))
    assert np.array_equal(cv.arr, ref.arr)
    assert cv.arr.sum() != np.full_like(cv.arr, 90).sum(), "nothing was drawn"


@pytest.mark.parametrize("index,warp", [(7, True), (20, False)])
def test_dial_area_mask_is_the_dial_polygon(index, warp):
    cv, c, r, shape = _canvas(index, warp)
    area = dial_geom.dial_area(shape, c, r, dial_geom.h_key(cv.h), cv.identity, SIZE)
    x0, y0, x1, y1 = area.box
    pts = cv.map(geom.shape_points(shape, c, r))
    ref = np.zeros((SIZE, SIZE), np.uint8)
    cv2.fillPoly(ref, [geom.fixed(pts)], 255, cv2.LINE_8, geom.SHIFT)
    assert np.array_equal(ref[y0:y1, x0:x1], area.mask) and ref.sum() == area.mask.sum()
    assert area.ang.shape == area.rad.shape == area.grid[::-1]
    assert dial_geom.dial_area(shape, c, r, dial_geom.h_key(cv.h), cv.identity, SIZE) is area  # one per body
    for a in (area.mask, area.ang, area.rad):
        with pytest.raises(ValueError):
            a[0, 0] = 1


def test_bezel_geometry_is_shared_and_read_only():
    cv, c, r, shape = _canvas(5, True)
    disc, marks, tri, edge = dial_geom.bezel_parts("diver", shape, c, r, dial_geom.h_key(cv.h), cv.identity)
    assert len(marks) == 58 and tri is not None and len(edge) == 60  # every minute but 0 and 10
    assert dial_geom.bezel_parts("diver", shape, c, r, dial_geom.h_key(cv.h), cv.identity)[0] is disc
    with pytest.raises(ValueError):
        disc[0, 0, 0] = 0
    assert dial.bezel(cv, [], _Face(shape), c, r) == pytest.approx(r * 0.86)


class _Face:  # the fields dial.bezel reads
    def __init__(self, shape: str):
        self.bezel, self.shape, self.bezel_color, self.bezel_ink = "diver", shape, (30, 30, 30), (240, 240, 240)
