"""``pixmo gen capqa``: multi-turn QA from dense captions through the configured LLM endpoint."""

from __future__ import annotations

import json
from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command("capqa")
    def capqa(
        shards: Path = typer.Option(..., help="Input shard directory holding pixmo-cap records."),
        out: Path = typer.Option(..., "--out", "-o", help="Output shard directory (pixmo-cap-qa)."),
        conversations: int = typer.Option(3, help="Conversations asked for per caption."),
        seed: int = typer.Option(0, help="Seed (varies the requests, so the cache key)."),
        workers: int = typer.Option(1, help="Worker processes (one per input shard at a time)."),
        overwrite: bool = typer.Option(False, "--overwrite", help="Replace the set already in --out."),
        append: bool = typer.Option(False, "--append", help="Add shards after the set already in --out."),
    ) -> None:
        """Write pixmo-cap-qa records from pixmo-cap captions; needs PIXMO_LLM_BASE_URL."""
        from generators.capqa.core import CapQAConfig, make_shard
        from generators.common import RunOptions
        from generators.runner import plan_tasks, run
        from pixmo.llm import LLMUnavailable, get_client
        from pixmo.shards import read_manifest
        from pixmo.shardset import write_mode

        cfg = CapQAConfig(conversations=conversations)  # bad options: ValueError, one line from pixmo.cli.main
        opts = RunOptions(out=str(out), seed=seed, workers=workers)
        try:
            get_client()
        except LLMUnavailable as exc:
            typer.echo(f"error: CapQA is unavailable: {exc}", err=True)
            raise typer.Exit(3) from None
        try:
            manifest = read_manifest(shards)
        except Exception as exc:  # noqa: BLE001 - any unreadable input: say which
            typer.echo(f"error: cannot read shards in {shards}: {exc}", err=True)
            raise typer.Exit(2) from None
        paths = [str(Path(shards) / s["name"]) for s in manifest["shards"]]
        summary = run(make_shard, cfg, plan_tasks(paths, 1, opts.seed), opts.out, dataset="pixmo-cap-qa",
                      seed=opts.seed, workers=opts.workers, mode=write_mode(overwrite, append))
        typer.echo(json.dumps({k: summary[k] for k in ("manifest", "shards", "samples")} | summary["stats"]))
