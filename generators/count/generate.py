"""PixMo-Count by detector: detect -> pick a label -> balance -> train / validation / test shards.

1. ``detect_shard`` (one runner task per chunk of image references) decodes each image, runs the
   detector and keeps, per image, the label with the most detections above the detector's strict
   threshold; its points are the box centres in pixels. Images with no detection get count 0 for
   a label chosen from the detector's labels by the image hash. Unreadable images and detector
   errors are logged, counted in the shard stats and skipped. Output: ``OUT/candidates``.
2. ``split_candidates`` streams the candidates once to count them and once to write:
   validation and test get equal numbers per count for every count 2-10 that has enough
   candidates (records with empty points, for human verification in the annotation app; the
   detector points stay in ``meta``); train gets the rest, with counts 0-10 capped per value.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from generators.count.detectors import Detection, Detector, make_detector
from generators.count.sources import load
from generators.runner import ShardResult, ShardTask
from pixmo import images
from pixmo.records import CountPoints, PixmoCount
from pixmo.shards import Annotation, Sample, ShardWriter, envelope, iter_raw, read_manifest

log = logging.getLogger(__name__)
EVAL_COUNTS = range(2, 11)
TRAIN_COUNTS = range(0, 11)


@dataclass(frozen=True)
class DetectConfig:
    """What the candidates depend on (step 1): fingerprinted per shard, in the candidates' manifest."""

    detector: str = "opencv"  # or hf:<model name or path>
    threshold: float = 0.3  # score threshold for hf detectors (OpenCV ones have their own, see detectors.py)
    queries: tuple[str, ...] = ()  # labels for open-vocabulary detectors (default list when empty)
    max_pixels: int = 40_000_000  # larger images are skipped (decompression bombs)

    def __post_init__(self) -> None:
        if not (self.detector == "opencv" or (self.detector.startswith("hf:") and len(self.detector) > 3)):
            raise ValueError(f"--detector {self.detector!r}: use 'opencv' or 'hf:<model name or local path>'")
        if not 0.0 <= self.threshold <= 1.0:
            raise ValueError(f"--threshold must be between 0 and 1, got {self.threshold}")
        if self.max_pixels < 1:
            raise ValueError(f"max_pixels must be positive, got {self.max_pixels}")


@dataclass(frozen=True)
class SplitConfig:
    """How the candidates are split (step 2); not part of the detection, so changing it re-uses the
    candidates. Written to the splits' manifests with the candidates' config."""

    eval_per_count: int = 60  # per count value, per split (PixMo: 540 = 9 x 60)
    max_per_count: int = 0  # train cap per count value; 0 = the median of the non-empty counts' sizes

    def __post_init__(self) -> None:
        if self.eval_per_count < 0:
            raise ValueError(f"--eval-per-count must be >= 0, got {self.eval_per_count}")
        if self.max_per_count < 0:
            raise ValueError(f"--max-per-count must be >= 0 (0: the median), got {self.max_per_count}")


_DETECTORS: dict[tuple[str, float, tuple[str, ...]], Detector] = {}


def detector_for(cfg: DetectConfig) -> Detector:
    """One detector per process and config (cascades and models are not picklable)."""
    key = (cfg.detector, cfg.threshold, cfg.queries)
    if key not in _DETECTORS:
        from generators.count.detectors import DEFAULT_QUERIES

        _DETECTORS[key] = make_detector(cfg.detector, labels=cfg.queries or DEFAULT_QUERIES, threshold=cfg.threshold)
    return _DETECTORS[key]


def choose(dets: list[Detection], labels: tuple[str, ...], key: str) -> tuple[str, list[Detection]]:
    """The label with the most detections (ties: the higher total score); none -> a zero-count label."""
    by: dict[str, list[Detection]] = {}
    for d in dets:
        by.setdefault(d.label, []).append(d)
    if not by:
        pick = int(hashlib.sha256(key.encode()).hexdigest(), 16) % max(1, len(labels))
        return (labels[pick] if labels else "object"), []
    label = max(sorted(by), key=lambda k: (len(by[k]), sum(d.score for d in by[k])))
    return label, by[label]


def decode(data: bytes, max_pixels: int) -> np.ndarray:
    """RGB pixels in the displayed frame (EXIF orientation applied), as the shard header states."""
    w, h = images.displayed_size(data)
    if w * h > max_pixels:
        raise ValueError(f"image is {w}x{h}, over max_pixels={max_pixels}")
    return images.decode_array(data)


def count_sample(url: str, data: bytes, image: np.ndarray, dets: list[Detection], labels: tuple[str, ...],
                 detector: str) -> Sample:
    s = Sample(image=data, image_url=url)
    label, chosen = choose(dets, labels, s.key)
    chosen = sorted(chosen, key=lambda d: (d.center[1], d.center[0]))
    xs = [round(min(max(d.center[0], 0.0), image.shape[1]), 1) for d in chosen]
    ys = [round(min(max(d.center[1], 0.0), image.shape[0]), 1) for d in chosen]
    rec = PixmoCount(image_url=url, image_sha256=s.key, count=len(chosen), points=CountPoints(x=xs, y=ys), label=label)
    counts: dict[str, int] = {}
    for d in dets:
        counts[d.label] = counts.get(d.label, 0) + 1
    meta = {"detector": detector, "counts": dict(sorted(counts.items())),
            "scores": [round(d.score, 3) for d in chosen], "boxes": [[round(v, 1) for v in d.box] for d in chosen]}
    s.annotations.append(Annotation.of(rec, **meta))
    return s


def detect_shard(cfg: DetectConfig, task: ShardTask) -> ShardResult:
    """The runner's per-shard function: every image of the task's references, detected."""
    det = detector_for(cfg)
    samples: list[Sample] = []
    stats = {"images": 0, "unreadable": 0, "detector_errors": 0}
    for ref in task.items:
        try:
            items = list(load(ref))
        except Exception as exc:  # network, missing file, bad bytes: skip and go on
            log.warning("count: skipped %s: cannot read it: %s", ref, exc)
            stats["unreadable"] += 1
            continue
        for url, data in items:
            try:
                image = decode(data, cfg.max_pixels)
            except Exception as exc:
                log.warning("count: skipped %s: not a readable image: %s", url, exc)
                stats["unreadable"] += 1
                continue
            try:
                dets = det.detect(image)
            except Exception as exc:
                log.warning("count: skipped %s: detector %s failed: %s", url, cfg.detector, exc)
                stats["detector_errors"] += 1
                continue
            samples.append(count_sample(url, data, image, dets, tuple(det.labels), det.name))
            stats["images"] += 1
    return ShardResult(samples, stats)


def _plan(counts: dict[str, int], cfg: SplitConfig, seed: int) -> dict[str, str]:
    """Assign each candidate key to 'train', 'validation', 'test' (or nowhere)."""
    rng = np.random.default_rng([seed, 0xC0])
    by: dict[int, list[str]] = {}
    for key in sorted(counts):
        by.setdefault(counts[key], []).append(key)
    for v in by:
        rng.shuffle(by[v])
    plan: dict[str, str] = {}
    present = [v for v in EVAL_COUNTS if len(by.get(v, [])) >= 2]
    missing = [v for v in EVAL_COUNTS if v not in present]
    n_eval = min([cfg.eval_per_count] + [len(by[v]) // 2 for v in present]) if present else 0
    if missing:
        log.warning("count: counts %s have fewer than 2 candidates; validation/test leave them out", missing)
    for v in present:
        for i, key in enumerate(by[v][: 2 * n_eval]):
            plan[key] = "validation" if i < n_eval else "test"
    rest = {v: [k for k in by.get(v, []) if k not in plan] for v in TRAIN_COUNTS}
    sizes = sorted(len(ks) for ks in rest.values() if ks)
    cap = cfg.max_per_count or (sizes[(len(sizes) - 1) // 2] if sizes else 0)
    for ks in rest.values():
        for key in ks[:cap]:
            plan[key] = "train"
    return plan


def _eval_form(s: Sample) -> Sample:
    ann = s.annotations[0]
    rec: PixmoCount = ann.record  # type: ignore[assignment]
    meta = dict(ann.meta, detector_points={"x": rec.points.x, "y": rec.points.y}, needs_verification=True)
    empty = rec.model_copy(update={"points": CountPoints(x=[], y=[])})
    return Sample(image=s.image, annotations=[Annotation.of(empty, **meta)], image_url=s.image_url,
                  image_ext=s.image_ext, width=s.width, height=s.height, key=s.key)


def split_candidates(cand: str | Path, out: str | Path, cfg: SplitConfig, seed: int, per_shard: int,
                     exclude: frozenset[str] | set[str] = frozenset(), mode: str = "new") -> dict[str, Any]:
    """Write OUT/train, OUT/validation, OUT/test from the candidate shards (deterministic);
    candidates whose key is in ``exclude`` go nowhere."""
    import json

    from pixmo.shards import decode_sample

    counts = {}
    for key, members in iter_raw(cand):
        if key in exclude:
            continue
        counts[key] = envelope(json.loads(members["json"])["annotations"][0])[1]["count"]
    plan = _plan(counts, cfg, seed)
    config = dict(read_manifest(cand).get("config", {}), eval_per_count=cfg.eval_per_count,
                  max_per_count=cfg.max_per_count)
    writers = {sp: ShardWriter(Path(out) / sp, dataset="pixmo-count", split=sp, max_count=per_shard, config=config,
                               seed=seed, mode=mode) for sp in ("train", "validation", "test")}
    hist: dict[str, dict[int, int]] = {sp: {} for sp in writers}
    for key, members in iter_raw(cand):
        sp = plan.get(key)
        if sp is None:
            continue
        s = decode_sample(key, members)
        writers[sp].write(s if sp == "train" else _eval_form(s))
        hist[sp][counts[key]] = hist[sp].get(counts[key], 0) + 1
    for w in writers.values():
        w.close()
    return {sp: {"samples": sum(h.values()), "per_count": dict(sorted(h.items()))} for sp, h in hist.items()}
