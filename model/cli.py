"""`pixmo model ...`: train, eval, generate, convert. Heavy imports happen inside the commands."""

from __future__ import annotations

import json
from pathlib import Path

import typer

app = typer.Typer(help="Molmo: train on shards, evaluate, generate, convert checkpoints.", no_args_is_help=True)


@app.command()
def train(
    config: list[str] = typer.Option(None, "--config", help="Train config: a JSON/YAML file or a name under "
                                     "model/configs (tiny). Repeatable: later files override earlier ones; none: "
                                     "the TrainConfig defaults."),
    sets: list[str] = typer.Option(None, "--set", help="KEY=VALUE for any TrainConfig field, applied after the "
                                   "files (repeatable). Dotted keys reach nested configs: optim.llm_lr=1e-3, "
                                   "model.llm.n_layers=2, lora.rank=8; lists as a,b; none for None."),
    debug: bool = typer.Option(False, "--debug", help="Show the traceback of an error."),
) -> None:
    """Train (or resume) a Molmo; run under `torchrun --nproc_per_node N` for several processes."""
    from model.train import shutdown_distributed
    from model.train import train as run
    from model.train_config import load_train_config

    try:
        result = run(load_train_config(list(config or []), list(sets or [])))
    except (ValueError, OSError) as exc:  # a bad setting, missing shards or weights: one line
        if debug:
            raise
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=2) from None
    shutdown_distributed()  # only after success: a failed rank must not wait in a barrier its peers never reach
    keys = ("final_loss", "checkpoint", "parallel", "world", "eval", "curve")
    typer.echo(json.dumps({k: result[k] for k in keys if k in result}, indent=2))


@app.command("eval")
def eval_cmd(
    ckpt: str = typer.Argument(..., help="Checkpoint file or run directory; hf:NAME or a HF folder (transformers); "
                                         "or http(s)://... (an OpenAI-compatible endpoint)."),
    shards: list[str] = typer.Argument(None, help="Shard directories to evaluate on (without --benchmark/--suite)."),
    benchmark: list[str] = typer.Option(None, "--benchmark", help="A paper benchmark (repeatable): "
                                        "ai2d, chartqa, vqav2, docvqa, infovqa, textvqa, realworldqa, mmmu, "
                                        "mathvista, countbenchqa, pixmo_count, pixmo_points_eval, clocks, clock_bench."),
    suite: str | None = typer.Option(None, "--suite", help="'paper': every benchmark that --data has files for."),
    data: list[str] = typer.Option(None, "--data", help="PATH (or hub id) of the benchmark, a root folder with one "
                                   "sub-folder per benchmark, or NAME=PATH (repeatable)."),
    metrics: str = typer.Option("official", "--metrics", help="'official' (the published evaluators) or 'fixed'."),
    out_dir: Path | None = typer.Option(None, "--out-dir", help="Where results.json and report.html go."),
    endpoint_model: str | None = typer.Option(None, help="Model name on the endpoint."),
    device: str = typer.Option("cpu"),
    batch_size: int = typer.Option(8),
    split: str | None = typer.Option(None, help="'val': the held-out split of training shards (shards and "
                                     "shard-based benchmarks)."),
    max_examples: int | None = typer.Option(None, help="Evaluate at most this many examples (per benchmark)."),
    max_new_tokens: int | None = typer.Option(None, help="Override the new-token limit (shards: 24; benchmarks: "
                                              "the paper's per-task values)."),
    out: Path | None = typer.Option(None, help="Shards: write the metrics (and outputs) as JSON here."),
    debug: bool = typer.Option(False, "--debug", help="Show the traceback of an error."),
) -> None:
    """Score a model: on shards (held-out split), or on the paper's benchmarks (--benchmark / --suite paper)."""
    try:
        if benchmark or suite:
            _eval_benchmarks(ckpt, list(benchmark or []), suite, list(data or []), metrics, out_dir, endpoint_model,
                             device, batch_size, max_examples, max_new_tokens, split)
            return
        if not shards:
            raise ValueError("give shard directories, or --benchmark NAME / --suite paper with --data")
        from model.evaluate import evaluate

        result = evaluate(ckpt, list(shards), split=split, max_examples=max_examples or 64,
                          max_new_tokens=max_new_tokens or 24, return_outputs=out is not None, metrics_mode=metrics)
        if out is not None:
            out.write_text(json.dumps(result, indent=2))
        typer.echo(json.dumps({k: v for k, v in result.items() if k != "outputs"}, indent=2))
    except (ValueError, OSError, KeyError) as exc:
        if debug:
            raise
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=2) from None


def _eval_benchmarks(ckpt, names, suite, data, mode, out_dir, endpoint_model, device, batch_size, max_examples,
                     max_new_tokens, split):
    from model.bench_backends import open_backend
    from model.bench_run import data_map, run_suite, table_rows
    from model.benchmarks import PAPER_SUITE, get_benchmark
    from model.metrics_text import check_mode

    check_mode(mode)
    if suite not in (None, "paper"):
        raise ValueError(f"unknown suite {suite!r}; the only suite is 'paper'")
    names = [get_benchmark(n).name for n in names] or list(PAPER_SUITE)
    paths = data_map(data, names)
    if not paths:
        raise ValueError("no benchmark data: pass --data PATH (or NAME=PATH, or a root with one folder per benchmark)")
    out_dir = out_dir or Path("out/eval")
    backend = open_backend(ckpt, device=device, endpoint_model=endpoint_model, batch_size=batch_size)
    res = run_suite(backend, paths, out_dir=out_dir, names=names if not suite else None, mode=mode,
                    max_examples=max_examples, max_new_tokens=max_new_tokens, split=split)
    if not suite:
        for n in names:
            if n not in res["benchmarks"] and n in res["skipped"]:
                raise ValueError(f"{n}: {res['skipped'][n]}")
    for row in table_rows(res):
        typer.echo("  ".join(f"{c:<22}" if i == 0 else f"{c:>10}" for i, c in enumerate(row)))
    for k, v in res["skipped"].items():
        if k in paths:
            typer.echo(f"skipped {k}: {v}")
    typer.echo(f"wrote {out_dir / 'results.json'} and {out_dir / 'report.html'}")


@app.command()
def generate(
    ckpt: Path = typer.Argument(..., help="Checkpoint file or run directory."),
    image: Path = typer.Option(..., "--image", help="Image file."),
    prompt: str = typer.Option(..., "--prompt", help='e.g. "Point to the dogs"'),
    out: Path | None = typer.Option(None, help="Where to write the image with points (default IMAGE_points.png)."),
    max_new_tokens: int = typer.Option(128),
    temperature: float = typer.Option(0.0, help="0 = greedy."),
    top_p: float = typer.Option(1.0),
    tokenizer: str | None = typer.Option(None, help="Tokenizer (default: the one the checkpoint trained with)."),
) -> None:
    """Answer a prompt about an image; when the answer holds points, draw them on the image."""
    from model.generate import answer_image

    if not image.exists():
        raise typer.BadParameter(f"image {image} does not exist", param_hint="--image")
    text, points, drawn = answer_image(ckpt, image, prompt, out=out, max_new_tokens=max_new_tokens,
                                       temperature=temperature, top_p=top_p, tokenizer=tokenizer)
    typer.echo(text)
    if drawn is not None:
        typer.echo(f"{len(points)} point(s) drawn: {drawn}")


@app.command()
def convert(
    src: Path = typer.Argument(..., help="Official Molmo checkpoint dir, or our checkpoint file / run dir."),
    dst: Path = typer.Argument(..., help="Output: our checkpoint file (.pt) or an official-layout directory."),
    to: str = typer.Option("ours", help="'ours' (official -> ours) or 'official' (ours -> official)."),
    tokenizer: str | None = typer.Option(None, help="--to official: tokenizer to export (default: the one the "
                                         "checkpoint trained with)."),
    code_from: Path | None = typer.Option(None, "--code-from", help="--to official: a local snapshot of "
                                          "allenai/Molmo-7B-D-0924 whose remote-code *.py files are copied in."),
    debug: bool = typer.Option(False, "--debug", help="Show the traceback of an error."),
) -> None:
    """Convert between the official Molmo (HF remote-code) layout and ours."""
    try:
        _convert(src, dst, to, tokenizer, code_from)
    except (ValueError, OSError, KeyError) as exc:
        if debug:
            raise
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=2) from None
    typer.echo(f"wrote {dst}")


def _convert(src: Path, dst: Path, to: str, tokenizer: str | None, code_from: Path | None) -> None:
    import torch

    from model.checkpoint import load_model
    from model.data import load_tokenizer
    from model.weights import load_official, save_official

    if to not in ("ours", "official"):
        raise ValueError("--to must be 'ours' or 'official'")
    if dst.exists() and (dst.is_file() or any(dst.iterdir())):
        raise ValueError(f"{dst} exists and is not empty; choose a new output path")
    if to == "ours":
        model = load_official(src)
        dst.parent.mkdir(parents=True, exist_ok=True)
        torch.save({"model": model.state_dict(), "model_config": model.cfg.to_dict(), "step": 0}, dst)
        return
    model = load_model(src)
    tc = getattr(model, "train_config", None) or {}
    tok = load_tokenizer(tokenizer or tc.get("tokenizer") or "tiny")
    save_official(model, dst, tokenizer=tok, code_from=code_from)
