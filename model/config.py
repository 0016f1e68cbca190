"""Molmo model configuration: vision encoder, connector and LLM, with presets.

Numbers follow molmo.md sections 0, 3, 4 and 5. Every config is a plain dataclass that
round-trips through JSON (`to_dict` / `from_dict`), so train configs can embed one.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


@dataclass
class VisionConfig:
    """A ViT that reads 14x14 patches flattened in (dy, dx, c) order."""

    kind: str = "clip"  # clip | siglip | metaclip
    image_size: int = 336  # crop side in pixels
    patch_size: int = 14
    width: int = 1024
    n_layers: int = 23  # OpenAI CLIP-L cut to 23 layers (molmo.md 3)
    n_heads: int = 16
    mlp_dim: int = 4096
    act: str = "quick_gelu"  # quick_gelu | gelu_tanh | gelu
    ln_eps: float = 1e-5
    use_cls: bool = True  # CLIP prepends a CLS token; SigLIP has none
    pre_ln: bool = True  # CLIP has a LayerNorm before the blocks; SigLIP has none
    patch_bias: bool = False  # CLIP's conv has no bias; SigLIP's has one
    vit_layers: tuple[int, ...] = (-2, -9)  # features concatenated in this order
    mean: tuple[float, float, float] = CLIP_MEAN
    std: tuple[float, float, float] = CLIP_STD
    float32_attention: bool = True  # the reference casts q and k to fp32

    @property
    def grid(self) -> int:
        return self.image_size // self.patch_size

    @property
    def n_patches(self) -> int:
        return self.grid * self.grid

    @property
    def patch_dim(self) -> int:
        return self.patch_size * self.patch_size * 3

    @property
    def feature_dim(self) -> int:
        return self.width * len(self.vit_layers)


@dataclass
class ConnectorConfig:
    pooling: str = "attention_meanq"  # 2x2 attention pooling with a mean query
    pool_size: int = 2
    pad_embed: str = "pad_and_partial_pad"  # or "none"
    pool_heads: int = 16  # heads of the pooling attention (dim = vision width)


@dataclass
class LLMConfig:
    """A Qwen2-style (qkv bias, GQA) or OLMo-2-style (QK-norm, norm_after) decoder."""

    d_model: int = 3584
    n_layers: int = 28
    n_heads: int = 28
    n_kv_heads: int = 4
    mlp_hidden: int = 18944  # unfused: the reference stores 2x this in one matrix
    rope_theta: float = 1e6
    qkv_bias: bool = True
    qk_norm: bool = False  # RMS over the full q / k projection widths (OLMo)
    norm_after: bool = False  # OLMo-2: norms on the branch outputs
    vocab_size: int = 152064  # tokenizer size; special image tokens come after it
    embedding_size: int = 152064  # rows of the (frozen) original table = logits width
    additional_vocab_size: int = 128
    rms_eps: float = 1e-6
    max_position: int = 4096

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_heads


@dataclass
class MolmoConfig:
    vision: VisionConfig = field(default_factory=VisionConfig)
    connector: ConnectorConfig = field(default_factory=ConnectorConfig)
    llm: LLMConfig = field(default_factory=LLMConfig)
    max_crops: int = 12  # high-res crops (the global crop comes on top)
    overlap_margins: tuple[int, int] = (4, 4)
    residual_dropout: float = 0.0  # on every token
    response_residual_dropout: float = 0.0  # only on loss tokens (caption pre-training: 0.1)
    ft_embedding: str = "lm_head"  # freeze the original embedding table; train new rows + head
    init_std: float = 0.02

    @property
    def tokens_per_crop(self) -> int:
        g = -(-self.vision.grid // self.connector.pool_size)
        return g * g

    def preprocess_config(self, tokenizer: Any = None) -> Any:
        """The data side's `PreprocessConfig` with this model's crop geometry (and tokenizer ids)."""
        from model.preprocessing import PreprocessConfig  # engineer A's module

        pcfg = PreprocessConfig(
            crop_size=self.vision.image_size, patch_size=self.vision.patch_size,
            pooling=self.connector.pool_size, overlap_margins=tuple(self.overlap_margins),
            max_crops=self.max_crops, mean=tuple(self.vision.mean), std=tuple(self.vision.std),
        )
        return pcfg.with_tokens(tokenizer) if tokenizer is not None else pcfg

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> MolmoConfig:
        d = dict(d)
        vision = _build(VisionConfig, d.pop("vision", {}))
        connector = _build(ConnectorConfig, d.pop("connector", {}))
        llm = _build(LLMConfig, d.pop("llm", {}))
        if "overlap_margins" in d:
            d["overlap_margins"] = tuple(d["overlap_margins"])
        return _build(cls, d, vision=vision, connector=connector, llm=llm)


def _build(klass: type, values: dict[str, Any], **extra: Any) -> Any:
    known = {f.name for f in dataclasses.fields(klass)}
    unknown = set(values) - known
    if unknown:
        raise ValueError(f"unknown {klass.__name__} fields: {sorted(unknown)}")
    out = {k: (tuple(v) if isinstance(v, list) else v) for k, v in values.items()}
    return klass(**out, **extra)


# ----------------------------------------------------------------------------- presets

SIGLIP_SO400M = VisionConfig(
    kind="siglip", image_size=378, width=1152, n_layers=27, n_heads=16, mlp_dim=4304,
    act="gelu_tanh", ln_eps=1e-6, use_cls=False, pre_ln=False, patch_bias=True,
    vit_layers=(-3, -9), mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5),
)
METACLIP_L = VisionConfig(kind="metaclip", n_layers=24, vit_layers=(-3, -9))


def _preset(name: str) -> MolmoConfig:
    if name == "molmo-7b-d":
        return MolmoConfig()
    if name == "molmo-72b":
        return MolmoConfig(llm=LLMConfig(d_model=8192, n_layers=80, n_heads=64, n_kv_heads=8,
                                         mlp_hidden=29568, rms_eps=1e-5))
    if name == "molmo-7b-o":
        return MolmoConfig(llm=LLMConfig(
            d_model=4096, n_layers=32, n_heads=32, n_kv_heads=32, mlp_hidden=11008,
            rope_theta=500000.0, qkv_bias=False, qk_norm=True, norm_after=True,
            vocab_size=100278, embedding_size=100352))
    if name == "vitl-1.5b":  # CLIP ViT-L + a Qwen2-1.5B-shaped decoder (GPU benchmark)
        return MolmoConfig(llm=LLMConfig(d_model=1536, n_layers=28, n_heads=12, n_kv_heads=2,
                                         mlp_hidden=8960, vocab_size=151936, embedding_size=151936))
    if name == "tiny":  # trains on a laptop CPU
        return MolmoConfig(
            vision=VisionConfig(image_size=112, width=64, n_layers=3, n_heads=4, mlp_dim=256,
                                vit_layers=(-1, -2)),
            connector=ConnectorConfig(pool_heads=4),
            llm=LLMConfig(d_model=128, n_layers=3, n_heads=4, n_kv_heads=2, mlp_hidden=384,
                          vocab_size=1024, embedding_size=1024, rope_theta=10000.0),
            max_crops=2, overlap_margins=(2, 2),
        )
    raise ValueError(f"unknown model preset {name!r}; choose one of {PRESETS}")


PRESETS = ("molmo-7b-d", "molmo-7b-o", "molmo-72b", "vitl-1.5b", "tiny")
VISION_PRESETS = {"clip": VisionConfig, "siglip": lambda: dataclasses.replace(SIGLIP_SO400M),
                  "metaclip": lambda: dataclasses.replace(METACLIP_L)}


def get_config(name: str, vision: str | None = None, **llm_overrides: Any) -> MolmoConfig:
    """A preset by name; `vision` swaps the encoder (clip | siglip | metaclip, the paper's ablations);
    `llm_overrides` patch LLM fields (e.g. vocab_size of a tokenizer)."""
    cfg = _preset(name)
    if vision is not None:
        if vision not in VISION_PRESETS:
            raise ValueError(f"unknown vision encoder {vision!r}; choose one of {sorted(VISION_PRESETS)}")
        cfg.vision = VISION_PRESETS[vision]()
    if llm_overrides:
        cfg.llm = dataclasses.replace(cfg.llm, **llm_overrides)
    return cfg
