"""Materialise or inspect a mixture (``pixmo.mixture``): sources drawn at their sampling rates.

``materialise`` draws ``num`` slots with ``pixmo.mixture.iter_mixture`` and writes each drawn
image once (shards are keyed by image hash); annotations are tagged with their source and style
in ``meta``. Repeated draws of an image (a small source oversampled) are counted in
``mixture.json``, next to the rates, so nothing about the draw is lost.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from pixmo.mixture import MixtureConfig, iter_mixture, mixture_rates, source_size
from pixmo.records import parse_record
from pixmo.shards import Annotation, Sample, ShardWriter

MIXTURE_JSON = "mixture.json"


def _tagged(sample: Sample, source: str, style: str | None) -> Sample:
    """A copy whose annotations (validated again: the mixture stream reads without validation) are
    tagged with their source and style."""
    tag = {"mixture_source": source, **({"style": style} if style else {})}
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


def materialise(cfg: MixtureConfig, out: str | Path, num: int, seed: int = 0, shard_size: int = 1000,
                progress: bool = True) -> dict[str, Any]:
    from rich.progress import Progress

    out = Path(out)
    sizes = {s.name: source_size(s.path) for s in cfg.sources}
    rates = mixture_rates(cfg, sizes)
    draws: Counter = Counter()
    seen: Counter = Counter()
    with ShardWriter(out, dataset="mixture", max_count=shard_size, config=cfg.to_json(), seed=seed,
                     resume=False) as w, Progress(disable=not progress, transient=True) as bar:
        tid = bar.add_task("mixture", total=num)
        for src, sample in _take(iter_mixture(cfg, seed, sizes=sizes), num):
            draws[src.name] += 1
            seen[sample.key] += 1
            if seen[sample.key] == 1:
                w.write(_tagged(sample, src.name, src.style))
            bar.advance(tid)
    summary = _summary(cfg, sizes, rates, draws, num)
    summary["unique_images"] = len(seen)
    summary["repeated_draws"] = num - len(seen)
    (out / MIXTURE_JSON).write_text(json.dumps({"config": cfg.to_json(), "seed": seed, **summary}, indent=2))
    return summary
