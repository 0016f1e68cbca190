"""Top-level `pixmo` commands from pipelines: `pixmo download`, `pixmo mix`, `pixmo report`, `pixmo demo`.

Heavy imports happen inside the commands so that `pixmo --help` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="End-to-end pipelines: import published sets, mixtures, reports, the demo.")


@app.command()
def download(
    subset: Annotated[str, typer.Argument(help="published subset, e.g. pixmo-points, pixmo-cap, pixmo-count")],
    parquet: Annotated[str, typer.Option(help="a .parquet file, a directory of them, or a hub name "
                                              "(allenai/pixmo-points; needs network)")],
    out: Annotated[Path, typer.Option(help="output shard directory")],
    threads: Annotated[int, typer.Option(help="concurrent downloads per process")] = 32,
    per_host: Annotated[int, typer.Option(help="max requests in flight to one host")] = 8,
    host_delay: Annotated[float, typer.Option(help="min seconds between request starts on one host")] = 0.0,
    retries: Annotated[int, typer.Option(help="extra tries for timeouts, connection errors, 429, 5xx")] = 3,
    backoff: Annotated[float, typer.Option(help="base back-off in seconds (doubles per try)")] = 0.5,
    timeout: Annotated[float, typer.Option(help="seconds per request")] = 20.0,
    images_per_shard: Annotated[int, typer.Option("--per-shard", help="images per shard (each shard is one task)")] = 1000,
    workers: Annotated[int, typer.Option(help="processes (or Ray tasks) running shards at once")] = 1,
    executor: Annotated[str, typer.Option(help="local or ray")] = "local",
    ray_address: Annotated[str | None, typer.Option(help="join this Ray cluster (e.g. auto) instead of a local one")] = None,
    limit: Annotated[int | None, typer.Option(help="only the first N rows")] = None,
    max_failure_rate: Annotated[float, typer.Option(
        help="exit 1 when a larger share of the images did not arrive (0..1)")] = 0.5,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="replace the set already in --out")] = False,
    append: Annotated[bool, typer.Option("--append", help="add shards after the set already in --out")] = False,
) -> None:
    """Download the images of a published PixMo subset into verified shards, with a failure report.

    Rerunning the same command resumes: finished shards are kept, a shard interrupted half way
    re-fetches only the images it had not finished, and every item that failed is tried again.
    Exits 1 when no image arrived or more than --max-failure-rate of them failed.

    Durability: every shard is fsync'ed before it is renamed into place and marked done, so a
    finished shard survives a power cut; the per-image resume state is flushed, not fsync'ed
    (after a power cut the unfinished shard's images are fetched again). With one process the
    fsync overlaps the next shard's downloads. The set is published only when every shard is done.
    """
    from rich.console import Console

    from pipelines.download import FAILURES, failure_rate, import_subset, print_report
    from pixmo.download import DownloadConfig
    from pixmo.shardset import write_mode

    if not 0.0 <= max_failure_rate <= 1.0:
        raise typer.BadParameter(f"--max-failure-rate must be between 0 and 1, got {max_failure_rate}")

    dl = DownloadConfig(threads=threads, per_host=per_host, host_delay=host_delay, retries=retries,
                        backoff=backoff, timeout=timeout)
    console = Console()
    if ray_address:
        import ray

        ray.init(address=ray_address, log_to_driver=False)  # the shard runner then uses this cluster
        executor = "ray"
    summary = import_subset(subset, parquet, out, dl=dl, images_per_shard=images_per_shard,
                            workers=workers, executor=executor, limit=limit, mode=write_mode(overwrite, append))
    import json

    report = json.loads((out / FAILURES).read_text())
    print_report(report, console)
    if summary["retried"]:
        console.print(f"retried {summary['retried']} images that had failed in an earlier run")
    console.print(f"shards: {out} ({summary['shards']} shards, {summary['samples']} images); "
                  f"failure report: {out / FAILURES}")
    rate = failure_rate(report)
    if report["ok"] == 0 and report["images"]:
        console.print(f"[red]error:[/] none of the {report['images']} images arrived")
        raise typer.Exit(code=1)
    if rate > max_failure_rate:
        console.print(f"[red]error:[/] {rate:.1%} of the images failed (more than --max-failure-rate "
                      f"{max_failure_rate:.1%})")
        raise typer.Exit(code=1)


@app.command()
def mix(
    config: Annotated[Path, typer.Argument(help="mixture config (JSON): sources with path, rate/cap, style, group")],
    out: Annotated[Path | None, typer.Option(help="write the drawn samples as shards here")] = None,
    num: Annotated[int, typer.Option(help="number of slots to draw")] = 1000,
    seed: Annotated[int, typer.Option(help="random seed")] = 0,
    stream: Annotated[bool, typer.Option("--stream", help="only draw and print the statistics")] = False,
    per_shard: Annotated[int, typer.Option("--per-shard", help="samples per shard")] = 1000,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="replace the set already in --out")] = False,
    append: Annotated[bool, typer.Option("--append", help="add shards after the set already in --out")] = False,
) -> None:
    """Stream (--stream) or materialise (--out) a mixture of shard sets at its sampling rates."""
    from rich.console import Console
    from rich.table import Table

    from pipelines.mix import draw_stats, materialise
    from pixmo.mixture import MixtureConfig
    from pixmo.shardset import write_mode

    try:
        cfg = MixtureConfig.load(config)
    except (OSError, ValueError, TypeError) as exc:
        raise typer.BadParameter(f"{config}: {exc}") from None
    if not stream and out is None:
        raise typer.BadParameter("give --out DIR to materialise, or --stream to print statistics")
    summary = (draw_stats(cfg, num, seed) if stream or out is None
               else materialise(cfg, out, num, seed, per_shard, mode=write_mode(overwrite, append)))
    t = Table(title=f"mixture: {num} draws" + ("" if stream else f" -> {out}"))
    for c in ("source", "size", "rate", "drawn", "share", "style", "group"):
        t.add_column(c)
    for s in summary["sources"]:
        t.add_row(s["name"], str(s["size"]), f"{s['rate']:.3f}", str(s["drawn"]), f"{s['share']:.3f}",
                  str(s["style"] or ""), str(s["group"] or ""))
    Console().print(t)


@app.command("import-academic")
def import_academic_cmd(
    name: Annotated[str, typer.Argument(help="academic set: vqa2, okvqa, text_vqa, st_qa, chart_qa, doc_qa, info_qa, "
                                             "ai2_diagram, a_okvqa_mc, a_okvqa_da, science_qa, tally_qa, dv_qa, "
                                             "figure_qa, plot_qa")],
    path: Annotated[Path, typer.Argument(help="its published files: a parquet/JSON file or their folder "
                                              "(images embedded or in the usual image folders beside them)")],
    out: Annotated[Path, typer.Option(help="output shard directory")],
    per_shard: Annotated[int, typer.Option("--per-shard", help="images per shard")] = 1000,
    limit: Annotated[int | None, typer.Option(help="only the first N rows")] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="replace the set already in --out")] = False,
    append: Annotated[bool, typer.Option("--append", help="add shards after the set already in --out")] = False,
) -> None:
    """Import an academic fine-tuning set as shards of academic-qa records with its style tag, for `pixmo mix`."""
    from pipelines.academic import AcademicImportError, import_academic
    from pixmo.shardset import write_mode

    try:
        summary = import_academic(name, path, out, mode=write_mode(overwrite, append), per_shard=per_shard,
                                  limit=limit)
    except AcademicImportError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=2) from None
    typer.echo(f"{summary['set']}: {summary['records']} questions on {summary['images']} images -> {out} "
               f"(style {summary['style']}:)")
    if summary["no_image"]:
        typer.echo(f"skipped {summary['no_image']} of {summary['rows']} rows without an image")


@app.command()
def report(
    directory: Annotated[Path, typer.Argument(help="a shard directory, or a folder holding several")],
    out: Annotated[Path, typer.Option(help="the HTML file to write")] = Path("report.html"),
    title: Annotated[str, typer.Option(help="report title")] = "PixMo dataset report",
) -> None:
    """Write a self-contained HTML report (statistics, plots, contact sheets) of shard directories."""
    from pipelines.report import ReportInputs, build_report, find_shard_dirs

    dirs = find_shard_dirs(directory)
    if not dirs:
        raise typer.BadParameter(f"{directory}: no manifest.json found in or under it")
    path = build_report(ReportInputs(datasets=dirs, title=title), out)
    typer.echo(f"report of {len(dirs)} shard set(s) -> {path}")


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="output directory")] = Path("out/demo"),
    preset: Annotated[str, typer.Option(help="full or tiny")] = "full",
    only: Annotated[str, typer.Option(help="comma-separated stage names")] = "",
) -> None:
    """The end-to-end demo (same as `make demo`)."""
    from pipelines.demo import main

    main(out=out, preset=preset, only=only)
