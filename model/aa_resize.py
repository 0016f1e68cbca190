"""torch's CPU antialiased bilinear float32 resize, bit for bit, compiled with numba and fused with
the uint8 -> [0,1] conversion and the finishing step (docs/spec/molmo.md section 1.3.1).

The official Molmo preprocessor resizes with ``F.interpolate(x, mode="bilinear", antialias=True)``
on float32 pixels ``u8 / 255``. torch computes it as two separable passes, horizontal (the last
axis) then vertical, each output value being ``t0*w0`` followed by ``acc += t_k*w_k`` over the
taps, in float32. Three facts make an identical reimplementation possible:

- the taps and weights (:func:`taps`) follow torch's ``_compute_indices_min_size_weights_aa``
  with its mix of float and double arithmetic, reproduced step by step;
- each pass runs only when its size changes (both unchanged: a copy);
- the compiled kernel fuses some ``acc += t*w`` into one fused multiply-add (one rounding) and
  not others, depending on the build: in torch's AVX2 x86 wheel the steps are computed in chunks
  of four products rounded separately, the remainder as FMAs. :class:`Arithmetic` names such a
  pattern per pass; :func:`calibrated` finds the one this machine's torch uses by comparing
  against ``F.interpolate`` on probe images covering 1 to 47 taps, once per process, and returns
  ``None`` when no pattern matches (callers then use torch itself, so outputs stay identical).

The width pass reads the uint8 pixels and converts each row to ``float32(u) / 255`` (exactly
torch's division) as it goes; the height pass writes the resized content straight into a padded
canvas and finishes it there (clip to [0,1], then normalise with the CLIP mean/std or round to
uint8). numba is an optional dependency (the ``model`` extra installs it);
without it :func:`calibrated` returns ``None``.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import threading
from dataclasses import dataclass

import numpy as np

__all__ = ["Arithmetic", "available", "calibrated", "resize_into", "taps"]

F32, F64 = np.float32, np.float64


@functools.lru_cache(maxsize=1024)
def taps(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """torch's antialiased bilinear taps for one axis: (first index, tap count) per output as
    int64 [n_out], and float32 weights [n_out, max taps] (zero beyond each count).

    Types follow torch's float path: ``scale = float(n_in) / n_out`` in float32; the centre,
    support and the filter argument are computed in double from float32 operands and stored in
    float32; the weights are normalised by their float32 sum."""
    scale = F32(F32(n_in) / F32(n_out))
    support = scale if scale >= 1.0 else F32(1.0)
    invscale = F32(1.0 / F64(scale)) if scale >= 1.0 else F32(1.0)
    k_max = int(np.ceil(support)) * 2 + 1
    first = np.zeros(n_out, np.int64)
    size = np.zeros(n_out, np.int64)
    weights = np.zeros((n_out, k_max), np.float32)
    for i in range(n_out):
        center = F32(F64(scale) * (i + 0.5))
        lo = max(int(F64(F32(center - support)) + 0.5), 0)
        n = min(max(min(int(F64(F32(center + support)) + 0.5), n_in) - lo, 0), k_max)
        total = F32(0.0)
        for j in range(n):
            x = abs(F32((F64(F32(F32(j + lo) - center)) + 0.5) * F64(invscale)))
            w = F32(1.0 - F64(x)) if x < 1.0 else F32(0.0)
            weights[i, j] = w
            total = F32(total + w)
        if total != 0.0:
            weights[i, :n] = weights[i, :n] / total
        first[i], size[i] = lo, n
    return first, size, weights


@dataclass(frozen=True)
class Arithmetic:
    """Which accumulation steps of each pass are a separate multiply, then add (two roundings):
    for an output with n taps, the first ``chunk * ((n - 1) // chunk)`` of its n - 1 steps; the
    others are fused multiply-adds. ``chunk=0``: every step fused; ``chunk=1``: none."""

    horizontal: int
    vertical: int


CANDIDATES = (4, 0, 1, 2, 8, 16)  # torch's AVX2 x86 build first


def separate_steps(chunk: int, sizes: np.ndarray) -> np.ndarray:
    """Per output with ``sizes`` taps: how many leading steps are separate multiply-adds."""
    sizes = np.asarray(sizes, np.int64)
    return np.zeros_like(sizes) if chunk == 0 else chunk * ((sizes - 1).clip(0) // chunk)


def available() -> bool:
    """Whether numba can be imported (the ``model`` extra installs it)."""
    try:
        return importlib.util.find_spec("numba") is not None
    except (ImportError, ValueError, AttributeError):  # e.g. blocked with sys.modules["numba"] = None
        return False


@functools.cache
def _kernels():
    from model import aa_kernels  # compiles (or loads numba's on-disk cache) on first use

    return aa_kernels


FINISHES = {"normalize": 0, "round": 1}


def resize_into(image: np.ndarray, canvas: np.ndarray, box: tuple[int, int, int, int], arith: Arithmetic,
                finish: str, mean: np.ndarray | None = None, std: np.ndarray | None = None) -> None:
    """Resize uint8 RGB ``image`` [H, W, 3] into the box (top, left, h, w) of ``canvas``
    [Hc, Wc, 3] and fill the rest with the finished value of 0.

    Bit-identical to ``F.interpolate(u8 / 255, (h, w), mode="bilinear", antialias=True)`` clipped
    to [0, 1] (for the ``arith`` of this machine's torch, see :func:`calibrated`), then finished:
    ``"normalize"``: ``(x - mean) / std`` per channel into a float32 canvas (mean 0, std 1 when
    not given); ``"round"``: ``round(x * 255)`` (half to even) into a uint8 canvas."""
    H, W, C = image.shape
    top, left, h, w = box
    if C != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected a uint8 HxWx3 image, got {image.dtype} {image.shape}")
    if finish not in FINISHES:
        raise ValueError(f"finish must be one of {sorted(FINISHES)}, got {finish!r}")
    if canvas.ndim != 3 or canvas.shape[2] != C or not canvas.flags.c_contiguous:
        raise ValueError(f"the canvas must be a C-contiguous [Hc, Wc, {C}] array, got {canvas.shape}")
    image = np.ascontiguousarray(image)
    k, mode = _kernels(), FINISHES[finish]
    mean_ = np.zeros(C, np.float32) if mean is None else np.asarray(mean, np.float32)
    std_ = np.ones(C, np.float32) if std is None else np.asarray(std, np.float32)
    fy, ny, wy = taps(H, h) if H != h else (np.arange(h), np.ones(h, np.int64), np.ones((h, 1), np.float32))
    nf = separate_steps(arith.vertical, np.arange(wy.shape[1] + 1))
    tmp = _scratch_f32((H, w, C))
    if W != w:  # torch's first pass (the width), then the height, even when the height is unchanged
        offs, wts, nfh = _horizontal_plan(W, w, arith.horizontal)
        k.horizontal(image, offs, wts, nfh, tmp)
    else:  # float32(u) / 255, correctly rounded like torch's division
        np.divide(image, F32(255.0), out=tmp, dtype=np.float32)
    k.vertical(tmp, fy, ny, wy, nf, canvas, top, left, mean_, std_, mode)
    k.pad(canvas, top, left, h, w, mean_, std_, mode)


@functools.lru_cache(maxsize=256)
def _horizontal_plan(n_in: int, n_out: int, chunk: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The horizontal kernel's inputs: flat RGB row offsets of every output's taps and their
    weights, padded to one tap count (padding reads the last pixel with weight 0), and each
    output's number of separate multiply-add steps."""
    first, size, weights = taps(n_in, n_out)
    K = max(int(size.max()), 1)
    k = np.arange(K)
    offs = np.minimum(first[:, None] + k, n_in - 1) * 3
    wts = np.where(k < size[:, None], weights[:, :K], 0).astype(np.float32)
    return np.ascontiguousarray(offs), np.ascontiguousarray(wts), separate_steps(chunk, size)


_LOCAL = threading.local()


def _scratch_f32(shape: tuple[int, ...]) -> np.ndarray:
    """This thread's reusable float32 buffer for the horizontal pass (contents undefined)."""
    n = int(np.prod(shape))
    buf = getattr(_LOCAL, "tmp", None)
    if buf is None or buf.size < n:
        buf = np.empty(n, np.float32)
        _LOCAL.tmp = buf
    return buf[:n].reshape(shape)


_CAL_LOCK = threading.Lock()
_CAL: list[Arithmetic | None] = []
log = logging.getLogger(__name__)


def calibrated() -> Arithmetic | None:
    """The accumulation pattern of this machine's torch (found once per process, ~1 s with
    numba's cache warm), or ``None`` when numba is missing or no candidate reproduces
    ``F.interpolate`` exactly on the probes."""
    with _CAL_LOCK:
        if not _CAL:
            _CAL.append(_calibrate() if available() else None)
            if _CAL[0] is None:
                log.info("compiled resize unavailable (numba %s); using torch's F.interpolate",
                         "installed but no arithmetic matched torch" if available() else "not installed")
        return _CAL[0]


def _probes() -> list[tuple[np.ndarray, int, int]]:
    """Random images and output sizes: up- and downscaling, one axis or both, 1 to 47 taps."""
    rng = np.random.default_rng(1234)
    sizes = [(61, 97, 64, 120), (90, 140, 47, 71), (120, 150, 33, 37), (160, 240, 23, 29),
             (300, 200, 21, 13), (96, 64, 96, 40), (50, 400, 50, 30), (64, 96, 40, 96), (400, 50, 30, 50),
             (33, 40, 100, 50)]
    return [(rng.integers(0, 256, (H, W, 3), dtype=np.uint8), h, w) for H, W, h, w in sizes]


def torch_resize(image: np.ndarray, h: int, w: int) -> np.ndarray:
    """The reference: torch's antialiased float resize of ``u8 / 255``, clipped, as [h, w, 3]."""
    import torch
    import torch.nn.functional as F

    x = torch.from_numpy(image).permute(2, 0, 1).to(torch.float32).div_(255.0)[None]
    y = F.interpolate(x, size=(h, w), mode="bilinear", antialias=True, align_corners=False)
    return y.clamp_(0.0, 1.0)[0].permute(1, 2, 0).contiguous().numpy()


def _matches(arith: Arithmetic, cases: list[tuple[np.ndarray, int, int, np.ndarray]]) -> bool:
    for im, h, w, ref in cases:
        out = np.empty((h, w, 3), np.float32)
        resize_into(im, out, (0, 0, h, w), arith, "normalize")
        if not np.array_equal(out, ref):
            return False
    return True


def _calibrate() -> Arithmetic | None:
    cases = [(im, h, w, torch_resize(im, h, w)) for im, h, w in _probes()]
    width_only = [c for c in cases if c[0].shape[0] == c[1]]
    for hc in CANDIDATES:  # the horizontal pattern alone first, on probes that keep the height
        if _matches(Arithmetic(hc, 0), width_only):
            for vc in CANDIDATES:
                if _matches(Arithmetic(hc, vc), cases):
                    return Arithmetic(hc, vc)
    return None
