"""`pixmo model ...`: train, eval, generate, convert. Heavy imports happen inside the commands."""

from __future__ import annotations

import json
from pathlib import Path

import typer

app = typer.Typer(help="Molmo: train on shards, evaluate, generate, convert checkpoints.", no_args_is_help=True)


@app.command()
def train(
    config: str = typer.Argument(..., help="Train config: a JSON/YAML file or a name under model/configs (tiny)."),
    out_dir: str | None = typer.Option(None, help="Override out_dir."),
    shards: list[str] = typer.Option(None, "--shards", help="Override train_shards (repeatable)."),
    max_steps: int | None = typer.Option(None, help="Override max_steps."),
    synthetic: bool = typer.Option(False, help="Train on random synthetic batches (smoke test)."),
) -> None:
    """Train (or resume) a Molmo; run under `torchrun --nproc_per_node N` for several processes."""
    from model.train import TrainConfig, shutdown_distributed
    from model.train import train as run

    cfg = TrainConfig.from_file(config)
    overrides = {"out_dir": out_dir, "train_shards": list(shards) if shards else None, "max_steps": max_steps,
                 "data": "synthetic" if synthetic else None}
    cfg = TrainConfig.from_dict(cfg.to_dict() | {k: v for k, v in overrides.items() if v is not None})
    result = run(cfg)
    shutdown_distributed()  # only after success: a failed rank must not wait in a barrier its peers never reach
    summary = {k: result[k] for k in ("final_loss", "checkpoint", "parallel", "world") if k in result}
    if "eval" in result:
        summary["eval"] = result["eval"]
    if "curve" in result:
        summary["curve"] = result["curve"]
    typer.echo(json.dumps(summary, indent=2))


@app.command("eval")
def eval_cmd(
    ckpt: Path = typer.Argument(..., help="Checkpoint file or run directory."),
    shards: list[str] = typer.Argument(..., help="Shard directories to evaluate on."),
    split: str | None = typer.Option(None, help="'val' to use the held-out split of training shards."),
    max_examples: int = typer.Option(64, help="Evaluate at most this many examples."),
    max_new_tokens: int = typer.Option(24),
    out: Path | None = typer.Option(None, help="Write the metrics (and outputs) as JSON here."),
) -> None:
    """Generate answers for the shards' questions and score them (pointing, counting, clocks, VQA...)."""
    from model.evaluate import evaluate

    result = evaluate(ckpt, list(shards), split=split, max_examples=max_examples, max_new_tokens=max_new_tokens,
                      return_outputs=out is not None)
    if out is not None:
        out.write_text(json.dumps(result, indent=2))
    typer.echo(json.dumps({k: v for k, v in result.items() if k != "outputs"}, indent=2))


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
) -> None:
    """Convert between the official Molmo (HF remote-code) layout and ours."""
    import torch

    from model.checkpoint import load_model
    from model.weights import load_official, save_official

    if to == "ours":
        model = load_official(src)
        dst.parent.mkdir(parents=True, exist_ok=True)
        torch.save({"model": model.state_dict(), "model_config": model.cfg.to_dict(), "step": 0}, dst)
    elif to == "official":
        save_official(load_model(src), dst)
    else:
        raise typer.BadParameter("--to must be 'ours' or 'official'")
    typer.echo(f"wrote {dst}")
