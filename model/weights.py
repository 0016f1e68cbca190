"""Load Hugging Face ViT / LLM checkpoints into Molmo, and convert official Molmo checkpoints.

- `load_hf_vit(model, src)`: CLIP / MetaCLIP / SigLIP vision towers (`CLIPVisionModel`,
  `CLIPModel`, `SiglipVisionModel` state dicts). Conv patch weights become Linear weights with
  permute(0, 2, 3, 1) (dy, dx, c order); layers beyond `n_layers` (CLIP's 24th) are dropped.
- `load_hf_llm(model, src)`: Qwen2 (`Qwen2ForCausalLM`) and OLMo-2 (`Olmo2ForCausalLM`).
- `official_to_ours(sd, cfg)` / `ours_to_official(sd, cfg)`: the Hub remote-code key layout
  (`model.transformer.*`, `model.vision_backbone.*`, fused `att_proj` = [q; k; v] and
  `ff_proj` = [up; gate], docs/spec/molmo.md sections 5 and 9), both ways, bit-exact.
`src` is a directory of safetensors files, a single file, or a transformers model object.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from model.config import LLMConfig, MolmoConfig, VisionConfig

if TYPE_CHECKING:
    from model.molmo import Molmo

StateDict = dict[str, torch.Tensor]


def read_state_dict(src: str | Path | nn.Module | dict) -> StateDict:
    """All tensors of a checkpoint directory / file, or of a model object."""
    if isinstance(src, nn.Module):
        return dict(src.state_dict())
    if isinstance(src, dict):
        return dict(src)
    path = Path(src)
    files = sorted(path.glob("*.safetensors")) if path.is_dir() else [path]
    if path.is_dir() and not files:
        files = sorted(path.glob("*.bin")) + sorted(path.glob("*.pt"))
    if not files:
        raise FileNotFoundError(f"no checkpoint files (*.safetensors, *.bin, *.pt) in {path}")
    sd: StateDict = {}
    for f in files:
        if f.suffix == ".safetensors":
            from safetensors.torch import load_file

            sd.update(load_file(str(f)))
        else:
            sd.update(torch.load(f, map_location="cpu", weights_only=True))
    return sd


# ----------------------------------------------------------------------------- ViT

_VIT_LAYER = {
    "self_attn.q_proj": "attention.wq", "self_attn.k_proj": "attention.wk",
    "self_attn.v_proj": "attention.wv", "self_attn.out_proj": "attention.wo",
    "layer_norm1": "attention_norm", "layer_norm2": "ffn_norm",
    "mlp.fc1": "feed_forward.w1", "mlp.fc2": "feed_forward.w2",
}


def hf_vit_to_ours(sd: StateDict, cfg: VisionConfig) -> StateDict:
    """HF CLIP/SigLIP vision keys -> `vision_backbone.image_vit.*` keys."""
    sd = _vision_keys(sd)
    out: StateDict = {}
    w = sd["embeddings.patch_embedding.weight"]  # (W, 3, ps, ps)
    out["patch_embedding.weight"] = w.permute(0, 2, 3, 1).reshape(w.shape[0], -1)
    if cfg.patch_bias:
        out["patch_embedding.bias"] = sd["embeddings.patch_embedding.bias"]
    if cfg.use_cls:
        out["class_embedding"] = sd["embeddings.class_embedding"]
    out["positional_embedding"] = sd["embeddings.position_embedding.weight"]
    if cfg.pre_ln:
        for s in ("weight", "bias"):
            out[f"pre_ln.{s}"] = sd[f"pre_layrnorm.{s}"]
    pat = re.compile(r"encoder\.layers\.(\d+)\.(.+)\.(weight|bias)$")
    for k, v in sd.items():
        m = pat.match(k)
        if m and int(m.group(1)) < cfg.n_layers and m.group(2) in _VIT_LAYER:
            out[f"blocks.{m.group(1)}.{_VIT_LAYER[m.group(2)]}.{m.group(3)}"] = v
    return {f"vision_backbone.image_vit.{k}": v for k, v in out.items()}


def _vision_keys(sd: StateDict) -> StateDict:
    """Keys relative to the vision tower: `vision_model.` (CLIPModel, older saves) or bare (transformers 5)."""
    if any("vision_model." in k for k in sd):
        return {k.split("vision_model.", 1)[1]: v for k, v in sd.items() if "vision_model." in k}
    return {k.removeprefix("model."): v for k, v in sd.items() if "text_model" not in k}


def load_hf_vit(model: Molmo, src: Any) -> list[str]:
    """Copy a HF vision tower into `model`; returns the names it set."""
    ours = hf_vit_to_ours(read_state_dict(src), model.cfg.vision)
    _load_partial(model, ours)
    return sorted(ours)


# ----------------------------------------------------------------------------- LLM

_LLM_LAYER = {
    "self_attn.q_proj": "attn.q_proj", "self_attn.k_proj": "attn.k_proj",
    "self_attn.v_proj": "attn.v_proj", "self_attn.o_proj": "attn.o_proj",
    "self_attn.q_norm": "attn.q_norm", "self_attn.k_norm": "attn.k_norm",
    "mlp.gate_proj": "mlp.gate_proj", "mlp.up_proj": "mlp.up_proj", "mlp.down_proj": "mlp.down_proj",
}


def hf_llm_to_ours(sd: StateDict, cfg: LLMConfig) -> StateDict:
    """HF Qwen2 / OLMo-2 causal-LM keys -> `transformer.*` keys (embedding padded to embedding_size)."""
    out: StateDict = {}
    norms = ({"post_attention_layernorm": "attn_norm", "post_feedforward_layernorm": "ff_norm"}
             if cfg.norm_after else {"input_layernorm": "attn_norm", "post_attention_layernorm": "ff_norm"})
    pat = re.compile(r"model\.layers\.(\d+)\.(.+)\.(weight|bias)$")
    for k, v in sd.items():
        m = pat.match(k)
        if not m:
            continue
        i, name, kind = m.groups()
        target = _LLM_LAYER.get(name) or norms.get(name)
        if target:
            out[f"blocks.{i}.{target}.{kind}"] = v
    emb = sd["model.embed_tokens.weight"]
    out["wte.embedding"] = _pad_rows(emb, cfg.embedding_size)
    out["ln_f.weight"] = sd["model.norm.weight"]
    out["ff_out.weight"] = _pad_rows(sd.get("lm_head.weight", emb), cfg.embedding_size)
    return {f"transformer.{k}": v for k, v in out.items()}


def _pad_rows(w: torch.Tensor, rows: int) -> torch.Tensor:
    if w.shape[0] >= rows:
        return w[:rows]
    return torch.cat([w, w.new_zeros(rows - w.shape[0], *w.shape[1:])])


def load_hf_llm(model: Molmo, src: Any) -> list[str]:
    ours = hf_llm_to_ours(read_state_dict(src), model.cfg.llm)
    _load_partial(model, ours)
    return sorted(ours)


def _load_partial(model: nn.Module, sd: StateDict) -> None:
    own = model.state_dict()
    for k, v in sd.items():
        if k not in own:
            raise KeyError(f"checkpoint key {k} has no parameter in the model")
        if own[k].shape != v.shape:
            raise ValueError(f"{k}: checkpoint shape {tuple(v.shape)} != model shape {tuple(own[k].shape)}")
    with torch.no_grad():
        for k, v in sd.items():
            own[k].copy_(v)


# ----------------------------------------------------------------------------- official Molmo

_OFF_VIT = "model.vision_backbone.image_vit."
_OFF_LLM = "model.transformer."


def official_to_ours(sd: StateDict, cfg: MolmoConfig) -> StateDict:
    """Official Molmo (HF remote code) state dict -> ours."""
    c, out = cfg.llm, {}
    kv = c.n_kv_heads * c.head_dim
    for k, v in sd.items():
        if k.startswith(_OFF_VIT + "transformer.resblocks."):
            out["vision_backbone.image_vit.blocks." + k[len(_OFF_VIT + "transformer.resblocks."):]] = v
        elif k.startswith("model.vision_backbone."):
            out[k[len("model."):]] = v
        elif k.startswith(_OFF_LLM + "blocks."):
            i, rest = k[len(_OFF_LLM + "blocks."):].split(".", 1)
            p = f"transformer.blocks.{i}."
            if rest.startswith("att_proj."):
                kind = rest.split(".")[1]
                q, kk, vv = v.split([c.d_model, kv, kv], dim=0)
                out.update({p + f"attn.q_proj.{kind}": q, p + f"attn.k_proj.{kind}": kk, p + f"attn.v_proj.{kind}": vv})
            elif rest == "ff_proj.weight":
                up, gate = v.chunk(2, dim=0)
                out.update({p + "mlp.up_proj.weight": up, p + "mlp.gate_proj.weight": gate})
            else:
                out[p + _BLOCK_RENAME[rest]] = v
        elif k.startswith(_OFF_LLM):
            out["transformer." + k[len(_OFF_LLM):]] = v
        else:
            raise KeyError(f"unexpected key in an official Molmo checkpoint: {k}")
    return {k: v.clone() for k, v in out.items()}


_BLOCK_RENAME = {
    "attn_out.weight": "attn.o_proj.weight", "ff_out.weight": "mlp.down_proj.weight",
    "attn_norm.weight": "attn_norm.weight", "ff_norm.weight": "ff_norm.weight",
    "q_norm.weight": "attn.q_norm.weight", "k_norm.weight": "attn.k_norm.weight",
}
_BLOCK_RENAME_BACK = {v: k for k, v in _BLOCK_RENAME.items()}


def ours_to_official(sd: StateDict, cfg: MolmoConfig) -> StateDict:
    """Our state dict -> the official Molmo key layout (fused att_proj / ff_proj)."""
    out: StateDict = {}
    for k, v in sd.items():
        if k.startswith("vision_backbone.image_vit.blocks."):
            out[_OFF_VIT + "transformer.resblocks." + k[len("vision_backbone.image_vit.blocks."):]] = v
        elif k.startswith("vision_backbone."):
            out["model." + k] = v
        elif k.startswith("transformer.blocks."):
            i, rest = k[len("transformer.blocks."):].split(".", 1)
            p = f"{_OFF_LLM}blocks.{i}."
            if rest.startswith(("attn.q_proj.", "attn.k_proj.", "attn.v_proj.")):
                kind = rest.rsplit(".", 1)[1]
                if rest.startswith("attn.q_proj."):
                    b = f"transformer.blocks.{i}.attn."
                    out[p + f"att_proj.{kind}"] = torch.cat(
                        [sd[b + f"q_proj.{kind}"], sd[b + f"k_proj.{kind}"], sd[b + f"v_proj.{kind}"]])
            elif rest in ("mlp.up_proj.weight", "mlp.gate_proj.weight"):
                if rest == "mlp.up_proj.weight":
                    b = f"transformer.blocks.{i}.mlp."
                    out[p + "ff_proj.weight"] = torch.cat([sd[b + "up_proj.weight"], sd[b + "gate_proj.weight"]])
            else:
                out[p + _BLOCK_RENAME_BACK[rest]] = v
        elif k.startswith("transformer."):
            out[_OFF_LLM + k[len("transformer."):]] = v
        else:
            raise KeyError(f"unexpected key in a Molmo state dict: {k}")
    return {k: v.clone() for k, v in out.items()}


def config_from_official(hf_config: dict[str, Any]) -> MolmoConfig:
    """A MolmoConfig from the official `config.json` (the vision tower is fixed CLIP-L/23)."""
    h = hf_config
    if "pixmo_molmo_config" in h:  # written by `save_official`: our full config, vision included
        return MolmoConfig.from_dict(h["pixmo_molmo_config"])
    llm = LLMConfig(
        d_model=h["hidden_size"], n_layers=h["num_hidden_layers"], n_heads=h["num_attention_heads"],
        n_kv_heads=h.get("num_key_value_heads") or h["num_attention_heads"],
        mlp_hidden=h["intermediate_size"] // 2, rope_theta=h.get("rope_theta", 10000.0),
        qkv_bias=h.get("qkv_bias", False), qk_norm=h.get("attention_layer_norm", False),
        norm_after=h.get("norm_after", False), vocab_size=h["vocab_size"],
        embedding_size=h.get("embedding_size") or h["vocab_size"],
        additional_vocab_size=h.get("additional_vocab_size", 128),
        rms_eps=h.get("layer_norm_eps", 1e-6), max_position=h.get("max_position_embeddings", 4096),
    )
    return MolmoConfig(llm=llm)


def config_to_official(cfg: MolmoConfig, *, tied: bool = False) -> dict[str, Any]:
    """The released `config.json` fields (model/hf_molmo.py)."""
    from model.hf_molmo import official_config

    return official_config(cfg, tied=tied)


def load_official(path: str | Path, cfg: MolmoConfig | None = None):
    """Build our Molmo from an official checkpoint directory (config.json + safetensors, one file or shards).

    A tied export (`weight_tying` / `tie_word_embeddings`) has no `ff_out`: the head is the embedding."""
    from model.moe import is_molmoe_config, load_molmoe
    from model.molmo import Molmo

    path = Path(path)
    hf = json.loads((path / "config.json").read_text()) if (path / "config.json").exists() else {}
    if is_molmoe_config(hf):  # MolmoE-1B: its own config and key layout (model/moe.py)
        return load_molmoe(path, cfg)
    if cfg is None:
        cfg = config_from_official(hf)
    sd = read_state_dict(path)
    head, emb = _OFF_LLM + "ff_out.weight", _OFF_LLM + "wte.embedding"
    if head not in sd and (hf.get("weight_tying") or hf.get("tie_word_embeddings")) and emb in sd:
        sd[head] = sd[emb]
    with torch.device("meta"):
        model = Molmo(cfg)
    model.load_state_dict(official_to_ours(sd, cfg), strict=True, assign=True)
    if cfg.ft_embedding == "lm_head":
        model.transformer.wte.embedding.requires_grad_(False)
    return model


def save_official(model: nn.Module, out_dir: str | Path, *, tokenizer: Any = None,
                  code_from: str | Path | None = None) -> Path:
    """Write `model.safetensors` and the released layout's config files (model/hf_molmo.py).

    With a MolmoTokenizer: tokenizer, preprocessor, processor and generation configs too; with `code_from`
    (a local snapshot of allenai/Molmo-7B-D-0924) its remote-code files. When the head equals the
    embedding the export is tied: `tie_word_embeddings` / `weight_tying` true and no `ff_out` tensor."""
    from safetensors.torch import save_file

    from model.hf_molmo import check_remote_code, copy_remote_code, write_hf_files

    cfg: MolmoConfig = model.cfg  # type: ignore[assignment]
    if cfg.llm.moe_experts:
        raise ValueError("export of a MolmoE (mixture-of-experts) model to the official layout is not implemented")
    if code_from is not None:
        check_remote_code(code_from)  # before anything is written
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    sd = ours_to_official({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}, cfg)
    head, emb = sd[_OFF_LLM + "ff_out.weight"], sd[_OFF_LLM + "wte.embedding"]
    tied = head.shape == emb.shape and torch.equal(head, emb)
    if tied:
        del sd[_OFF_LLM + "ff_out.weight"]
    save_file({k: v.contiguous() for k, v in sd.items()}, str(out / "model.safetensors"))
    write_hf_files(cfg, out, tokenizer, tied=tied, dtype=str(emb.dtype).removeprefix("torch."))
    if code_from is not None:
        copy_remote_code(code_from, out)
    return out
