"""Everyday data verbs on shard sets: ls, merge (dedup by image hash), filter, split, sample.

All of them stream (memory grows with the number of keys, never with image bytes) and write
through ``ShardWriter``, so an output directory holding another set is refused unless ``mode``
says ``overwrite`` or ``append``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pixmo.shards import Annotation, ShardWriter, decode_sample, iter_raw, iter_samples


def ls(source: str | Path) -> Iterator[dict[str, Any]]:
    """One row per sample: key, image format and size, annotations per subset."""
    for key, members in iter_raw(source):
        head = json.loads(members.get("json", b"{}"))
        subsets: dict[str, int] = {}
        for a in head.get("annotations", []):
            subsets[a.get("subset", "?")] = subsets.get(a.get("subset", "?"), 0) + 1
        ext = next((e for e in ("jpg", "png", "webp") if e in members), "-")
        yield {"key": key, "image": f"{ext} {head.get('width')}x{head.get('height')}", "subsets": subsets}


def _ann_id(a: Annotation) -> str:
    return json.dumps([a.subset, a.record.to_row()], sort_keys=True, default=str)


def merge(sources: Sequence[str | Path], out: str | Path, *, per_shard: int = 1000, mode: str = "new") -> dict[str, Any]:
    """One set holding every image of ``sources`` once (by image hash) with the annotations of all of
    them; an annotation that appears identically in several sources is kept once."""
    names = [str(s) for s in sources]
    owner: dict[str, int] = {}  # key -> index of the first source holding it
    dup: set[str] = set()
    for i, src in enumerate(names):
        for key, _ in iter_raw(src):
            if key in owner and owner[key] != i:
                dup.add(key)
            owner.setdefault(key, i)
    extra: dict[str, list[Annotation]] = {}
    for i, src in enumerate(names):  # annotations of repeated images from the sources that do not write them
        for key, members in iter_raw(src):
            if key in dup and owner[key] != i:
                extra.setdefault(key, []).extend(decode_sample(key, members).annotations)
    stats = {"sources": len(names), "images": len(owner), "images_in_several_sources": len(dup),
             "duplicate_annotations_dropped": 0}
    config = {"merge": names}
    with ShardWriter(out, dataset="merge", max_count=per_shard, config=config, mode=mode) as w:
        for i, src in enumerate(names):
            for s in iter_samples(src):
                if owner[s.key] != i:
                    continue
                seen = {_ann_id(a) for a in s.annotations}
                for a in extra.pop(s.key, []):
                    if _ann_id(a) in seen:
                        stats["duplicate_annotations_dropped"] += 1
                        continue
                    seen.add(_ann_id(a))
                    s.annotations.append(a)
                w.write(s)
    return stats


def _matches(a: Annotation, subsets: set[str], where: dict[str, str]) -> bool:
    if subsets and a.subset not in subsets:
        return False
    row = a.record.to_row()
    return all(k in row and str(row[k]) == v for k, v in where.items())


def filter_set(source: str | Path, out: str | Path, *, subsets: list[str] | None = None,
               where: dict[str, str] | None = None, per_shard: int = 1000, mode: str = "new") -> dict[str, Any]:
    """Keep the annotations of ``subsets`` whose record fields equal ``where``; samples left without
    annotations are dropped."""
    subs, cond = set(subsets or []), dict(where or {})
    kept = dropped = 0
    config = {"filter": str(source), "subsets": sorted(subs), "where": cond}
    with ShardWriter(out, dataset="filter", max_count=per_shard, config=config, mode=mode) as w:
        for s in iter_samples(source):
            anns = [a for a in s.annotations if _matches(a, subs, cond)]
            if not anns:
                dropped += 1
                continue
            s.annotations = anns
            w.write(s)
            kept += 1
    return {"samples_kept": kept, "samples_dropped": dropped}


def split_of(key: str, fractions: dict[str, float], seed: int = 0) -> str:
    """The split of an image, from a hash of (seed, key): the same image always lands in the same split."""
    u = int(hashlib.sha256(f"{seed}:{key}".encode()).hexdigest()[:15], 16) / 16**15
    acc = 0.0
    for name, f in fractions.items():
        acc += f
        if u < acc:
            return name
    return list(fractions)[-1]


def split_set(source: str | Path, out: str | Path, fractions: dict[str, float], *, seed: int = 0,
              per_shard: int = 1000, mode: str = "new") -> dict[str, int]:
    """Write ``out/<split>`` for every split of ``fractions`` (summing to 1), by image hash."""
    if not fractions or abs(sum(fractions.values()) - 1.0) > 1e-6 or min(fractions.values()) < 0:
        raise ValueError(f"split fractions must be >= 0 and sum to 1, got {fractions}")
    config = {"split": str(source), "fractions": fractions}
    writers = {n: ShardWriter(Path(out) / n, dataset="split", split=n, max_count=per_shard, config=config,
                              seed=seed, mode=mode) for n in fractions}
    counts = dict.fromkeys(fractions, 0)
    try:
        for s in iter_samples(source):
            name = split_of(s.key, fractions, seed)
            writers[name].write(s)
            counts[name] += 1
    except BaseException:
        for w in writers.values():
            w.abort()
        raise
    for w in writers.values():
        w.close()
    return counts


def sample_set(source: str | Path, out: str | Path, num: int, *, seed: int = 0, per_shard: int = 1000,
               mode: str = "new") -> int:
    """A uniform random sample of ``num`` images (reservoir over keys, then one streaming pass)."""
    if num < 1:
        raise ValueError(f"--num must be at least 1, got {num}")
    rng = np.random.default_rng(seed)
    chosen: list[str] = []
    for i, (key, _) in enumerate(iter_raw(source)):
        if i < num:
            chosen.append(key)
        else:
            j = int(rng.integers(i + 1))
            if j < num:
                chosen[j] = key
    keep = set(chosen)
    config = {"sample": str(source), "num": num}
    with ShardWriter(out, dataset="sample", max_count=per_shard, config=config, seed=seed, mode=mode) as w:
        for s in iter_samples(source):
            if s.key in keep:
                w.write(s)
    return len(keep)
