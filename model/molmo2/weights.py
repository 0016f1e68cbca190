"""Molmo2 weights: transformers' checkpoint layouts <-> our `Molmo2` state dict, and checkpoint directories.

Two layouts are read (docs/spec/molmo2.md "Differences", checkpoint keys row):
- native: `Molmo2ForConditionalGeneration.state_dict()` in memory (`model.language_model.layers.N...`);
- legacy: what `save_pretrained` writes and the hub holds (`model.transformer.blocks.N.self_attn.att_proj`
  = [q; k; v], `mlp.ff_proj` = [up; gate], ViT under `image_vit.transformer.resblocks.N`).
The two embedding tables are joined and re-split by the configured sizes (`vocab_size` rows, then
`additional_vocab_size`), so a directory written by transformers 5.24+ (two equal halves, docs/spec/molmo2.md
"Observed bug") loads; we always write the configured split, which every loader reads.
"""

from __future__ import annotations

import re

import torch

from model.config import MolmoConfig

StateDict = dict[str, torch.Tensor]
VIT, BACK, LM = "vision_backbone.image_vit.", "vision_backbone.", "transformer."

_VIT_NATIVE = {"self_attn.q_proj": "attention.wq", "self_attn.k_proj": "attention.wk",
               "self_attn.v_proj": "attention.wv", "self_attn.o_proj": "attention.wo",
               "layer_norm1": "attention_norm", "layer_norm2": "ffn_norm",
               "mlp.fc1": "feed_forward.w1", "mlp.fc2": "feed_forward.w2"}
_ADAPTER_NATIVE = {"image_pooling_2d.q_proj": "image_pooling_2d.wq", "image_pooling_2d.k_proj": "image_pooling_2d.wk",
                   "image_pooling_2d.v_proj": "image_pooling_2d.wv", "image_pooling_2d.o_proj": "image_pooling_2d.wo",
                   "image_projector.gate_proj": "image_projector.w1", "image_projector.up_proj": "image_projector.w3",
                   "image_projector.down_proj": "image_projector.w2"}
_LM_NATIVE = {"self_attn.q_proj": "attn.q_proj", "self_attn.k_proj": "attn.k_proj", "self_attn.v_proj": "attn.v_proj",
              "self_attn.o_proj": "attn.o_proj", "self_attn.q_norm": "attn.q_norm", "self_attn.k_norm": "attn.k_norm",
              "mlp.gate_proj": "mlp.gate_proj", "mlp.up_proj": "mlp.up_proj", "mlp.down_proj": "mlp.down_proj",
              "input_layernorm": "attn_norm", "post_attention_layernorm": "ff_norm"}


def is_legacy(sd: StateDict) -> bool:
    return any(k.startswith("model.transformer.") for k in sd)


def _split_embedding(table: torch.Tensor, cfg: MolmoConfig) -> StateDict:
    n, extra = cfg.llm.vocab_size, cfg.llm.additional_vocab_size
    if table.shape[0] != n + extra:
        raise ValueError(f"embedding tables hold {table.shape[0]} rows; the config says {n} + {extra}")
    return {f"{LM}wte.embedding": table[:n], f"{LM}wte.new_embedding": table[n:]}


def native_to_ours(sd: StateDict) -> StateDict:
    """In-memory transformers keys -> ours (the embedding still joined under `_embed_tokens`)."""
    out: StateDict = {}
    for k, v in sd.items():
        if m := re.fullmatch(r"model\.vision_tower\.layers\.(\d+)\.(.+)\.(weight|bias)", k):
            out[f"{VIT}blocks.{m[1]}.{_VIT_NATIVE[m[2]]}.{m[3]}"] = v
        elif m := re.fullmatch(r"model\.vision_tower\.(patch_embedding\.\w+|positional_embedding)", k):
            out[VIT + m[1]] = v
        elif m := re.fullmatch(r"model\.multi_modal_projector\.(\w+\.\w+)\.(weight|bias)", k):
            out[f"{BACK}{_ADAPTER_NATIVE[m[1]]}.{m[2]}"] = v
        elif m := re.fullmatch(r"model\.language_model\.layers\.(\d+)\.(.+)\.(weight|bias)", k):
            out[f"{LM}blocks.{m[1]}.{_LM_NATIVE[m[2]]}.{m[3]}"] = v
        elif k == "model.language_model.embed_tokens.weight":
            out["_embed_tokens"] = v
        elif k == "model.language_model.norm.weight":
            out[f"{LM}ln_f.weight"] = v
        elif k == "lm_head.weight":
            out[f"{LM}ff_out.weight"] = v
        else:
            raise ValueError(f"unexpected Molmo2 weight {k!r}")
    return out


def legacy_to_ours(sd: StateDict, cfg: MolmoConfig) -> StateDict:
    """On-disk (save_pretrained / hub) keys -> ours (the embedding still joined under `_embed_tokens`)."""
    q_dim, kv_dim = cfg.llm.n_heads * cfg.llm.head_dim, cfg.llm.n_kv_heads * cfg.llm.head_dim
    out: StateDict = {}
    tables = {}
    for k, v in sd.items():
        k = k.removeprefix("model.")
        if m := re.fullmatch(r"vision_backbone\.image_vit\.transformer\.resblocks\.(\d+)\.(.+)", k):
            out[f"{VIT}blocks.{m[1]}.{m[2]}"] = v
        elif k.startswith("vision_backbone."):
            out[k] = v
        elif m := re.fullmatch(r"transformer\.blocks\.(\d+)\.self_attn\.att_proj\.(weight|bias)", k):
            for name, part in zip("qkv", v.split([q_dim, kv_dim, kv_dim]), strict=True):
                out[f"{LM}blocks.{m[1]}.attn.{name}_proj.{m[2]}"] = part
        elif m := re.fullmatch(r"transformer\.blocks\.(\d+)\.mlp\.ff_proj\.weight", k):
            up, gate = v.chunk(2, dim=0)
            out[f"{LM}blocks.{m[1]}.mlp.up_proj.weight"] = up
            out[f"{LM}blocks.{m[1]}.mlp.gate_proj.weight"] = gate
        elif m := re.fullmatch(r"transformer\.blocks\.(\d+)\.(.+)", k):
            rest = {"self_attn.attn_out.weight": "attn.o_proj.weight", "mlp.ff_out.weight": "mlp.down_proj.weight",
                    "self_attn.q_norm.weight": "attn.q_norm.weight", "self_attn.k_norm.weight": "attn.k_norm.weight",
                    "attn_norm.weight": "attn_norm.weight", "ff_norm.weight": "ff_norm.weight"}
            if m[2] not in rest:
                raise ValueError(f"unexpected Molmo2 weight {k!r}")
            out[f"{LM}blocks.{m[1]}.{rest[m[2]]}"] = v
        elif k in ("transformer.wte.embedding", "transformer.wte.new_embedding"):
            tables[k] = v
        elif k == "transformer.ln_f.weight" or k == "lm_head.weight":
            out[f"{LM}ln_f.weight" if "ln_f" in k else f"{LM}ff_out.weight"] = v
        else:
            raise ValueError(f"unexpected Molmo2 weight {k!r}")
    out["_embed_tokens"] = torch.cat([tables["transformer.wte.embedding"], tables["transformer.wte.new_embedding"]])
    return out


def to_ours(sd: StateDict, cfg: MolmoConfig) -> StateDict:
    """Either transformers layout -> the state dict of our `Molmo2(cfg)`."""
    out = legacy_to_ours(sd, cfg) if is_legacy(sd) else native_to_ours(sd)
    out.update(_split_embedding(out.pop("_embed_tokens"), cfg))
    return out


def ours_to_legacy(sd: StateDict, cfg: MolmoConfig) -> StateDict:
    """Our state dict -> the layout `save_pretrained` writes, with the configured embedding split."""
    out: StateDict = {}
    for k, v in sd.items():
        if m := re.fullmatch(r"vision_backbone\.image_vit\.blocks\.(\d+)\.(.+)", k):
            out[f"model.vision_backbone.image_vit.transformer.resblocks.{m[1]}.{m[2]}"] = v
        elif k.startswith("vision_backbone.") or k.startswith(f"{LM}wte.") or k == f"{LM}ln_f.weight":
            out[f"model.{k}"] = v
        elif k == f"{LM}ff_out.weight":
            out["lm_head.weight"] = v
        elif m := re.fullmatch(r"transformer\.blocks\.(\d+)\.(.+)", k):
            i, name = m[1], m[2]
            pre = f"model.transformer.blocks.{i}."
            if name.startswith("attn.q_proj."):
                kind = name.rsplit(".", 1)[1]
                parts = [sd[f"{LM}blocks.{i}.attn.{p}_proj.{kind}"] for p in "qkv"]
                out[f"{pre}self_attn.att_proj.{kind}"] = torch.cat(parts)
            elif name == "mlp.up_proj.weight":
                out[f"{pre}mlp.ff_proj.weight"] = torch.cat([v, sd[f"{LM}blocks.{i}.mlp.gate_proj.weight"]])
            elif name in ("attn.o_proj.weight", "mlp.down_proj.weight", "attn.q_norm.weight", "attn.k_norm.weight",
                          "attn_norm.weight", "ff_norm.weight"):
                legacy = {"attn.o_proj.weight": "self_attn.attn_out.weight", "mlp.down_proj.weight": "mlp.ff_out.weight",
                          "attn.q_norm.weight": "self_attn.q_norm.weight",
                          "attn.k_norm.weight": "self_attn.k_norm.weight"}.get(name, name)
                out[pre + legacy] = v
            elif not re.fullmatch(r"attn\.[kv]_proj\.\w+|mlp\.gate_proj\.weight", name):
                raise ValueError(f"unexpected weight {k!r}")
        else:
            raise ValueError(f"unexpected weight {k!r}")
    return out
