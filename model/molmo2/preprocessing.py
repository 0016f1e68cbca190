"""Molmo2 image preprocessing: what transformers' `Molmo2ImageProcessor` computes, with torch only.

docs/spec/molmo2.md "Differences" (preprocessing, pooling and token-layout rows). Per image: a squash resize of the
whole image to one 378 px low-res crop, and a squash resize to a canvas tiled by up to `max_crops`
overlapping crops; margins are cut at patch level and the remaining patches are stitched into one grid
whose 2x2 pooling windows cross crop borders (centred -1 padding). Resizes are bilinear **without**
antialias on float pixels, rounded back to uint8, then scaled to [0, 1] and normalised by mean/std 0.5.
Images of one shape are processed as one batch.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from model.config import ImageTokenIds, MolmoConfig


@dataclass(frozen=True)
class Molmo2PreprocessConfig:
    crop_size: int = 378
    patch_size: int = 14
    pooling: tuple[int, int] = (2, 2)
    max_crops: int = 8
    overlap_margins: tuple[int, int] = (4, 4)
    mean: tuple[float, float, float] = (0.5, 0.5, 0.5)
    std: tuple[float, float, float] = (0.5, 0.5, 0.5)

    def __post_init__(self) -> None:
        if self.crop_size % self.patch_size or sum(self.overlap_margins) >= self.crop_size // self.patch_size:
            raise ValueError(f"crop {self.crop_size} px must be whole patches of {self.patch_size} and wider than "
                             f"the overlap margins {self.overlap_margins} (in patches)")

    @classmethod
    def from_model(cls, cfg: MolmoConfig) -> Molmo2PreprocessConfig:
        v, p = cfg.vision, cfg.connector.pool_size
        m = cfg.overlap_margins
        return cls(v.image_size, v.patch_size, (p, p), cfg.max_crops, (m[0], m[1]), v.mean, v.std)

    def hf_dict(self) -> dict[str, Any]:
        """preprocessor_config.json of transformers' `Molmo2ImageProcessor` with these settings."""
        return {"image_processor_type": "Molmo2ImageProcessor", "size": {"height": self.crop_size,
                "width": self.crop_size}, "patch_size": self.patch_size, "pooling_size": list(self.pooling),
                "max_crops": self.max_crops, "overlap_margins": list(self.overlap_margins),
                "image_mean": list(self.mean), "image_std": list(self.std), "do_resize": True,
                "do_rescale": True, "rescale_factor": 1 / 255, "do_normalize": True, "do_convert_rgb": True,
                "resample": 2}


def select_tiling(height: float, width: float, patch: int, max_crops: int) -> tuple[int, int]:
    """(rows, cols) of crops: the smallest tiling that needs no down-scaling, else the least down-scaling."""
    tilings = sorted(((h, w) for h, w in itertools.product(range(1, max_crops + 1), repeat=2) if h * w <= max_crops),
                     key=lambda t: (t[0] * t[1], t[0]))
    res = torch.tensor(tilings, dtype=torch.int32) * patch
    scale = (res.float() / torch.tensor([height, width], dtype=torch.float32)).amin(-1)
    if bool((scale < 1).all()):
        return tilings[int(scale.argmax())]
    return tilings[int(torch.where(scale < 1.0, 10e9, scale).argmin())]


def crop_geometry(height: int, width: int, c: Molmo2PreprocessConfig) -> tuple[int, int, int, int]:
    """(tiling_h, tiling_w, canvas_h, canvas_w) in crops and pixels."""
    margin = (c.overlap_margins[0] + c.overlap_margins[1]) * c.patch_size
    window = c.crop_size - margin
    th, tw = select_tiling(height - margin, width - margin, window, c.max_crops)
    return th, tw, th * window + margin, tw * window + margin


def pooling_windows(grid: torch.Tensor, ph: int, pw: int) -> tuple[torch.Tensor, int, int]:
    """A (h, w) patch-index grid -> (rows*cols, ph*pw) windows with centred -1 padding, rows, cols."""
    pad_h = -grid.shape[0] % ph
    pad_w = -grid.shape[1] % pw
    grid = F.pad(grid, (pad_w // 2, (pad_w + 1) // 2, pad_h // 2, (pad_h + 1) // 2), value=-1)
    rows, cols = grid.shape[0] // ph, grid.shape[1] // pw
    return grid.reshape(rows, ph, cols, pw).permute(0, 2, 1, 3).reshape(rows * cols, ph * pw), rows, cols


def stitched_grid(th: int, tw: int, c: Molmo2PreprocessConfig) -> torch.Tensor:
    """Patch indices (into the high-res crops) of the canvas, margins shared between crops removed."""
    n = c.crop_size // c.patch_size
    left, right = c.overlap_margins
    g = torch.arange(th * tw * n * n, dtype=torch.int32).reshape(th, tw, n, n)
    if left:
        g[1:, :, :left, :] = -1
        g[:, 1:, :, :left] = -1
    if right:
        g[:-1, :, -right:, :] = -1
        g[:, :-1, :, -right:] = -1
    g = g.permute(0, 2, 1, 3).reshape(-1)
    rows = th * (n - left - right) + left + right
    return g[g >= 0].reshape(rows, -1)


def _resize_normalize(images: torch.Tensor, h: int, w: int, c: Molmo2PreprocessConfig) -> torch.Tensor:
    """uint8 (N, C, H, W) -> float32 (N, h, w, C): bilinear without antialias, rounded to uint8, normalised.

    Rescaling by 1/255 is folded into mean and std, (x - 255 mean) / (255 std), as transformers does, so
    the floats are bit-identical."""
    x = F.interpolate(images.float(), size=(h, w), mode="bilinear", align_corners=False, antialias=False)
    x = x.round().clamp(0, 255)
    mean = (torch.tensor(c.mean) * 255.0).view(1, 3, 1, 1)
    std = (torch.tensor(c.std) * 255.0).view(1, 3, 1, 1)
    return ((x - mean) / std).permute(0, 2, 3, 1)


def _patchify(crops: torch.Tensor, patch: int) -> torch.Tensor:
    """(N, S, S, C) -> (N, (S/p)^2, p*p*C) in (dy, dx, c) order."""
    n, s, _, ch = crops.shape
    g = s // patch
    return crops.reshape(n, g, patch, g, patch, ch).transpose(2, 3).reshape(n, g * g, patch * patch * ch)


class Molmo2ImageProcessor:
    """Images (H, W, 3) uint8 -> transformers' `Molmo2ImageProcessor` outputs, as torch tensors."""

    def __init__(self, config: Molmo2PreprocessConfig | None = None):
        self.c = config or Molmo2PreprocessConfig()

    def grid(self, height: int, width: int) -> tuple[list[int], int]:
        """[low_h, low_w, high_h, high_w] pooled grid and the crop count (1 low-res + tiles) of one image."""
        c = self.c
        th, tw, ch, cw = crop_geometry(height, width, c)
        ph, pw = c.pooling
        n = c.crop_size // c.patch_size
        return [-(-n // ph), -(-n // pw), -(-(ch // c.patch_size) // ph), -(-(cw // c.patch_size) // pw)], th * tw + 1

    def _same_shape(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, list[int]]:
        """A batch (N, C, H, W) of one shape -> patches (N, crops, P, pd), pooling (tokens, k), grid."""
        c = self.c
        n_img, _, h, w = images.shape
        th, tw, ch, cw = crop_geometry(h, w, c)
        window = c.crop_size - (c.overlap_margins[0] + c.overlap_margins[1]) * c.patch_size
        canvas = _resize_normalize(images, ch, cw, c)  # (N, ch, cw, C)
        tiles = canvas.unfold(1, c.crop_size, window).unfold(2, c.crop_size, window)  # (N, th, tw, C, S, S)
        tiles = tiles.permute(0, 1, 2, 4, 5, 3).reshape(n_img * th * tw, c.crop_size, c.crop_size, 3)
        low = _resize_normalize(images, c.crop_size, c.crop_size, c)  # (N, S, S, C)
        per_crop = (c.crop_size // c.patch_size) ** 2
        high_idx, hr, hc = pooling_windows(stitched_grid(th, tw, c), *c.pooling)
        n = c.crop_size // c.patch_size
        low_idx, lr, lc = pooling_windows(torch.arange(n * n, dtype=torch.int32).reshape(n, n), *c.pooling)
        pooling = torch.cat([low_idx, torch.where(high_idx >= 0, high_idx + per_crop, -1)])
        crops = torch.cat([low.unsqueeze(1), tiles.reshape(n_img, th * tw, *tiles.shape[1:])], 1)
        patches = _patchify(crops.flatten(0, 1), c.patch_size).reshape(n_img, th * tw + 1, per_crop, -1)
        return patches, pooling, [lr, lc, hr, hc]

    def __call__(self, images: list[np.ndarray]) -> dict[str, torch.Tensor]:
        """`pixel_values` (all crops, P, pd) float32, `image_token_pooling` (tokens, k) int64 per image,
        `image_grids` (images, 4), `image_num_crops` (images,), in the order of `images`."""
        tensors = [torch.from_numpy(np.array(_rgb(im), copy=True)).permute(2, 0, 1) for im in images]
        groups: dict[tuple[int, ...], list[int]] = {}
        for i, t in enumerate(tensors):
            groups.setdefault(tuple(t.shape), []).append(i)
        out: list[Any] = [None] * len(images)
        for idx in groups.values():
            patches, pooling, grid = self._same_shape(torch.stack([tensors[i] for i in idx]))
            for j, i in enumerate(idx):
                out[i] = (patches[j], pooling, grid)
        return {
            "pixel_values": torch.cat([o[0] for o in out]),
            "image_token_pooling": torch.cat([o[1] for o in out]).long(),
            "image_grids": torch.tensor([o[2] for o in out], dtype=torch.int64),
            "image_num_crops": torch.tensor([o[0].shape[0] for o in out], dtype=torch.int64),
        }


def _rgb(image: np.ndarray) -> np.ndarray:
    if image.dtype != np.uint8 or image.ndim not in (2, 3):
        raise ValueError(f"expected a uint8 (H, W[, C]) image, got {image.dtype} {image.shape}")
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, -1)
    return image[..., :3]


def image_token_ids(grid: list[int], ids: ImageTokenIds, col_tokens: bool = True) -> list[int]:
    """The tokens that replace one `<|image|>`: the low-res view, then the high-res view (processing_molmo2)."""
    low_h, low_w, high_h, high_w = grid
    col = [ids.image_col] if col_tokens else []
    low = [ids.low_res_image_start] + ([ids.image_patch] * low_w + col) * low_h + [ids.image_end]
    high = [ids.image_start] + ([ids.image_patch] * high_w + col) * high_h + [ids.image_end]
    return low + high


def expand_placeholders(token_ids: list[int], grids: list[list[int]], ids: ImageTokenIds) -> list[int]:
    """Replace each `<|image|>` id, in order, by its image's tokens."""
    out: list[int] = []
    images = iter(grids)
    for t in token_ids:
        out.extend(image_token_ids(next(images), ids) if t == ids.image_placeholder else [t])
    if next(images, None) is not None:
        raise ValueError("more images than <|image|> placeholders")
    return out
