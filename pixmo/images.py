"""The one image module: read bytes, sniff the format, apply EXIF orientation, size in the displayed
frame, full decode check, one pixel limit, percent <-> pixel conversion.

**Displayed frame.** A JPEG may store its pixels sideways with an EXIF ``Orientation`` tag (5-8
turn it by 90 degrees, 2-4 mirror or turn by 180). Browsers, viewers and the Molmo preprocessor
show it turned. Every size and every coordinate the toolkit stores (``width``/``height`` of a
sample, pixel points of pixmo-count, percent points) is in that displayed frame, so the model, the
annotation app (what the browser shows), the generators and ``validate`` agree. ``decode`` returns
the displayed pixels, ``info`` the displayed size.

**Pixel limit.** ``MAX_PIXELS`` (PIL's decompression-bomb threshold) is the one limit for every
place that accepts images: download, import-hf, the app's upload, validate, the model's reader.

**Full decode.** ``decode`` loads every pixel with truncated loading switched off, so a cut-off
file is an ``ImageError``, never a half-grey picture.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image, ImageFile, ImageOps

MAX_PIXELS = 89_478_485  # PIL's Image.MAX_IMAGE_PIXELS default: about 9459 x 9459
EXTS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}
MIME = {"jpg": "image/jpeg", "png": "image/png", "webp": "image/webp"}
_TURNED = (5, 6, 7, 8)  # EXIF orientations that swap width and height


class ImageError(ValueError):
    """Bytes that are not a usable image; the message says why."""


@dataclass(frozen=True)
class ImageInfo:
    ext: str  # jpg | png | webp
    width: int  # displayed frame (EXIF orientation applied)
    height: int
    orientation: int = 1  # the EXIF tag (1 = as stored)


def read_bytes(source: str | Path) -> bytes:
    """The bytes of a local file or any fsspec URL."""
    s = str(source)
    if "://" not in s or s.startswith("file://"):
        return Path(s.removeprefix("file://")).read_bytes()
    import fsspec

    with fsspec.open(s, "rb") as f:
        return f.read()  # type: ignore[no-any-return]


def sniff_format(data: bytes) -> str | None:
    """``jpg``/``png``/``webp`` from the magic bytes, or None."""
    if data[:3] == b"\xff\xd8\xff":
        return "jpg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def _orientation(im: Image.Image) -> int:
    try:
        value = im.getexif().get(0x0112, 1)
    except Exception:  # a broken EXIF block is no orientation
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _check_pixels(w: int, h: int) -> None:
    if w <= 0 or h <= 0:
        raise ImageError(f"image has no pixels ({w}x{h})")
    if w * h > MAX_PIXELS:
        raise ImageError(f"image is {w}x{h} = {w * h} pixels, over the limit of {MAX_PIXELS}")


def _open(data: bytes) -> Image.Image:
    try:
        return Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as exc:
        raise ImageError(f"image is over the limit of {MAX_PIXELS} pixels ({exc})") from None
    except Exception as exc:  # PIL raises many types
        raise ImageError(f"not a readable image: {exc}") from None


def info(data: bytes) -> ImageInfo:
    """Format and displayed (width, height), reading the header only; raises ImageError for bytes
    that are not JPEG/PNG/WebP or images over ``MAX_PIXELS``."""
    with _open(data) as im:
        ext = EXTS.get(im.format or "")
        if ext is None:
            raise ImageError(f"image must be JPEG, PNG or WebP, not {im.format or 'unknown'}")
        w, h = im.size
        o = _orientation(im)
    _check_pixels(w, h)
    return ImageInfo(ext, *((h, w) if o in _TURNED else (w, h)), orientation=o)


def displayed_size(data: bytes) -> tuple[int, int]:
    """(width, height) as shown: EXIF orientation applied."""
    i = info(data)
    return i.width, i.height


def decode(data: bytes, mode: str = "RGB") -> Image.Image:
    """Every pixel, in the displayed frame, converted to ``mode``. Raises ImageError for truncated
    or corrupt bytes, unknown formats and images over ``MAX_PIXELS``."""
    facts = info(data)
    ImageFile.LOAD_TRUNCATED_IMAGES = False  # a cut-off file must fail, never decode half-grey
    try:
        with _open(data) as im:
            im.load()
            out = ImageOps.exif_transpose(im) if facts.orientation != 1 else im.copy()
            return out.convert(mode) if out.mode != mode else out
    except ImageError:
        raise
    except Exception as exc:  # PIL raises OSError, SyntaxError, zlib errors, ...
        raise ImageError(f"image does not decode ({facts.ext}, {facts.width}x{facts.height}): {exc}") from None


def decode_array(data: bytes) -> Any:
    """uint8 H x W x 3 RGB array of the displayed image (numpy)."""
    import numpy as np

    return np.asarray(decode(data, "RGB"), dtype=np.uint8)


def check(data: bytes) -> ImageInfo:
    """Full check: header, pixel limit and a decode of every pixel. Returns the facts."""
    facts = info(data)
    decode(data)
    return facts


def safe_decode(data: bytes, size: tuple[int, int] = (64, 64)) -> tuple[Image.Image, str | None]:
    """The decoded image, or a grey placeholder of ``size`` and the problem (for displays that must
    not crash on one bad image: show, stats, reports)."""
    try:
        return decode(data), None
    except ImageError as exc:
        return Image.new("RGB", (max(1, size[0]), max(1, size[1])), (128, 128, 128)), str(exc)


def portable_url(ref: str, data: bytes) -> str:
    """The ``image_url`` to store for an image read from ``ref``: never a path of this machine.

    - a public ``http(s)://`` URL is kept as it is;
    - a file of an installed package, ``bundled:PACKAGE/PATH`` or ``bundled://PACKAGE/PATH``,
      becomes ``bundled://PACKAGE/PATH`` (the same on every machine with the package);
    - anything else (a local file, a member of a shard) becomes ``sha256:HEX``, the hash of the
      bytes: the one scheme for an image that has no public address.
    """
    if ref.startswith(("http://", "https://")):
        return ref
    if ref.startswith("bundled:"):
        return "bundled://" + ref.removeprefix("bundled:").lstrip("/")
    import hashlib

    return "sha256:" + hashlib.sha256(data).hexdigest()


def to_percent(x: float, y: float, size: tuple[int, int]) -> tuple[float, float]:
    """Pixel (x, y) in the displayed frame -> 0-100 percent of width and height."""
    w, h = size
    return x / w * 100.0, y / h * 100.0


def to_pixels(x: float, y: float, size: tuple[int, int]) -> tuple[float, float]:
    """0-100 percent -> pixel (x, y) in the displayed frame."""
    w, h = size
    return x / 100.0 * w, y / 100.0 * h
