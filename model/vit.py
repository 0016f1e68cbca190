"""Vision transformer (CLIP / MetaCLIP / SigLIP) without convolutions (docs/spec/molmo.md section 3).

Patches arrive already cut and flattened in (dy, dx, c) order, so the patch embedding is a
Linear layer; Hugging Face conv weights are converted with permute(0, 2, 3, 1) in `weights.py`.
Parameter names mirror the official Molmo layout (`attention.wq`, `feed_forward.w1`, ...).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from model.config import VisionConfig


def activation(name: str, x: torch.Tensor) -> torch.Tensor:
    if name == "quick_gelu":
        return x * torch.sigmoid(1.702 * x)
    if name == "gelu_tanh":
        return F.gelu(x, approximate="tanh")
    if name == "gelu":
        return F.gelu(x)
    raise ValueError(f"unknown activation {name!r}")


class ViTAttention(nn.Module):
    """Multi-head attention with biases; also used by the 2x2 pooling (different in/out dims)."""

    def __init__(self, dim_in: int, dim: int, n_heads: int, float32_attention: bool = True):
        super().__init__()
        self.n_heads = n_heads
        self.float32_attention = float32_attention
        self.wq = nn.Linear(dim_in, dim)
        self.wk = nn.Linear(dim_in, dim)
        self.wv = nn.Linear(dim_in, dim)
        self.wo = nn.Linear(dim, dim)

    def forward(self, q_in: torch.Tensor, kv_in: torch.Tensor | None = None,
                attn_mask: torch.Tensor | None = None) -> torch.Tensor:
        """`attn_mask`: bool, broadcastable to (B, H, Tq, Tk), True = attend (Molmo2's masked pooling)."""
        kv_in = q_in if kv_in is None else kv_in
        b, tq, _ = q_in.shape
        q = self.wq(q_in).unflatten(-1, (self.n_heads, -1)).transpose(1, 2)  # (B, H, Tq, hd)
        k = self.wk(kv_in).unflatten(-1, (self.n_heads, -1)).transpose(1, 2)  # (B, H, Tk, hd)
        v = self.wv(kv_in).unflatten(-1, (self.n_heads, -1)).transpose(1, 2)
        if self.float32_attention:
            q, k = q.float(), k.float()
            v = v.to(q.dtype)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)  # non-causal
        out = out.transpose(1, 2).reshape(b, tq, self.wo.in_features).to(self.wo.weight.dtype)
        return self.wo(out)


class ViTMLP(nn.Module):
    def __init__(self, cfg: VisionConfig):
        super().__init__()
        self.act = cfg.act
        self.w1 = nn.Linear(cfg.width, cfg.mlp_dim)
        self.w2 = nn.Linear(cfg.mlp_dim, cfg.width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.w2(activation(self.act, self.w1(x)))


class ViTBlock(nn.Module):
    """Pre-LN block: x += attn(LN1(x)); x += MLP(LN2(x))."""

    def __init__(self, cfg: VisionConfig):
        super().__init__()
        self.attention = ViTAttention(cfg.width, cfg.width, cfg.n_heads, cfg.float32_attention)
        self.feed_forward = ViTMLP(cfg)
        self.attention_norm = nn.LayerNorm(cfg.width, eps=cfg.ln_eps)
        self.ffn_norm = nn.LayerNorm(cfg.width, eps=cfg.ln_eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attention(self.attention_norm(x))
        return x + self.feed_forward(self.ffn_norm(x))


class VisionTransformer(nn.Module):
    def __init__(self, cfg: VisionConfig):
        super().__init__()
        self.cfg = cfg
        n_pos = cfg.n_patches + (1 if cfg.use_cls else 0)
        self.patch_embedding = nn.Linear(cfg.patch_dim, cfg.width, bias=cfg.patch_bias)
        if cfg.use_cls:
            self.class_embedding = nn.Parameter(torch.zeros(cfg.width))
        self.positional_embedding = nn.Parameter(torch.zeros(n_pos, cfg.width))
        self.pre_ln = nn.LayerNorm(cfg.width, eps=cfg.ln_eps) if cfg.pre_ln else None
        self.blocks = nn.ModuleList(ViTBlock(cfg) for _ in range(cfg.n_layers))
        self.grad_checkpointing = False

    def _pos_embed(self, n_patches: int) -> torch.Tensor:
        pos = self.positional_embedding
        cls_pos, grid_pos = (pos[:1], pos[1:]) if self.cfg.use_cls else (pos[:0], pos)
        if grid_pos.shape[0] != n_patches:  # bicubic resize (never happens at the trained size)
            old, new = int(math.isqrt(grid_pos.shape[0])), int(math.isqrt(n_patches))
            g = grid_pos.reshape(1, old, old, -1).permute(0, 3, 1, 2).float()
            g = F.interpolate(g, size=(new, new), mode="bicubic", align_corners=False, antialias=True)
            grid_pos = g.permute(0, 2, 3, 1).reshape(new * new, -1).to(pos.dtype)
        return torch.cat([cls_pos, grid_pos], 0)

    def forward(self, patches: torch.Tensor) -> list[torch.Tensor]:
        """patches (M, P, patch_dim) normalised -> hidden states after every block, (M, P[+1], W)."""
        x = self.patch_embedding(patches)
        if self.cfg.use_cls:
            cls = self.class_embedding.to(x.dtype).expand(x.shape[0], 1, -1)
            x = torch.cat([cls, x], 1)
        x = x + self._pos_embed(patches.shape[1]).to(x.dtype)
        if self.pre_ln is not None:
            x = self.pre_ln(x)
        hidden = []
        for block in self.blocks:
            if self.grad_checkpointing and self.training:
                x = torch.utils.checkpoint.checkpoint(block, x, use_reentrant=False)
            else:
                x = block(x)
            hidden.append(x)
        return hidden

    def features(self, patches: torch.Tensor) -> torch.Tensor:
        """Concatenate the configured layers (in list order) and drop CLS: (M, P, W*len(layers))."""
        hidden = self.forward(patches)
        feats = torch.cat([hidden[i] for i in self.cfg.vit_layers], dim=-1)
        return feats[:, 1:] if self.cfg.use_cls else feats
