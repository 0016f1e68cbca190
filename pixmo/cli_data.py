"""Core data commands: validate, stats, show, import-hf, export-hf.

Heavy modules (pyarrow, matplotlib) are imported inside the commands so ``pixmo --help`` stays fast.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table


def _console(stderr: bool = False) -> Console:
    """A console made per command; when output is not a terminal (CI logs, pipes) it is 200 columns
    wide, so that full 64-character sample keys stay on one line."""
    c = Console(stderr=stderr)
    if not c.is_terminal and "COLUMNS" not in os.environ:
        c = Console(stderr=stderr, width=200)
    return c


def validate(
    directory: Annotated[str, typer.Argument(help="Shard directory (local path or fsspec URL).")],
    json_out: Annotated[Path | None, typer.Option("--json", help="Also write the full report as JSON here.")] = None,
    max_rows: Annotated[int, typer.Option(help="Most problems shown in the table (all go to --json).")] = 200,
) -> None:
    """Schema and checksum check of every shard: exits 1 and names shard, key, field and problem."""
    console = _console()
    from pixmo.validate import validate_dir

    rep = validate_dir(directory, progress=True)
    if json_out:
        json_out.write_text(json.dumps(rep.to_json(), indent=2) + "\n")
    summary = f"{rep.shards} shards, {rep.samples} samples, {sum(rep.annotations.values())} annotations"
    if rep.ok:
        console.print(f"[green]OK[/green] {directory}: {summary}")
        return
    table = Table(title=f"{len(rep.problems)} problems in {directory}", show_lines=False)
    table.add_column("shard", no_wrap=True)
    table.add_column("key", no_wrap=True, min_width=64)
    table.add_column("field", overflow="fold")
    table.add_column("problem", overflow="fold")
    for p in rep.problems[:max_rows]:
        table.add_row(p.shard, p.key, p.field, p.problem)
    console.print(table)
    if len(rep.problems) > max_rows:
        console.print(f"... {len(rep.problems) - max_rows} more (use --json for all)")
    console.print(f"[red]INVALID[/red] {directory}: {summary}, {len(rep.problems)} problems")
    raise typer.Exit(code=1)


def stats(
    directory: Annotated[str, typer.Argument(help="Shard directory (local path or fsspec URL).")],
    out: Annotated[Path | None, typer.Option(help="Write stats.json and PNG plots here.")] = None,
) -> None:
    """Counts per subset, points per image, count histogram and caption lengths (table + PNG plots)."""
    console = _console()
    from pixmo.stats import shard_stats

    st = shard_stats(directory, out)
    table = Table(title=f"{directory}: {st['samples']} images")
    table.add_column("subset")
    table.add_column("images", justify="right")
    table.add_column("annotations", justify="right")
    for subset, n in st["annotations"].items():
        table.add_row(subset, str(st["images_per_subset"].get(subset, 0)), str(n))
    console.print(table)
    for name in ("points_per_image", "caption_words", "transcripts_per_caption", "docs_qa_per_image"):
        s = st[name]
        if s["n"]:
            console.print(f"{name}: n={s['n']} mean={s['mean']} median={s['median']} min={s['min']} max={s['max']}")
    for subset, hist in st["count_histogram"].items():
        console.print(f"count histogram {subset}: " + ", ".join(f"{k}:{v}" for k, v in hist.items()))
    for p in st["plots"]:
        console.print(f"plot: {p}")


def show(
    directory: Annotated[str, typer.Argument(help="Shard directory (local path or fsspec URL).")],
    key: Annotated[str, typer.Argument(help="Sample key (image sha256) or a unique prefix of it.")],
    out: Annotated[Path, typer.Option(help="Output PNG file.")] = Path("show.png"),
) -> None:
    """Draw a sample's image with its points (percent or pixel units per subset) and list its annotations."""
    console = _console()
    from pixmo.show import describe
    from pixmo.show import show as show_sample

    full, anns = show_sample(directory, key, out)
    console.print(f"sample {full}: {len(anns)} annotations")
    for a in anns:
        console.print("  " + describe(a.get("subset", "?"), a.get("record", {}))[:300], markup=False)
    console.print(f"wrote {out}")


Overwrite = Annotated[bool, typer.Option("--overwrite", help="Replace the set already in --out (atomically).")]
Append = Annotated[bool, typer.Option("--append", help="Add shards after the set already in --out.")]


def import_hf(
    subset: Annotated[str, typer.Argument(help="Subset name, e.g. pixmo-points, pixmo-docs-charts.")],
    parquet: Annotated[list[Path], typer.Argument(help="Parquet files in the published schema, or directories "
                                                       "of them (all go into one set).")],
    out: Annotated[Path, typer.Option(help="Output shard directory.")],
    images_dir: Annotated[Path | None, typer.Option(help="Directory of downloaded images (any file names).")] = None,
    url_map: Annotated[Path | None, typer.Option(
        help="CSV/JSON map image_url (example_id for clocks) -> file name, for subsets without image_sha256.")] = None,
    points_in_pixels: Annotated[bool, typer.Option(
        help="The file's pixmo-points coordinates are pixels: convert them to 0-100 by image size.")] = False,
    split: Annotated[str, typer.Option(help="Split name written to the manifest.")] = "train",
    per_shard: Annotated[int, typer.Option("--per-shard", help="Samples per shard.")] = 1000,
    strict: Annotated[bool, typer.Option(help="Exit 1 if any row could not be imported.")] = False,
    overwrite: Overwrite = False,
    append: Append = False,
) -> None:
    """Import published Parquet files into shards; rows that cannot be imported are counted and reported."""
    console = _console()
    from pixmo.hf import import_hf as run_import
    from pixmo.shardset import write_mode

    rep = run_import(subset, list(parquet), out, images_dir=images_dir, url_map=url_map,
                     points_in_pixels=points_in_pixels, split=split, max_count=per_shard, progress=True,
                     mode=write_mode(overwrite, append))
    names = ", ".join(p.name for p in parquet)
    table = Table(title=f"import {subset} from {names}")
    table.add_column("rows")
    table.add_column("count", justify="right")
    for name, n in (("read", rep.rows), ("imported", rep.imported), ("images (samples)", rep.samples),
                    ("image missing", len(rep.missing_image)), ("image unreadable", len(rep.bad_image)),
                    ("invalid record", len(rep.invalid)),
                    ("coordinates > 100 (pixels?)", len(rep.pixel_points))):
        table.add_row(name, str(n))
    console.print(table)
    for item in rep.invalid[:5]:
        console.print(f"  invalid row {item['row']}: {item['error']}", markup=False)
    for item in rep.bad_image[:5]:
        console.print(f"  row {item['row']}: unreadable image {item['error']}", markup=False)
    if rep.pixel_points:
        console.print("[yellow]rows with coordinates above 100 were not imported; if the file is in pixels, "
                      "rerun with --points-in-pixels[/yellow]")
    console.print(f"wrote {rep.manifest}; skipped rows are listed in {out / 'import_report.json'}")
    if strict and rep.skipped:
        raise typer.Exit(code=1)


def export_hf(
    directory: Annotated[str, typer.Argument(help="Shard directory (local path or fsspec URL).")],
    out: Annotated[Path, typer.Option(help="Output directory for <subset>.parquet files.")],
    with_extras: Annotated[bool, typer.Option("--with-extras", help="Also write <subset>.extras.parquet, row by "
                                              "row beside the published file: the samples' extra members (for "
                                              "pixmo-docs: the code, data and renderer of each page).")] = False,
) -> None:
    """Export shards to one Parquet file per subset, in the published schema (one row per annotation)."""
    console = _console()
    from pixmo.hf import export_hf as run_export

    result = run_export(directory, out, progress=True, with_extras=with_extras)
    table = Table(title=f"export {directory}")
    table.add_column("subset")
    table.add_column("rows", justify="right")
    table.add_column("file")
    for subset, r in result.items():
        table.add_row(subset, str(r["rows"]), r["path"])
    console.print(table)


manifest_app = typer.Typer(help="Shard set manifests.", no_args_is_help=True)


@manifest_app.command("rebuild")
def manifest_rebuild(
    directory: Annotated[Path, typer.Argument(help="Shard directory whose manifest.json is missing or wrong.")],
    dataset: Annotated[str | None, typer.Option(help="Dataset name (default: the old manifest's, or the "
                                                     "directory name).")] = None,
    split: Annotated[str | None, typer.Option(help="Split name (default: the old manifest's, or train).")] = None,
) -> None:
    """Rebuild manifest.json from the shard tars: counts, sizes and sha256 read from the files."""
    from pixmo.shards import read_manifest
    from pixmo.shardset import rebuild_manifest

    path = rebuild_manifest(directory, dataset=dataset, split=split)
    man = read_manifest(directory)
    _console().print(f"wrote {path}: {len(man['shards'])} shards, {man['num_samples']} samples")


def register(app: typer.Typer) -> None:
    """Add the core data commands to the root app."""
    app.command("validate")(validate)
    app.command("stats")(stats)
    app.command("show")(show)
    app.command("import-hf")(import_hf)
    app.command("export-hf")(export_hf)
    app.add_typer(manifest_app, name="manifest")
