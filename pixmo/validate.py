"""``pixmo validate``: schema and checksum check of every shard of a directory.

Every problem is collected (the check never stops at the first one) as a :class:`Problem` naming
the shard, the sample key, the field and what is wrong.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

from pydantic import ValidationError

from pixmo import images, shards
from pixmo.records import RECORD_TYPES, PixmoCount

KEY_RE = re.compile(r"^[0-9a-f]{64}$")
FIELD_IN_MSG_RE = re.compile(r"^(?:len\()?([a-z_]+(?:\[\d+\])*(?:\.[a-z_]+)?)")


@dataclass
class Problem:
    shard: str
    key: str
    field: str
    problem: str


@dataclass
class Report:
    source: str
    shards: int = 0
    samples: int = 0
    annotations: Counter[str] = field(default_factory=Counter)
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, shard: str, key: str, fld: str, problem: str) -> None:
        self.problems.append(Problem(shard, key, fld, problem))

    def to_json(self) -> dict[str, Any]:
        return {"source": self.source, "ok": self.ok, "shards": self.shards, "samples": self.samples,
                "annotations": dict(sorted(self.annotations.items())),
                "problems": [asdict(p) for p in self.problems]}


class _HashingReader:
    """Reads through to ``f`` while hashing every byte read."""

    def __init__(self, f: IO[bytes]):
        self.f, self.h, self.n = f, hashlib.sha256(), 0

    def read(self, n: int = -1) -> bytes:
        b = self.f.read(n)
        self.h.update(b)
        self.n += len(b)
        return b

    def drain(self) -> None:
        while self.read(1 << 20):
            pass


def record_problems(subset: str, data: Any) -> list[tuple[str, str]]:
    """(field, problem) for every error of a record, checked strictly (no type coercion)."""
    cls = RECORD_TYPES.get(subset)
    if cls is None:
        return [("subset", f"unknown subset {subset!r}")]
    if not isinstance(data, dict):
        return [("record", f"must be a JSON object, got {type(data).__name__}")]
    try:
        cls.model_validate_json(json.dumps(data), strict=True)
    except ValidationError as err:
        out = []
        for e in err.errors():
            msg = e["msg"].removeprefix("Value error, ")
            loc = ".".join(str(p) for p in e["loc"])
            if not loc:  # a whole-record check: its message starts with the field it is about
                m = FIELD_IN_MSG_RE.match(msg)
                out.append((m.group(1) if m else "(record)", msg))
                continue
            shown = repr(e.get("input"))
            shown = shown if len(shown) <= 60 else shown[:57] + "..."
            out.append((loc, f"{msg} (value {shown})"))
        return out
    return []


def _check_header(rep: Report, shard: str, key: str, head: Any, image: bytes | None, ext: str | None) -> None:
    if not isinstance(head, dict):
        rep.add(shard, key, "json", f"must be a JSON object, got {type(head).__name__}")
        return
    if head.get("image_sha256") != key:
        rep.add(shard, key, "image_sha256", f"header says {head.get('image_sha256')!r}, the sample key is {key}")
    for name in ("width", "height"):
        v = head.get(name)
        if type(v) is not int or v <= 0:
            rep.add(shard, key, name, f"must be a positive int, got {v!r}")
    if not isinstance(head.get("image_url", ""), str):
        rep.add(shard, key, "image_url", f"must be a string, got {head.get('image_url')!r}")
    if image is not None and ext is not None:
        digest = hashlib.sha256(image).hexdigest()
        if digest != key:
            rep.add(shard, key, f"{key}.{ext}", f"image bytes hash to {digest}, not the sample key")
        try:
            facts = images.check(image)  # every pixel decoded: a truncated or corrupt image is an error
        except images.ImageError as exc:
            rep.add(shard, key, f"{key}.{ext}", str(exc))
            return
        w, h = facts.width, facts.height  # the displayed frame (EXIF orientation applied)
        if (w, h) != (head.get("width"), head.get("height")):
            rep.add(shard, key, "width/height", f"header says {head.get('width')}x{head.get('height')}, "
                    f"the displayed image is {w}x{h}")
        if facts.ext != ext:
            rep.add(shard, key, f"{key}.{ext}", f"image is {facts.ext}, not {ext}")


def _check_annotations(rep: Report, shard: str, key: str, head: dict[str, Any], counts: Counter[str]) -> None:
    anns = head.get("annotations")
    if not isinstance(anns, list):
        rep.add(shard, key, "annotations", f"must be a list, got {type(anns).__name__}")
        return
    for i, a in enumerate(anns):
        where = f"annotations[{i}]"
        if not isinstance(a, dict) or not isinstance(a.get("subset"), str) or "record" not in a:
            rep.add(shard, key, where, "must be an object with 'subset' (str) and 'record'")
            continue
        try:
            subset, rec, _ = shards.envelope(a)  # record/meta as JSON strings (schema 2) or objects
        except shards.ShardError as exc:
            counts[a["subset"]] += 1
            rep.add(shard, key, where, str(exc))
            continue
        counts[subset] += 1
        problems = record_problems(subset, rec)
        for fld, msg in problems:
            rep.add(shard, key, f"{where}.{subset}.{fld}", msg)
        if problems or not isinstance(rec, dict):
            continue
        sha = rec.get("image_sha256")
        if sha is not None and sha != key:
            rep.add(shard, key, f"{where}.{subset}.image_sha256", f"{sha!r} is not the sample key")
        if subset == PixmoCount.SUBSET and isinstance(head.get("width"), int) and isinstance(head.get("height"), int):
            try:
                PixmoCount.model_validate(rec).check_image_size(head["width"], head["height"])
            except ValueError as exc:
                rep.add(shard, key, f"{where}.{subset}.points", str(exc))


def check_sample(rep: Report, shard: str, key: str, members: dict[str, bytes], counts: Counter[str]) -> None:
    """Add every problem of one sample (its members grouped by key) to ``rep``."""
    if not KEY_RE.match(key):
        rep.add(shard, key, "key", "sample key must be the 64-hex sha256 of the image")
    exts = [e for e in shards.IMAGE_EXTS if e in members]
    if not exts:
        rep.add(shard, key, "image", f"missing member {key}.jpg/.png/.webp")
    elif len(exts) > 1:
        rep.add(shard, key, "image", f"several image members: {', '.join(exts)}")
    if "json" not in members:
        rep.add(shard, key, "json", f"missing member {key}.json")
        return
    try:
        head = json.loads(members["json"])
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        rep.add(shard, key, "json", f"{key}.json is not valid JSON: {exc}")
        return
    _check_header(rep, shard, key, head, members.get(exts[0]) if exts else None, exts[0] if exts else None)
    if isinstance(head, dict):
        _check_annotations(rep, shard, key, head, counts)
        _check_audio(rep, shard, key, head, members)


def _check_audio(rep: Report, shard: str, key: str, head: dict[str, Any], members: dict[str, bytes]) -> None:
    """An annotation that names an audio member (spoken captions) must have it, named after its
    recording, with the sha256 its meta records: audio cannot be swapped between records."""
    for i, a in enumerate(head.get("annotations") or []):
        try:
            _, _, meta = shards.envelope(a)  # meta is a JSON string in schema 2
        except (shards.ShardError, KeyError, TypeError, AttributeError):
            continue  # reported by _check_annotations
        if not meta.get("audio_member"):
            continue
        member = meta["audio_member"]
        where = f"annotations[{i}].meta.audio_member"
        rec_id = meta.get("recording_id")
        if rec_id is not None and not str(member).startswith(f"audio_{rec_id}."):
            rep.add(shard, key, where, f"{member!r} is not the audio of recording {rec_id}")
        if member not in members:
            rep.add(shard, key, where, f"missing member {key}.{member}")
        elif meta.get("audio_sha256") != hashlib.sha256(members[member]).hexdigest():
            rep.add(shard, key, where, f"{key}.{member} does not match the audio_sha256 of this record")


def _check_shard(rep: Report, source: str, entry: dict[str, Any], seen: dict[str, str]) -> None:
    name = entry.get("name", "?")
    url = source.rstrip("/") + "/" + name
    counts: Counter[str] = Counter()
    n = 0
    try:
        f = shards.open_url(url)
    except OSError as exc:
        rep.add(name, "-", "file", f"cannot open: {exc}")
        return
    with f:
        reader = _HashingReader(f)
        try:
            for key, members in shards.iter_tar_members(reader, name):  # type: ignore[arg-type]
                n += 1
                if key in seen:
                    rep.add(name, key, "key", f"duplicate sample, also in {seen[key]}")
                seen[key] = name
                check_sample(rep, name, key, members, counts)
        except shards.ShardError as exc:
            rep.add(name, "-", "tar", f"unreadable tar: {exc}")
        reader.drain()
    rep.samples += n
    rep.annotations.update(counts)
    if entry.get("sha256") is None:  # a single .tar validated on its own: no manifest to compare with
        return
    if reader.h.hexdigest() != entry.get("sha256"):
        rep.add(name, "-", "sha256", f"file hashes to {reader.h.hexdigest()}, manifest says {entry.get('sha256')}")
    if reader.n != entry.get("bytes", reader.n):
        rep.add(name, "-", "bytes", f"file has {reader.n} bytes, manifest says {entry.get('bytes')}")
    if n != entry.get("samples"):
        rep.add(name, "-", "samples", f"shard holds {n} samples, manifest says {entry.get('samples')}")
    if dict(sorted(counts.items())) != entry.get("annotations", {}):
        rep.add(name, "-", "annotations", f"shard holds {dict(sorted(counts.items()))}, "
                f"manifest says {entry.get('annotations')}")


def validate_dir(source: str | Path, progress: bool = False) -> Report:
    """Check the manifest and every shard of ``source``; never stops at the first problem."""
    src = str(source)
    rep = Report(src)
    if src.endswith(".tar"):  # one shard on its own: its samples and records (no manifest)
        parent, _, name = src.rpartition("/")
        rep.shards = 1
        _check_shard(rep, parent or ".", {"name": name}, {})
        return rep
    try:
        manifest = shards.read_manifest(src)
    except shards.ShardError as exc:
        rep.add(shards.MANIFEST, "-", "manifest", str(exc))
        if "://" in src or not Path(src).is_dir():
            return rep
        manifest = {"shards": [{"name": p.name} for p in sorted(Path(src).glob("*.tar"))]}
    entries = manifest.get("shards")
    if not isinstance(entries, list):
        rep.add(shards.MANIFEST, "-", "shards", "manifest has no 'shards' list")
        return rep
    if manifest.get("num_samples") is not None and manifest["num_samples"] != sum(
            e.get("samples", 0) for e in entries if isinstance(e, dict)):
        rep.add(shards.MANIFEST, "-", "num_samples", "does not equal the sum of the shard sample counts")
    seen: dict[str, str] = {}
    from rich.progress import track

    for entry in track(entries, description="validating", disable=not progress, transient=True):
        if not isinstance(entry, dict) or "name" not in entry:
            rep.add(shards.MANIFEST, "-", "shards", f"bad shard entry {entry!r}")
            continue
        rep.shards += 1
        _check_shard(rep, src, entry, seen)
    _check_strays(rep, src, entries)
    return rep


def _check_strays(rep: Report, src: str, entries: list[Any]) -> None:
    """A .tar in a local shard directory that the manifest does not list: a glob reader would mix it in."""
    if "://" in src or src.endswith(".tar") or not Path(src).is_dir():
        return
    listed = {e.get("name") for e in entries if isinstance(e, dict)}
    for p in sorted(Path(src).glob("*.tar")):
        if p.name not in listed:
            rep.add(p.name, "-", "shards", "a .tar file that is not in the manifest (a stray of another run?)")
