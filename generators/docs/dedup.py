"""Near-duplicate filtering across a docs run: by image (dHash) and by text (MinHash of shingles).

Every shard records a signature per document it made (``signature``): a 256-bit difference hash
of the image (16x17 grey thumbnail, one bit per horizontal neighbour pair), an 8x8 colour thumbnail
(dHash ignores colour, and same-layout diagrams in other colours are other pages) and a 32-slot MinHash of
the word 3-grams of the normalised title and data. After the shards are made, ``dedup_shards``
walks all documents in index order and keeps one unless its image is within
``dedup_image_bits`` bits of a kept image (with colours within ``MAX_COLOUR``) or its text MinHash agrees with a kept one on at least
``dedup_text`` of the slots (an estimate of the Jaccard similarity). The decision for document i
depends only on documents before i, so a run extended with a larger ``--num`` or resumed after a
kill drops exactly what one full run drops. Dropped documents are taken out of their shard (the
shard is rewritten in the staging directory before the manifest) and counted in its stats.
Candidates are found by banding (exact for the image bound by the pigeonhole principle; the usual
MinHash LSH for text), so the pass is linear in the number of documents.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

HASH_SIDE = 16  # dHash: 16 rows x 16 comparisons = 256 bits
MAX_COLOUR = 16.0  # an image duplicate also has (almost) the same colours: no 8x8 thumbnail cell differs more
MINHASH_SLOTS = 32
TEXT_BANDS = 8  # 8 bands of 4 slots
_MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)


def dhash(png: bytes, side: int = HASH_SIDE) -> int:
    """Difference hash: grey (side+1) x side thumbnail, bit = left pixel brighter than its neighbour."""
    im = Image.open(io.BytesIO(png)).convert("L").resize((side + 1, side), Image.Resampling.BILINEAR)
    a = np.asarray(im, dtype=np.int16)
    bits = (a[:, :-1] > a[:, 1:]).ravel()
    return int("".join("1" if b else "0" for b in bits), 2)


def colour_thumb(png: bytes) -> str:
    """The image's 8x8 RGB average as 384 hex digits: dHash sees only structure, so two diagrams of the
    same layout in other colours are told apart by this."""
    im = Image.open(io.BytesIO(png)).convert("RGB").resize((8, 8), Image.Resampling.BOX)
    return bytes(np.asarray(im, dtype=np.uint8).ravel()).hex()


def colour_distance(a: str, b: str) -> float:
    """The largest difference (0-255) of one channel of one cell of two ``colour_thumb`` values."""
    x, y = np.frombuffer(bytes.fromhex(a), np.uint8), np.frombuffer(bytes.fromhex(b), np.uint8)
    return float(np.abs(x.astype(np.int16) - y.astype(np.int16)).max())


def shingles(text: str, n: int = 3) -> set[str]:
    words = re.sub(r"[^0-9a-z]+", " ", unicodedata.normalize("NFKC", text).casefold()).split()
    if len(words) < n:
        return {" ".join(words)} if words else set()
    return {" ".join(words[i:i + n]) for i in range(len(words) - n + 1)}


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser (uint64 arithmetic wraps)."""
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return (x ^ (x >> np.uint64(31))) & _MASK64


def minhash(items: set[str], slots: int = MINHASH_SLOTS) -> list[int]:
    if not items:
        return [0] * slots
    base = np.array([int.from_bytes(hashlib.blake2b(s.encode(), digest_size=8).digest(), "big")
                     for s in sorted(items)], dtype=np.uint64)
    salts = _mix(np.arange(1, slots + 1, dtype=np.uint64))
    return [int(v) & 0xFFFFFFFF for v in _mix(base[None, :] ^ salts[:, None]).min(axis=1)]


def signature(index: int, renderer: str, png: bytes, title: str, data: str) -> dict[str, Any]:
    """What the run-wide pass needs of one document (kept in the shard's stats)."""
    return {"index": index, "renderer": renderer, "sha256": hashlib.sha256(png).hexdigest(),
            "dhash": f"{dhash(png):064x}", "colour": colour_thumb(png), "minhash": [f"{v:08x}" for v in minhash(shingles(f"{title}\n{data}"))]}


def _image_bands(h: int, bits: int) -> list[tuple[int, int]]:
    """bits+1 disjoint bands of the 256 bits: two hashes within ``bits`` share at least one band."""
    nb, total = bits + 1, HASH_SIDE * HASH_SIDE
    edges = [round(total * k / nb) for k in range(nb + 1)]
    return [(k, (h >> edges[k]) & ((1 << (edges[k + 1] - edges[k])) - 1)) for k in range(nb)]


def greedy(sigs: Sequence[dict[str, Any]], image_bits: int, text: float,
           forced: frozenset[int] = frozenset()) -> dict[int, str]:
    """index -> "image" | "text" for the documents to drop, keeping the first of each near-duplicate
    group in index order. ``image_bits`` < 0 or ``text`` <= 0 turns that test off; ``forced``
    (same image bytes as an earlier document of its shard) are dropped as image duplicates."""
    drops: dict[int, str] = {}
    img_index: dict[tuple[int, int], list[int]] = {}
    txt_index: dict[tuple[int, tuple[str, ...]], list[int]] = {}
    kept: dict[int, tuple[int, list[str], str]] = {}
    rows = MINHASH_SLOTS // TEXT_BANDS
    for s in sorted(sigs, key=lambda s: s["index"]):
        i, h, mh, col = s["index"], int(s["dhash"], 16), s["minhash"], s.get("colour", "")
        reason = "image" if i in forced else ""
        if not reason and image_bits >= 0:
            cands = {k for b in _image_bands(h, image_bits) for k in img_index.get(b, [])}
            if any(bin(h ^ kept[k][0]).count("1") <= image_bits and _same_colours(col, kept[k][2]) for k in cands):
                reason = "image"
        if not reason and text > 0:
            cands = {k for b in range(TEXT_BANDS) for k in txt_index.get((b, tuple(mh[b * rows:(b + 1) * rows])), [])}
            if any(sum(x == y for x, y in zip(mh, kept[k][1], strict=True)) >= text * MINHASH_SLOTS for k in cands):
                reason = "text"
        if reason:
            drops[i] = reason
            continue
        kept[i] = (h, mh, col)
        if image_bits >= 0:
            for band in _image_bands(h, image_bits):
                img_index.setdefault(band, []).append(i)
        for t in range(TEXT_BANDS):
            txt_index.setdefault((t, tuple(mh[t * rows:(t + 1) * rows])), []).append(i)
    return drops


def _same_colours(a: str, b: str) -> bool:
    return not a or not b or colour_distance(a, b) <= MAX_COLOUR


def same_image_in_shard(sigs: Sequence[dict[str, Any]]) -> set[int]:
    """Documents whose image bytes equal an earlier one's in the same shard: dropped before the
    shard is written (one sample per image; its extras must be the kept document's)."""
    seen: set[str] = set()
    out = set()
    for s in sorted(sigs, key=lambda s: s["index"]):
        if s["sha256"] in seen:
            out.add(s["index"])
        seen.add(s["sha256"])
    return out


def dedup_shards(cfg: Any, out_dir: Path, tasks: Sequence[Any]) -> dict[str, int]:
    """The run-wide pass (the runner's ``finalize``): drop near-duplicates from the shards in
    ``out_dir`` and record per shard what was dropped; returns the totals."""
    from pixmo.shards import iter_samples, shard_name, write_shard

    paths = [(out_dir / shard_name(t.index), out_dir / (shard_name(t.index) + ".stats.json")) for t in tasks]
    stats = [json.loads(sp.read_text()) for _, sp in paths]
    sigs = [s for st in stats for s in st["stats"].get("dedup_sigs", [])]
    forced = frozenset(i for st in stats for i in st["stats"].get("dedup_same_image", []))
    drops = greedy(sigs, cfg.dedup_image_bits, cfg.dedup_text, forced)
    totals = {"image": 0, "text": 0}
    for (tar, sp), st in zip(paths, stats, strict=True):
        mine = {s["index"]: s["renderer"] for s in st["stats"].get("dedup_sigs", []) if s["index"] in drops}
        pre = forced & set(mine)
        for i in mine:
            totals[drops[i]] += 1
        todo = sorted(set(mine) - pre)
        if sorted(st["stats"].get("dedup_dropped", {}).get("indices", [])) == todo:
            continue
        samples = [s for s in iter_samples(tar) if s.annotations[0].meta.get("index") not in set(todo)]
        st["shard"] = write_shard(tar, samples).to_json()
        by_r: dict[str, int] = {}
        for r in mine.values():
            by_r[r] = by_r.get(r, 0) + 1
        st["stats"]["dedup_dropped"] = {"indices": todo, "image": sum(drops[i] == "image" for i in mine),
                                        "text": sum(drops[i] == "text" for i in mine), "by_renderer": by_r}
        tmp = sp.with_suffix(".tmp")
        tmp.write_text(json.dumps(st, indent=2, sort_keys=True, default=str))
        os.replace(tmp, sp)
    return totals
