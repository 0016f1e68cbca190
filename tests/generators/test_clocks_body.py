"""The watch-body library: a fixed set, every family can find a body, exact compositing."""

import numpy as np
import pytest

from generators.clocks import body as bodies
from generators.clocks.canvas import Canvas
from generators.clocks.spec import FAMILIES


def test_library_is_fixed_and_pure():
    assert len(bodies.LIBRARY) == 64
    bodies.body.cache_clear()
    assert tuple(bodies.body(i) for i in range(64)) == bodies.LIBRARY


def test_every_family_has_bodies():
    for name, fam in FAMILIES.items():
        ids = bodies.candidates(fam.get("shape"), fam.get("case"), fam.get("strap_kind") == "nato")
        assert ids, name
        for i in ids:
            b = bodies.LIBRARY[i]
            assert fam.get("shape") in (None, b.shape) and fam.get("case") in (None, b.case), name


@pytest.mark.parametrize("index", [0, 5, 37, 63])
@pytest.mark.parametrize("warp", [True, False])
def test_composite_equals_drawing_over_plain(index, warp):
    size, b = 160, bodies.LIBRARY[index]
    for v in (0, 255):
        bg = np.full((size, size, 3), v, np.uint8)
        bodies.composite(bg, index, warp)
        cv = Canvas(np.full((size, size, 3), v, np.uint8), bodies.homography(index, size, warp),
                    identity=not (warp and b.warp > 0))
        bodies.strap_and_case(cv, b, (b.center[0] * size, b.center[1] * size), b.radius * size)
        assert np.array_equal(bg, cv.arr)


def test_bad_index():
    with pytest.raises(ValueError, match="body index"):
        bodies.body(64)
