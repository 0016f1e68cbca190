"""Materialise or inspect a mixture (``pixmo.mixture``): sources drawn at their sampling rates.

``materialise`` draws ``num`` slots with ``pixmo.mixture.iter_mixture`` and writes one sample per
drawn image (shards are keyed by image hash). An image drawn from several sources holds the
annotations of every source that drew it, each tagged in ``meta`` with its source, style and how
many times that source drew it; nothing drawn is dropped. ``mixture.json`` states the draws and
what was written (images, annotations per source).

It streams in three passes: the draw keeps only (source, key) pairs, then each source is read
once to collect the tagged annotations of its drawn images (small JSON, no image bytes), then once
more to write each image with all its annotations. Memory grows with the number of draws, never
with the size of a source.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from pixmo.mixture import MixtureConfig, MixtureSource, iter_mixture, mixture_rates, source_size
from pixmo.records import parse_record
from pixmo.shards import Annotation, Sample, ShardWriter, decode_sample, iter_raw

MIXTURE_JSON = "mixture.json"


def _tagged(sample: Sample, source: str, style: str | None, draws: int | None = None) -> Sample:
    """A copy whose annotations (validated again: the mixture stream reads without validation) are
    tagged with their source, style and (when given) how many times the source drew the image."""
    tag: dict[str, Any] = {"mixture_source": source, **({"style": style} if style else {})}
    if draws is not None:
        tag["mixture_draws"] = draws
    anns = [Annotation(a.subset, parse_record(a.subset, dict(a.record.__dict__)), {**a.meta, **tag})
            for a in sample.annotations]
    return Sample(image=sample.image, annotations=anns, image_url=sample.image_url, extras=dict(sample.extras),
                  image_ext=sample.image_ext, width=sample.width, height=sample.height, key=sample.key)


def draw_stats(cfg: MixtureConfig, num: int, seed: int = 0) -> dict[str, Any]:
    """Draw ``num`` slots without writing: expected rates against observed shares."""
    sizes = {s.name: source_size(s.path) for s in cfg.sources}
    rates = mixture_rates(cfg, sizes)
    draws: Counter = Counter()
    for src, _ in _take(iter_mixture(cfg, seed, sizes=sizes), num):
        draws[src.name] += 1
    return _summary(cfg, sizes, rates, draws, num)


def _take(it: Any, n: int) -> Any:
    for i, x in enumerate(it):
        if i >= n:
            return
        yield x


def _summary(cfg: MixtureConfig, sizes: dict[str, int], rates: dict[str, float], draws: Counter,
             num: int) -> dict[str, Any]:
    by = {s.name: s for s in cfg.sources}
    return {"num": num, "sources": [
        {"name": n, "size": sizes[n], "rate": rates[n], "drawn": draws[n], "share": draws[n] / max(num, 1),
         "style": by[n].style, "group": by[n].group} for n in rates]}


def _drawn(source: MixtureSource, keys: dict[str, int]) -> Any:
    """The samples of ``source`` whose key is in ``keys``, tagged with their draw counts."""
    for key, members in iter_raw(source.path):
        if key in keys:
            yield _tagged(decode_sample(key, members, validate=False), source.name, source.style, keys[key])


def materialise(cfg: MixtureConfig, out: str | Path, num: int, seed: int = 0, shard_size: int = 1000,
                progress: bool = True, mode: str = "new") -> dict[str, Any]:
    """Draw ``num`` slots and write every drawn image once with the annotations of every source that
    drew it. ``mode`` is the shard writer's (new/overwrite/append)."""
    from rich.progress import Progress

    out = Path(out)
    sizes = {s.name: source_size(s.path) for s in cfg.sources}
    rates = mixture_rates(cfg, sizes)
    config = {**cfg.to_json(), "num": num}
    with ShardWriter(out, dataset="mixture", max_count=shard_size, config=config, seed=seed, resume=False,
                     mode=mode) as w, Progress(disable=not progress, transient=True) as bar:
        draws: Counter = Counter()
        by_source: dict[str, Counter] = {s.name: Counter() for s in cfg.sources}
        order: dict[str, str] = {}  # key -> the source that drew it first (it writes the image)
        tid = bar.add_task("mixture: drawing", total=num)
        for src, sample in _take(iter_mixture(cfg, seed, sizes=sizes), num):
            draws[src.name] += 1
            by_source[src.name][sample.key] += 1
            order.setdefault(sample.key, src.name)
            bar.advance(tid)
        # pass 2: the tagged annotations (and extras) of every source that drew an image
        found: dict[str, tuple[list[Annotation], dict[str, bytes]]] = {}
        written_anns: Counter = Counter()
        tid = bar.add_task("mixture: collecting annotations", total=len(cfg.sources))
        for src in cfg.sources:
            for s in _drawn(src, by_source[src.name]):
                written_anns[src.name] += len(s.annotations)
                if order[s.key] == src.name:
                    continue  # this source writes the image itself in pass 3
                anns, extras = found.setdefault(s.key, ([], {}))
                anns.extend(s.annotations)
                extras.update(s.extras)
            bar.advance(tid)
        # pass 3: each image once, from the source that drew it first, with everything collected
        tid = bar.add_task("mixture: writing", total=len(order))
        for src in cfg.sources:
            owned = {k: n for k, n in by_source[src.name].items() if order[k] == src.name}
            for s in _drawn(src, owned):
                anns, extras = found.pop(s.key, ([], {}))
                s.annotations.extend(anns)
                s.extras = {**extras, **s.extras}
                w.write(s)
                bar.advance(tid)
        summary = _summary(cfg, sizes, rates, draws, num)
        for row in summary["sources"]:
            row["images"] = len(by_source[row["name"]])
            row["annotations_written"] = written_anns[row["name"]]
        summary["unique_images"] = len(order)
        summary["repeated_draws"] = num - sum(len(c) for c in by_source.values())
        summary["images_from_several_sources"] = sum(
            1 for k in order if sum(k in c for c in by_source.values()) > 1)
        summary["annotations_written"] = sum(written_anns.values())
        (w.work_dir / MIXTURE_JSON).write_text(json.dumps({"config": cfg.to_json(), "seed": seed, **summary},
                                                          indent=2))
    return summary
