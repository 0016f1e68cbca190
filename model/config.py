"""Molmo model configuration: vision encoder, connector and LLM, with presets.

Numbers follow docs/spec/molmo.md sections 0, 3, 4 and 5. Every config is a plain dataclass that checks its
invariants at construction (a ValueError naming the field) and round-trips through JSON (`to_dict` /
`from_dict`, typed by model/config_io.py), so train configs can embed one.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from model.config_io import build

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


@dataclass
class VisionConfig:
    """A ViT that reads 14x14 patches flattened in (dy, dx, c) order. CLIP, SigLIP and MetaCLIP differ only
    in the fields below (VISION_PRESETS names them)."""

    image_size: int = 336  # crop side in pixels
    patch_size: int = 14
    width: int = 1024
    n_layers: int = 23  # OpenAI CLIP-L cut to 23 layers (docs/spec/molmo.md 3)
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

    def __post_init__(self) -> None:
        _positive(self, "image_size", "patch_size", "width", "n_layers", "n_heads", "mlp_dim", "ln_eps")
        _one_of(self, "act", ACTIVATIONS)
        if self.image_size % self.patch_size:
            raise ValueError(f"vision.image_size ({self.image_size}) is not a multiple of patch_size "
                             f"({self.patch_size})")
        if self.width % self.n_heads:
            raise ValueError(f"vision.width ({self.width}) is not a multiple of n_heads ({self.n_heads})")
        bad = [i for i in self.vit_layers if not -self.n_layers <= i < self.n_layers]
        if not self.vit_layers or bad:
            raise ValueError(f"vision.vit_layers {self.vit_layers} must be non-empty layer indices of a "
                             f"{self.n_layers}-layer ViT")
        if min(self.std) <= 0:
            raise ValueError(f"vision.std must be positive, got {self.std}")

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
    """Attention pooling with a mean query (v1: pool_size x pool_size windows; Molmo2: the index lists of
    its preprocessor, `MolmoConfig.family` picks which) and a SwiGLU projector."""

    pool_size: int = 2
    pad_embed: str = "pad_and_partial_pad"  # or "none"
    pool_heads: int = 16  # heads of the pooling attention (dim = vision width)
    projector_hidden: int = 0  # SwiGLU width of the image projector; 0: the LLM's mlp_hidden (v1)

    def __post_init__(self) -> None:
        _positive(self, "pool_size", "pool_heads")
        _one_of(self, "pad_embed", ("pad_and_partial_pad", "none"))
        if self.projector_hidden < 0:
            raise ValueError(f"connector.projector_hidden must be >= 0, got {self.projector_hidden}")


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
    qk_norm: bool = False  # RMSNorm on q and k
    qk_norm_type: str = "full"  # full: over the whole projection width (OLMo); per_head: over head_dim (Qwen3)
    attn_head_dim: int = 0  # explicit head size (Qwen3: 128 at d_model 2560); 0: d_model // n_heads
    rope_scaling: dict[str, Any] | None = None  # transformers' rope_parameters minus rope_theta (rope_type, factor...)
    rope_scaling_layers: tuple[int, ...] | None = None  # layers with the scaled RoPE; None: all of them
    moe_experts: int = 0  # > 0: OLMoE mixture-of-experts MLPs (model/moe.py) of mlp_hidden each
    moe_top_k: int = 0
    moe_norm_topk: bool = False
    norm_after: bool = False  # OLMo-2: norms on the branch outputs
    vocab_size: int = 152064  # tokenizer size; special image tokens come after it
    embedding_size: int = 152064  # rows of the (frozen) original table = logits width
    additional_vocab_size: int = 128
    rms_eps: float = 1e-6
    max_position: int = 4096

    def __post_init__(self) -> None:
        _positive(self, "d_model", "n_layers", "n_heads", "n_kv_heads", "mlp_hidden", "rope_theta", "vocab_size",
                  "embedding_size", "rms_eps", "max_position")
        _one_of(self, "qk_norm_type", ("full", "per_head"))
        for name in ("attn_head_dim", "moe_experts", "moe_top_k", "additional_vocab_size"):
            if getattr(self, name) < 0:
                raise ValueError(f"llm.{name} must be >= 0, got {getattr(self, name)}")
        if self.embedding_size < self.vocab_size:
            raise ValueError(f"llm.embedding_size ({self.embedding_size}) is smaller than vocab_size "
                             f"({self.vocab_size})")
        if self.n_heads % self.n_kv_heads:
            raise ValueError(f"n_heads ({self.n_heads}) must be a multiple of n_kv_heads ({self.n_kv_heads})")
        if self.moe_experts and not 0 < self.moe_top_k <= self.moe_experts:
            raise ValueError(f"moe_top_k must be in 1..moe_experts ({self.moe_experts}), got {self.moe_top_k}")
        if self.attn_head_dim == 0 and self.d_model % self.n_heads:
            raise ValueError(f"d_model ({self.d_model}) is not a multiple of n_heads; set attn_head_dim")
        if self.head_dim % 2:
            raise ValueError(f"head_dim ({self.head_dim}) must be even (RoPE rotates pairs)")
        if self.moe_top_k and not self.moe_experts:
            raise ValueError(f"moe_top_k ({self.moe_top_k}) needs moe_experts > 0")
        layers = self.rope_scaling_layers or ()
        if any(not 0 <= i < self.n_layers for i in layers):
            raise ValueError(f"rope_scaling_layers {layers} must be layers of 0..{self.n_layers - 1}")
        if self.rope_scaling is not None and self.rope_scaling.get("rope_type", "default") not in ROPE_TYPES:
            raise ValueError(f"rope_scaling.rope_type must be one of {', '.join(ROPE_TYPES)}, "
                             f"got {self.rope_scaling.get('rope_type')!r}")

    @property
    def head_dim(self) -> int:
        return self.attn_head_dim or self.d_model // self.n_heads

    def layer_is_scaled(self, layer: int) -> bool:
        """Does `layer` use the scaled RoPE (transformers' Molmo2 `rope_scaling_layers`)?"""
        if self.rope_scaling is None:
            return False
        return self.rope_scaling_layers is None or layer in self.rope_scaling_layers


@dataclass
class ImageTokenIds:
    """Molmo2's image tokens: ids in the tokenizer (after the base vocabulary) of the 8B checkpoint by default."""

    image_start: int = 151936
    image_end: int = 151937
    image_patch: int = 151938
    image_col: int = 151939
    low_res_image_start: int = 151940
    image_placeholder: int = 151941  # `<|image|>`, replaced by the processor
    frame_start: int = 151943
    frame_end: int = 151944

    def __post_init__(self) -> None:
        ids = dataclasses.astuple(self)
        if min(ids) < 0 or len(set(ids)) != len(ids):
            raise ValueError(f"image token ids must be distinct and non-negative, got {ids}")

    def block_ids(self) -> tuple[int, ...]:
        """Tokens that form the bidirectional image block (transformers' mm_token_type_ids == 1)."""
        return (self.image_patch, self.image_col, self.image_start, self.low_res_image_start,
                self.frame_start, self.image_end, self.frame_end)


@dataclass
class MolmoConfig:
    """`family` "molmo" is v1 (docs/spec/molmo.md); "molmo2" is Molmo2 (docs/spec/molmo2.md): index pooling, bidirectional image
    attention, `image_tokens` placed by the prompt (model/molmo2/)."""

    family: str = "molmo"  # molmo | molmo2
    vision: VisionConfig = field(default_factory=VisionConfig)
    connector: ConnectorConfig = field(default_factory=ConnectorConfig)
    llm: LLMConfig = field(default_factory=LLMConfig)
    max_crops: int = 12  # high-res crops (the global crop comes on top)
    overlap_margins: tuple[int, int] = (4, 4)
    residual_dropout: float = 0.0  # on every token
    response_residual_dropout: float = 0.0  # only on loss tokens (caption pre-training: 0.1)
    ft_embedding: str = "lm_head"  # freeze the original embedding table; train new rows + head
    init_std: float = 0.02
    image_tokens: ImageTokenIds = field(default_factory=ImageTokenIds)  # Molmo2 only

    def __post_init__(self) -> None:
        _one_of(self, "family", ("molmo", "molmo2"))
        _one_of(self, "ft_embedding", ("lm_head", "all"))
        _positive(self, "max_crops", "init_std")
        for name in ("residual_dropout", "response_residual_dropout"):
            if not 0 <= getattr(self, name) < 1:
                raise ValueError(f"{name} must be in [0, 1), got {getattr(self, name)}")
        if self.vision.width % self.connector.pool_heads:
            raise ValueError(f"vision.width ({self.vision.width}) is not a multiple of connector.pool_heads "
                             f"({self.connector.pool_heads})")
        left, right = self.overlap_margins
        if min(left, right) < 0 or left + right >= self.vision.grid:
            raise ValueError(f"overlap_margins {self.overlap_margins} must be >= 0 and leave a window in a "
                             f"{self.vision.grid}-patch crop")
        if self.family == "molmo" and left % self.connector.pool_size:
            raise ValueError(f"overlap_margins {self.overlap_margins}: the left margin must be a multiple of "
                             f"connector.pool_size ({self.connector.pool_size})")

    @property
    def projector_hidden(self) -> int:
        return self.connector.projector_hidden or self.llm.mlp_hidden

    @property
    def tokens_per_crop(self) -> int:
        g = -(-self.vision.grid // self.connector.pool_size)
        return g * g

    def preprocess_config(self, tokenizer: Any = None) -> Any:
        """The data side's `PreprocessConfig` with this model's crop geometry (and tokenizer ids)."""
        from model.tiling import PreprocessConfig

        pcfg = PreprocessConfig(
            crop_size=self.vision.image_size, patch_size=self.vision.patch_size,
            pooling=self.connector.pool_size, overlap_margins=self.overlap_margins,
            max_crops=self.max_crops, mean=self.vision.mean, std=self.vision.std,
        )
        return pcfg.with_tokens(tokenizer) if tokenizer is not None else pcfg

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> MolmoConfig:
        """Strict: unknown fields and wrong types are refused. Configs saved before `vision.kind` and
        `connector.pooling` were dropped (both were labels the code never read) still load."""
        d = _without_legacy_labels(d)
        return build(cls, d)


LEGACY_LABELS = {("vision", "kind"): ("clip", "siglip", "metaclip"),
                 ("connector", "pooling"): ("attention_meanq", "index_masked_meanq")}


def _without_legacy_labels(d: dict[str, Any]) -> dict[str, Any]:
    d = dict(d)
    for (part, name), known in LEGACY_LABELS.items():
        sub = d.get(part)
        if isinstance(sub, dict) and name in sub:
            if sub[name] not in known:
                raise ValueError(f"{part}.{name} {sub[name]!r} is not supported (only {', '.join(known)})")
            d[part] = {k: v for k, v in sub.items() if k != name}
    return d


ACTIVATIONS = ("quick_gelu", "gelu_tanh", "gelu")
ROPE_TYPES = ("default", "linear", "llama3", "yarn")


def _positive(obj: Any, *names: str) -> None:
    for name in names:
        value = getattr(obj, name)
        if not value > 0:
            raise ValueError(f"{type(obj).__name__}.{name} must be > 0, got {value!r}")


def _one_of(obj: Any, name: str, choices: tuple[str, ...]) -> None:
    value = getattr(obj, name)
    if value not in choices:
        raise ValueError(f"{type(obj).__name__}.{name} must be one of {', '.join(choices)}; got {value!r}")


# ----------------------------------------------------------------------------- presets

SIGLIP_SO400M = VisionConfig(
    image_size=378, width=1152, n_layers=27, n_heads=16, mlp_dim=4304,
    act="gelu_tanh", ln_eps=1e-6, use_cls=False, pre_ln=False, patch_bias=True,
    vit_layers=(-3, -9), mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5),
)
METACLIP_L = VisionConfig(n_layers=24, vit_layers=(-3, -9))


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
    if name == "molmoe-1b":  # OLMoE-1B-7B decoder: 64 experts, 8 active, full-width QK-norm, pre-norm
        return MolmoConfig(llm=LLMConfig(
            d_model=2048, n_layers=16, n_heads=16, n_kv_heads=16, mlp_hidden=1024, rope_theta=10000.0,
            qkv_bias=False, qk_norm=True, moe_experts=64, moe_top_k=8, vocab_size=50280, embedding_size=50304,
            rms_eps=1e-5))
    if name.startswith("molmo2-"):
        return _molmo2_preset(name)
    raise ValueError(f"unknown model preset {name!r}; choose one of {PRESETS}")


# Molmo2 (docs/spec/molmo2.md "Differences"): SigLIP-2 tower at 378 px cut to 25 blocks, features of blocks 24 and 18,
# masked index pooling, no pad embeddings, max 8 crops. Text models: Qwen3-4B / Qwen3-8B (per-head QK-norm,
# head_dim 128) and OLMo-3-7B (full-width QK-norm, norm_after). A released config.json is the authority on
# the exact numbers (model/molmo2/weights.py reads it); these presets give the shapes.
MOLMO2_VIT = VisionConfig(
    image_size=378, width=1152, n_layers=25, n_heads=16, mlp_dim=4304, act="gelu_tanh",
    ln_eps=1e-6, use_cls=False, pre_ln=False, patch_bias=True, vit_layers=(24, 18),
    mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5), float32_attention=False,
)


def _molmo2(llm: LLMConfig, vision: VisionConfig = MOLMO2_VIT, **kw: Any) -> MolmoConfig:
    return MolmoConfig(
        family="molmo2", vision=dataclasses.replace(vision),
        connector=ConnectorConfig(pad_embed="none",
                                  pool_heads=kw.pop("pool_heads", vision.n_heads)),
        llm=llm, max_crops=kw.pop("max_crops", 8), overlap_margins=kw.pop("overlap_margins", (4, 4)), **kw)


def _molmo2_preset(name: str) -> MolmoConfig:
    qwen3: dict[str, Any] = dict(n_kv_heads=8, attn_head_dim=128, qkv_bias=False, qk_norm=True, qk_norm_type="per_head",
                 rope_theta=1e6, vocab_size=151936, embedding_size=151936, max_position=36864)
    if name == "molmo2-4b":
        return _molmo2(LLMConfig(d_model=2560, n_layers=36, n_heads=32, mlp_hidden=9728, **qwen3))
    if name == "molmo2-8b":
        return _molmo2(LLMConfig(d_model=4096, n_layers=36, n_heads=32, mlp_hidden=12288, **qwen3))
    if name == "molmo2-o-7b":
        return _molmo2(LLMConfig(
            d_model=4096, n_layers=32, n_heads=32, n_kv_heads=32, mlp_hidden=11008, rope_theta=500000.0,
            qkv_bias=False, qk_norm=True, qk_norm_type="full", norm_after=True, vocab_size=100278,
            embedding_size=100278, max_position=36864),
            image_tokens=_token_ids(100278, 100285))
    if name == "molmo2-tiny":  # random weights on a laptop CPU; ids after the tiny tokenizer's 1024
        vit = dataclasses.replace(MOLMO2_VIT, image_size=56, width=32, n_layers=3, n_heads=2, mlp_dim=64,
                                  vit_layers=(-1, 0))
        llm = LLMConfig(d_model=64, n_layers=2, n_heads=4, n_kv_heads=2, attn_head_dim=32, mlp_hidden=96,
                        qkv_bias=False, qk_norm=True, qk_norm_type="per_head", rope_theta=10000.0,
                        vocab_size=1024, embedding_size=1024, additional_vocab_size=16, max_position=2048)
        return _molmo2(llm, vit, max_crops=4, overlap_margins=(1, 1),
                       image_tokens=_token_ids(1024, 1031))
    raise ValueError(f"unknown model preset {name!r}; choose one of {PRESETS}")


def _token_ids(first: int, frame_start: int) -> ImageTokenIds:
    """Six consecutive ids from `first` (image_start .. image_placeholder), then the two frame ids."""
    return ImageTokenIds(first, first + 1, first + 2, first + 3, first + 4, first + 5, frame_start, frame_start + 1)


PRESETS = ("molmo-7b-d", "molmo-7b-o", "molmo-72b", "vitl-1.5b", "tiny", "molmoe-1b",
           "molmo2-4b", "molmo2-8b", "molmo2-o-7b", "molmo2-tiny")
VISION_PRESETS = {"clip": VisionConfig, "siglip": lambda: dataclasses.replace(SIGLIP_SO400M),
                  "metaclip": lambda: dataclasses.replace(METACLIP_L)}


def get_config(name: str, vision: str | None = None, **llm_overrides: Any) -> MolmoConfig:
    """A preset by name; `vision` swaps the encoder (clip | siglip | metaclip, the paper's ablations);
    `llm_overrides` patch LLM fields (e.g. vocab_size of a tokenizer)."""
    cfg = _preset(name)
    if vision is not None:
        if vision not in VISION_PRESETS:
            raise ValueError(f"unknown vision encoder {vision!r}; choose one of {sorted(VISION_PRESETS)}")
        cfg = dataclasses.replace(cfg, vision=VISION_PRESETS[vision]())
    if llm_overrides:
        cfg = dataclasses.replace(cfg, llm=dataclasses.replace(cfg.llm, **llm_overrides))
    return cfg
