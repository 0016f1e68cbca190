"""OLMoE's mixture-of-experts MLP (MolmoE-1B's decoder, docs/spec/molmo.md 5) and its Hugging Face weight layout.

A linear router scores `n_experts` SwiGLU experts per token; softmax in fp32, the top `top_k` are kept
(renormalised when `norm_topk`), and the token's output is the weighted sum of those experts, as
transformers' `OlmoeSparseMoeBlock`. Expert weights are stored fused like transformers 5:
`gate_up_proj` (E, 2*hidden, d) with gate first, `down_proj` (E, d, hidden). Only the experts that
received tokens run. Training adds no load-balancing loss yet.

`olmoe_to_ours` maps an `OlmoeForCausalLM` state dict; `molmoe_config` / `molmoe_to_ours` / `load_molmoe` read
the released allenai/MolmoE-1B-0924 directory (docs/spec/molmo.md 9.4), which `model.weights.load_official`
hands over to them.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from model.config import ConnectorConfig, LLMConfig, MolmoConfig, VisionConfig


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


# ----------------------------------------------------------------------------- MolmoE-1B's released layout
# allenai/MolmoE-1B-0924 (remote code `config_molmoe.py` / `modeling_molmoe.py`, docs/spec/molmo.md 9.4):
# config.json is a flat dump of the training ModelConfig (`d_model`, `n_heads`, `moe_num_experts`, a nested
# `vision_backbone`); weights sit under `model.` with attention and MLP nested per block and one module per expert.

_MOLMOE_RENAME = {
    "attn.attn_out.weight": "attn.o_proj.weight", "attn.attn_norm.weight": "attn_norm.weight",
    "attn.q_norm.weight": "attn.q_norm.weight", "attn.k_norm.weight": "attn.k_norm.weight",
    "mlp.ff_norm.weight": "ff_norm.weight", "mlp.gate.weight": "mlp.router.weight",
}
# config.json values the remote code accepts but this loader does not implement: (field, supported values)
_MOLMOE_REQUIRED = (("rope_impl", ("llama",)), ("layer_norm_type", ("rms",)), ("activation_type", ("swiglu",)),
                    ("include_bias", (False,)), ("clip_qkv", (None,)), ("head_dim", (None,)),
                    ("moe_shared_expert", (False,)), ("weight_tying", (False,)), ("rope", (True,)),
                    ("image_pooling_2d", ("attention-meanq",)), ("image_projector", ("mlp",)),
                    ("use_cls_feature", (False,)), ("normalize_input_embeds", (False,)))


def is_molmoe_config(hf: dict[str, Any]) -> bool:
    """A MolmoE remote-code config.json (the dense Molmo releases have `hidden_size` and no `block_type`)."""
    return hf.get("block_type") == "moe"


def molmoe_config(hf: dict[str, Any]) -> MolmoConfig:
    """Our MolmoConfig from MolmoE's config.json; a setting this loader does not implement is refused."""
    for name, ok in _MOLMOE_REQUIRED:
        if hf.get(name, ok[0]) not in ok:
            raise ValueError(f"MolmoE config.json: {name}={hf[name]!r} is not supported (expected {ok[0]!r})")
    ffn = (hf.get("mlp_hidden_size") or hf.get("mlp_ratio", 4) * hf["d_model"]) // 2  # SwiGLU halves the width
    llm = LLMConfig(
        d_model=hf["d_model"], n_layers=hf["n_layers"], n_heads=hf["n_heads"],
        n_kv_heads=hf.get("n_kv_heads") or hf["n_heads"], mlp_hidden=ffn, rope_theta=hf.get("rope_theta", 10000.0),
        qkv_bias=hf.get("qkv_bias", False), qk_norm=hf.get("attention_layer_norm", False), qk_norm_type="full",
        moe_experts=hf["moe_num_experts"], moe_top_k=hf["moe_top_k"], moe_norm_topk=False,
        norm_after=hf.get("norm_after", False), vocab_size=hf["vocab_size"],
        embedding_size=hf.get("embedding_size") or hf["vocab_size"],
        additional_vocab_size=hf.get("additional_vocab_size") or 128, rms_eps=hf.get("layer_norm_eps") or 1e-5,
        max_position=hf.get("max_position_embeddings") or hf.get("max_sequence_length", 4096))
    v = hf.get("vision_backbone") or {}
    vision = VisionConfig(
        image_size=tuple(v.get("image_default_input_size", (336, 336)))[0], patch_size=v.get("image_patch_size", 14),
        width=v.get("image_emb_dim", 1024), n_layers=v.get("image_num_layers", 23), n_heads=v.get("image_num_heads", 16),
        mlp_dim=v.get("image_mlp_dim", 4096), act=v.get("image_mlp_activations", "quick_gelu"),
        ln_eps=v.get("image_norm_eps", 1e-5), vit_layers=tuple(hf.get("vit_layers", (-2, -9))))
    pad = hf.get("image_padding_embed") or "none"
    connector = ConnectorConfig(pool_size=hf.get("image_pooling_h", 2), pad_embed=pad, pool_heads=vision.n_heads)
    return MolmoConfig(vision=vision, connector=connector, llm=llm, max_crops=hf.get("max_crops", 12),
                       overlap_margins=tuple(hf.get("overlap_margins", (4, 4))))


def molmoe_to_ours(sd: dict[str, torch.Tensor], cfg: MolmoConfig) -> dict[str, torch.Tensor]:
    """MolmoE-1B's state dict -> ours: fused att_proj split, per-expert gate/up/down stacked, lm_head -> ff_out."""
    from model.weights import official_to_ours

    c, out = cfg.llm, {}
    kv = c.n_kv_heads * c.head_dim
    experts: dict[tuple[int, str], dict[int, torch.Tensor]] = {}
    vision = {k: v for k, v in sd.items() if k.startswith("model.vision_backbone.")}
    out.update(official_to_ours(vision, cfg))
    for k, v in sd.items():
        if k in vision:
            continue
        m = re.fullmatch(r"model\.transformer\.blocks\.(\d+)\.(.+)", k)
        if k == "lm_head.weight":
            out["transformer.ff_out.weight"] = v
        elif k in ("model.transformer.wte.embedding", "model.transformer.wte.new_embedding",
                   "model.transformer.ln_f.weight"):
            out[k.removeprefix("model.")] = v
        elif m and m[2] == "attn.att_proj.weight":
            q, kk, vv = v.split([c.d_model, kv, kv], dim=0)
            p = f"transformer.blocks.{m[1]}.attn."
            out.update({p + "q_proj.weight": q, p + "k_proj.weight": kk, p + "v_proj.weight": vv})
        elif m and m[2] in _MOLMOE_RENAME:
            out[f"transformer.blocks.{m[1]}.{_MOLMOE_RENAME[m[2]]}"] = v
        elif m and (e := re.fullmatch(r"mlp\.experts\.(\d+)\.(gate_proj|up_proj|down_proj)\.weight", m[2])):
            experts.setdefault((int(m[1]), e[2]), {})[int(e[1])] = v
        else:
            raise KeyError(f"unexpected key in a MolmoE checkpoint: {k}")
    for layer in range(c.n_layers):
        gate, up, down = (_stack(experts, layer, name, c.moe_experts) for name in ("gate_proj", "up_proj", "down_proj"))
        out[f"transformer.blocks.{layer}.mlp.gate_up_proj"] = torch.cat([gate, up], dim=1)
        out[f"transformer.blocks.{layer}.mlp.down_proj"] = down
    return {k: v.clone() for k, v in out.items()}


def _stack(experts: dict[tuple[int, str], dict[int, torch.Tensor]], layer: int, name: str, n: int) -> torch.Tensor:
    got = experts.get((layer, name), {})
    if sorted(got) != list(range(n)):
        raise KeyError(f"MolmoE checkpoint: block {layer} has {len(got)} of {n} experts' {name}")
    return torch.stack([got[i] for i in range(n)])


def load_molmoe(path: str | Path, cfg: MolmoConfig | None = None):
    """Our Molmo with the MoE decoder from a MolmoE-1B checkpoint directory (config.json + safetensors shards)."""
    from model.molmo import Molmo
    from model.weights import read_state_dict

    path = Path(path)
    hf = json.loads((path / "config.json").read_text())
    cfg = cfg or molmoe_config(hf)
    with torch.device("meta"):
        model = Molmo(cfg)
    model.load_state_dict(molmoe_to_ours(read_state_dict(path), cfg), strict=True, assign=True)
    if cfg.ft_embedding == "lm_head":
        model.transformer.wte.embedding.requires_grad_(False)
    return model
