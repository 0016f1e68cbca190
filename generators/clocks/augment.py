"""The training-time augmentation of PixMo-Clocks (docs/spec/pixmo_data.md section 5, MolmoAct ``PixMoClocks``).

Optional bottom-strip crop with white padding, a random rotation and scale on a white canvas,
a crop to the content, random white padding (up to 2x) to move the clock off-centre, and mild
colour jitter. Returns the new image and the 3x3 matrix that maps old pixels to new ones, so the
scene description stays true.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

WHITE = (255, 255, 255)


@dataclass(frozen=True)
class AugmentConfig:
    strip: int = 0  # px of black strip to crop off the bottom (120 for facer.io renders)
    strip_pad: int = 200  # px of white added below after the strip crop
    scale: tuple[float, float] = (0.3, 1.0)  # the reference also uses 0.3-2
    hue: float = 0.05
    brightness: tuple[float, float] = (0.85, 1.2)
    saturation: tuple[float, float] = (0.8, 1.2)
    contrast: tuple[float, float] = (0.8, 1.2)

    def __post_init__(self) -> None:
        if self.strip < 0 or self.strip_pad < 0:
            raise ValueError(f"strip and strip_pad must be >= 0, got {self.strip}, {self.strip_pad}")
        if not 0 <= self.hue <= 0.5:
            raise ValueError(f"hue must be between 0 and 0.5, got {self.hue}")
        for name in ("scale", "brightness", "saturation", "contrast"):
            lo, hi = getattr(self, name)
            if not 0 < lo <= hi:
                raise ValueError(f"{name} must be a range 0 < low <= high, got {(lo, hi)}")


def rotation_degrees(rng: np.random.Generator) -> float:
    """10% upright, 40% within +-25 degrees, the rest within +-25, +-80 or +-180."""
    p = rng.random()
    if p < 0.1:
        return 0.0
    limit = 25.0 if p < 0.5 else float(rng.choice([25.0, 80.0, 180.0]))
    return float(rng.uniform(-limit, limit))


def _jitter(arr: np.ndarray, rng: np.random.Generator, cfg: AugmentConfig) -> np.ndarray:
    hsv = cv2.cvtColor(arr, cv2.COLOR_RGB2HSV).astype(np.float32)
    hsv[..., 0] = (hsv[..., 0] + rng.uniform(-cfg.hue, cfg.hue) * 180) % 180
    hsv[..., 1] *= rng.uniform(*cfg.saturation)
    hsv[..., 2] *= rng.uniform(*cfg.brightness)
    out = cv2.cvtColor(np.clip(hsv, 0, 255).astype(np.uint8), cv2.COLOR_HSV2RGB).astype(np.float32)
    mean = out.mean()
    out = (out - mean) * rng.uniform(*cfg.contrast) + mean
    return np.clip(out, 0, 255).astype(np.uint8)


def augment(arr: np.ndarray, rng: np.random.Generator, cfg: AugmentConfig = AugmentConfig()) -> tuple[np.ndarray, np.ndarray]:
    m = np.eye(3)
    if cfg.strip > 0:
        arr = arr[: arr.shape[0] - cfg.strip]
        arr = cv2.copyMakeBorder(arr, 0, cfg.strip_pad, 0, 0, cv2.BORDER_CONSTANT, value=WHITE)
    h, w = arr.shape[:2]
    rot = cv2.getRotationMatrix2D((w / 2, h / 2), rotation_degrees(rng), rng.uniform(*cfg.scale))
    corners = np.array([[0, 0, 1], [w, 0, 1], [w, h, 1], [0, h, 1]], float) @ rot.T
    lo, hi = corners.min(0), corners.max(0)
    rot[:, 2] -= lo
    size = (max(1, math.ceil(hi[0] - lo[0])), max(1, math.ceil(hi[1] - lo[1])))
    arr = cv2.warpAffine(arr, rot, size, flags=cv2.INTER_LINEAR, borderValue=WHITE)
    m = np.vstack([rot, [0, 0, 1]]) @ m
    ys, xs = np.nonzero((arr < 250).any(axis=2))
    if len(xs):
        x0, y0, x1, y1 = xs.min(), ys.min(), xs.max() + 1, ys.max() + 1
        arr = arr[y0:y1, x0:x1]
        m = np.array([[1, 0, -x0], [0, 1, -y0], [0, 0, 1]], float) @ m
    h, w = arr.shape[:2]
    nw, nh = int(w * rng.uniform(1.0, 2.0)), int(h * rng.uniform(1.0, 2.0))
    left, top = int(rng.integers(0, nw - w + 1)), int(rng.integers(0, nh - h + 1))
    arr = cv2.copyMakeBorder(arr, top, nh - h - top, left, nw - w - left, cv2.BORDER_CONSTANT, value=WHITE)
    m = np.array([[1, 0, left], [0, 1, top], [0, 0, 1]], float) @ m
    return _jitter(arr, rng, cfg), m
