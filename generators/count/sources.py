"""Where Count images come from: a folder, a URL list, shard directories, or the bundled samples.

A source is a list of string references, one per runner item, so a shard task is plain data:
``file:/abs/path``, ``http(s)://...``, ``shard:<shard .tar path or URL>`` (every sample of it), or
``bundled:<package>/<path inside it>`` for the sample images that installed packages ship.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

from PIL import Image

from generators.common import package_dir
from pixmo import images

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"}
BUNDLED = ("skimage/data/astronaut.png", "skimage/data/coffee.png", "skimage/data/chelsea.png",
           "skimage/data/rocket.jpg", "skimage/data/camera.png", "skimage/data/coins.png", "skimage/data/horse.png",
           "skimage/data/motorcycle_left.png", "skimage/data/page.png",
           "matplotlib/mpl-data/sample_data/grace_hopper.jpg", "sklearn/datasets/images/china.jpg",
           "sklearn/datasets/images/flower.jpg")


class SourceError(ValueError):
    """A source option is unusable (missing folder, empty list...)."""


def _package_file(ref: str) -> Path:
    pkg, _, rel = ref.partition("/")
    base = package_dir(pkg)
    if base is None:
        raise FileNotFoundError(f"package {pkg!r} is not installed")
    return base / rel


def bundled_refs() -> list[str]:
    """The bundled sample images that exist in this environment."""
    out = []
    for rel in BUNDLED:
        try:
            if _package_file(rel).exists():
                out.append(f"bundled:{rel}")
        except FileNotFoundError:
            continue
    return out


def folder_refs(folder: str | Path) -> list[str]:
    root = Path(folder)
    if not root.is_dir():
        raise SourceError(f"--images {folder}: not a directory")
    refs = [f"file:{p.resolve()}" for p in sorted(root.rglob("*")) if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()]
    if not refs:
        raise SourceError(f"--images {folder}: no image files ({', '.join(sorted(IMAGE_SUFFIXES))})")
    return refs


def url_refs(path: str | Path) -> list[str]:
    p = Path(path)
    if not p.is_file():
        raise SourceError(f"--urls {path}: no such file")
    urls = [ln.strip() for ln in p.read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    bad = [u for u in urls if not u.startswith(("http://", "https://", "file:"))]
    if bad:
        raise SourceError(f"--urls {path}: not a URL: {bad[0]!r}")
    if not urls:
        raise SourceError(f"--urls {path}: the file lists no URLs")
    return urls


def shard_refs(source: str) -> list[str]:
    from pixmo.shards import ShardError, shard_urls

    try:
        return [f"shard:{u}" for u in shard_urls(source)]
    except ShardError as exc:
        raise SourceError(f"--shards {source}: {exc}") from None


def _normalise(data: bytes) -> bytes:
    """Keep JPEG/PNG/WebP bytes as they are; other formats become PNG (shards hold only those three)."""
    with Image.open(io.BytesIO(data)) as im:
        if im.format in ("JPEG", "PNG", "WEBP"):
            im.verify()
            return data
        buf = io.BytesIO()
        im.convert("RGB").save(buf, "PNG")
        return buf.getvalue()


def load(ref: str, timeout: float = 20.0) -> Iterator[tuple[str, bytes]]:
    """(image_url, image bytes) for a reference; a shard reference yields each of its samples.

    Raises OSError/ValueError for unreadable input; the caller logs and skips it.
    """
    if ref.startswith("shard:"):
        import fsspec

        from pixmo.shards import IMAGE_EXTS, iter_tar_members

        with fsspec.open(ref[6:], "rb") as f:
            for key, members in iter_tar_members(f):
                ext = next((e for e in IMAGE_EXTS if e in members), None)
                if ext is None:
                    log.warning("%s: sample %s has no image; skipped", ref, key)
                    continue
                url = str(json.loads(members.get("json", b"{}")).get("image_url") or "")
                yield images.portable_url(url, members[ext]), members[ext]
        return
    if ref.startswith("bundled:"):
        data = _package_file(ref[8:]).read_bytes()
    elif ref.startswith("file:"):
        data = Path(ref[5:]).read_bytes()
    elif ref.startswith(("http://", "https://")):
        import httpx

        r = httpx.get(ref, timeout=timeout, follow_redirects=True)
        r.raise_for_status()
        data = r.content
    else:
        raise ValueError(f"unknown image reference {ref!r}")
    data = _normalise(data)
    yield images.portable_url(ref, data), data  # never a path of this machine
