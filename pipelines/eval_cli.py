"""``pixmo eval``: human preference evaluation. Import model outputs into a pairwise campaign, export
the votes, and turn votes into Elo ratings with an HTML report.

Heavy imports happen inside the commands so that ``pixmo --help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

app = typer.Typer(help="Human preference evaluation: pairwise campaigns, votes, Elo ratings.", no_args_is_help=True)

DB = typer.Option(None, "--db", help="database URL (default: PIXMO_APP_DATABASE_URL or sqlite:///var/annotation.db)")
MEDIA = typer.Option(None, "--media", help="media root, a folder or fsspec URL (default: var/media)")


def _fail(msg: str) -> NoReturn:
    typer.secho(f"error: {msg}", fg="red", err=True)
    raise typer.Exit(2)


def _app_env(db: str | None, media: str | None):  # noqa: ANN202
    from annotation_app.db import make_engine, migrate
    from annotation_app.media import MediaStore
    from annotation_app.settings import Settings

    given: dict[str, Any] = {k: v for k, v in (("database_url", db), ("media_root", media)) if v}
    s = Settings(**given)
    migrate(s.database_url)
    return make_engine(s.database_url, synchronous=s.sqlite_synchronous), MediaStore(s.media_root)


def _campaign_id(engine, name: str) -> int | None:  # noqa: ANN001
    from sqlalchemy import select

    from annotation_app.db import read_tx
    from annotation_app.models import Campaign

    with read_tx(engine) as conn:
        return conn.execute(select(Campaign.id).where(Campaign.name == name)).scalar()


@app.command()
def elo(
    votes: Annotated[Path, typer.Argument(help="votes JSONL: model_a, model_b, winner (model_a/model_b/tie/both_bad), "
                                               "optional category")],
    out: Annotated[Path, typer.Option(help="HTML report to write")] = Path("elo_report.html"),
    json_out: Annotated[Path | None, typer.Option("--json", help="also write the ratings as JSON")] = None,
    bootstrap: Annotated[int, typer.Option(help="bootstrap resamples for the intervals")] = 1000,
    ci: Annotated[float, typer.Option(help="interval coverage", min=0.5, max=0.999)] = 0.95,
    seed: Annotated[int, typer.Option(help="bootstrap seed")] = 0,
    anchor: Annotated[str | None, typer.Option(help="model pinned at 1000 (default: the mean is 1000)")] = None,
    both_bad: Annotated[str, typer.Option(help="'tie' or 'drop'")] = "tie",
    title: Annotated[str, typer.Option(help="report title")] = "Pairwise preference evaluation",
) -> None:
    """Elo ratings (Bradley-Terry with ties) with bootstrap intervals, win rates and per-category
    ratings from votes; writes an HTML report with the plots embedded."""
    from rich.console import Console
    from rich.table import Table

    from pipelines.elo_report import write_report
    from pixmo.elo import EloConfig, VoteError

    if both_bad not in ("tie", "drop"):
        _fail(f"--both-bad must be 'tie' or 'drop', got {both_bad!r}")
    if not votes.is_file():
        _fail(f"{votes}: no such file")
    cfg = EloConfig(bootstrap=bootstrap, ci=ci, seed=seed, anchor=anchor, both_bad=both_bad)  # type: ignore[arg-type]
    try:
        fit = write_report(votes, out, cfg, json_out, title)
    except VoteError as exc:
        _fail(str(exc))
    t = Table(title=f"{fit.n_votes} votes, {round(100 * ci)}% intervals")
    for col in ("#", "model", "Elo", "interval", "votes"):
        t.add_column(col)
    for r in fit.table():
        t.add_row(str(r["rank"]), r["model"], f"{r['rating']:.0f}", f"{r['lower']:.0f} – {r['upper']:.0f}",
                  str(r["votes"]))
    Console().print(t)
    typer.echo(f"report: {out}")


@app.command()
def campaign(
    name: Annotated[str, typer.Argument(help="pairwise campaign name (created if missing)")],
    outputs: Annotated[Path, typer.Argument(help="model outputs JSONL: image, prompt, model, answer, "
                                                 "optional category / prompt_id")],
    overlap: Annotated[int, typer.Option(help="raters per pair of answers")] = 3,
    pairs_per_prompt: Annotated[int | None, typer.Option(help="model pairs per prompt (default: all)")] = None,
    seed: Annotated[int, typer.Option(help="seed of the side/order shuffles")] = 0,
    instructions: Annotated[str, typer.Option(help="instructions shown to raters")] = "",
    db: str = DB, media: str = MEDIA,
) -> None:
    """Create (or extend) a pairwise campaign from model outputs: one item per (image, prompt, model
    pair), sides balanced, handed out round-robin over model pairs and categories."""
    from annotation_app.campaigns import CampaignIn, ImportError_, create_campaign
    from annotation_app.db import write_tx
    from annotation_app.tasks.pairwise_import import import_outputs, read_outputs

    engine, store = _app_env(db, media)
    try:
        rows = read_outputs(outputs)
        cid = _campaign_id(engine, name)
        if cid is None:
            with write_tx(engine) as conn:
                cid = create_campaign(conn, CampaignIn(name=name, task_type="pairwise", overlap=overlap,
                                                       instructions=instructions), None)
        n = import_outputs(engine, store, cid, rows, base_dir=outputs.parent, pairs_per_prompt=pairs_per_prompt,
                           seed=seed)
    except (ImportError_, OSError) as exc:
        _fail(str(exc))
    typer.echo(f"campaign {name!r} (id {cid}): {n} new pairwise items from {len(rows)} answers")


@app.command()
def generate(
    prompts: Annotated[Path, typer.Argument(help="prompts JSONL: image, prompt, optional category / prompt_id")],
    checkpoint: Annotated[list[str], typer.Option(help="NAME=PATH of a Molmo checkpoint or run dir; repeat (>= 2)")],
    out: Annotated[Path, typer.Option(help="model outputs JSONL to write")] = Path("outputs.jsonl"),
    max_new_tokens: Annotated[int, typer.Option(help="answer length limit")] = 128,
    temperature: Annotated[float, typer.Option(help="0 = greedy")] = 0.0,
    seed: Annotated[int, typer.Option(help="sampling seed")] = 0,
) -> None:
    """Answer every prompt with every checkpoint (model.generate); the output feeds `pixmo eval campaign`."""
    import json

    from rich.progress import track

    from pipelines.eval_generate import GenerateError, generate_outputs, parse_checkpoints, read_prompts

    try:
        rows, ckpts = read_prompts(prompts), parse_checkpoints(checkpoint)
        n = 0
        with out.open("w", encoding="utf-8") as f:
            for row in track(generate_outputs(rows, ckpts, max_new_tokens=max_new_tokens, temperature=temperature,
                                              seed=seed), total=len(rows) * len(ckpts), description="generating"):
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
                n += 1
    except (GenerateError, OSError) as exc:
        _fail(str(exc))
    typer.echo(f"{n} answers ({len(ckpts)} checkpoints x {len(rows)} prompts) -> {out}")


@app.command("votes")
def votes_cmd(
    name: Annotated[str, typer.Argument(help="pairwise campaign name")],
    out: Annotated[Path, typer.Option(help="votes JSONL to write")] = Path("votes.jsonl"),
    db: str = DB, media: str = MEDIA,
) -> None:
    """Export a pairwise campaign's votes as JSONL (input of `pixmo eval elo`)."""
    from annotation_app.tasks import PayloadError
    from annotation_app.tasks.pairwise import export_votes

    engine, _ = _app_env(db, media)
    cid = _campaign_id(engine, name)
    if cid is None:
        _fail(f"no campaign named {name!r}")
    try:
        n = export_votes(engine, cid, out)
    except PayloadError as exc:
        _fail(str(exc))
    typer.echo(f"{n} votes -> {out}")


@app.command()
def simulate(
    out: Annotated[Path, typer.Option(help="votes JSONL to write")] = Path("simulated_votes.jsonl"),
    rating: Annotated[list[str], typer.Option(help="MODEL=ELO, repeat per model")] = ["good=1100", "mid=1000",  # noqa: B006
                                                                                       "bad=900"],
    votes: Annotated[int, typer.Option(help="number of votes")] = 2000,
    tie_nu: Annotated[float, typer.Option(help="Davidson tie parameter")] = 0.5,
    seed: Annotated[int, typer.Option(help="random seed")] = 0,
) -> None:
    """Votes drawn from known ratings (to try the report, or check the method)."""
    import json

    from pixmo.elo import simulate_votes

    try:
        true = {k: float(v) for k, v in (r.split("=", 1) for r in rating)}
    except ValueError:
        _fail("--rating takes MODEL=ELO, e.g. --rating good=1100")
    rows = simulate_votes(true, votes, tie_nu=tie_nu, seed=seed)
    out.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    typer.echo(f"{len(rows)} votes -> {out}")
