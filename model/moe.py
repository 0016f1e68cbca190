"""OLMoE's mixture-of-experts MLP (MolmoE-1B's decoder, docs/spec/molmo.md 5) and its Hugging Face weight layout.

A linear router scores `n_experts` SwiGLU experts per token; softmax in fp32, the top `top_k` are kept
(renormalised when `norm_topk`), and the token's output is the weighted sum of those experts, as
transformers' `OlmoeSparseMoeBlock`. Expert weights are stored fused like transformers 5:
`gate_up_proj` (E, 2*hidden, d) with gate first, `down_proj` (E, d, hidden). Only the experts that
received tokens run. Training adds no load-balancing loss yet.
"""

from __future__ import annotations

import re

import torch
import torch.nn.functional as F
from torch import nn

from model.config import LLMConfig


class MoEMLP(nn.Module):
    def __init__(self, cfg: LLMConfig):
        super().__init__()
        self.top_k, self.norm_topk = cfg.moe_top_k, cfg.moe_norm_topk
        self.router = nn.Linear(cfg.d_model, cfg.moe_experts, bias=False)
        self.gate_up_proj = nn.Parameter(torch.zeros(cfg.moe_experts, 2 * cfg.mlp_hidden, cfg.d_model))
        self.down_proj = nn.Parameter(torch.zeros(cfg.moe_experts, cfg.d_model, cfg.mlp_hidden))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x.reshape(-1, x.shape[-1])
        probs = torch.softmax(self.router(h).float(), dim=-1)
        weight, expert = probs.topk(self.top_k, dim=-1)  # (N, k)
        if self.norm_topk:
            weight = weight / weight.sum(-1, keepdim=True)
        weight = weight.to(h.dtype)
        out = torch.zeros_like(h)
        for e in expert.unique().tolist():
            tok, slot = (expert == e).nonzero(as_tuple=True)
            gate, up = F.linear(h[tok], self.gate_up_proj[e]).chunk(2, dim=-1)
            y = F.linear(F.silu(gate) * up, self.down_proj[e]) * weight[tok, slot, None]
            out = out.index_add(0, tok, y.to(out.dtype))
        return out.view_as(x)


def olmoe_to_ours(sd: dict[str, torch.Tensor], cfg: LLMConfig) -> dict[str, torch.Tensor]:
    """`OlmoeForCausalLM` keys -> ours: the dense part through `hf_llm_to_ours`, then router and experts."""
    from model.weights import hf_llm_to_ours

    out = hf_llm_to_ours(sd, cfg)
    names = {"mlp.gate.weight": "mlp.router.weight", "mlp.experts.gate_up_proj": "mlp.gate_up_proj",
             "mlp.experts.down_proj": "mlp.down_proj"}
    for k, v in sd.items():
        m = re.fullmatch(r"model\.layers\.(\d+)\.(mlp\.gate\.weight|mlp\.experts\.gate_up_proj|mlp\.experts\.down_proj)", k)
        if m:
            out[f"transformer.blocks.{m[1]}.{names[m[2]]}"] = v
    return out
