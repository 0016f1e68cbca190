"""Model outputs -> pairwise items, scheduled so that raters see balanced model pairs and categories.

Outputs: JSONL, one answer per line: ``{"image": path or URL, "prompt": ..., "model": ...,
"answer": ..., "category": optional, "prompt_id": optional}`` (``image`` paths are relative to the
JSONL file; ``image_url`` is kept when given). Answers of the same (image, prompt) are compared pair
by pair.

Scheduling:
- one item per (image, prompt, unordered model pair); its ``source_key`` makes re-imports
  idempotent, and the core never gives a rater the same item twice, so no rater judges the same
  pair of answers twice;
- which model is shown as A alternates within each model pair (then a seeded shuffle), so every
  model appears on each side equally often;
- ``pairs_per_prompt`` limits the pairs per prompt to the least-scheduled ones so far (all pairs
  by default);
- items get ``priority = 100 + round``: round r holds the r-th item of every (category, model pair)
  queue, and within a round the next item is the least-served model pair, then the least-served
  category; the core's ``ORDER BY priority, id`` hands items out in that order, so any prefix of
  the work is balanced over pairs and categories (and a later import interleaves by round).
"""

from __future__ import annotations

import hashlib
import itertools
import random
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert, select

from annotation_app.audit import audit
from annotation_app.campaigns import ImportError_, check_image, get_campaign_row
from annotation_app.db import write_tx
from annotation_app.media import MediaStore, image_key
from annotation_app.models import Item
from pixmo.shards import sha256_hex
from pixmo.text import read_jsonl


@dataclass
class Prompt:
    image: str
    prompt: str
    category: str = ""
    prompt_id: str = ""
    image_url: str = ""
    answers: dict[str, str] = field(default_factory=dict)  # model -> answer


def read_outputs(path: str | Path) -> list[dict[str, Any]]:
    return read_jsonl(path, error=ImportError_)


def group_outputs(rows: list[dict[str, Any]], where: str = "output") -> list[Prompt]:
    """Answers grouped by (image, prompt); names the bad line and field."""
    groups: dict[tuple[str, str], Prompt] = {}
    for n, r in enumerate(rows, 1):
        for k in ("image", "prompt", "model"):
            if not isinstance(r.get(k), str) or not r[k].strip():
                raise ImportError_(f"{where} {n}: {k!r} must be a non-empty string")
        if not isinstance(r.get("answer"), str):  # an empty answer is a (bad) answer
            raise ImportError_(f"{where} {n}: 'answer' must be a string")
        g = groups.setdefault((r["image"], r["prompt"]), Prompt(
            r["image"], r["prompt"], str(r.get("category") or ""), str(r.get("prompt_id") or ""),
            str(r.get("image_url") or "")))
        if r["model"] in g.answers:
            raise ImportError_(f"{where} {n}: model {r['model']!r} answered this image and prompt twice")
        g.answers[r["model"]] = r["answer"]
    return list(groups.values())


def plan_pairs(prompts: list[Prompt], pairs_per_prompt: int | None, seed: int) -> list[tuple[int, str, str, int]]:
    """(prompt index, model shown as A, model shown as B, round) in scheduling order: sides balanced
    per model pair, round r = the r-th item of every (category, model pair) queue."""
    rng = random.Random(seed)
    used: dict[tuple[str, str], int] = defaultdict(int)
    queues: dict[tuple[str, tuple[str, str]], list[int]] = defaultdict(list)
    for pi, p in enumerate(prompts):
        pairs = list(itertools.combinations(sorted(p.answers), 2))
        rng.shuffle(pairs)
        if pairs_per_prompt:
            pairs = sorted(pairs, key=lambda q: used[q])[:pairs_per_prompt]  # stable: shuffled among equals
        for q in pairs:
            used[q] += 1
            queues[(p.category, q)].append(pi)
    keys = sorted(queues)
    rng.shuffle(keys)
    for k in keys:
        rng.shuffle(queues[k])
    plan = []
    sides: dict[tuple[str, str], int] = defaultdict(int)
    pair_n: dict[tuple[str, str], int] = defaultdict(int)
    cat_n: dict[str, int] = defaultdict(int)
    for rnd in range(max((len(v) for v in queues.values()), default=0)):
        todo = [k for k in keys if rnd < len(queues[k])]
        while todo:  # next: the least-served model pair, then the least-served category
            k = min(todo, key=lambda q: (pair_n[q[1]], cat_n[q[0]]))
            todo.remove(k)
            pair_n[k[1]] += 1
            cat_n[k[0]] += 1
            a, b = k[1]
            swap = sides[k[1]] % 2 == 1
            sides[k[1]] += 1
            plan.append((queues[k][rnd], *((b, a) if swap else (a, b)), rnd))
    return plan


def _image_bytes(p: Prompt, base: Path) -> bytes:
    if p.image.startswith(("http://", "https://")):
        raise ImportError_(f"{p.image}: download images first (pixmo download); outputs must name local files")
    path = Path(p.image) if Path(p.image).is_absolute() else base / p.image
    if not path.is_file():
        raise ImportError_(f"image {p.image!r} not found (looked at {path})")
    return path.read_bytes()


def import_outputs(engine: Engine, media: MediaStore, campaign_id: int, rows: list[dict[str, Any]], *,
                   base_dir: str | Path = ".", pairs_per_prompt: int | None = None, seed: int = 0,
                   user_id: int | None = None) -> int:
    """Create the pairwise items of model outputs in a pairwise campaign; returns new items."""
    prompts = [p for p in group_outputs(rows) if len(p.answers) >= 2]
    if not prompts:
        raise ImportError_("no (image, prompt) has answers from two or more models")
    plan = plan_pairs(prompts, pairs_per_prompt, seed)
    images: dict[str, tuple[str, str, int, int]] = {}
    base = Path(base_dir)
    n = 0
    with write_tx(engine) as conn:
        c = get_campaign_row(conn, campaign_id)
        if c.task_type != "pairwise":
            raise ImportError_(f"campaign {c.name!r} is a {c.task_type} campaign, not pairwise")
        for pi, ma, mb, rnd in plan:
            p = prompts[pi]
            if p.image not in images:
                data = _image_bytes(p, base)
                ext, w, h = check_image(data)
                sha = sha256_hex(data)
                key = image_key(sha, ext)
                if not media.exists(key):
                    media.put(key, data)
                images[p.image] = (sha, key, w, h)
            sha, key, w, h = images[p.image]
            pair = "|".join(sorted((ma, mb)))
            ph = hashlib.sha256(p.prompt.encode()).hexdigest()[:16]
            source_key = f"{sha}:{ph}:{hashlib.sha256(pair.encode()).hexdigest()[:16]}"
            if conn.execute(select(Item.id).where(Item.campaign_id == c.id, Item.source_key == source_key)).first():
                continue
            spec = {"prompt": p.prompt, "category": p.category, "prompt_id": p.prompt_id, "image": p.image,
                    "model_a": ma, "model_b": mb, "answer_a": p.answers[ma], "answer_b": p.answers[mb], "pair": pair}
            conn.execute(insert(Item).values(
                campaign_id=c.id, source_key=source_key, media_key=key, image_sha256=sha, image_url=p.image_url,
                width=w, height=h, spec=spec, gold=None, priority=100 + rnd, overlap=c.overlap, taken=0))
            n += 1
        audit(conn, user_id, "item.import", "campaign", c.id, {"pairwise_items": n, "prompts": len(prompts)})
    return n
