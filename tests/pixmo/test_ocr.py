"""pixmo.ocr: Tesseract reads rendered text; missing binary and bad images give clear errors."""

from __future__ import annotations

import io
import shutil

import pytest
from PIL import Image, ImageDraw, ImageFont

from pixmo import ocr

pytestmark = pytest.mark.skipif(not shutil.which("tesseract"), reason="tesseract-ocr is not installed")


def _sign(text: str, fmt: str = "PNG") -> bytes:
    im = Image.new("RGB", (640, 150), "white")
    font = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", 44)
    ImageDraw.Draw(im).text((20, 40), text, fill="black", font=font)
    buf = io.BytesIO()
    im.save(buf, fmt)
    return buf.getvalue()


def test_reads_rendered_text_png_and_jpeg():
    assert ocr.ocr_text(_sign("OPEN 24 HOURS")) == "OPEN 24 HOURS"
    assert "BAKERY" in ocr.ocr_text(_sign("FRESH BAKERY", "JPEG"))


def test_words_have_boxes_and_confidence():
    words = ocr.ocr_words(_sign("EXIT NOW"), min_conf=50)
    assert [w["text"] for w in words] == ["EXIT", "NOW"]
    assert words[0]["left"] < words[1]["left"] and all(w["height"] > 10 for w in words)


def test_blank_image_gives_empty_text():
    assert ocr.ocr_text(_sign("")) == ""


def test_errors_are_clear(monkeypatch):
    with pytest.raises(ocr.OCRError, match="cannot be read"):
        ocr.ocr_text(b"not an image")
    with pytest.raises(ocr.OCRError, match="tesseract failed"):
        ocr.ocr_text(_sign("X"), lang="nosuchlang")
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.delenv("PIXMO_TESSERACT", raising=False)
    with pytest.raises(ocr.OCRUnavailable, match="apt-get install tesseract-ocr"):
        ocr.ocr_text(_sign("X"))


def test_provenance_names_engine_and_version():
    p = ocr.provenance()
    assert p["engine"] == "tesseract" and p["version"].startswith("tesseract")
