"""Clock examples as pixmo-clocks records: ``make_example(index, config, seed)`` is the pure core.

Example ``i`` uses face ``i // examples_per_face`` (about 5 examples per face, as in PixMo-Clocks)
and a time drawn from its own seed, so what an example looks like does not depend on how the
run is split into shards or workers. A small per-process cache keeps the static layer of the
last faces, so each example only draws its hands and window texts.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from generators.clocks import augment as aug
from generators.clocks.render import ClockTime, Scene, build_layer, render
from generators.clocks.spec import FAMILY_NAMES, Draws, FaceSpec, sample_face
from generators.common import encode_jpeg
from generators.runner import ShardResult, ShardTask
from pixmo.formatting import CLOCK_PROMPT, clock_answer
from pixmo.records import PixmoClocks, clock_text
from pixmo.shards import Annotation, Sample

SPLITS = ("train", "validation", "test")
_START = dt.datetime(2020, 1, 1)
_SPAN_S = 6 * 365 * 24 * 3600


@dataclass(frozen=True)
class ClockConfig:
    """What the clocks depend on (fingerprinted per shard, in the manifest); ``RunOptions`` say how many."""

    size: int = 384  # canvas side in pixels
    examples_per_face: int = 5
    p_not_shown: float = 0.04  # examples whose face shows no time (hands or digits off)
    p_digital: float = 0.12  # faces drawn from the digital families
    families: tuple[str, ...] = ()  # restrict to these families (all when empty)
    jpeg_quality: int = 90
    augment: bool = False  # the section-5 training-time augmentation
    augment_cfg: aug.AugmentConfig = field(default_factory=aug.AugmentConfig)
    split: str = "train"  # part of every seed, so train and validation never share an example

    def __post_init__(self) -> None:
        bad = [f for f in self.families if f not in FAMILY_NAMES]
        if bad:
            raise ValueError(f"unknown clock families {bad}; choose from {', '.join(FAMILY_NAMES)}")
        if self.split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {self.split!r}")
        if self.size < 96:
            raise ValueError(f"size must be at least 96 px, got {self.size}")
        if self.examples_per_face < 1:
            raise ValueError(f"examples per face must be at least 1, got {self.examples_per_face}")
        for name in ("p_not_shown", "p_digital"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {getattr(self, name)}")
        if not 1 <= self.jpeg_quality <= 95:
            raise ValueError(f"jpeg_quality must be 1 to 95, got {self.jpeg_quality}")


def _family(rng: Draws, cfg: ClockConfig) -> str:
    if cfg.families:
        return cfg.families[int(rng.integers(len(cfg.families)))]
    pool = _DIGITAL if rng.random() < cfg.p_digital else _ANALOG
    return pool[int(rng.integers(len(pool)))]


_DIGITAL = tuple(f for f in FAMILY_NAMES if f.startswith("digital"))
_ANALOG = tuple(f for f in FAMILY_NAMES if f not in _DIGITAL)


def face_for(face_index: int, cfg: ClockConfig, seed: int) -> FaceSpec:
    rng = Draws(np.random.default_rng([seed, SPLITS.index(cfg.split), 0xFACE, face_index]))
    return sample_face(rng, _family(rng, cfg))


_LAYERS: OrderedDict[tuple[Any, ...], tuple[FaceSpec, tuple[np.ndarray, Any]]] = OrderedDict()


def face_and_layer(face_index: int, cfg: ClockConfig, seed: int) -> tuple[FaceSpec, tuple[np.ndarray, Any]]:
    """The face and its static layer, cached for the last few faces of this process."""
    key = (seed, face_index, cfg.size, cfg.families, cfg.p_digital, cfg.split)
    if key not in _LAYERS:
        face = face_for(face_index, cfg, seed)
        _LAYERS[key] = (face, build_layer(face, cfg.size, np.random.default_rng([seed, SPLITS.index(cfg.split), 0x1A7E, face_index])))
        while len(_LAYERS) > 8:
            _LAYERS.popitem(last=False)
    return _LAYERS[key]


def labels(face: FaceSpec, t: ClockTime, shown: bool) -> dict[str, Any]:
    """The visible-time fields of a pixmo-clocks record for this face and time."""
    if not shown:
        return dict(time_format="Time not shown", shows_seconds=False, hour_visible=-1, minute_visible=-1,
                    second_visible=-1, text="")
    if face.digital is not None:
        seconds = face.digital.seconds
        ampm = face.digital.h24 or face.ampm_window
    else:
        seconds = face.second is not None
        ampm = face.ampm_window or face.hybrid_digital
    hour = t.hour if ampm else t.hour % 12
    sec = t.second if seconds else -1
    return dict(time_format="With AM/PM" if ampm else "Without AM/PM", shows_seconds=seconds, hour_visible=hour,
                minute_visible=t.minute, second_visible=sec, text=clock_text(hour, t.minute, sec, ampm=ampm))


@dataclass
class Example:
    image: np.ndarray
    scene: Scene
    record: PixmoClocks
    face: FaceSpec
    time: ClockTime
    shown: bool


def _map_scene(scene: Scene, m: np.ndarray) -> None:
    from generators.clocks.geom import apply_h

    def mp(p: Any) -> tuple[float, float]:
        q = apply_h(m, np.array([p]))[0]
        return float(q[0]), float(q[1])

    scene.center = mp(scene.center)
    scene.homography = (m @ np.array(scene.homography)).tolist()
    for h in scene.hands:
        h.center, h.tip = mp(h.center), mp(h.tip)
        h.polygons = [[list(mp(p)) for p in poly] for poly in h.polygons]


def _draws(seed: int, split: int, index: int) -> tuple[int, int, float]:
    """An example's time (seconds into the span, microseconds 1..999999) and a uniform [0, 1) number
    for 'not shown', from a hash of its key: the same on every machine and far cheaper than a
    seeded numpy generator per example."""
    d = hashlib.blake2b(b"%d/%d/%d" % (seed, split, index), digest_size=24, person=b"pixmo-clocks").digest()
    a, b, c = (int.from_bytes(d[i:i + 8], "little") for i in (0, 8, 16))
    return a % _SPAN_S, 1 + b % 999_999, c / 2**64


def make_example(index: int, cfg: ClockConfig, seed: int, *, hands: bool = True) -> Example:
    """Example ``index``: image array, scene and record. ``hands=False`` leaves the hands out (tests)."""
    face_index, k = divmod(index, cfg.examples_per_face)
    face, layer = face_and_layer(face_index, cfg, seed)
    seconds, micros, u = _draws(seed, SPLITS.index(cfg.split), index)
    when = _START + dt.timedelta(seconds=seconds, microseconds=micros)
    t = ClockTime(when.hour, when.minute, when.second, when.day, when.weekday())
    shown = u >= cfg.p_not_shown
    arr, scene = render(face, layer, t, shown=shown, hands=hands)
    if cfg.augment:
        arr, m = aug.augment(arr, np.random.default_rng([seed, SPLITS.index(cfg.split), 0xC10C, index]), cfg.augment_cfg)
        _map_scene(scene, m)
    watch_time = f"{k:03d}_{when.year:04d}-{when.month:02d}-{when.day:02d}T{when.hour:02d}:{when.minute:02d}:{when.second:02d}"
    record = PixmoClocks(
        example_id=f"{face.face_id}/{k:03d}_{when.isoformat(timespec='microseconds')}_{face.name}",
        watchface_id=face.face_id, watchface_name=face.name, watch_time=watch_time, **labels(face, t, shown))
    return Example(arr, scene, record, face, t, shown)


def answer_for(rec: PixmoClocks) -> str:
    return clock_answer(rec.hour_visible, rec.minute_visible, rec.second_visible,
                        ampm=rec.time_format == "With AM/PM")


def _sample(index: int, ex: Example, cfg: ClockConfig) -> Sample:
    meta = {"family": ex.face.family, "index": index, "question": CLOCK_PROMPT, "answer": answer_for(ex.record),
            "scene": ex.scene.compact()}
    return Sample(image=encode_jpeg(ex.image, cfg.jpeg_quality), annotations=[Annotation.of(ex.record, **meta)],
                  image_ext="jpg", width=ex.image.shape[1], height=ex.image.shape[0])


def make_sample(index: int, cfg: ClockConfig, seed: int) -> Sample:
    return _sample(index, make_example(index, cfg, seed), cfg)


RENDER_BATCH_BYTES = 24 << 20  # pixels drawn before they are encoded (56 images at 384 px)


def make_samples(indices: Iterable[int], cfg: ClockConfig, seed: int, batch: int = 0) -> list[Sample]:
    """The samples of these example indices, the same as ``make_sample`` of each. Draws a batch of
    examples (``batch``, or as many as fit ``RENDER_BATCH_BYTES``), then JPEG-encodes them: the
    drawing code and its caches, then the encoder, each stay warm in the core's cache instead of
    evicting each other on every example (3-9% more clocks per second here, see benchmarks/README.md)."""
    idx, out = [int(i) for i in indices], []
    batch = batch or max(1, RENDER_BATCH_BYTES // (3 * cfg.size * cfg.size))
    for start in range(0, len(idx), batch):
        part = idx[start:start + batch]
        examples = [make_example(i, cfg, seed) for i in part]
        out += [_sample(i, ex, cfg) for i, ex in zip(part, examples, strict=True)]
    return out


def clock_shard(cfg: ClockConfig, task: ShardTask) -> ShardResult:
    """The runner's per-shard function: one sample per example index in the task."""
    import cv2

    cv2.setNumThreads(1)  # one worker per core; OpenCV's own threads would only compete
    samples = make_samples(task.items, cfg, task.seed)
    fams: dict[str, int] = {}
    for s in samples:
        fam = s.annotations[0].meta["family"]
        fams[fam] = fams.get(fam, 0) + 1
    not_shown = sum(s.annotations[0].record.time_format == "Time not shown" for s in samples)  # type: ignore[attr-defined]
    return ShardResult(samples, {"examples": len(samples), "time_not_shown": not_shown, "families": fams})
