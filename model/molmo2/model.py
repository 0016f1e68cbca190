"""Molmo2: SigLIP-style tower, index-list pooling adapter, bidirectional image block, Qwen3 / OLMo-3 decoder.

docs/spec/molmo2.md "Differences". The batch follows transformers' `Molmo2Processor` output: `pixel_values`
(crops of all images, P, patch_dim), `image_token_pooling` (tokens, pool_h*pool_w) indexing each image's
own patches (-1 = padding), `image_grids` (images, 4) and `image_num_crops` (images,). Image features are
**added** to the `<im_patch>` embeddings in reading order; every image-structure token attends to every
other one during the prefill (SDPA bool masks), text stays causal.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from model.config import MolmoConfig
from model.connector import ImageProjector, normalize_patches
from model.molmo import Molmo, MolmoOutput
from model.vit import VisionTransformer, ViTAttention


class Molmo2Backbone(nn.Module):
    """ViT + masked mean-query attention pooling over index lists + SwiGLU projector."""

    def __init__(self, cfg: MolmoConfig):
        super().__init__()
        self.cfg = cfg
        v = cfg.vision
        self.image_vit = VisionTransformer(v)
        self.image_pooling_2d = ViTAttention(v.feature_dim, v.width, cfg.connector.pool_heads, v.float32_attention)
        self.image_projector = ImageProjector(v.width, cfg.projector_hidden, cfg.llm.d_model)

    def forward(self, pixel_values: torch.Tensor, pooling: torch.Tensor) -> torch.Tensor:
        """pixel_values (M, P, patch_dim); pooling (N, k) indices into the M*P patches -> (N', d_model).

        Pooled tokens whose k indices are all -1 are dropped (N' <= N), as transformers does.
        """
        if pixel_values.dtype == torch.uint8:
            pixel_values = normalize_patches(pixel_values, self.cfg.vision.mean, self.cfg.vision.std)
        feats = self.image_vit.features(pixel_values.to(self.image_vit.patch_embedding.weight.dtype))
        flat = feats.reshape(-1, feats.shape[-1])
        pooling = pooling[(pooling >= 0).any(-1)]  # rows with no patch never reach the attention
        valid = pooling >= 0  # (N', k)
        patches = flat[pooling.clamp(min=0)] * valid.unsqueeze(-1).to(flat.dtype)  # (N', k, C)
        query = patches.sum(1, keepdim=True) / valid.sum(-1).clamp(min=1)[:, None, None].to(flat.dtype)
        pooled = self.image_pooling_2d(query, patches, attn_mask=valid[:, None, None, :])  # (N', 1, width)
        return self.image_projector(pooled.squeeze(1))


def global_pooling_index(pooling: torch.Tensor, image_num_crops: torch.Tensor | None,
                         image_grids: torch.Tensor, patches_per_crop: int) -> torch.Tensor:
    """Per-image pooling indices -> indices into the patches of all images (offset by earlier images)."""
    if image_grids.shape[0] <= 1:
        return pooling
    if image_num_crops is None:
        raise ValueError("image_num_crops is needed for more than one image")
    g = image_grids.long()
    tokens = g[:, 0] * g[:, 1] + g[:, 2] * g[:, 3]
    per_image = image_num_crops.long() * patches_per_crop
    offsets = (per_image.cumsum(0) - per_image).repeat_interleave(tokens)
    return torch.where(pooling >= 0, pooling + offsets[:, None].to(pooling.dtype), pooling)


def molmo2_attention_mask(input_tokens: torch.Tensor, block_ids: tuple[int, ...]) -> torch.Tensor:
    """Bool (B, 1, T, T): causal, or both tokens in the image block; keys and queries valid (not -1)."""
    t = input_tokens.shape[1]
    dev = input_tokens.device
    valid = input_tokens >= 0
    image = torch.isin(input_tokens, torch.tensor(block_ids, device=dev)) & valid
    causal = torch.ones(t, t, dtype=torch.bool, device=dev).tril()
    mask = (causal | (image[:, :, None] & image[:, None, :])) & valid[:, None, :] & valid[:, :, None]
    return (mask | torch.eye(t, dtype=torch.bool, device=dev)).unsqueeze(1)


class Molmo2(Molmo):
    """`Molmo` with Molmo2's vision path and attention mask; init, parameter groups and loss are shared."""

    source_dir: Path | None = None  # the checkpoint directory it was loaded from (tokenizer files on export)

    def __init__(self, cfg: MolmoConfig):
        if cfg.family != "molmo2":
            raise ValueError(f"Molmo2 needs a config with family='molmo2', got {cfg.family!r}")
        super().__init__(cfg)

    def _backbone(self, cfg: MolmoConfig) -> nn.Module:
        return Molmo2Backbone(cfg)

    def prefill_mask(self, input_tokens: torch.Tensor) -> torch.Tensor:
        return molmo2_attention_mask(input_tokens, self.cfg.image_tokens.block_ids())

    def embed(self, input_tokens, pixel_values=None, image_token_pooling=None, image_grids=None,
              image_num_crops=None):
        """Token embeddings plus the pooled image features on the `<im_patch>` positions, in order."""
        x = self.transformer.wte(input_tokens)
        if pixel_values is None:
            return x
        if pixel_values.dim() == 4:  # (images, crops, P, patch_dim)
            pixel_values = pixel_values.flatten(0, 1)
        pooling = global_pooling_index(image_token_pooling, image_num_crops, image_grids, pixel_values.shape[1])
        feats = self.vision_backbone(pixel_values, pooling)
        where = (input_tokens == self.cfg.image_tokens.image_patch).reshape(-1).nonzero().squeeze(-1)
        if where.numel() != feats.shape[0]:
            raise ValueError(f"{where.numel()} <im_patch> tokens but {feats.shape[0]} image features")
        b, t, d = x.shape
        return x.reshape(b * t, d).index_add(0, where, feats.to(x.dtype)).view(b, t, d)

    def forward(  # type: ignore[override]  # a Molmo2 batch has its own image inputs
            self, input_tokens: torch.Tensor, pixel_values=None, image_token_pooling=None, image_grids=None,
            image_num_crops=None, position_ids=None, target_tokens=None, loss_masks=None,
            loss_normalizer=None, z_loss: float = 0.0, attn_mask=None, cache=None,
            last_logits_only: bool = False, **_unused) -> MolmoOutput:
        if _unused.get("images") is not None or _unused.get("image_input_idx") is not None:
            raise ValueError("Molmo2 takes pixel_values / image_token_pooling / image_grids / image_num_crops, "
                             "not a v1 batch (images, image_input_idx)")
        x = self.embed(input_tokens, pixel_values, image_token_pooling, image_grids, image_num_crops)
        if attn_mask is None and cache is None:
            attn_mask = self.prefill_mask(input_tokens)
        return self._decode(x, input_tokens, position_ids, attn_mask, cache, target_tokens, loss_masks,
                            loss_normalizer, z_loss, last_logits_only)
