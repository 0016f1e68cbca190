"""Vision backbone + connector: ViT features -> pad embeddings -> 2x2 attention pooling -> SwiGLU.

docs/spec/molmo.md section 4. Crops arrive as uint8 patches (normalised here, on the device) or as
float32 already-normalised patches (the reference path, where collation padding is all -1).
Only real crops go through the ViT; `crop_mask` says which.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from model.config import MolmoConfig
from model.vit import VisionTransformer, ViTAttention


class ImageProjector(nn.Module):
    """SwiGLU without biases: w2(silu(w1 x) * w3 x)."""

    def __init__(self, dim_in: int, hidden: int, dim_out: int):
        super().__init__()
        self.w1 = nn.Linear(dim_in, hidden, bias=False)
        self.w3 = nn.Linear(dim_in, hidden, bias=False)
        self.w2 = nn.Linear(hidden, dim_out, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.w2(F.silu(self.w1(x)) * self.w3(x))


def normalize_patches(images: torch.Tensor, mean: tuple, std: tuple) -> torch.Tensor:
    """uint8 patches (..., ps*ps*3) in (dy, dx, c) order -> float32 CLIP-normalised patches."""
    c = torch.arange(images.shape[-1], device=images.device) % 3
    m = torch.tensor(mean, device=images.device, dtype=torch.float32)[c]
    s = torch.tensor(std, device=images.device, dtype=torch.float32)[c]
    return (images.float() / 255.0 - m) / s


def real_crop_mask(images: torch.Tensor, crop_mask: torch.Tensor | None) -> torch.Tensor:
    """(B, N) bool: crops that hold an image (collation padding is all -1 in float batches)."""
    if crop_mask is not None:
        return crop_mask.bool()
    if images.dtype == torch.uint8:
        return torch.ones(images.shape[:2], dtype=torch.bool, device=images.device)
    return ~(images == -1).all(dim=(-1, -2))


class ImageBackbone(nn.Module):
    """What both families share: the ViT, the mean-query attention pooling and the SwiGLU projector."""

    def __init__(self, cfg: MolmoConfig):
        super().__init__()
        self.cfg = cfg
        v = cfg.vision
        self.image_vit = VisionTransformer(v)
        self.image_pooling_2d = ViTAttention(v.feature_dim, v.width, cfg.connector.pool_heads,
                                             v.float32_attention)
        self.image_projector = ImageProjector(v.width, cfg.projector_hidden, cfg.llm.d_model)


class VisionBackbone(ImageBackbone):
    """Molmo v1: pad embeddings and pool_size x pool_size windows."""

    def __init__(self, cfg: MolmoConfig):
        super().__init__(cfg)
        self.pad_embed = nn.Parameter(torch.zeros(2, cfg.vision.feature_dim))

    def forward(self, images: torch.Tensor, image_masks: torch.Tensor | None,
                crop_mask: torch.Tensor | None = None) -> torch.Tensor:
        """images (B, N, P, patch_dim) -> features of the real crops (M, tokens_per_crop, d_model).

        M = crop_mask.sum(); the order is batch-major, crop-minor (as `images[crop_mask]`).
        """
        keep = real_crop_mask(images, crop_mask)
        patches = images[keep]  # (M, P, patch_dim)
        if patches.dtype == torch.uint8:
            patches = normalize_patches(patches, self.cfg.vision.mean, self.cfg.vision.std)
        feats = self.image_vit.features(patches.to(self.image_vit.patch_embedding.weight.dtype))
        if self.cfg.connector.pad_embed == "pad_and_partial_pad" and image_masks is not None:
            feats = self._add_pad_embed(feats, image_masks[keep])
        return self.image_projector(self._pool(feats))

    def _add_pad_embed(self, feats: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        all_pad = (masks == 0).to(feats.dtype).unsqueeze(-1)  # (M, P, 1)
        partial = ((masks < 1) & (masks != 0)).to(feats.dtype).unsqueeze(-1)  # includes the -1 rows
        pad = self.pad_embed.to(feats.dtype)
        return feats + all_pad * pad[0] + partial * pad[1]

    def _pool(self, feats: torch.Tensor) -> torch.Tensor:
        """(M, g*g, C) -> (M, ceil(g/2)^2, width) with a mean query over each 2x2 window."""
        m, p, c = feats.shape
        g, s = self.cfg.vision.grid, self.cfg.connector.pool_size
        x = feats.reshape(m, g, g, c)
        if g % s:  # odd grid (SigLIP 27): pad bottom and right
            x = F.pad(x, (0, 0, 0, s - g % s, 0, s - g % s))
        h = x.shape[1] // s
        x = x.reshape(m, h, s, h, s, c).permute(0, 1, 3, 2, 4, 5).reshape(m * h * h, s * s, c)
        query = x.mean(dim=1, keepdim=True)  # (M*h*h, 1, C)
        return self.image_pooling_2d(query, x).reshape(m, h * h, self.cfg.vision.width)
