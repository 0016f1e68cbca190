"""``pixmo gen docs``: charts, tables, diagrams and documents from code, with QA from the code's data.

``DocsConfig`` (what is made) is fingerprinted and goes into the manifest; ``RunOptions`` and
``RenderOptions`` (how many, how fast) do not, so a rerun with other ``--threads``, ``--workers`` or a
larger ``--num`` reuses the finished shards. Bad options raise ``ValueError``, which ``pixmo.cli.main``
prints as one ``error:`` line with exit status 2.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command("docs")
    def docs(
        num: int = typer.Option(70, "--num", "-n", help="Documents to make (renderers take turns)."),
        out: Path = typer.Option(..., "--out", "-o", help="Output shard directory."),
        seed: int = typer.Option(0, help="Seed; the same seed gives the same documents."),
        workers: int = typer.Option(1, help="Worker processes, each with its own Chromium and sandbox; one "
                                           "process already renders --threads documents at once."),
        threads: int = typer.Option(6, help="Documents in flight per worker process."),
        mode: str = typer.Option("offline", help="offline (template bank) or llm (PIXMO_LLM_* endpoint)."),
        renderers: str = typer.Option("", help="Comma-separated subset of the registered renderers "
                                               "(generators/docs/renderers.py RENDERERS; default: all)."),
        personas: Path = typer.Option(None, help="PersonaHub-style JSONL with a 'persona' field."),
        per_shard: int = typer.Option(35, help="Documents per shard."),
        timeout: float = typer.Option(
            20.0, help="Seconds allowed per render (LilyPond scores get 3x: engraving takes seconds)."),
        executor: str = typer.Option("local", help="local (process pool) or ray."),
        split: str = typer.Option("", help="train, validation or test: only that split's personas and "
                                           "organisations (disjoint across splits; titles name the organisation), "
                                           "seeded from (split, seed); the manifest records the split."),
        report: bool = typer.Option(False, "--report", help="Also print a diversity summary of the shards in "
                                                           "--out and write the run report (tables, contact "
                                                           "sheet per renderer, LLM costs) to --report-dir."),
        report_dir: Path = typer.Option(None, help="Where --report writes report.md/json and sheets/ "
                                                   "(default: OUT/report)."),
        ledger: Path = typer.Option(None, help="Persona ledger (JSONL): personas earlier runs used are drawn "
                                               "last; this run's are added when it finishes."),
        difficulty_mix: str = typer.Option("", help="e.g. easy=0.3,medium=0.5,hard=0.2: data size and question "
                                                    "types per document (recorded as meta.difficulty)."),
        dedup_image_bits: int = typer.Option(8, help="Drop a page within this many of 256 dHash bits of an "
                                                     "earlier kept page (-1: off)."),
        dedup_text: float = typer.Option(0.8, help="Drop a page whose title+data MinHash agrees with an earlier "
                                                   "kept page's on this share of slots (0: off)."),
        prices: Path = typer.Option(None, help="LLM price table JSON {model: [USD per 1M in, out]} on top of "
                                               "the defaults (generators/docs/costs.py)."),
        overwrite: bool = typer.Option(False, "--overwrite", help="Replace the set already in --out."),
        append: bool = typer.Option(False, "--append", help="Add shards after the set already in --out."),
    ) -> None:
        """Render documents with every registered renderer (or --renderers) and write
        pixmo-docs-{charts,tables,diagrams,other} shards."""

        from generators.common import RunOptions
        from generators.docs.config import DocsConfig, RenderOptions, load_personas
        from generators.docs.costs import PriceTable
        from generators.docs.difficulty import parse_mix
        from generators.docs.renderers import RENDERERS
        from generators.docs.run_docs import run_docs
        from generators.docs.splits import personas_for, split_seed
        from pixmo.shardset import write_mode

        chosen = tuple(r.strip() for r in renderers.split(",") if r.strip())
        cfg = DocsConfig(mode=mode, personas_file=str(personas or ""), split=split, renderers=chosen or tuple(RENDERERS),
                         difficulty_mix=parse_mix(difficulty_mix), dedup_image_bits=dedup_image_bits,
                         dedup_text=dedup_text)
        from pixmo.llm import LLMSettings

        env = LLMSettings(**cfg.llm)  # PIXMO_LLM_PRICE_IN / _OUT on top of the table
        table = (PriceTable.from_file(prices) if prices else PriceTable()).with_settings(
            {"price_in": env.price_in, "price_out": env.price_out})
        render = RenderOptions(threads=threads, timeout=timeout)
        opts = RunOptions(out=str(out), seed=split_seed(seed, split), num=num, workers=workers, executor=executor,
                          per_shard=per_shard, split=split or "train")
        personas_for(load_personas(cfg.personas_file), split)  # a bad file, or too few to split
        if mode == "llm":
            from pixmo.llm import LLMUnavailable, get_client

            try:
                get_client()
            except LLMUnavailable as exc:
                typer.echo(f"error: LLM mode is unavailable: {exc}", err=True)
                raise typer.Exit(3) from None
        summary = run_docs(cfg, opts, render, mode=write_mode(overwrite, append), ledger_path=str(ledger or ""))
        stats = summary["stats"]
        typer.echo(json.dumps({k: summary[k] for k in ("manifest", "shards", "skipped", "samples")} |
                              {"documents": stats.get("documents", 0), "rejected": stats.get("rejected", 0),
                               "qa_pairs": stats.get("qa_pairs", 0),
                               "qa_dropped_not_drawn": stats.get("qa_dropped_not_drawn", 0),
                               "dedup_dropped": {k: stats.get("dedup_dropped", {}).get(k, 0) for k in ("image", "text")},
                               "per_renderer": {k[3:]: v for k, v in stats.items() if k.startswith("ok_")}}
                              | ({"ledger": summary["ledger"]} if "ledger" in summary else {})))
        if report:
            from generators.docs.report import diversity, write_run_report
            from pixmo.shards import iter_samples

            dest = report_dir or out / "report"
            write_run_report(dest, out, stats, cfg.renderers, cfg.mode, table)
            typer.echo(json.dumps({"report": diversity(iter_samples(out)) | {"run_report": str(dest / "report.md")}}))

    @app.command("docs-points")
    def docs_points(
        num: int = typer.Option(20, "--num", "-n", help="Pages to render."),
        out: Path = typer.Option(..., "--out", "-o", help="Output shard directory."),
        seed: int = typer.Option(0, help="Seed; the same seed gives byte-identical shards."),
        workers: int = typer.Option(1, help="Worker processes, each with its own Chromium."),
        threads: int = typer.Option(4, help="Pages in flight per worker process."),
        per_shard: int = typer.Option(20, help="Pages per shard."),
        timeout: float = typer.Option(
            20.0, help="Seconds allowed per render (LilyPond scores get 3x: engraving takes seconds)."),
        overwrite: bool = typer.Option(False, "--overwrite", help="Replace the set already in --out."),
        append: bool = typer.Option(False, "--append", help="Add shards after the set already in --out."),
        family: str = typer.Option("order", help="Page family: order (HTML order pages), svg (shape boards "
                                   "and bar charts in SVG) or screen (web app screens)."),
    ) -> None:
        """Render pages and write pixmo-points records: point at elements, count them, and say
        when something is not on the page (zero points)."""
        from functools import partial

        from generators.common import RunOptions
        from generators.docs.config import RenderOptions
        from generators.docs.points import make_points_shard
        from generators.runner import run
        from pixmo.shardset import write_mode

        if family not in ("order", "svg", "screen"):
            raise ValueError(f"--family must be order, svg or screen, got {family!r}")
        render = RenderOptions(threads=threads, timeout=timeout)
        opts = RunOptions(out=str(out), seed=seed, num=num, workers=workers, per_shard=per_shard)
        config = None if family == "order" else {"family": family}  # order pages keep their old fingerprint
        summary = run(partial(make_points_shard, render=render), config, opts.tasks(), opts.out,
                      dataset="pixmo-docs-points", seed=opts.seed, workers=opts.workers,
                      mode=write_mode(overwrite, append))
        stats = summary["stats"]
        typer.echo(json.dumps({k: summary[k] for k in ("manifest", "shards", "skipped", "samples")} |
                              {k: stats.get(k, 0) for k in ("pages", "rejected", "questions", "points",
                                                            "not_present")}))
