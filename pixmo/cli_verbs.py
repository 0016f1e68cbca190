"""The data verbs on the command line: ``pixmo ls | merge | filter | split | sample`` (``pixmo.verbs``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pixmo.cli_data import Append, Overwrite, _console

Out = Annotated[Path, typer.Option(help="Output shard directory.")]
PerShard = Annotated[int, typer.Option("--per-shard", help="Samples per shard.")]


def ls(
    directory: Annotated[str, typer.Argument(help="Shard directory (local path or fsspec URL).")],
    limit: Annotated[int, typer.Option(help="Most rows printed (0: all).")] = 0,
) -> None:
    """List the samples: key, image format and size, annotations per subset."""
    from pixmo.verbs import ls as run_ls

    for i, row in enumerate(run_ls(directory)):
        if limit and i >= limit:
            break
        subsets = ",".join(f"{k}:{v}" for k, v in row["subsets"].items())
        typer.echo(f"{row['key']}\t{row['image']}\t{subsets}")


def merge(
    sources: Annotated[list[str], typer.Argument(help="Shard directories to merge.")],
    out: Out,
    per_shard: PerShard = 1000,
    overwrite: Overwrite = False,
    append: Append = False,
) -> None:
    """One set with every image once (by image hash) and the annotations of all sources."""
    from pixmo.shardset import write_mode
    from pixmo.verbs import merge as run_merge

    st = run_merge(sources, out, per_shard=per_shard, mode=write_mode(overwrite, append))
    _console().print(f"{out}: {st['images']} images from {st['sources']} sets, {st['images_in_several_sources']} "
                     f"in several, {st['duplicate_annotations_dropped']} identical annotations kept once")


def _pairs(items: list[str]) -> dict[str, str]:
    out = {}
    for it in items:
        k, sep, v = it.partition("=")
        if not sep or not k:
            raise typer.BadParameter(f"{it!r}: expected FIELD=VALUE")
        out[k] = v
    return out


def filter_cmd(
    directory: Annotated[str, typer.Argument(help="Shard directory.")],
    out: Out,
    subset: Annotated[list[str] | None, typer.Option(help="Keep annotations of this subset (repeatable).")] = None,
    where: Annotated[list[str] | None, typer.Option(help="Keep annotations whose record FIELD=VALUE "
                                                         "(repeatable).")] = None,
    per_shard: PerShard = 1000,
    overwrite: Overwrite = False,
    append: Append = False,
) -> None:
    """Keep the annotations matching --subset/--where; samples left without any are dropped."""
    from pixmo.shardset import write_mode
    from pixmo.verbs import filter_set

    st = filter_set(directory, out, subsets=subset, where=_pairs(where or []), per_shard=per_shard,
                    mode=write_mode(overwrite, append))
    _console().print(f"{out}: {st['samples_kept']} samples kept, {st['samples_dropped']} dropped")


def split(
    directory: Annotated[str, typer.Argument(help="Shard directory.")],
    out: Annotated[Path, typer.Option(help="Output folder: one shard directory per split.")],
    fractions: Annotated[str, typer.Option(help="NAME=FRACTION,... summing to 1.")] = "train=0.9,validation=0.1",
    seed: Annotated[int, typer.Option(help="Seed of the hash assignment.")] = 0,
    per_shard: PerShard = 1000,
    overwrite: Overwrite = False,
    append: Append = False,
) -> None:
    """Split a set by image hash (an image always lands in the same split)."""
    from pixmo.shardset import write_mode
    from pixmo.verbs import split_set

    try:
        fr = {k: float(v) for k, v in _pairs([f for f in fractions.split(",") if f]).items()}
    except ValueError:
        raise typer.BadParameter(f"--fractions {fractions!r}: expected NAME=FRACTION,...") from None
    counts = split_set(directory, out, fr, seed=seed, per_shard=per_shard, mode=write_mode(overwrite, append))
    _console().print(", ".join(f"{k}: {v}" for k, v in counts.items()) + f" -> {out}")


def sample(
    directory: Annotated[str, typer.Argument(help="Shard directory.")],
    out: Out,
    num: Annotated[int, typer.Option(help="Number of images.")] = 100,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    per_shard: PerShard = 1000,
    overwrite: Overwrite = False,
    append: Append = False,
) -> None:
    """A uniform random sample of --num images."""
    from pixmo.shardset import write_mode
    from pixmo.verbs import sample_set

    n = sample_set(directory, out, num, seed=seed, per_shard=per_shard, mode=write_mode(overwrite, append))
    _console().print(f"{out}: {n} samples")


def register(app: typer.Typer) -> None:
    app.command("ls")(ls)
    app.command("merge")(merge)
    app.command("filter")(filter_cmd)
    app.command("split")(split)
    app.command("sample")(sample)
