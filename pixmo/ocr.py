"""OCR with Tesseract (the Debian ``tesseract-ocr`` package), called as a subprocess.

    from pixmo.ocr import ocr_text
    text = ocr_text(png_bytes)            # plain text, lines kept
    words = ocr_words(png_bytes)          # [{"text", "conf", "left", "top", "width", "height"}]

The image is passed on stdin (no temporary files, no shell). A missing binary raises
:class:`OCRUnavailable` with the install command; a failed run raises :class:`OCRError`.
"""

from __future__ import annotations

import csv
import functools
import io
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from PIL import Image

ImageInput = bytes | str | Path


class OCRError(RuntimeError):
    """Tesseract ran but failed (unreadable image, bad language, timeout)."""


class OCRUnavailable(OCRError):
    """The ``tesseract`` binary is not installed."""


def tesseract_path() -> str:
    path = os.environ.get("PIXMO_TESSERACT") or shutil.which("tesseract")
    if not path:
        raise OCRUnavailable("tesseract is not installed: run `apt-get install tesseract-ocr tesseract-ocr-eng` "
                             "(or set PIXMO_TESSERACT to the binary)")
    return path


@functools.lru_cache(maxsize=1)
def tesseract_version() -> str:
    out = subprocess.run([tesseract_path(), "--version"], capture_output=True, text=True, timeout=10)
    return (out.stdout or out.stderr).splitlines()[0].strip()


def _png(image: ImageInput) -> bytes:
    """The image as PNG bytes (Tesseract reads PNG from stdin reliably); converts other formats."""
    data = image if isinstance(image, bytes) else Path(image).read_bytes()
    try:
        with Image.open(io.BytesIO(data)) as im:
            if im.format == "PNG":
                return data
            buf = io.BytesIO()
            im.convert("RGB").save(buf, "PNG")
            return buf.getvalue()
    except Exception as exc:  # PIL raises many types
        raise OCRError(f"the image cannot be read for OCR: {exc}") from None


def _run(image: ImageInput, *extra: str, lang: str = "eng", psm: int = 3, timeout: float = 60.0) -> str:
    cmd = [tesseract_path(), "stdin", "stdout", "-l", lang, "--psm", str(psm), *extra]
    try:
        out = subprocess.run(cmd, input=_png(image), capture_output=True, timeout=timeout,
                             env={**os.environ, "OMP_THREAD_LIMIT": "1"})
    except subprocess.TimeoutExpired:
        raise OCRError(f"tesseract took longer than {timeout:.0f} s") from None
    if out.returncode != 0:
        raise OCRError(f"tesseract failed (exit {out.returncode}): {out.stderr.decode(errors='replace').strip()}")
    return out.stdout.decode("utf-8", errors="replace")


def ocr_text(image: ImageInput, *, lang: str = "eng", psm: int = 3, timeout: float = 60.0) -> str:
    """The text Tesseract reads in the image, blank lines collapsed."""
    raw = _run(image, lang=lang, psm=psm, timeout=timeout)
    lines = [ln.rstrip() for ln in raw.replace("\f", "").splitlines()]
    return "\n".join(ln for ln in lines if ln.strip())


def ocr_words(image: ImageInput, *, lang: str = "eng", psm: int = 3, min_conf: float = 0.0,
              timeout: float = 60.0) -> list[dict[str, Any]]:
    """Words with confidence and pixel boxes (Tesseract TSV output)."""
    raw = _run(image, "tsv", lang=lang, psm=psm, timeout=timeout)
    out = []
    for row in csv.DictReader(io.StringIO(raw), delimiter="\t", quoting=csv.QUOTE_NONE):
        text = (row.get("text") or "").strip()
        conf = float(row.get("conf") or -1)
        if text and conf >= min_conf:
            out.append({"text": text, "conf": conf, **{k: int(row[k]) for k in ("left", "top", "width", "height")}})
    return out


def provenance() -> dict[str, str]:
    return {"engine": "tesseract", "version": tesseract_version()}
