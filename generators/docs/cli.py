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
        renderers: str = typer.Option("", help="Comma-separated subset of: matplotlib,plotly,vegalite,latex,"
                                               "html,mermaid,graphviz,schemdraw,rdkit,docx,svg,webscreen "
                                               "(default: all)."),
        personas: Path = typer.Option(None, help="PersonaHub-style JSONL with a 'persona' field."),
        per_shard: int = typer.Option(35, help="Documents per shard."),
        timeout: float = typer.Option(20.0, help="Seconds allowed per render."),
        executor: str = typer.Option("local", help="local (process pool) or ray."),
        split: str = typer.Option("", help="train, validation or test: only that split's personas and "
                                           "organisations (disjoint across splits; titles name the organisation), "
                                           "seeded from (split, seed); the manifest records the split."),
        report: bool = typer.Option(False, "--report", help="Also print a diversity summary of the shards in "
                                                           "--out: distinct titles, kinds, renderers, QA types."),
        overwrite: bool = typer.Option(False, "--overwrite", help="Replace the set already in --out."),
        append: bool = typer.Option(False, "--append", help="Add shards after the set already in --out."),
    ) -> None:
        """Render documents with every registered renderer (or --renderers) and write
        pixmo-docs-{charts,tables,diagrams,other} shards."""
        from functools import partial

        from generators.common import RunOptions
        from generators.docs.config import DocsConfig, RenderOptions, load_personas
        from generators.docs.pipeline import make_shard
        from generators.docs.renderers import RENDERERS
        from generators.docs.splits import personas_for, split_seed
        from generators.runner import run
        from pixmo.shardset import write_mode

        chosen = tuple(r.strip() for r in renderers.split(",") if r.strip())
        cfg = DocsConfig(mode=mode, personas_file=str(personas or ""), split=split, renderers=chosen or tuple(RENDERERS))
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
        summary = run(partial(make_shard, render=render), cfg, opts.tasks(), opts.out, dataset="pixmo-docs",
                      seed=opts.seed, workers=opts.workers, executor=opts.executor, split=opts.split,
                      mode=write_mode(overwrite, append))
        stats = summary["stats"]
        typer.echo(json.dumps({k: summary[k] for k in ("manifest", "shards", "skipped", "samples")} |
                              {"documents": stats.get("documents", 0), "rejected": stats.get("rejected", 0),
                               "qa_pairs": stats.get("qa_pairs", 0),
                               "qa_dropped_not_drawn": stats.get("qa_dropped_not_drawn", 0),
                               "per_renderer": {k[3:]: v for k, v in stats.items() if k.startswith("ok_")}}))
        if report:
            from generators.docs.report import diversity
            from pixmo.shards import iter_samples

            typer.echo(json.dumps({"report": diversity(iter_samples(out))}))

    @app.command("docs-points")
    def docs_points(
        num: int = typer.Option(20, "--num", "-n", help="Pages to render."),
        out: Path = typer.Option(..., "--out", "-o", help="Output shard directory."),
        seed: int = typer.Option(0, help="Seed; the same seed gives byte-identical shards."),
        workers: int = typer.Option(1, help="Worker processes, each with its own Chromium."),
        threads: int = typer.Option(4, help="Pages in flight per worker process."),
        per_shard: int = typer.Option(20, help="Pages per shard."),
        timeout: float = typer.Option(20.0, help="Seconds allowed per render."),
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
