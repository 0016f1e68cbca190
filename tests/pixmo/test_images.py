"""The one image module: EXIF orientation gives the displayed frame everywhere, truncated images
fail the full decode, one pixel limit, percent <-> pixel helpers."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pixmo import images
from pixmo.records import CountPoints, PixmoCount
from pixmo.shards import Annotation, Sample, image_info, sha256_hex, write_samples
from pixmo.validate import validate_dir


def rotated_jpeg(stored: tuple[int, int] = (40, 20), orientation: int = 6) -> bytes:
    """A JPEG stored ``stored`` (w, h) wide, with an EXIF tag that turns it for display."""
    arr = np.zeros((stored[1], stored[0], 3), np.uint8)
    arr[:, : stored[0] // 2] = (255, 0, 0)  # left half red as stored
    exif = Image.Exif()
    exif[0x0112] = orientation
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "JPEG", exif=exif.tobytes(), quality=95)
    return buf.getvalue()


def png(size: tuple[int, int] = (30, 20), seed: int = 0) -> bytes:
    arr = np.random.default_rng(seed).integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "PNG")
    return buf.getvalue()


def png_header_only(w: int, h: int) -> bytes:
    """A PNG that claims w x h pixels (header and a tiny IDAT): enough to be judged by its header."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 16)) + chunk(b"IEND", b"")


def test_sizes_are_in_the_displayed_frame_of_a_rotated_jpeg():
    data = rotated_jpeg((40, 20), 6)
    assert images.info(data).orientation == 6
    assert images.displayed_size(data) == (20, 40)
    assert image_info(data) == ("jpg", 20, 40)  # what shard headers and the annotation app store
    s = Sample(image=data)
    assert (s.width, s.height) == (20, 40)
    arr = images.decode_array(data)
    assert arr.shape == (40, 20, 3)  # the decoded pixels agree with the stated size
    from pixmo.download import sniff_image

    assert sniff_image(data) is None  # the fast header parser leaves EXIF JPEGs to pixmo.images


def test_validate_accepts_pixel_points_that_are_right_in_the_displayed_frame(tmp_path):
    data = rotated_jpeg((40, 20), 6)
    sample = Sample(image=data)
    rec = PixmoCount(image_url="", image_sha256=sample.key, count=1, label="dot",
                     points=CountPoints(x=[15.0], y=[35.0]))  # inside 20x40, outside 40x20
    sample.annotations.append(Annotation.of(rec))
    write_samples(tmp_path / "s", [sample], dataset="t")
    rep = validate_dir(tmp_path / "s")
    assert rep.ok, rep.problems


def test_a_truncated_image_fails_the_full_decode_and_validate_names_its_key(tmp_path):
    whole = png((64, 48))
    cut = whole[: len(whole) * 2 // 3]
    assert images.info(cut).width == 64  # the header alone looks fine
    with pytest.raises(images.ImageError, match="does not decode"):
        images.decode(cut)
    s = Sample(image=cut)
    write_samples(tmp_path / "s", [s], dataset="t")
    rep = validate_dir(tmp_path / "s")
    assert not rep.ok and any(p.key == s.key and "does not decode" in p.problem for p in rep.problems)


def test_truncated_loading_switched_on_elsewhere_does_not_let_a_cut_image_through():
    from PIL import ImageFile

    cut = rotated_jpeg((64, 64), 1)[:300]
    ImageFile.LOAD_TRUNCATED_IMAGES = True  # what the trainer used to do, process-wide
    try:
        with pytest.raises(images.ImageError):
            images.decode(cut)
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = False


def test_one_pixel_limit_refuses_a_huge_image_by_its_header():
    huge = png_header_only(20000, 20000)
    with pytest.raises(images.ImageError, match="over the limit"):
        images.info(huge)
    from pixmo.download import _check, _Failure

    with pytest.raises(_Failure) as exc:
        _check(huge, None)
    assert exc.value.reason == "too_large"


def test_show_survives_a_truncated_image(tmp_path):
    from pixmo.show import show

    whole = png((64, 48), seed=3)
    s = Sample(image=whole[: len(whole) // 2])
    write_samples(tmp_path / "s", [s], dataset="t")
    key, _ = show(tmp_path / "s", s.key[:10], tmp_path / "show.png")
    assert key == s.key and Image.open(tmp_path / "show.png").size[0] > 0


def test_percent_pixel_helpers_round_trip():
    assert images.to_pixels(50.0, 25.0, (200, 80)) == (100.0, 20.0)
    x, y = images.to_percent(*images.to_pixels(12.5, 87.5, (333, 777)), (333, 777))
    assert (round(x, 9), round(y, 9)) == (12.5, 87.5)


def test_sniffing_and_reading_bytes(tmp_path: Path):
    p = tmp_path / "a.png"
    p.write_bytes(png())
    assert images.read_bytes(p) == png()
    assert images.sniff_format(png()) == "png" and images.sniff_format(rotated_jpeg()) == "jpg"
    assert images.sniff_format(b"GIF89a....") is None
    with pytest.raises(images.ImageError, match="JPEG, PNG or WebP"):
        buf = io.BytesIO()
        Image.new("RGB", (4, 4)).save(buf, "GIF")
        images.info(buf.getvalue())


def test_portable_url_is_never_a_machine_path():
    data = png()
    assert images.portable_url("https://x.example/a.jpg", data) == "https://x.example/a.jpg"
    assert images.portable_url("bundled:skimage/data/astronaut.png", data) == \
        images.portable_url("bundled://skimage/data/astronaut.png", data) == "bundled://skimage/data/astronaut.png"
    for ref in ("file:/home/me/a.png", "/tmp/shards/shard-000000.tar#abc", ""):
        assert images.portable_url(ref, data) == "sha256:" + sha256_hex(data)
