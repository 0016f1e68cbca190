"""WebDataset shards of PixMo samples: one sample per image, keyed by the image's sha256.

Members of a sample ``KEY``: ``KEY.jpg|png|webp`` (original bytes), ``KEY.json`` (image facts and
the list of annotations) and optional extras ``KEY.<name>``. Shards are written atomically
(temporary name, then rename) and deterministically (fixed tar headers, insertion order), and
each shard directory has ``manifest.json`` with per-shard counts and sha256.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from pixmo import images, tario
from pixmo.records import RECORD_TYPES, Record, parse_record

SCHEMA_VERSION = 2  # 2: annotation record and meta are JSON strings (uniform types for every sample)
MANIFEST = "manifest.json"
IMAGE_EXTS = ("jpg", "png", "webp")


class ShardError(ValueError):
    """A shard, a sample or a manifest is malformed; the message says where."""


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def image_info(data: bytes) -> tuple[str, int, int]:
    """(extension, width, height) of encoded image bytes in the displayed frame (EXIF orientation
    applied), reading only the header; see ``pixmo.images``."""
    try:
        facts = images.info(data)
    except images.ImageError as exc:
        raise ShardError(f"image bytes are not a usable image: {exc}") from None
    return facts.ext, facts.width, facts.height


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def envelope(data: Any) -> tuple[str, Any, dict[str, Any]]:
    """(subset, record, meta) of a stored annotation. ``record``/``meta`` may be JSON strings (schema
    2) or objects (schema 1); the record is returned as parsed, for the caller to validate."""
    if not isinstance(data, dict) or not isinstance(data.get("subset"), str) or "record" not in data:
        raise ShardError("an annotation must be an object with 'subset' and 'record'")
    record, meta = data["record"], data.get("meta")
    try:
        if isinstance(record, str):
            record = json.loads(record)
        if isinstance(meta, str):
            meta = json.loads(meta)
    except json.JSONDecodeError as exc:
        raise ShardError(f"annotation of {data['subset']}: record or meta is not valid JSON: {exc}") from None
    if meta is not None and not isinstance(meta, dict):
        raise ShardError(f"annotation of {data['subset']}: meta must be an object")
    return data["subset"], record, meta or {}


@dataclass
class Annotation:
    """One record of a subset, plus optional provenance that is not part of the published row."""

    subset: str
    record: Record
    meta: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The envelope stored in a sample's JSON: ``record`` (the published row) and ``meta`` are JSON
        strings, so every annotation of every sample of every set has the same three string fields
        (readers such as Hugging Face ``datasets`` need one type per field)."""
        return {"subset": self.subset, "record": _dumps(self.record.to_row()), "meta": _dumps(self.meta)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Annotation:
        subset, record, meta = envelope(data)
        return cls(subset, parse_record(subset, record), meta)

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


class _Encoder:
    """Streams samples as tar bytes into ``sink`` (or nowhere), hashing and counting them."""

    def __init__(self, sink: IO[bytes] | None = None):
        self.sink, self.h, self.n = sink, hashlib.sha256(), 0
        self.samples = 0
        self.counts: dict[str, int] = {}
        self.members: dict[str, int] = {}

    def _put(self, chunk: bytes) -> None:
        self.h.update(chunk)
        self.n += len(chunk)
        if self.sink is not None:
            self.sink.write(chunk)

    def add(self, sample: Sample) -> None:
        for name, data in sample_members(sample):
            ext = name.split(".", 1)[1]
            self.members[ext] = self.members.get(ext, 0) + 1
            for chunk in tario.member_bytes(name, data):
                self._put(chunk)
        for a in sample.annotations:
            self.counts[a.subset] = self.counts.get(a.subset, 0) + 1
        self.samples += 1

    def finish(self, name: str) -> ShardInfo:
        self._put(tario.archive_end(self.n))
        return ShardInfo(name, self.samples, dict(sorted(self.counts.items())), self.h.hexdigest(), self.n,
                         dict(sorted(self.members.items())))


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
    members: dict[str, int] = field(default_factory=dict)  # member extension -> count ("jpg", "json", ...)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "samples": self.samples, "annotations": self.annotations,
                "sha256": self.sha256, "bytes": self.bytes, "members": self.members}


def write_shard(path: str | Path, samples: Iterable[Sample], *, durable: bool = True) -> ShardInfo:
    """Write one shard atomically: a temporary file is written (and fsync'ed when ``durable``),
    then renamed to ``path``, so a killed writer never leaves a partial ``.tar`` behind."""
    path = Path(path)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb", buffering=1 << 20) as f:
            enc = _Encoder(f)
            for s in samples:
                enc.add(s)
            info = enc.finish(path.name)
            f.flush()
            if durable:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return info


def shard_info_of(name: str, samples: Iterable[Sample]) -> ShardInfo:
    """The ShardInfo (sha256, size, counts) the shard of these samples would have, without writing."""
    enc = _Encoder()
    for s in samples:
        enc.add(s)
    return enc.finish(name)


def remove_stale_tmp(out_dir: str | Path, prefix: str = "shard") -> int:
    """Delete temporary files a killed earlier run left in ``out_dir``; they are never shards."""
    stale = list(Path(out_dir).glob(f"{prefix}-*.tar.*.tmp")) + list(Path(out_dir).glob(f"{prefix}-*.tmp"))
    for p in stale:
        p.unlink(missing_ok=True)
    return len(stale)


def shard_name(index: int, prefix: str = "shard") -> str:
    return f"{prefix}-{index:06d}.tar"


class ShardWriter:
    """Rolling shard writer: a new shard after ``max_count`` samples or ``max_size`` bytes.

    Samples with the same image as one still buffered in the current shard are merged into it.
    Shards are written into a staging directory beside ``out_dir`` and published by ``close()``
    (see ``pixmo.shardset``): ``mode`` is ``new`` (refuse a directory holding another set),
    ``overwrite`` (replace it atomically) or ``append`` (number new shards after the existing
    ones). A failed or killed run leaves ``out_dir`` as it was. With ``resume=True`` a shard a
    killed earlier run left in the staging directory is kept when its bytes would be identical.
    ``durable=False`` skips the fsync of each shard (faster; still atomic against a killed process).
    Files written into ``work_dir`` before ``close()`` are published with the shards.
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
        durable: bool = True,
        mode: str = "new",
    ):
        from pixmo.shardset import StagedSet

        self.out_dir = Path(out_dir)
        self.dataset, self.split, self.config, self.seed = dataset, split, config or {}, seed
        self.max_count, self.max_size, self.prefix, self.resume = max_count, max_size, prefix, resume
        self.durable = durable
        self.staged = StagedSet(self.out_dir, mode=mode, keep_staging=resume, rerun_must_match=True, same_as={
            "dataset": dataset, "split": split, "config": self.config, "seed": seed})
        self.work_dir = self.staged.dir
        self.shards: list[ShardInfo] = list(self.staged.existing)
        remove_stale_tmp(self.work_dir, prefix)
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
        path = self.work_dir / shard_name(len(self.shards), self.prefix)
        samples = list(self._buf.values())
        info = _existing_if_identical(path, samples) if self.resume else None
        self.shards.append(info or write_shard(path, samples, durable=self.durable))
        self._buf, self._size = {}, 0

    def close(self) -> Path:
        """Write the last shard and the manifest, then publish the set at ``out_dir``."""
        if self._closed:
            return self.out_dir / MANIFEST
        self.flush()
        write_manifest(self.work_dir, self.shards, dataset=self.dataset, split=self.split,
                       config=self.config, seed=self.seed)
        self._closed = True
        return self.staged.commit()

    def abort(self) -> None:
        """Give up: drop what this run staged; ``out_dir`` is untouched."""
        self._closed = True
        self.staged.abort()

    def __enter__(self) -> ShardWriter:
        return self

    def __exit__(self, exc_type: Any, *_: Any) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def _existing_if_identical(path: Path, samples: list[Sample]) -> ShardInfo | None:
    if not path.exists():
        return None
    info = shard_info_of(path.name, samples)
    if path.stat().st_size != info.bytes or file_sha256(path) != info.sha256:
        return None
    return info


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
    from pixmo.hfcard import write_card

    write_card(out_dir, manifest)  # README.md for Hugging Face datasets, before the manifest that publishes
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


def iter_tar_members(f: IO[bytes], where: str = "shard") -> Iterator[tuple[str, dict[str, bytes]]]:
    """Group consecutive tar members by key (the name up to the first dot), streaming.

    A broken archive raises ShardError naming ``where`` and the byte offset.
    """
    key: str | None = None
    group: dict[str, bytes] = {}
    try:
        for name, data in tario.iter_files(f, where):
            base = name.rsplit("/", 1)[-1]
            k, _, ext = base.partition(".")
            if k != key and key is not None:
                yield key, group
                group = {}
            key = k
            group[ext] = data
    except tario.TarFormatError as exc:
        raise ShardError(str(exc)) from None
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
        anns = []
        for a in head["annotations"]:
            subset, record, meta = envelope(a)
            anns.append(Annotation(subset, RECORD_TYPES[subset].model_construct(**record), meta))
    extras = {e: v for e, v in members.items() if e != "json" and e != exts[0]}
    return Sample(image=image, annotations=anns, image_url=head.get("image_url", ""), extras=extras,
                  image_ext=exts[0], width=int(head.get("width", 0)), height=int(head.get("height", 0)), key=key)


def open_url(url: str) -> IO[bytes]:
    """A buffered binary stream for a local path or any fsspec URL."""
    if "://" not in url or url.startswith("file://"):
        return open(url.removeprefix("file://"), "rb", buffering=1 << 20)
    from fsspec.core import url_to_fs

    fs, path = url_to_fs(url)  # block_size is a file option: given to fsspec.open it would reach the
    return fs.open(path, "rb", block_size=1 << 22)  # type: ignore[no-any-return]  # filesystem (s3fs refuses it)


def iter_raw(source: str | Path) -> Iterator[tuple[str, dict[str, bytes]]]:
    """Raw (key, {ext: bytes}) groups of every shard of a directory, a .tar, or any fsspec URL."""
    for url in shard_urls(source):
        with open_url(url) as f:
            yield from iter_tar_members(f, url.rsplit("/", 1)[-1])


def iter_samples(source: str | Path, *, verify: bool = False, validate: bool = True) -> Iterator[Sample]:
    """Stream every sample of a shard directory (local path or fsspec URL).

    ``verify=True`` checks each shard's sha256 against the manifest first (raising ShardError).
    """
    if verify:
        verify_checksums(source)
    for key, members in iter_raw(source):
        yield decode_sample(key, members, validate=validate)


def file_sha256(url: str | Path) -> str:
    """sha256 of a whole file, local or fsspec URL, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open_url(str(url)) as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def verify_checksums(source: str | Path) -> None:
    """Raise ShardError for the first shard whose sha256 differs from the manifest's."""
    for sh in read_manifest(source)["shards"]:
        got = file_sha256(_join(str(source), sh["name"]))
        if got != sh["sha256"]:
            raise ShardError(f"{sh['name']}: sha256 {got} does not match the manifest's {sh['sha256']}")
