"""Hugging Face Parquet export and import with exactly the published PixMo schemas.

Export: one Parquet file per subset, one row per annotation (the image URL repeated), with the
published Arrow types (docs/spec/pixmo_data.md section 2). Import: rows of a published Parquet file become
shards when their images are on disk, found by the sha256 of their bytes (any file names), by a
URL -> file map, or by the Molmo downloader's cache name (sha256 of the URL string). Rows that
cannot be imported are counted and listed in the report, never silently dropped.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from pixmo import images, shards
from pixmo.hf_schema import check_schema, with_hf_metadata
from pixmo.records import RecordError, parse_record

_S, _F64, _F32, _I32, _I64, _B = pa.string(), pa.float64(), pa.float32(), pa.int32(), pa.int64(), pa.bool_()
_XY64 = pa.list_(pa.struct([("x", _F64), ("y", _F64)]))
_DOCS = pa.schema([
    ("image", pa.struct([("bytes", pa.binary()), ("path", _S)])),
    ("image_id", _S),
    ("questions", pa.struct([("question", pa.list_(_S)), ("answer", pa.list_(_S))])),
])

SCHEMAS: dict[str, pa.Schema] = {
    "pixmo-cap": pa.schema([("image_url", _S), ("caption", _S), ("transcripts", pa.list_(_S))]),
    "pixmo-ask-model-anything": pa.schema([("image_url", _S), ("image_sha256", _S), ("question", _S),
                                           ("answer", _S)]),
    "pixmo-cap-qa": pa.schema([("image_url", _S), ("question", _S), ("answer", _S)]),
    "pixmo-points": pa.schema([("image_url", _S), ("image_sha256", _S), ("points", _XY64), ("count", _I64),
                               ("label", _S), ("collection_method", _S)]),
    "pixmo-points-eval": pa.schema([("image_url", _S), ("image_sha256", _S), ("label", _S), ("points", _XY64),
                                    ("masks", pa.list_(pa.list_(pa.list_(_B))))]),
    "pixmo-point-explanations": pa.schema([
        ("image_url", _S), ("image_sha256", _S), ("question", _S), ("response", _S), ("parsed_response", _S),
        ("alt_text", pa.list_(_S)), ("inline_text", pa.list_(_S)), ("points", pa.list_(pa.list_(pa.list_(_F64)))),
    ]),
    "pixmo-count": pa.schema([("image_url", _S), ("image_sha256", _S), ("count", _I32),
                              ("points", pa.struct([("x", pa.list_(_F32)), ("y", pa.list_(_F32))])),
                              ("label", _S)]),
    "pixmo-clocks": pa.schema([
        ("example_id", _S), ("watchface_id", _S), ("watchface_name", _S), ("watch_time", _S), ("time_format", _S),
        ("shows_seconds", _B), ("hour_visible", _I32), ("minute_visible", _I32), ("second_visible", _I32),
        ("text", _S),
    ]),
    **{f"pixmo-docs-{c}": _DOCS for c in ("charts", "tables", "diagrams", "other")},
}
PERCENT_POINT_SUBSETS = ("pixmo-points", "pixmo-points-eval")
STRAY_COLUMNS = ("__index_level_0__",)  # the first pixmo-cap-qa upload carried a pandas index


def published_schema(subset: str) -> pa.Schema:
    if subset not in SCHEMAS:
        raise RecordError(f"unknown subset {subset!r}; expected one of {', '.join(SCHEMAS)}")
    return SCHEMAS[subset]


# --- export --------------------------------------------------------------------------------


def _row_of(sample: shards.Sample, ann: shards.Annotation) -> dict[str, Any]:
    row = ann.record.to_row()
    if ann.subset.startswith("pixmo-docs-"):
        row = {"image": {"bytes": sample.image, "path": ann.meta.get("image_path")}, **row}
    return row


def export_hf(source: str | Path, out_dir: str | Path, *, progress: bool = False,
              with_extras: bool = False) -> dict[str, dict[str, Any]]:
    """Write ``<out_dir>/<subset>.parquet`` for every subset in the shards; returns {subset: {path, rows}}.

    Rows keep the order of the Parquet file they were imported from (``hf_file``/``hf_row`` in
    the annotation meta); other rows follow in shard order. ``with_extras`` also writes
    ``<subset>.extras.parquet`` beside each file (``extras_table``): the published file is unchanged.
    """
    from rich.progress import Progress

    rows: dict[str, list[tuple[tuple[Any, ...], tuple[dict[str, Any], shards.Sample]]]] = {}
    seq = 0
    with Progress(disable=not progress, transient=True) as bar:
        tid = bar.add_task("reading shards", total=None)
        for sample in shards.iter_samples(source):
            for ann in sample.annotations:
                hf_row = ann.meta.get("hf_row")
                key = (0, str(ann.meta.get("hf_file", "")), hf_row) if isinstance(hf_row, int) else (1, "", seq)
                rows.setdefault(ann.subset, []).append((key, (_row_of(sample, ann), sample)))
                seq += 1
            bar.advance(tid)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    result = {}
    for subset in sorted(rows):
        ordered = [r for _, r in sorted(rows[subset], key=lambda kr: kr[0])]
        table = pa.Table.from_pylist([r for r, _ in ordered], schema=with_hf_metadata(published_schema(subset)))
        path = out / f"{subset}.parquet"
        _write_parquet(table, path)
        result[subset] = {"path": str(path), "rows": table.num_rows}
        if with_extras:
            extras = extras_table([s for _, s in ordered])
            _write_parquet(extras, path.with_name(f"{subset}{EXTRAS_SUFFIX}"))
            result[subset]["extras"] = str(path.with_name(f"{subset}{EXTRAS_SUFFIX}"))
    return result


EXTRAS_SUFFIX = ".extras.parquet"  # beside <subset>.parquet; never read as a published file


def _write_parquet(table: pa.Table, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    pq.write_table(table, tmp)
    os.replace(tmp, path)


def extras_table(samples: list[shards.Sample]) -> pa.Table:
    """One row per published row, in the same order: ``row`` (its index in the published file),
    ``image_sha256``, and a column per extra member name (``docs_code.txt`` -> ``docs_code``), text
    when every value is UTF-8, else binary; null where a sample lacks that member."""
    names = sorted({n for s in samples for n in s.extras})
    cols: dict[str, Any] = {"row": pa.array(range(len(samples)), pa.int64()),
                            "image_sha256": pa.array([s.key for s in samples], _S)}
    for n in names:
        col = n.rsplit(".", 1)[0] if n.endswith((".txt", ".json")) else n
        col = col if col not in cols else n
        vals = [s.extras.get(n) for s in samples]
        try:
            cols[col] = pa.array([v.decode() if v is not None else None for v in vals], _S)
        except UnicodeDecodeError:
            cols[col] = pa.array(vals, pa.binary())
    return pa.table(cols)


# --- import --------------------------------------------------------------------------------


@dataclass
class ImportReport:
    subset: str
    rows: int = 0
    imported: int = 0
    samples: int = 0
    missing_image: list[dict[str, Any]] = field(default_factory=list)
    invalid: list[dict[str, Any]] = field(default_factory=list)
    pixel_points: list[dict[str, Any]] = field(default_factory=list)
    bad_image: list[dict[str, Any]] = field(default_factory=list)
    manifest: str = ""

    @property
    def skipped(self) -> int:
        return len(self.missing_image) + len(self.invalid) + len(self.pixel_points) + len(self.bad_image)

    def to_json(self) -> dict[str, Any]:
        return {"subset": self.subset, "rows": self.rows, "imported": self.imported, "samples": self.samples,
                "skipped": self.skipped, "missing_image": self.missing_image, "invalid": self.invalid,
                "pixel_points": self.pixel_points, "bad_image": self.bad_image, "manifest": self.manifest}


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


class ImageIndex:
    """The files of an images directory, indexed once by the sha256 of their bytes and by name."""

    def __init__(self, root: str | Path | None, progress: bool = False):
        self.root = Path(root) if root else None
        self.by_sha: dict[str, Path] = {}
        self.sha_of: dict[Path, str] = {}
        self.by_name: dict[str, Path] = {}
        if self.root is None:
            return
        if not self.root.is_dir():
            raise FileNotFoundError(f"--images-dir {self.root} is not a directory")
        from rich.progress import track

        files = sorted(p for p in self.root.rglob("*") if p.is_file() and not p.name.startswith("."))
        for p in track(files, description="indexing images", disable=not progress, transient=True):
            sha = file_sha256(p)
            self.by_sha.setdefault(sha, p)
            self.sha_of[p] = sha
            self.by_name.setdefault(p.relative_to(self.root).as_posix(), p)
            self.by_name.setdefault(p.name, p)
            self.by_name.setdefault(p.stem, p)

    def lookup_name(self, name: str) -> tuple[str, Path] | None:
        p = self.by_name.get(name)
        if p is None and self.root is not None and Path(name).is_absolute() and Path(name).is_file():
            p = Path(name)
        if p is None:
            return None
        sha = self.sha_of.get(p) or file_sha256(p)
        return sha, p


def load_url_map(path: str | Path) -> dict[str, str]:
    """A ``{image reference: file name}`` map from JSON (an object) or CSV (two columns, header optional)."""
    p = Path(path)
    text = p.read_text()
    if p.suffix.lower() == ".json":
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError(f"{p}: the JSON url map must be an object {{url: file}}")
        return {str(k): str(v) for k, v in data.items()}
    out = {}
    for i, row in enumerate(csv.reader(text.splitlines())):
        if len(row) < 2:
            raise ValueError(f"{p}: line {i + 1} needs two columns (image_url, file)")
        if i == 0 and row[0].strip().lower() in ("image_url", "url", "example_id"):
            continue
        out[row[0].strip()] = row[1].strip()
    return out


def _image_ref(subset: str, row: dict[str, Any]) -> str:
    return str(row.get("example_id" if subset == "pixmo-clocks" else "image_url") or "")


def _convert_pixels(row: dict[str, Any], size: tuple[int, int]) -> None:
    pts = [images.to_percent(p["x"], p["y"], size) for p in row.get("points") or []]
    row["points"] = [{"x": x, "y": y} for x, y in pts]


@dataclass
class _Group:
    url: str
    anns: list[shards.Annotation]
    path: Path | None = None
    data: bytes | None = None


class _Importer:
    def __init__(self, subset: str, index: ImageIndex, url_map: dict[str, str], points_in_pixels: bool,
                 source_name: str):
        self.subset, self.index, self.url_map = subset, index, url_map
        self.points_in_pixels, self.source_name = points_in_pixels, source_name
        self.rep = ImportReport(subset)
        self.groups: dict[str, _Group] = {}
        self._sizes: dict[str, tuple[int, int]] = {}
        self._bad: dict[str, str] = {}  # sha -> why its image cannot be used

    def _locate(self, row: dict[str, Any]) -> tuple[str, Path | None, bytes | None] | None:
        """(sha256, path, embedded bytes) of the row's image, or None when it is not available."""
        if self.subset.startswith("pixmo-docs-"):
            img = row.pop("image", None) or {}
            data = img.get("bytes") if isinstance(img, dict) else None
            return (hashlib.sha256(data).hexdigest(), None, data) if data else None
        sha = row.get("image_sha256")
        if isinstance(sha, str) and sha:
            p = self.index.by_sha.get(sha)
            return (sha, p, None) if p else None
        ref = _image_ref(self.subset, row)
        name = self.url_map.get(ref) or hashlib.sha256(ref.encode()).hexdigest()
        hit = self.index.lookup_name(name)
        return (hit[0], hit[1], None) if hit else None

    def _image_problem(self, sha: str, path: Path | None, data: bytes | None) -> str | None:
        """Why the image cannot be imported (checked once per image, every pixel decoded), or None."""
        if sha not in self._sizes and sha not in self._bad:
            try:
                raw = data if data is not None else path.read_bytes()  # type: ignore[union-attr]
                facts = images.check(raw)
                self._sizes[sha] = (facts.width, facts.height)
            except (OSError, images.ImageError) as exc:
                self._bad[sha] = f"{path.name if path else 'embedded image'}: {exc}"
        return self._bad.get(sha)

    def _points_ok(self, i: int, row: dict[str, Any], sha: str) -> bool:
        if self.subset not in PERCENT_POINT_SUBSETS:
            return True
        pts = row.get("points") or []
        if any(not isinstance(p, dict) or not all(isinstance(p.get(c), int | float) for c in "xy") for p in pts):
            return True  # a missing or null coordinate: parse_record reports the row as invalid
        if self.points_in_pixels:
            _convert_pixels(row, self._sizes[sha])
            return True
        big = [p for p in pts if p["x"] > 100 or p["y"] > 100]
        if big:
            self.rep.pixel_points.append({"row": i, "image_url": row.get("image_url"), "max": max(
                max(p.get("x", 0), p.get("y", 0)) for p in big)})
            return False
        return True

    def add(self, i: int, row: dict[str, Any]) -> None:
        """Import one row; a row that cannot be imported is counted in the report, never raised."""
        self.rep.rows += 1
        try:
            self._add(i, row)
        except (RecordError, ValueError, TypeError, KeyError) as exc:
            self.rep.invalid.append({"row": i, "error": f"{type(exc).__name__}: {exc}"})

    def _add(self, i: int, row: dict[str, Any]) -> None:
        for col in STRAY_COLUMNS:
            row.pop(col, None)
        meta: dict[str, Any] = {"hf_file": self.source_name, "hf_row": i}
        img = row.get("image") if self.subset.startswith("pixmo-docs-") else None
        if isinstance(img, dict) and img.get("path") is not None:
            meta["image_path"] = img["path"]
        found = self._locate(row)
        if found is None:
            self.rep.missing_image.append({"row": i, "image_url": row.get("image_url"),
                                           "image_sha256": row.get("image_sha256"),
                                           "ref": _image_ref(self.subset, row)})
            return
        sha, path, data = found
        problem = self._image_problem(sha, path, data)
        if problem:
            self.rep.bad_image.append({"row": i, "image_url": row.get("image_url"), "error": problem})
            return
        if not self._points_ok(i, row, sha):
            return
        try:
            record = parse_record(self.subset, row)
        except RecordError as exc:
            self.rep.invalid.append({"row": i, "error": str(exc)})
            return
        url = row.get("image_url") or ""
        group = self.groups.setdefault(sha, _Group(url, [], path, data))
        group.anns.append(shards.Annotation(self.subset, record, meta))
        self.rep.imported += 1

    def samples(self) -> Any:
        for sha, g in self.groups.items():
            image = g.data if g.data is not None else g.path.read_bytes()  # type: ignore[union-attr]
            yield shards.Sample(image=image, annotations=g.anns, image_url=g.url, key=sha)


def parquet_inputs(source: str | Path | list[str | Path]) -> list[Path]:
    """The Parquet files of one or more paths: a file, or a directory of ``*.parquet`` (sorted)."""
    paths = source if isinstance(source, list) else [source]
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():  # an export's extras files are not published rows
            found = sorted(f for f in p.rglob("*.parquet") if not f.name.endswith(EXTRAS_SUFFIX))
            if not found:
                raise FileNotFoundError(f"{p}: no .parquet files in this directory")
            files.extend(found)
        elif p.is_file():
            files.append(p)
        else:
            raise FileNotFoundError(f"{p}: no such file or directory")
    return files


def import_hf(
    subset: str,
    parquet: str | Path | list[str | Path],
    out: str | Path,
    *,
    images_dir: str | Path | None = None,
    url_map: str | Path | None = None,
    points_in_pixels: bool = False,
    split: str = "train",
    max_count: int = 1000,
    progress: bool = False,
    mode: str = "new",
) -> ImportReport:
    """Import published Parquet files (a file, several, or directories of them) of ``subset`` into
    shards at ``out``; see the module doc. ``mode`` is the shard writer's (new/overwrite/append).

    Writes ``out/import_report.json`` listing every row that was not imported and why.
    """
    published_schema(subset)
    files = parquet_inputs(parquet)
    for f in files:  # every file's columns are checked before any row is read
        check_schema(f, subset, SCHEMAS, ignore=STRAY_COLUMNS)
    index = ImageIndex(images_dir, progress=progress)
    umap = load_url_map(url_map) if url_map else {}
    imp = _Importer(subset, index, umap, points_in_pixels, files[0].name)
    config = {"source": ",".join(f.name for f in files), "subset": subset, "points_in_pixels": points_in_pixels}
    rep = imp.rep
    # the writer first: an output directory that holds another set is refused before any work
    with shards.ShardWriter(out, dataset=subset, split=split, max_count=max_count, config=config,
                            mode=mode) as w:
        for f in files:
            imp.source_name = f.name
            for i, row in enumerate(_rows(f)):
                imp.add(i, row)
        rep.samples = len(imp.groups)
        for sample in imp.samples():
            w.write(sample)
        rep.manifest = str(Path(out) / shards.MANIFEST)
        (w.work_dir / "import_report.json").write_text(json.dumps(rep.to_json(), indent=2) + "\n")
    return rep


def _rows(path: Path) -> Any:
    try:
        pf = pq.ParquetFile(path)
        for batch in pf.iter_batches(batch_size=1024):
            yield from batch.to_pylist()
    except (OSError, pa.ArrowException) as exc:
        raise ValueError(f"{path.name}: cannot read the Parquet file: {exc}") from None
