"""`make demo`: the whole data-to-model path on one laptop, stage by stage.

    python -m pipelines.demo --out out/demo [--preset tiny|full] [--only samples,report]

Every stage runs, or prints ``skipped: <reason>`` for a declared reason (``pipelines.stages.SKIP_REASONS``);
a broken package fails its stage and the demo exits 1. The report lands in ``OUT/report.html``.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from pipelines.stage_data import stage_samples, stage_stats, stage_validate
from pipelines.stages import Context, Skip, Stage, run_stages


@dataclass(frozen=True)
class DemoConfig:
    bundled_images: int = 8
    clocks: int = 48
    count_eval_per_count: int = 2
    count_mosaic: int = 400  # face mosaics for the counting model (0: train on the mixture instead)
    docs: int = 7
    docs_renderers: str = "matplotlib,plotly,vegalite,latex,html,mermaid,graphviz"
    annotate_images: int = 6
    shard_size: int = 64
    mix_samples: int = 200
    train_steps: int = 300
    train_minutes: float = 4.0
    train_batch: int = 16  # global batch (micro batch 8)
    eval_samples: int = 48
    seed: int = 0
    skip: tuple[str, ...] = ()  # stages this preset leaves out

    def __post_init__(self) -> None:
        sizes = {k: v for k, v in asdict(self).items() if isinstance(v, int | float) and not isinstance(v, bool)}
        negative = sorted(k for k, v in sizes.items() if v < 0)
        if negative:
            raise ValueError(f"demo config: {', '.join(negative)} must be >= 0")
        zero = sorted(k for k in ("shard_size", "train_steps", "train_minutes", "train_batch", "eval_samples")
                      if not sizes[k] > 0)
        if zero:
            raise ValueError(f"demo config: {', '.join(zero)} must be positive")


PRESETS = {
    "full": DemoConfig(),
    "tiny": DemoConfig(bundled_images=4, clocks=8, count_eval_per_count=1, docs=2,
                       docs_renderers="matplotlib,vegalite", annotate_images=3, shard_size=16,
                       mix_samples=40, train_steps=3, train_minutes=0.5, train_batch=8, eval_samples=4,
                       skip=("count", "count_mosaic", "docs")),
}


def stage_report(ctx: Context) -> str:
    from pipelines.report import ReportInputs, build_report

    inputs = ReportInputs(
        datasets=list(ctx.datasets.items()),
        title="PixMo toolkit demo report",
        curve=ctx.results.get("curve"),
        metrics=ctx.results.get("metrics", {}),
        notes=[*ctx.notes, "Demo data: the bundled-image records and annotation campaign are synthetic "
               "demo annotations, not published PixMo data."],
        sections=ctx.results.get("report_sections", []),
    )
    out = build_report(inputs, ctx.out / "report.html", progress=ctx.progress)
    return f"report -> {out}"


def _preset_skip(ctx: Context) -> str:
    raise Skip("preset", "not in this preset (run the full demo for it)")


def all_stages() -> list[Stage]:
    stages = [Stage("samples", stage_samples, "bundled images -> demo records -> shards")]
    stages += _optional_stages()
    stages += [
        Stage("validate", stage_validate, "checksums and record schemas"),
        Stage("stats", stage_stats, "dataset statistics"),
    ]
    stages += _late_stages()
    stages.append(Stage("report", stage_report, "out/demo/report.html"))
    return stages


def _optional_stages() -> list[Stage]:
    """The generators and the annotation app (imported plainly: a broken package fails loudly)."""
    from pipelines.stage_annotate import stage_annotate
    from pipelines.stage_generate import generate_stages

    return [*generate_stages(), Stage("annotate", stage_annotate, "synthetic campaign through the annotation app API")]


def _late_stages() -> list[Stage]:
    """Mixture, training and evaluation."""
    from pipelines.stage_model import model_stages

    return model_stages()


def run_demo(out: Path, cfg: DemoConfig, only: set[str] | None = None, progress: bool = True) -> list:
    console = Console()
    out.mkdir(parents=True, exist_ok=True)
    ctx = Context(out=out, config=cfg, console=console, progress=progress)
    t0 = time.perf_counter()
    stages = [st if st.name not in cfg.skip else Stage(st.name, _preset_skip, st.help) for st in all_stages()]
    outcomes = run_stages(stages, ctx, only)
    table = Table(title=f"demo finished in {time.perf_counter() - t0:.0f} s")
    for c in ("stage", "status", "seconds", "detail"):
        table.add_column(c, overflow="fold")
    for o in outcomes:
        color = {"ok": "green", "skipped": "yellow", "failed": "red"}[o.status]
        table.add_row(o.name, f"[{color}]{o.status}[/]", f"{o.seconds:.1f}", o.detail)
    console.print(table)
    (out / "demo_summary.json").write_text(json.dumps(
        {"config": asdict(cfg), "seconds": time.perf_counter() - t0,
         "stages": [asdict(o) for o in outcomes]}, indent=2))
    console.print(f"[bold]Outputs:[/] report {out / 'report.html'}, shards {out / 'shards'}, "
                  f"summary {out / 'demo_summary.json'}")
    return outcomes


def main(
    out: Annotated[Path, typer.Option(help="output directory")] = Path("out/demo"),
    preset: Annotated[str, typer.Option(help="full (about 15 min on 2 cores) or tiny (a smoke run)")] = "full",
    only: Annotated[str, typer.Option(help="comma-separated stage names to run")] = "",
    seed: Annotated[int, typer.Option(help="random seed")] = 0,
) -> None:
    """Run the end-to-end demo: data -> shards -> mixture -> tiny Molmo -> report."""
    if preset not in PRESETS:
        raise typer.BadParameter(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    cfg = replace(PRESETS[preset], seed=seed)
    outcomes = run_demo(out, cfg, {s for s in only.split(",") if s} or None)
    if any(o.status == "failed" for o in outcomes):
        raise typer.Exit(code=1)


if __name__ == "__main__":
    typer.run(main)
