"""The LLM: Qwen2-style (qkv bias, GQA) or OLMo-2-style (QK-norm, norm_after) blocks.

docs/spec/molmo.md section 5. Module names follow the official layout where it helps conversion
(`wte.embedding`, `wte.new_embedding`, `blocks.N.attn_norm`, `ln_f`, `ff_out`); the projections
are kept unfused (q/k/v and gate/up) like Hugging Face Qwen2.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from model.config import LLMConfig
from model.moe import MoEMLP
from model.rope import inv_freq, rope_cos_sin


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dtype = x.dtype
        x = x.float()
        x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * x.to(dtype)


class MolmoEmbedding(nn.Module):
    """The original table (`embedding`, frozen with ft_embedding="lm_head") + 128 new rows."""

    def __init__(self, n: int, n_new: int, dim: int):
        super().__init__()
        self.embedding = nn.Parameter(torch.zeros(n, dim))
        self.new_embedding = nn.Parameter(torch.zeros(n_new, dim))

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        n = self.embedding.shape[0]
        ids = ids.clamp(min=0)  # -1 padding looks up row 0 (as the reference)
        old = F.embedding(ids.clamp(max=n - 1), self.embedding)
        new = F.embedding((ids - n).clamp(min=0, max=self.new_embedding.shape[0] - 1), self.new_embedding)
        return torch.where((ids >= n).unsqueeze(-1), new, old)


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    xf = x.float()
    return (xf * cos + rotate_half(xf) * sin).to(x.dtype)


class KVCache:
    """Pre-allocated keys/values for every layer: (B, n_kv, max_len, head_dim)."""

    def __init__(self, cfg: LLMConfig, batch: int, max_len: int, device, dtype):
        shape = (batch, cfg.n_kv_heads, max_len, cfg.head_dim)
        self.k = [torch.zeros(shape, device=device, dtype=dtype) for _ in range(cfg.n_layers)]
        self.v = [torch.zeros(shape, device=device, dtype=dtype) for _ in range(cfg.n_layers)]
        self.pos = 0  # filled length

    def update(self, layer: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        end = self.pos + k.shape[2]
        self.k[layer][:, :, self.pos:end] = k
        self.v[layer][:, :, self.pos:end] = v
        return self.k[layer][:, :, :end], self.v[layer][:, :, :end]


class Attention(nn.Module):
    def __init__(self, cfg: LLMConfig):
        super().__init__()
        self.cfg = cfg
        q_dim, kv_dim = cfg.n_heads * cfg.head_dim, cfg.n_kv_heads * cfg.head_dim
        self.q_proj = nn.Linear(cfg.d_model, q_dim, bias=cfg.qkv_bias)
        self.k_proj = nn.Linear(cfg.d_model, kv_dim, bias=cfg.qkv_bias)
        self.v_proj = nn.Linear(cfg.d_model, kv_dim, bias=cfg.qkv_bias)
        self.o_proj = nn.Linear(q_dim, cfg.d_model, bias=False)
        self.per_head_norm = cfg.qk_norm and cfg.qk_norm_type == "per_head"  # Qwen3; else full width (OLMo)
        if cfg.qk_norm:
            self.q_norm = RMSNorm(cfg.head_dim if self.per_head_norm else q_dim, cfg.rms_eps)
            self.k_norm = RMSNorm(cfg.head_dim if self.per_head_norm else kv_dim, cfg.rms_eps)

    def forward(self, x, cos, sin, attn_mask, cache: KVCache | None = None, layer: int = 0):
        b, t, _ = x.shape
        q, k, v = self.q_proj(x), self.k_proj(x), self.v_proj(x)
        if self.cfg.qk_norm and not self.per_head_norm:
            q, k = self.q_norm(q), self.k_norm(k)
        q = q.view(b, t, self.cfg.n_heads, -1)
        k = k.view(b, t, self.cfg.n_kv_heads, -1)
        if self.per_head_norm:
            q, k = self.q_norm(q), self.k_norm(k)
        q, k = q.transpose(1, 2), k.transpose(1, 2)  # (B, H, T, hd), (B, KV, T, hd)
        v = v.view(b, t, self.cfg.n_kv_heads, -1).transpose(1, 2)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        if cache is not None:
            k, v = cache.update(layer, k, v)
        gqa = self.cfg.n_heads != self.cfg.n_kv_heads
        if gqa and q.is_cuda:  # expand K/V so every GPU SDPA kernel (flash too) applies, whatever the torch version
            rep = self.cfg.n_heads // self.cfg.n_kv_heads
            k, v, gqa = k.repeat_interleave(rep, dim=1), v.repeat_interleave(rep, dim=1), False
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, is_causal=attn_mask is None and cache is None,
                                             enable_gqa=gqa)
        return self.o_proj(out.transpose(1, 2).reshape(b, t, -1))


class MLP(nn.Module):
    def __init__(self, cfg: LLMConfig):
        super().__init__()
        self.gate_proj = nn.Linear(cfg.d_model, cfg.mlp_hidden, bias=False)
        self.up_proj = nn.Linear(cfg.d_model, cfg.mlp_hidden, bias=False)
        self.down_proj = nn.Linear(cfg.mlp_hidden, cfg.d_model, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Block(nn.Module):
    """Pre-norm (Qwen2) or norm_after (OLMo-2) block with optional residual dropout."""

    def __init__(self, cfg: LLMConfig, layer: int, residual_dropout: float, response_dropout: float):
        super().__init__()
        self.layer, self.norm_after = layer, cfg.norm_after
        self.p_all, self.p_resp = residual_dropout, response_dropout
        self.attn = Attention(cfg)
        self.mlp: nn.Module = MoEMLP(cfg) if cfg.moe_experts else MLP(cfg)
        self.attn_norm = RMSNorm(cfg.d_model, cfg.rms_eps)
        self.ff_norm = RMSNorm(cfg.d_model, cfg.rms_eps)

    def _drop(self, y: torch.Tensor, drop_mask: torch.Tensor | None) -> torch.Tensor:
        if not self.training:
            return y
        if self.p_all > 0:
            y = F.dropout(y, self.p_all, True)
        if self.p_resp > 0 and drop_mask is not None:  # text-only: only at loss positions
            y = torch.where(drop_mask.unsqueeze(-1), F.dropout(y, self.p_resp, True), y)
        return y

    def forward(self, x, cos, sin, attn_mask=None, drop_mask=None, cache=None):
        layer = self.layer if cache is not None else 0  # read only with a cache: compiled blocks stay alike
        if self.norm_after:
            h = x + self._drop(self.attn_norm(self.attn(x, cos, sin, attn_mask, cache, layer)), drop_mask)
            return h + self._drop(self.ff_norm(self.mlp(h)), drop_mask)
        h = x + self._drop(self.attn(self.attn_norm(x), cos, sin, attn_mask, cache, layer), drop_mask)
        return h + self._drop(self.mlp(self.ff_norm(h)), drop_mask)


class Decoder(nn.Module):
    """Embedding, blocks, final norm and the untied head (logits over `embedding_size` only)."""

    def __init__(self, cfg: LLMConfig, residual_dropout: float = 0.0, response_dropout: float = 0.0):
        super().__init__()
        self.cfg = cfg
        self.wte = MolmoEmbedding(cfg.embedding_size, cfg.additional_vocab_size, cfg.d_model)
        self.blocks = nn.ModuleList(Block(cfg, i, residual_dropout, response_dropout) for i in range(cfg.n_layers))
        self.ln_f = RMSNorm(cfg.d_model, cfg.rms_eps)
        self.ff_out = nn.Linear(cfg.d_model, cfg.embedding_size, bias=False)
        self.grad_checkpointing = False
        self.scaled = [cfg.layer_is_scaled(i) for i in range(cfg.n_layers)]
        # fp32 CPU tensors (built on the CPU even under a meta-device context), kept out of the state dict and casts
        self.rope = {scaled: inv_freq(cfg, scaled) for scaled in (False, True) if scaled in self.scaled or not scaled}

    def forward(self, x: torch.Tensor, position_ids: torch.Tensor, attn_mask: torch.Tensor | None = None,
                drop_mask: torch.Tensor | None = None, cache: KVCache | None = None,
                all_hidden: bool = False) -> torch.Tensor | list[torch.Tensor]:
        """Input embeddings (B, T, d) -> final normed hidden states (or every block's input + final)."""
        ropes = {scaled: rope_cos_sin(position_ids, *freqs) for scaled, freqs in self.rope.items()}
        hidden = [x]
        for block, scaled in zip(self.blocks, self.scaled, strict=True):
            cos, sin = ropes[scaled]
            if self.grad_checkpointing and self.training:
                x = checkpoint(block, x, cos, sin, attn_mask, drop_mask, use_reentrant=False)
            else:
                x = block(x, cos, sin, attn_mask, drop_mask, cache)
            hidden.append(x)
        if cache is not None:
            cache.pos += x.shape[1]
        x = self.ln_f(x)
        return hidden[:-1] + [x] if all_hidden else x
