"""Every package decodes through `pixmo.images`: the trainer, the Count generator and the reports see
the displayed frame of a rotated JPEG and refuse a truncated image."""

from __future__ import annotations

import pytest

from pixmo import images
from pixmo.shards import Sample
from tests.pixmo.test_images import png, rotated_jpeg


def test_trainer_and_count_generator_see_the_displayed_frame():
    from generators.count.generate import decode
    from model.preprocessing import load_image

    data = rotated_jpeg((40, 20), 6)
    s = Sample(image=data)
    for arr in (load_image(data), decode(data, 10**6)):
        assert arr.shape == (s.height, s.width, 3) == (40, 20, 3)
    assert (load_image(data) == images.decode_array(data)).all()


def test_trainer_refuses_a_truncated_image_instead_of_training_on_grey():
    from model.preprocessing import load_image

    whole = png((64, 48))
    with pytest.raises(images.ImageError):
        load_image(whole[: len(whole) // 2])


def test_contact_sheet_survives_a_truncated_image():
    from pipelines.figures import contact_sheet

    whole = png((64, 48), seed=3)
    assert contact_sheet([Sample(image=whole[: len(whole) // 2])])[:2] == b"\xff\xd8"
