"""Reading benchmark files as they are distributed: parquet (Hugging Face datasets), JSON / JSONL
(the original releases), image columns or image folders, and hub names for online users.

    rows, base = read_rows("data/chartqa")          # every *.parquet / *.json / *.jsonl, sorted
    image = resolve_image(row, base)                 # bytes, a file path, or None
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

IMAGE_KEYS = ("image", "decoded_image", "image_1", "image_path", "image_local_name", "file_path", "image_file")
IMAGE_DIRS = ("", "images", "documents", "train_images", "val2014", "test_images")


class BenchmarkDataError(ValueError):
    """A benchmark's files are missing or not in the expected layout (one line for the user)."""


def read_rows(path: str | Path, *, split: str | None = None, list_keys: tuple[str, ...] = ("data",)
              ) -> tuple[list[dict[str, Any]], Path]:
    """All rows of a file or of the data files of a folder (recursively, sorted), and the folder
    that relative image paths start from. Parquet files whose name or folder mentions another split
    than ``split`` are skipped when some match it."""
    p = Path(path)
    if not p.exists():
        raise BenchmarkDataError(f"{p} does not exist")
    files = [p] if p.is_file() else sorted(f for f in p.rglob("*") if f.suffix in (".parquet", ".json", ".jsonl"))
    if split and len(files) > 1:
        chosen = [f for f in files if split in f.name or split in f.parent.name]
        files = chosen or files
    if not files:
        raise BenchmarkDataError(f"no .parquet, .json or .jsonl file under {p}")
    rows: list[dict[str, Any]] = []
    for f in files:
        rows += _read_file(f, list_keys)
    return rows, (p if p.is_dir() else p.parent)


def _read_file(f: Path, list_keys: tuple[str, ...]) -> list[dict[str, Any]]:
    if f.suffix == ".parquet":
        import pyarrow.parquet as pq

        try:
            return pq.read_table(f).to_pylist()
        except Exception as exc:  # noqa: BLE001 - pyarrow raises several error types
            raise BenchmarkDataError(f"{f}: not a readable parquet file ({exc})") from exc
    try:
        if f.suffix == ".jsonl":
            return [json.loads(line) for line in f.read_text().splitlines() if line.strip()]
        data = json.loads(f.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BenchmarkDataError(f"{f}: not valid JSON ({exc})") from exc
    if isinstance(data, dict):
        for k in list_keys:
            if isinstance(data.get(k), list):
                return data[k]
        return []  # a side file (e.g. an annotation file read by its loader)
    return data if isinstance(data, list) else []


def load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise BenchmarkDataError(f"{path} does not exist") from exc
    except json.JSONDecodeError as exc:
        raise BenchmarkDataError(f"{path}: not valid JSON ({exc})") from exc


def resolve_image(row: dict[str, Any], base: Path, keys: tuple[str, ...] = IMAGE_KEYS) -> bytes | str | None:
    """An image of a row: an embedded ``{"bytes": ...}`` struct, raw bytes, or a path relative to
    the data folder (or one of its usual image folders); else a file named by ``image_sha256``."""
    for k in keys:
        v = row.get(k)
        if isinstance(v, dict):
            if v.get("bytes"):
                return bytes(v["bytes"])
            v = v.get("path")
        if isinstance(v, bytes | bytearray) and v:
            return bytes(v)
        if isinstance(v, str) and v:
            found = find_file(base, v)
            if found:
                return found
    if row.get("image_id") is not None:  # TextVQA's release: {image_id}.jpg in an image folder
        found = find_file(base, f"{row['image_id']}.jpg")
        if found:
            return found
    sha = row.get("image_sha256")
    if isinstance(sha, str) and sha:
        for d in IMAGE_DIRS:
            hits = sorted((base / d).glob(sha + "*")) if (base / d).is_dir() else []
            if hits:
                return str(hits[0])
    return None


def find_file(base: Path, name: str) -> str | None:
    for d in IMAGE_DIRS:
        f = base / d / name
        if f.is_file():
            return str(f)
    f = Path(name)
    return str(f) if f.is_absolute() and f.is_file() else None


def is_shard_dir(path: str | Path) -> bool:
    """Whether ``path`` holds the toolkit's own shards (``pixmo.shards``: tar files)."""
    p = Path(path)
    return p.is_dir() and (any(p.glob("*.tar")) or (p / "manifest.json").is_file())


def hub_download(repo_id: str, patterns: list[str]) -> Path:
    """A local snapshot of a Hugging Face dataset repository (only ``patterns``), for online users."""
    try:
        from huggingface_hub import snapshot_download
    except ImportError as exc:  # pragma: no cover - a dependency of transformers
        raise BenchmarkDataError("reading hub datasets needs huggingface_hub") from exc
    try:
        return Path(snapshot_download(repo_id, repo_type="dataset", allow_patterns=patterns))
    except Exception as exc:  # noqa: BLE001 - offline mode, auth, network: one line for the user
        raise BenchmarkDataError(f"cannot download {repo_id} from the hub ({type(exc).__name__}); "
                                 "download its files and pass the folder with --data") from exc
