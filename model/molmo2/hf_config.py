"""`MolmoConfig(family="molmo2")` <-> transformers' `Molmo2Config` dict (config.json), both ways.

Field names are those of transformers' `configuration_molmo2.py` (docs/spec/molmo2.md "Differences"); the legacy
remote-code keys (`vit_config`, `image_default_input_size`, `vit_layers`) are read too.
"""

from __future__ import annotations

from typing import Any

from model.config import ConnectorConfig, ImageTokenIds, LLMConfig, MolmoConfig, VisionConfig

_QK = {"per_head": "qwen3", "full": "olmo"}
_TOKEN_KEYS = {"image_start": "image_start_token_id", "low_res_image_start": "low_res_image_start_token_id",
               "image_end": "image_end_token_id", "image_patch": "image_patch_id",
               "frame_start": "frame_start_token_id", "frame_end": "frame_end_token_id"}


def _rope_parameters(llm: LLMConfig) -> dict[str, Any]:
    params = {"rope_type": "default", **(llm.rope_scaling or {})}
    return {**params, "rope_theta": llm.rope_theta}


def config_to_hf(cfg: MolmoConfig) -> dict[str, Any]:
    """The config.json of a `Molmo2ForConditionalGeneration` with this model's shapes."""
    if cfg.family != "molmo2" or not cfg.llm.qk_norm or cfg.vision.use_cls or cfg.vision.pre_ln:
        raise ValueError("only a molmo2-family config (QK-norm, no CLS, no pre-LN) maps to transformers' Molmo2")
    v, c, t = cfg.vision, cfg.connector, cfg.llm
    out: dict[str, Any] = {
        "architectures": ["Molmo2ForConditionalGeneration"], "model_type": "molmo2",
        "vision_config": {
            "hidden_size": v.width, "intermediate_size": v.mlp_dim, "num_hidden_layers": v.n_layers,
            "num_attention_heads": v.n_heads, "num_key_value_heads": v.n_heads, "head_dim": v.width // v.n_heads,
            "hidden_act": "gelu_pytorch_tanh", "layer_norm_eps": v.ln_eps, "image_size": [v.image_size] * 2,
            "patch_size": v.patch_size, "num_position_embeddings": v.n_patches, "attention_bias": True,
        },
        "adapter_config": {
            "vision_feature_layer": list(v.vit_layers), "hidden_size": v.width,
            "num_attention_heads": c.pool_heads, "num_key_value_heads": c.pool_heads,
            "head_dim": v.width // c.pool_heads, "hidden_act": "silu", "intermediate_size": cfg.projector_hidden,
            "text_hidden_size": t.d_model, "mlp_bias": False, "attention_bias": True,
        },
        "text_config": {
            "hidden_size": t.d_model, "num_attention_heads": t.n_heads, "num_key_value_heads": t.n_kv_heads,
            "head_dim": t.head_dim, "vocab_size": t.vocab_size, "additional_vocab_size": t.additional_vocab_size,
            "attention_bias": t.qkv_bias, "qk_norm_type": _QK[t.qk_norm_type], "num_hidden_layers": t.n_layers,
            "intermediate_size": t.mlp_hidden, "hidden_act": "silu", "max_position_embeddings": t.max_position,
            "rope_parameters": _rope_parameters(t), "rms_norm_eps": t.rms_eps, "norm_after": t.norm_after,
            "rope_scaling_layers": (list(t.rope_scaling_layers) if t.rope_scaling_layers is not None
                                    else list(range(t.n_layers))),
            "tie_word_embeddings": False,
        },
        "tie_word_embeddings": False,
    }
    out.update({hf: getattr(cfg.image_tokens, ours) for ours, hf in _TOKEN_KEYS.items()})
    return out


def _vision(d: dict[str, Any], n_layers: int, vit_layers: tuple[int, ...]) -> VisionConfig:
    size = d.get("image_size", d.get("image_default_input_size", [378, 378]))
    size = size[0] if isinstance(size, (list, tuple)) else size
    if d.get("hidden_act", "gelu_pytorch_tanh") not in ("gelu_pytorch_tanh", "gelu_tanh"):
        raise ValueError(f"unsupported vision activation {d.get('hidden_act')!r}")
    return VisionConfig(
        image_size=size, patch_size=d.get("patch_size", d.get("image_patch_size", 14)),
        width=d["hidden_size"], n_layers=n_layers, vit_layers=vit_layers, n_heads=d["num_attention_heads"],
        mlp_dim=d["intermediate_size"], act="gelu_tanh", ln_eps=d.get("layer_norm_eps", 1e-6), use_cls=False,
        pre_ln=False, patch_bias=True, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5), float32_attention=False)


def _llm(d: dict[str, Any]) -> LLMConfig:
    rope = dict(d.get("rope_parameters") or {"rope_theta": d.get("rope_theta", 1e6)})
    theta = rope.pop("rope_theta")
    scaling = None if rope.get("rope_type", "default") == "default" else rope
    layers = d.get("rope_scaling_layers")
    n = d["num_hidden_layers"]
    return LLMConfig(
        d_model=d["hidden_size"], n_layers=n, n_heads=d["num_attention_heads"],
        n_kv_heads=d["num_key_value_heads"], mlp_hidden=d["intermediate_size"], rope_theta=theta,
        qkv_bias=d.get("attention_bias", d.get("qkv_bias", False)), qk_norm=True,
        qk_norm_type={"qwen3": "per_head", "olmo": "full"}[d.get("qk_norm_type", "qwen3")],
        attn_head_dim=d.get("head_dim") or 0, norm_after=d.get("norm_after", False),
        vocab_size=d["vocab_size"], embedding_size=d["vocab_size"],
        additional_vocab_size=d.get("additional_vocab_size", 128),
        rms_eps=d.get("rms_norm_eps", d.get("layer_norm_eps", 1e-6)),
        max_position=d.get("max_position_embeddings", 36864), rope_scaling=scaling,
        rope_scaling_layers=None if layers is None or list(layers) == list(range(n)) else tuple(layers))


def config_from_hf(hf: dict[str, Any], preprocessor: dict[str, Any] | None = None) -> MolmoConfig:
    """A config.json dict (native or legacy keys), plus preprocessor_config.json for crops and margins."""
    vd = hf.get("vision_config") or hf["vit_config"]
    ad = hf.get("adapter_config", {})
    n_vit = vd["num_hidden_layers"]
    layers = [int(x) for x in ad.get("vision_feature_layer", ad.get("vit_layers", [24, 18]))]
    if "vit_config" in hf and "vision_config" not in hf:  # legacy: 27 declared, keep max(layer) + 1
        layers = [x % n_vit for x in layers]
        n_vit = max(layers) + 1
    vision = _vision(vd, n_vit, tuple(layers))
    llm = _llm(hf["text_config"])
    width = ad.get("hidden_size", vision.width)
    if width != vision.width or ad.get("mlp_bias", False):
        raise ValueError("adapter hidden_size must equal the ViT width and mlp_bias must be false")
    connector = ConnectorConfig(pad_embed="none",
                                pool_heads=ad.get("num_attention_heads", vision.n_heads),
                                projector_hidden=ad.get("intermediate_size", llm.mlp_hidden))
    default = ImageTokenIds()
    ids = {ours: hf.get(key, getattr(default, ours)) for ours, key in _TOKEN_KEYS.items()}
    # `<im_col>` and `<|image|>` are not in config.json; in Molmo2's tokenizers they follow `<im_patch>` and
    # `<low_res_im_start>` (hf_dir.MOLMO2_SPECIAL); a tokenizer next to the config overrides this.
    tokens = ImageTokenIds(**ids, image_col=ids["image_patch"] + 1,
                           image_placeholder=ids["low_res_image_start"] + 1)
    pre = preprocessor or {}
    return MolmoConfig(family="molmo2", vision=vision, connector=connector, llm=llm, image_tokens=tokens,
                       max_crops=pre.get("max_crops", 8), overlap_margins=tuple(pre.get("overlap_margins", (4, 4))))
