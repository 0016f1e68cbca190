"""Molmo image preprocessing in vectorised torch (docs/spec/molmo.md section 1), no TensorFlow.

Two paths share one implementation:

- ``MolmoImageProcessor.preprocess(image)``: the reference API, float32 crops normalised with the
  CLIP mean/std ``[n_crops, 576, 588]``, ``image_tokens``, ``image_input_idx`` (-100 = dropped)
  and ``image_masks``.
- ``MolmoImageProcessor(image)`` / ``.batch(images)``: the fast path used for training batches.
  Crops stay uint8 (the resize runs in float32 on [0,1] as the reference does, then the values are
  rounded to uint8) and the model normalises them on the device (:func:`normalize_crops`).
  With ``uint8_resize=True`` torch resizes the uint8 pixels directly (faster, within 1-2 levels)
  and ``batch`` resizes images of the same size in one call.

Both float paths resize with :mod:`model.aa_resize` (torch's antialiased float resize reproduced
bit for bit, compiled with numba and fused with conversion, clipping, normalisation and padding)
when numba is installed and its arithmetic has been matched against this machine's torch; otherwise,
and for images whose resized side is 1 px, with ``F.interpolate`` itself. Either way the output is
the same; ``exact_resize=False`` forces torch's.

Geometry comes from :class:`PreprocessConfig`; everything that depends only on the tiling is
cached in :mod:`model.tiling`.
"""

from __future__ import annotations

import functools
import threading
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from model import aa_resize
from model.tiling import (
    Layout,
    PreprocessConfig,
    canvas_size,
    layout,
    resized_size,
    select_tiling,
    tiling_for,
    token_counts,
)

__all__ = [
    "MolmoImageProcessor",
    "PreprocessConfig",
    "load_image",
    "normalize_crops",
    "resize_and_pad",
    "select_tiling",
    "token_counts",
]


def load_image(data: bytes | str) -> np.ndarray:
    """Decode image bytes (or a path) to uint8 HxWx3 RGB, rotated by its EXIF tag (docs/spec/molmo.md 1.2).

    ``pixmo.images.decode_array``: the displayed frame that shard sizes and points use; a truncated
    or corrupt image raises ``pixmo.images.ImageError`` instead of training on half a picture."""
    from pixmo import images

    return images.decode_array(bytes(data) if isinstance(data, bytes | bytearray) else images.read_bytes(data))


def resize_and_pad(x: torch.Tensor, out_h: int, out_w: int, finish=None, scratch: bool = False
                   ) -> tuple[torch.Tensor, tuple[int, int, int, int]]:
    """Aspect-preserving resize of [B,3,H,W] (float on [0,1], or uint8) into a padded canvas.

    Bilinear with antialias, clipped to [0,1] for floats; truncated sizes; centre padding with the
    remainder at the bottom/right. ``finish`` (e.g. normalisation or rounding to uint8) is applied
    in place to the resized pixels, channels last and contiguous [B,h,w,3], and to the pad value 0
    [1,1,1,3] before they are placed, so only real pixels are transformed. Returns the canvas
    [B, out_h, out_w, 3] (channels last, contiguous) and the content box (top, left, h, w).
    With ``scratch=True`` the canvas is this thread's reusable buffer (see :func:`_scratch`): valid
    until the next call, so the caller must copy out of it.
    """
    B, C, H, W = x.shape
    h, w = resized_size(H, W, out_h, out_w)
    y = F.interpolate(x, size=(h, w), mode="bilinear", antialias=True, align_corners=False)
    if y.is_floating_point():
        y = y.clamp_(0.0, 1.0)
    z = y.permute(0, 2, 3, 1)  # a view: channels last in memory or not, finish works on either
    pad = x.new_zeros(1, 1, 1, C)
    if finish is not None:
        z, pad = finish(z), finish(pad)
    top, left = (out_h - h) // 2, (out_w - w) // 2
    shape = (B, out_h, out_w, C)
    canvas = _scratch("canvas", shape, z.dtype) if scratch else z.new_empty(shape)
    canvas[:, :top], canvas[:, top + h:] = pad, pad
    canvas[:, top:top + h, :left], canvas[:, top:top + h, left + w:] = pad, pad
    canvas[:, top:top + h, left:left + w] = z
    return canvas, (top, left, h, w)


def _normalizer(mean: tuple[float, ...], std: tuple[float, ...]):
    """In-place ``(x - mean) / std`` per channel of a contiguous [..., w, C] tensor, as the official
    ``_normalize`` does it (subtract, then divide: the same two float32 roundings). Rows are
    flattened to w*C values against a tiled mean/std, so the inner loop is long and vectorised
    (broadcasting over an innermost axis of 3 is about 20x slower)."""
    m, s = torch.tensor(mean, dtype=torch.float32), torch.tensor(std, dtype=torch.float32)

    def finish(t: torch.Tensor) -> torch.Tensor:
        w, c = t.shape[-2:]
        if t.is_contiguous():  # channels innermost in memory: long rows against a tiled mean/std
            t.view(-1, w * c).sub_(m.repeat(w)).div_(s.repeat(w))
        else:  # a permuted channels-first tensor: torch loops over each channel's contiguous plane
            t.sub_(m).div_(s)
        return t

    return finish


_SCRATCH = threading.local()


def _scratch(slot: str, shape: tuple[int, ...], dtype: torch.dtype) -> torch.Tensor:
    """A contiguous tensor of ``shape`` over a buffer this thread keeps per (slot, dtype) and grows
    when needed. Freshly allocated multi-megabyte tensors cost their page faults on every image
    (about as much CPU as the rest of the work besides the resize); reused ones do not. Contents
    are undefined: the caller overwrites all of it."""
    n = int(np.prod(shape))
    key = f"{slot}_{dtype}"
    buf = getattr(_SCRATCH, key, None)
    if buf is None or buf.numel() < n:
        buf = torch.empty(n, dtype=dtype)
        setattr(_SCRATCH, key, buf)
    return buf[:n].view(shape)


def _new_output(shape: tuple[int, ...], dtype: torch.dtype) -> torch.Tensor:
    """A fresh tensor for crops handed to the caller, allocated by numpy: numpy asks the kernel for
    transparent huge pages on large arrays, torch's CPU allocator does not, and on a machine with
    THP in "madvise" mode the first touch of a 17.6 MB float32 output then costs ~1.4 ms instead
    of ~9 ms of 4 KB page faults (the official preprocessor's outputs are numpy arrays too)."""
    return torch.from_numpy(np.empty(shape, torch.empty((), dtype=dtype).numpy().dtype))


def _crops_into(out: torch.Tensor, canvas: torch.Tensor, grid: tuple[int, int], stride: int, patch: int) -> None:
    """Copy the crops of a contiguous canvas [B, Hc, Wc, C] into ``out`` [B, rows*cols, P*P, p*p*C].

    Crop (i, j) is the square at (stride*i, stride*j) with P*p pixels a side; its patches are
    row-major and a patch's values are ordered (dy, dx, c). The crops are read through one strided
    view of the canvas, so the whole cut is a single copy (no intermediate patch grid).
    """
    B, Hc, Wc, C = canvas.shape
    P = int(round(out.shape[2] ** 0.5))
    sb, sy, sx = Hc * Wc * C, Wc * C, C
    view = canvas.as_strided((B, grid[0], grid[1], P, P, patch, patch, C),
                             (sb, stride * sy, stride * sx, patch * sy, patch * sx, sy, sx, 1))
    out.view(B, grid[0], grid[1], P, P, patch, patch, C).copy_(view)


@functools.lru_cache(maxsize=4096)
def _patch_fractions(size: int, start: int, length: int, patch: int) -> np.ndarray:
    """Per-patch count of content pixels along one axis of a canvas (content in [start, start+length))."""
    lo = np.arange(0, size, patch)
    return np.clip(np.minimum(lo + patch, start + length) - np.maximum(lo, start), 0, patch).astype(np.float64)


def _crop_masks(cfg: PreprocessConfig, tiling: tuple[int, int], canvas: tuple[int, int],
                box: tuple[int, int, int, int]) -> np.ndarray:
    """Real-content fraction per patch of every high-res crop, [n_crops-1, patches_per_crop]."""
    p, P, S = cfg.patch_size, cfg.crop_patches, cfg.window_patches
    top, left, h, w = box
    fy = _patch_fractions(canvas[0], top, h, p)
    fx = _patch_fractions(canvas[1], left, w, p)
    out = []
    for i in range(tiling[0]):
        for j in range(tiling[1]):
            m = np.outer(fy[i * S:i * S + P], fx[j * S:j * S + P]) / (p * p)
            out.append(m.reshape(-1))
    return np.stack(out).astype(np.float32)


def _global_mask(cfg: PreprocessConfig, box: tuple[int, int, int, int]) -> np.ndarray:
    p, s = cfg.patch_size, cfg.crop_size
    top, left, h, w = box
    m = np.outer(_patch_fractions(s, top, h, p), _patch_fractions(s, left, w, p)) / (p * p)
    return m.reshape(1, -1).astype(np.float32)


def normalize_crops(images: torch.Tensor, cfg: PreprocessConfig | None = None) -> torch.Tensor:
    """uint8 crops [..., patches, 588] -> float32 normalised with the CLIP mean/std, per channel.

    Patch values are ordered (dy, dx, c), so the channel is the fastest axis. Padded pixels (0)
    become (0 - mean) / std exactly as in the reference.
    """
    cfg = cfg or PreprocessConfig()
    mean = torch.tensor(cfg.mean, dtype=torch.float32, device=images.device)
    std = torch.tensor(cfg.std, dtype=torch.float32, device=images.device)
    x = images.to(torch.float32).unflatten(-1, (-1, 3)) / 255.0
    return ((x - mean) / std).flatten(-2)


def _to_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 [B,H,W,3] -> float32 [B,3,H,W] on [0,1], contiguous (this thread's scratch buffer,
    valid until the next call): one transposing conversion and an in-place divide. torch's float
    antialiased resize needs about 25 % less CPU on contiguous NCHW than on channels-last input,
    with bit-identical results (but see ``MolmoImageProcessor.preprocess`` for 1 px wide results)."""
    B, H, W, C = images.shape
    return _scratch("input", (B, C, H, W), torch.float32).copy_(images.permute(0, 3, 1, 2)).div_(255.0)


class MolmoImageProcessor:
    """Overlap-and-resize multi-crop preprocessing for Molmo.

    ``MolmoImageProcessor(max_crops=12)`` reproduces the released Molmo-7B-D processor; pass
    ``config=PreprocessConfig.tiny()`` (or any geometry) for small models. ``mask_shift=False``
    gives the fixed padding masks instead of the reference's one-crop shift.
    """

    def __init__(self, max_crops: int | None = None, *, config: PreprocessConfig | None = None,
                 uint8_resize: bool = False, exact_resize: bool = True, **overrides: Any):
        from dataclasses import replace

        self.uint8_resize = uint8_resize
        self.exact_resize = exact_resize
        cfg = config or PreprocessConfig()
        if max_crops is not None:
            overrides["max_crops"] = max_crops
        self.config = replace(cfg, **overrides) if overrides else cfg

    # --- geometry -------------------------------------------------------------------------
    def tiling(self, height: int, width: int) -> tuple[int, int]:
        return tiling_for(self.config, height, width)

    def layout(self, height: int, width: int) -> Layout:
        return layout(self.config, self.tiling(height, width))

    # --- core -----------------------------------------------------------------------------
    def _crops(self, images: torch.Tensor, finish) -> tuple[torch.Tensor, np.ndarray, Layout]:
        """Images [B,3,H,W] of one size -> crops [B,N,P*P,588], masks [N,P*P], layout (torch's
        resize; ``finish`` normalises or rounds to uint8)."""
        H, W = images.shape[-2:]
        return self._cut(images.shape[0], H, W,
                         lambda oh, ow: resize_and_pad(images, oh, ow, finish, scratch=True))

    def _crops_exact(self, image: np.ndarray, arith, finish: str) -> tuple[torch.Tensor, np.ndarray, Layout]:
        """One uint8 HxWx3 image -> crops, masks, layout with the compiled resize of
        :mod:`model.aa_resize` (identical to torch's float resize; ``finish``: "normalize" or "round")."""
        H, W = image.shape[:2]
        dtype = torch.float32 if finish == "normalize" else torch.uint8
        mean, std = np.asarray(self.config.mean, np.float32), np.asarray(self.config.std, np.float32)

        def resize(out_h: int, out_w: int) -> tuple[torch.Tensor, tuple[int, int, int, int]]:
            h, w = resized_size(H, W, out_h, out_w)
            box = ((out_h - h) // 2, (out_w - w) // 2, h, w)
            canvas = _scratch("canvas", (1, out_h, out_w, 3), dtype)
            aa_resize.resize_into(image, canvas[0].numpy(), box, arith, finish, mean, std)
            return canvas, box

        return self._cut(1, H, W, resize)

    def _cut(self, batch: int, H: int, W: int, resize) -> tuple[torch.Tensor, np.ndarray, Layout]:
        """Both canvases (high-res and global) from ``resize(out_h, out_w) -> (canvas, box)``,
        resized, finished and padded, then cut into patches and crops."""
        cfg = self.config
        tiling = self.tiling(H, W)
        lay = layout(cfg, tiling)
        ch, cw = canvas_size(cfg, tiling)
        p, S = cfg.patch_size, cfg.crop_size
        canvas, box = resize(ch, cw)
        crops = _new_output((batch, lay.n_crops, cfg.patches_per_crop, cfg.pixels_per_patch), canvas.dtype)
        _crops_into(crops[:, 1:], canvas, tiling, cfg.window_size, p)
        del canvas
        glob, gbox = resize(S, S)  # reuses the canvas buffer: the crops above are copied out
        _crops_into(crops[:, :1], glob, (1, 1), S, p)
        masks = _crop_masks(cfg, tiling, (ch, cw), box)
        if cfg.mask_shift:  # reference quirk: masks of high-res crops, then one -1 row (docs/spec/molmo.md 1.7)
            masks = np.concatenate([masks, np.full((1, masks.shape[1]), -1.0, np.float32)])
        else:
            masks = np.concatenate([_global_mask(cfg, gbox), masks])
        return crops, masks, lay

    def _outputs(self, crops: torch.Tensor | np.ndarray, masks: np.ndarray, lay: Layout) -> dict[str, Any]:
        return {
            "images": crops,
            "image_tokens": np.array(lay.image_tokens),
            "image_input_idx": np.array(lay.image_input_idx),
            "image_masks": masks.copy(),
            "tiling": lay.tiling,
        }

    def preprocess(self, image: np.ndarray) -> dict[str, Any]:
        """Reference output for one HxWx3 uint8 image: float32 normalised crops [n_crops, 576, 588],
        bit-identical to the official preprocessor's (``resize_method="torch-bilinear"``)."""
        image = _check_image(image)
        u8 = torch.from_numpy(image)
        H, W = image.shape[:2]
        if self._thin(H, W):
            # a 1 px wide (or high) resize: torch's result then depends on the input's strides, so
            # build the official tensor exactly (permuted HxWx3, then unsqueezed)
            x = u8.permute(2, 0, 1).to(torch.float32).div_(255.0)[None]
        elif (arith := self._exact()) is not None:
            crops, masks, lay = self._crops_exact(image, arith, "normalize")
            return self._outputs(crops[0].numpy(), masks, lay)
        else:
            x = _to_float(u8[None])
        crops, masks, lay = self._crops(x, _normalizer(self.config.mean, self.config.std))
        return self._outputs(crops[0].numpy(), masks, lay)

    def _thin(self, H: int, W: int) -> bool:
        S, (ch, cw) = self.config.crop_size, canvas_size(self.config, self.tiling(H, W))
        return 1 in resized_size(H, W, ch, cw) + resized_size(H, W, S, S)

    def _exact(self):
        """The compiled resize's arithmetic when it is usable for this processor (RGB, numba
        installed, calibrated against this machine's torch), else ``None`` (torch's resize)."""
        return aa_resize.calibrated() if self.exact_resize else None

    def __call__(self, image: np.ndarray) -> dict[str, Any]:
        """Fast path for one image: uint8 crops (torch) [n_crops, 576, 588], not normalised."""
        return self.batch([image])[0]

    def batch(self, images: list[np.ndarray]) -> list[dict[str, Any]]:
        """Fast path for many images (with ``uint8_resize``, images of one size share one resize call).

        The resize runs in float32 on [0,1] (the reference's numerics) and the canvases are rounded
        to uint8; with ``uint8_resize=True`` torch resizes the uint8 pixels directly (several times
        faster, values within a level or two of the float path).
        """
        groups: dict[tuple[int, int], list[int]] = {}
        for i, im in enumerate(images):
            groups.setdefault(_check_image(im).shape[:2], []).append(i)
        out: list[dict[str, Any]] = [{}] * len(images)
        # float32 canvases of several images do not fit in cache: on CPU they are resized one by one
        chunks = [c for idxs in groups.values()
                  for c in ([idxs] if self.uint8_resize else [[i] for i in idxs])]
        for idxs in chunks:  # without uint8_resize each chunk is one image
            if self.uint8_resize:  # channels-last uint8 takes torch's vectorised path
                u8 = torch.from_numpy(np.stack([images[i] for i in idxs]))
                crops, masks, lay = self._crops(u8.permute(0, 3, 1, 2), None)
            elif (arith := self._exact()) is not None and not self._thin(*images[idxs[0]].shape[:2]):
                crops, masks, lay = self._crops_exact(np.ascontiguousarray(images[idxs[0]]), arith, "round")
            else:
                crops, masks, lay = self._crops(_to_float(torch.from_numpy(np.stack([images[idxs[0]]]))), _round_u8)
            for k, i in enumerate(idxs):
                out[i] = self._outputs(crops[k], masks, lay)
        return out


def _round_u8(x: torch.Tensor) -> torch.Tensor:
    # in place: resize_and_pad hands ``finish`` tensors it owns (the resized pixels, the pad value)
    return x.mul_(255.0).round_().to(torch.uint8)


def _check_image(image: np.ndarray) -> np.ndarray:
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3:
        shape = getattr(image, "shape", None)
        raise ValueError(f"expected an HxWx3 uint8 array, got {type(image).__name__} with shape {shape}")
    if image.dtype != np.uint8:
        raise ValueError(f"expected uint8 pixels, got {image.dtype}")
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise ValueError(f"empty image of shape {image.shape}")
    return np.ascontiguousarray(image)
