"""Rotary position embeddings: plain, and the scaled variants transformers names in `rope_parameters`.

`inv_freq(cfg, scaled)` returns the inverse frequencies and the cos/sin multiplier ("attention factor") for
`linear`, `llama3` and `yarn` scaling, computed as transformers' `modeling_rope_utils` does (docs/spec/molmo2.md
"Differences", text model row: Molmo2 scales only the layers in `rope_scaling_layers`).
"""

from __future__ import annotations

import math
from typing import Any

import torch

from model.config import LLMConfig


def _plain(theta: float, dim: int) -> torch.Tensor:
    return 1.0 / (theta ** (torch.arange(0, dim, 2, dtype=torch.int64, device="cpu").float() / dim))


def _llama3(p: dict[str, Any], theta: float, dim: int) -> torch.Tensor:
    inv = _plain(theta, dim)
    factor, lo, hi = p["factor"], p["low_freq_factor"], p["high_freq_factor"]
    old = p["original_max_position_embeddings"]
    wavelen = 2 * math.pi / inv
    out = torch.where(wavelen > old / lo, inv / factor, inv)
    smooth = (old / wavelen - lo) / (hi - lo)
    smoothed = (1 - smooth) * out / factor + smooth * out
    medium = ~(wavelen < old / hi) * ~(wavelen > old / lo)
    return torch.where(medium, smoothed, out)


def _yarn_mscale(scale: float, mscale: float = 1.0) -> float:
    return 1.0 if scale <= 1 else 0.1 * mscale * math.log(scale) + 1.0


def _yarn(p: dict[str, Any], theta: float, dim: int, max_position: int) -> tuple[torch.Tensor, float]:
    orig = p["original_max_position_embeddings"]
    factor = p.get("factor") or max_position / orig
    att = p.get("attention_factor")
    if att is None:
        m, m_all = p.get("mscale"), p.get("mscale_all_dim")
        att = _yarn_mscale(factor, m) / _yarn_mscale(factor, m_all) if m and m_all else _yarn_mscale(factor)
    fast, slow = p.get("beta_fast") or 32, p.get("beta_slow") or 1

    def corr(rot: float) -> float:
        return (dim * math.log(orig / (rot * 2 * math.pi))) / (2 * math.log(theta))

    low, high = corr(fast), corr(slow)
    if p.get("truncate", True):
        low, high = math.floor(low), math.ceil(high)
    low, high = max(low, 0), min(high, dim - 1)
    if low == high:
        high += 0.001
    ramp = ((torch.arange(dim // 2, dtype=torch.float32, device="cpu") - low) / (high - low)).clamp(0, 1)
    pos = theta ** (torch.arange(0, dim, 2, device="cpu").float() / dim)
    extra = 1 - ramp
    return (1.0 / (factor * pos)) * (1 - extra) + (1.0 / pos) * extra, float(att)


def inv_freq(cfg: LLMConfig, scaled: bool) -> tuple[torch.Tensor, float]:
    """(head_dim/2,) fp32 inverse frequencies and the cos/sin multiplier of the (un)scaled RoPE."""
    dim, theta = cfg.head_dim, cfg.rope_theta
    p = cfg.rope_scaling or {}
    kind = p.get("rope_type", "default") if scaled else "default"
    if kind == "default":
        return _plain(theta, dim), 1.0
    if kind == "linear":
        return _plain(theta, dim) / p["factor"], 1.0
    if kind == "llama3":
        return _llama3(p, theta, dim), 1.0
    if kind == "yarn":
        return _yarn(p, theta, dim, cfg.max_position)
    raise ValueError(f"unsupported rope_type {kind!r} (default, linear, llama3, yarn)")


def rope_cos_sin(position_ids: torch.Tensor, freqs: torch.Tensor, scale: float = 1.0
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, T) positions -> fp32 cos, sin of shape (B, 1, T, head_dim)."""
    f = position_ids.float().unsqueeze(-1) * freqs.to(position_ids.device)  # (B, T, hd/2)
    emb = torch.cat((f, f), dim=-1).unsqueeze(1)
    return emb.cos() * scale, emb.sin() * scale
