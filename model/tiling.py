"""Multi-crop geometry of Molmo's "overlap-and-resize-c2" mode (docs/spec/molmo.md 1.4-1.8, 2).

Pure numpy, no pixels: tiling selection, the kept pooled cells of every crop, the image token
block and ``image_input_idx``. Everything that depends only on (rows, cols) is cached, so the
per-image work is a resize and a few tensor views.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np

# Qwen2 ids of docs/spec/molmo.md section 2 (the released Molmo-7B-D / 72B tokenizer).
QWEN2_IM_START, QWEN2_IM_END, QWEN2_IM_PATCH, QWEN2_IM_COL, QWEN2_IMAGE_PROMPT = 152064, 152065, 152066, 152067, 152068
QWEN2_EOS = 151643


@dataclass(frozen=True)
class PreprocessConfig:
    """Image geometry and special ids. Defaults are the released Molmo-7B-D settings.

    ``tiny()`` gives a laptop-CPU geometry (56 px crops of 4x4 patches, 2x2 tokens per crop).
    """

    crop_size: int = 336  # base_image_input_size (square crops)
    patch_size: int = 14
    pooling: int = 2  # 2x2 pooling -> 12x12 tokens per 336 px crop
    overlap_margins: tuple[int, int] = (4, 4)  # patches dropped (left/top, right/bottom) of inner crops
    max_crops: int = 12
    mask_shift: bool = True  # reference one-crop image-mask shift (what released weights expect)
    use_col_tokens: bool = True
    image_start_id: int = QWEN2_IM_START
    image_end_id: int = QWEN2_IM_END
    image_patch_id: int = QWEN2_IM_PATCH
    image_col_id: int = QWEN2_IM_COL
    image_prompt_id: int = QWEN2_IMAGE_PROMPT
    mean: tuple[float, float, float] = (0.48145466, 0.4578275, 0.40821073)  # OpenAI CLIP
    std: tuple[float, float, float] = (0.26862954, 0.26130258, 0.27577711)
    base_image_input_size: tuple[int, int] | None = None  # reference name; sets crop_size when given

    def __post_init__(self) -> None:
        if self.base_image_input_size is not None:
            h, w = self.base_image_input_size
            if h != w:
                raise ValueError(f"only square crops are supported, got base_image_input_size={(h, w)}")
            object.__setattr__(self, "crop_size", int(h))
        object.__setattr__(self, "base_image_input_size", (self.crop_size, self.crop_size))
        for name in ("overlap_margins", "mean", "std"):  # hashable: configs key the layout caches
            object.__setattr__(self, name, tuple(getattr(self, name)))
        if min(self.crop_size, self.patch_size, self.pooling) < 1:
            raise ValueError(f"crop_size, patch_size and pooling must be >= 1, got {self.crop_size}, "
                             f"{self.patch_size}, {self.pooling}")
        if self.crop_size % self.patch_size:
            raise ValueError(f"crop_size {self.crop_size} is not a multiple of patch_size {self.patch_size}")
        lm, rm = self.overlap_margins
        if lm % self.pooling or lm < 0 or rm < 0:
            raise ValueError(f"overlap_margins {self.overlap_margins}: left margin must be a non-negative "
                             f"multiple of pooling {self.pooling}")
        if self.window_patches <= 0:
            raise ValueError(f"overlap_margins {self.overlap_margins} leave no window in a {self.crop_patches}-patch crop")
        if self.max_crops < 1:
            raise ValueError(f"max_crops must be >= 1, got {self.max_crops}")

    @classmethod
    def tiny(cls, **kw) -> PreprocessConfig:
        base: dict[str, Any] = dict(crop_size=56, patch_size=14, pooling=2, overlap_margins=(0, 0), max_crops=4)
        base.update(kw)
        return cls(**base)

    def with_tokens(self, tok) -> PreprocessConfig:
        """A copy using the special ids of a MolmoTokenizer."""
        from dataclasses import replace

        return replace(self, image_start_id=tok.image_start_id, image_end_id=tok.image_end_id,
                       image_patch_id=tok.image_patch_id, image_col_id=tok.image_col_id,
                       image_prompt_id=tok.image_prompt_id)

    @property
    def crop_patches(self) -> int:  # patches per crop side (24)
        return self.crop_size // self.patch_size

    @property
    def tokens_side(self) -> int:  # pooled tokens per crop side (12)
        return (self.crop_patches + self.pooling - 1) // self.pooling

    @property
    def tokens_per_crop(self) -> int:  # 144
        return self.tokens_side**2

    @property
    def patches_per_crop(self) -> int:  # 576
        return self.crop_patches**2

    @property
    def pixels_per_patch(self) -> int:  # 588
        return self.patch_size * self.patch_size * 3

    @property
    def window_patches(self) -> int:  # 16
        return self.crop_patches - sum(self.overlap_margins)

    @property
    def window_size(self) -> int:  # 224 px
        return self.window_patches * self.patch_size

    @property
    def margin_pixels(self) -> int:  # 112 px
        return sum(self.overlap_margins) * self.patch_size


def select_tiling(h: float, w: float, window: int, max_crops: int) -> tuple[int, int]:
    """(rows, cols) for an image of h x w (margins already removed) and tiles of ``window`` px.

    Candidates (i, j) with i*j <= max_crops are sorted by (i*j, i). If every candidate must
    downscale, the largest scale wins; otherwise the smallest scale >= 1 (ties: sort order).
    """
    return _select_tiling(float(h), float(w), int(window), int(max_crops))


@functools.lru_cache(maxsize=4096)
def _select_tiling(h: float, w: float, window: int, max_crops: int) -> tuple[int, int]:
    cands = _candidates(max_crops)
    size = np.array([h, w], dtype=np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = (cands.astype(np.float32) * window / size).min(axis=1)
    if np.all(scale < 1):
        ix = int(np.argmax(scale))
    else:
        ix = int(np.argmin(np.where(scale < 1.0, 1e10, scale)))
    return int(cands[ix, 0]), int(cands[ix, 1])


@functools.lru_cache(maxsize=64)
def _candidates(max_crops: int) -> np.ndarray:
    t = [(i, j) for i in range(1, max_crops + 1) for j in range(1, max_crops + 1) if i * j <= max_crops]
    t.sort(key=lambda x: (x[0] * x[1], x[0]))
    return np.array(t, dtype=np.int64)


def tiling_for(cfg: PreprocessConfig, height: int, width: int) -> tuple[int, int]:
    return select_tiling(height - cfg.margin_pixels, width - cfg.margin_pixels, cfg.window_size, cfg.max_crops)


def canvas_size(cfg: PreprocessConfig, tiling: tuple[int, int]) -> tuple[int, int]:
    """(H, W) in pixels of the high-res canvas the image is resized and padded into."""
    return tiling[0] * cfg.window_size + cfg.margin_pixels, tiling[1] * cfg.window_size + cfg.margin_pixels


def _kept_span(cfg: PreprocessConfig, i: int, n: int) -> tuple[int, int]:
    """(first pooled row, number of pooled rows) kept by crop row ``i`` of ``n``."""
    lm, rm = cfg.overlap_margins
    size = cfg.window_patches + (lm if i == 0 else 0) + (rm if i == n - 1 else 0)
    start = 0 if i == 0 else lm // cfg.pooling
    return start, (size + cfg.pooling - 1) // cfg.pooling


@dataclass(frozen=True)
class Layout:
    """Everything about one (rows, cols) tiling that does not depend on pixels."""

    tiling: tuple[int, int]
    image_tokens: np.ndarray  # int64 [n_tokens]: low-res block then high-res block
    image_input_idx: np.ndarray  # int64 [n_crops, tokens_per_crop] into image_tokens, -100 dropped
    grid: tuple[int, int]  # pooled rows, cols of the stitched high-res grid

    @property
    def n_crops(self) -> int:
        return self.tiling[0] * self.tiling[1] + 1


def _block(cfg: PreprocessConfig, rows: int, cols: int) -> tuple[np.ndarray, np.ndarray]:
    """Token block ``<im_start> rows x ([<im_patch>]*cols [<im_col>]) <im_end>`` and its patch positions."""
    row = [cfg.image_patch_id] * cols + ([cfg.image_col_id] if cfg.use_col_tokens else [])
    toks = np.array([cfg.image_start_id] + row * rows + [cfg.image_end_id], dtype=np.int64)
    return toks, np.flatnonzero(toks == cfg.image_patch_id)


@functools.lru_cache(maxsize=1024)
def layout(cfg: PreprocessConfig, tiling: tuple[int, int]) -> Layout:
    """Token block and feature positions of a tiling (cached per config and (rows, cols))."""
    r, c = tiling
    t = cfg.tokens_side
    low_toks, low_pos = _block(cfg, t, t)
    row_spans = [_kept_span(cfg, i, r) for i in range(r)]
    col_spans = [_kept_span(cfg, j, c) for j in range(c)]
    R, C = sum(n for _, n in row_spans), sum(n for _, n in col_spans)
    high_toks, high_pos = _block(cfg, R, C)
    high_pos = high_pos + len(low_toks)
    idx = np.full((r * c + 1, t, t), -100, dtype=np.int64)
    idx[0] = low_pos.reshape(t, t)
    g_row = 0
    for i, (y0, ny) in enumerate(row_spans):
        g_col = 0
        for j, (x0, nx) in enumerate(col_spans):
            ranks = (g_row + np.arange(ny))[:, None] * C + (g_col + np.arange(nx))[None, :]
            idx[1 + i * c + j, y0:y0 + ny, x0:x0 + nx] = high_pos[ranks]
            g_col += nx
        g_row += ny
    toks = np.concatenate([low_toks, high_toks])
    for a in (toks, idx):
        a.setflags(write=False)
    return Layout(tiling, toks, idx.reshape(r * c + 1, t * t), (R, C))


def resized_size(height: int, width: int, out_h: int, out_w: int) -> tuple[int, int]:
    """Aspect-preserving size inside (out_h, out_w): float32 scale, truncated (docs/spec/molmo.md 1.3)."""
    sy = np.float32(out_h) / np.float32(height)
    sx = np.float32(out_w) / np.float32(width)
    s = min(sx, sy)
    return max(int(np.float32(height) * s), 1), max(int(np.float32(width) * s), 1)


def token_counts(tiling: tuple[int, int], cfg: PreprocessConfig | None = None) -> dict[str, int]:
    """Number of <im_patch>, <im_col> and all image tokens for a tiling."""
    lay = layout(cfg or PreprocessConfig(), tuple(tiling))
    c = cfg or PreprocessConfig()
    patch = int((lay.image_tokens == c.image_patch_id).sum())
    col = int((lay.image_tokens == c.image_col_id).sum())
    return {"patch": patch, "col": col, "total": len(lay.image_tokens)}
