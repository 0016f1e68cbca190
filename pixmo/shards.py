"""WebDataset shards of PixMo samples: one sample per image, keyed by the image's sha256.

Members of a sample ``KEY``: ``KEY.jpg|png|webp`` (original bytes), ``KEY.json`` (image facts and
the list of annotations) and optional extras ``KEY.<name>``. Shards are written atomically
(temporary name, then rename) and deterministically (fixed tar headers, insertion order), and
each shard directory has ``manifest.json`` with per-shard counts and sha256.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from PIL import Image

from pixmo.records import RECORD_TYPES, Record, parse_record

SCHEMA_VERSION = 1
MANIFEST = "manifest.json"
IMAGE_EXTS = ("jpg", "png", "webp")
_PIL_EXT = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}


class ShardError(ValueError):
    """A shard, a sample or a manifest is malformed; the message says where."""


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def image_info(data: bytes) -> tuple[str, int, int]:
    """(extension, width, height) of encoded image bytes, reading only the header."""
    try:
        with Image.open(io.BytesIO(data)) as im:
            ext = _PIL_EXT.get(im.format or "")
            w, h = im.size
    except Exception as exc:  # PIL raises many types
        raise ShardError(f"image bytes are not a readable image: {exc}") from None
    if ext is None:
        raise ShardError("image must be JPEG, PNG or WebP")
    return ext, w, h


@dataclass
class Annotation:
    """One record of a subset, plus optional provenance that is not part of the published row."""

    subset: str
    record: Record
    meta: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"subset": self.subset, "record": self.record.to_row()}
        if self.meta:
            out["meta"] = self.meta
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Annotation:
        if not isinstance(data, dict) or "subset" not in data or "record" not in data:
            raise ShardError("an annotation must be an object with 'subset' and 'record'")
        return cls(data["subset"], parse_record(data["subset"], data["record"]), data.get("meta") or {})

    @classmethod
    def of(cls, record: Record, **meta: Any) -> Annotation:
        return cls(record.SUBSET, record, dict(meta))


@dataclass
class Sample:
    """An image with all its annotations (of any subsets) and optional extra members."""

    image: bytes
    annotations: list[Annotation] = field(default_factory=list)
    image_url: str = ""
    extras: dict[str, bytes] = field(default_factory=dict)
    image_ext: str = ""
    width: int = 0
    height: int = 0
    key: str = ""

    def __post_init__(self) -> None:
        if not self.key:
            self.key = sha256_hex(self.image)
        if not self.image_ext or not self.width:
            self.image_ext, self.width, self.height = image_info(self.image)

    def header(self) -> dict[str, Any]:
        return {
            "image_sha256": self.key,
            "image_url": self.image_url,
            "width": self.width,
            "height": self.height,
            "annotations": [a.to_json() for a in self.annotations],
        }

    def merge(self, other: Sample) -> None:
        """Add the annotations and extras of another sample of the same image."""
        if other.key != self.key:
            raise ShardError(f"cannot merge samples of different images {self.key} and {other.key}")
        self.annotations.extend(other.annotations)
        self.extras.update(other.extras)
        self.image_url = self.image_url or other.image_url


def group_samples(samples: Iterable[Sample]) -> list[Sample]:
    """Merge samples of the same image (same sha256), keeping first-seen order."""
    by_key: dict[str, Sample] = {}
    for s in samples:
        if s.key in by_key:
            by_key[s.key].merge(s)
        else:
            by_key[s.key] = s
    return list(by_key.values())


# --- writing -------------------------------------------------------------------------------


class _HashingFile:
    """A write-only file wrapper that hashes and counts what passes through."""

    def __init__(self, f: IO[bytes]):
        self.f, self.h, self.n = f, hashlib.sha256(), 0

    def write(self, b: bytes) -> int:
        self.h.update(b)
        self.n += len(b)
        return self.f.write(b)

    def tell(self) -> int:
        return self.n


def _add_member(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = 0
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


def sample_members(sample: Sample) -> list[tuple[str, bytes]]:
    """The tar members of a sample, in a fixed order: image, json, then extras sorted by name."""
    header = json.dumps(sample.header(), ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    members = [(f"{sample.key}.{sample.image_ext}", sample.image), (f"{sample.key}.json", header.encode())]
    for name in sorted(sample.extras):
        if "/" in name or name in IMAGE_EXTS or name == "json":
            raise ShardError(f"extra member name {name!r} is not allowed")
        members.append((f"{sample.key}.{name}", sample.extras[name]))
    return members


@dataclass
class ShardInfo:
    name: str
    samples: int
    annotations: dict[str, int]
    sha256: str
    bytes: int

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "samples": self.samples, "annotations": self.annotations,
                "sha256": self.sha256, "bytes": self.bytes}


def write_shard(path: str | Path, samples: list[Sample]) -> ShardInfo:
    """Write one shard atomically: ``path.tmp`` is written and fsync'ed, then renamed."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    counts: dict[str, int] = {}
    with open(tmp, "wb") as raw:
        hf = _HashingFile(raw)
        with tarfile.open(fileobj=hf, mode="w", format=tarfile.USTAR_FORMAT) as tar:  # type: ignore[call-overload]
            for s in samples:
                for name, data in sample_members(s):
                    _add_member(tar, name, data)
                for a in s.annotations:
                    counts[a.subset] = counts.get(a.subset, 0) + 1
        raw.flush()
        os.fsync(raw.fileno())
    os.replace(tmp, path)
    return ShardInfo(path.name, len(samples), dict(sorted(counts.items())), hf.h.hexdigest(), hf.n)


def shard_name(index: int, prefix: str = "shard") -> str:
    return f"{prefix}-{index:06d}.tar"


class ShardWriter:
    """Rolling shard writer: a new shard after ``max_count`` samples or ``max_size`` bytes.

    Samples with the same image as one still buffered in the current shard are merged into it.
    With ``resume=True`` an existing shard whose bytes would be identical is left untouched.
    ``close()`` writes ``manifest.json``.
    """

    def __init__(
        self,
        out_dir: str | Path,
        *,
        dataset: str,
        split: str = "train",
        max_count: int = 1000,
        max_size: int = 256 * 2**20,
        config: dict[str, Any] | None = None,
        seed: int | None = None,
        prefix: str = "shard",
        resume: bool = True,
    ):
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.dataset, self.split, self.config, self.seed = dataset, split, config or {}, seed
        self.max_count, self.max_size, self.prefix, self.resume = max_count, max_size, prefix, resume
        self.shards: list[ShardInfo] = []
        self._buf: dict[str, Sample] = {}
        self._size = 0
        self._closed = False

    def write(self, sample: Sample) -> None:
        if sample.key in self._buf:
            self._buf[sample.key].merge(sample)
            return
        self._buf[sample.key] = sample
        self._size += len(sample.image) + sum(len(v) for v in sample.extras.values()) + 2048
        if len(self._buf) >= self.max_count or self._size >= self.max_size:
            self.flush()

    def flush(self) -> None:
        if not self._buf:
            return
        path = self.out_dir / shard_name(len(self.shards), self.prefix)
        samples = list(self._buf.values())
        info = _existing_if_identical(path, samples) if self.resume else None
        self.shards.append(info or write_shard(path, samples))
        self._buf, self._size = {}, 0

    def close(self) -> Path:
        if not self._closed:
            self.flush()
            self._closed = True
        return write_manifest(self.out_dir, self.shards, dataset=self.dataset, split=self.split,
                              config=self.config, seed=self.seed)

    def __enter__(self) -> ShardWriter:
        return self

    def __exit__(self, exc_type: Any, *_: Any) -> None:
        if exc_type is None:
            self.close()


def _existing_if_identical(path: Path, samples: list[Sample]) -> ShardInfo | None:
    if not path.exists():
        return None
    buf = io.BytesIO()
    counts: dict[str, int] = {}
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for s in samples:
            for name, data in sample_members(s):
                _add_member(tar, name, data)
            for a in s.annotations:
                counts[a.subset] = counts.get(a.subset, 0) + 1
    data = buf.getvalue()
    if path.stat().st_size != len(data) or sha256_hex(path.read_bytes()) != sha256_hex(data):
        return None
    return ShardInfo(path.name, len(samples), dict(sorted(counts.items())), sha256_hex(data), len(data))


def write_samples(out_dir: str | Path, samples: Iterable[Sample], **kwargs: Any) -> Path:
    """Write all samples (merging those of the same image first) and the manifest."""
    with ShardWriter(out_dir, **kwargs) as w:
        for s in group_samples(samples):
            w.write(s)
    return Path(out_dir) / MANIFEST


def write_manifest(
    out_dir: str | Path,
    shards: list[ShardInfo],
    *,
    dataset: str,
    split: str,
    config: dict[str, Any] | None = None,
    seed: int | None = None,
) -> Path:
    units = {s: RECORD_TYPES[s].UNIT for sh in shards for s in sh.annotations}
    manifest = {
        "dataset": dataset,
        "split": split,
        "schema_version": SCHEMA_VERSION,
        "config": config or {},
        "seed": seed,
        "units": dict(sorted(units.items())),
        "num_samples": sum(s.samples for s in shards),
        "shards": [s.to_json() for s in shards],
    }
    path = Path(out_dir) / MANIFEST
    tmp = path.with_name(MANIFEST + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)
    return path


# --- reading -------------------------------------------------------------------------------


def read_manifest(source: str | Path) -> dict[str, Any]:
    import fsspec

    url = _join(str(source), MANIFEST)
    try:
        with fsspec.open(url, "rb") as f:
            return json.loads(f.read())
    except FileNotFoundError:
        raise ShardError(f"{url}: no manifest.json (is this a shard directory?)") from None
    except json.JSONDecodeError as exc:
        raise ShardError(f"{url}: manifest.json is not valid JSON: {exc}") from None


def _join(base: str, name: str) -> str:
    return base.rstrip("/") + "/" + name


def shard_urls(source: str | Path) -> list[str]:
    """The shard files of a directory (from its manifest), or a single ``.tar`` path/URL."""
    s = str(source)
    if s.endswith(".tar"):
        return [s]
    return [_join(s, sh["name"]) for sh in read_manifest(s)["shards"]]


def iter_tar_members(f: IO[bytes]) -> Iterator[tuple[str, dict[str, bytes]]]:
    """Group consecutive tar members by key (the name up to the first dot), streaming."""
    key: str | None = None
    group: dict[str, bytes] = {}
    with tarfile.open(fileobj=f, mode="r|") as tar:
        for m in tar:
            if not m.isfile():
                continue
            base = m.name.rsplit("/", 1)[-1]
            k, _, ext = base.partition(".")
            ef = tar.extractfile(m)
            data = ef.read() if ef else b""
            if k != key and key is not None:
                yield key, group
                group = {}
            key = k
            group[ext] = data
    if key is not None:
        yield key, group


def decode_sample(key: str, members: dict[str, bytes], *, validate: bool = True) -> Sample:
    """Build a Sample from the members of one key; raises ShardError naming key and problem."""
    if "json" not in members:
        raise ShardError(f"sample {key}: missing member {key}.json")
    exts = [e for e in IMAGE_EXTS if e in members]
    if not exts:
        raise ShardError(f"sample {key}: missing image member (.jpg/.png/.webp)")
    try:
        head = json.loads(members["json"])
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ShardError(f"sample {key}: {key}.json is not valid JSON: {exc}") from None
    image = members[exts[0]]
    if not isinstance(head, dict) or not isinstance(head.get("annotations"), list):
        raise ShardError(f"sample {key}: {key}.json must be an object with an 'annotations' list")
    if validate:
        anns = [Annotation.from_json(a) for a in head["annotations"]]
    else:
        anns = [Annotation(a["subset"], RECORD_TYPES[a["subset"]].model_construct(**a["record"]), a.get("meta") or {})
                for a in head["annotations"]]
    extras = {e: v for e, v in members.items() if e != "json" and e != exts[0]}
    return Sample(image=image, annotations=anns, image_url=head.get("image_url", ""), extras=extras,
                  image_ext=exts[0], width=int(head.get("width", 0)), height=int(head.get("height", 0)), key=key)


def iter_raw(source: str | Path) -> Iterator[tuple[str, dict[str, bytes]]]:
    """Raw (key, {ext: bytes}) groups of every shard of a directory, a .tar, or any fsspec URL."""
    import fsspec

    for url in shard_urls(source):
        with fsspec.open(url, "rb") as f:
            yield from iter_tar_members(f)


def iter_samples(source: str | Path, *, verify: bool = False, validate: bool = True) -> Iterator[Sample]:
    """Stream every sample of a shard directory (local path or fsspec URL).

    ``verify=True`` checks each shard's sha256 against the manifest first (raising ShardError).
    """
    if verify:
        verify_checksums(source)
    for key, members in iter_raw(source):
        yield decode_sample(key, members, validate=validate)


def verify_checksums(source: str | Path) -> None:
    import fsspec

    for sh in read_manifest(source)["shards"]:
        url = _join(str(source), sh["name"])
        h = hashlib.sha256()
        with fsspec.open(url, "rb") as f:
            for chunk in iter(lambda f=f: f.read(1 << 20), b""):
                h.update(chunk)
        if h.hexdigest() != sh["sha256"]:
            raise ShardError(f"{sh['name']}: sha256 {h.hexdigest()} does not match the manifest's {sh['sha256']}")
