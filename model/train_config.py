"""`TrainConfig`: every setting of a training run, checked at construction, and how files and `--set` build it.

    cfg = load_train_config(["tiny", "my.yaml"], ["max_steps=300", "optim.llm_lr=1e-3", "model.llm.n_layers=2"])

Files (JSON or YAML; a bare name means model/configs/<name>.json) are laid over the dataclass defaults in order,
then each `key=value` (docs/model.md "Train configs"). A dotted key walks into a nested config: `optim.*`,
`lora.*` (a LoRA run with the other LoRA settings at their defaults), `model.*` (the preset named by `model` is
expanded into its full MolmoConfig first).
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from model.config import MolmoConfig, get_config
from model.config_io import apply_set, build, merge, to_data
from model.examples import STYLE_KINDS
from model.lora import LoraConfig
from model.optim import OptimConfig
from pixmo.text import read_mapping

CONFIG_DIR = Path(__file__).parent / "configs"
CHOICES: dict[str, tuple[Any, ...]] = {
    "data": ("shards", "synthetic"),
    "precision": ("auto", "bf16", "fp32", "fsdp_bf16"),
    "parallel": ("auto", "fsdp", "ddp", "none"),
    "activation_checkpointing": (False, True, "all", "vit", "llm", "none"),
    "example_style": STYLE_KINDS,
}


@dataclass
class TrainConfig:
    model: str | MolmoConfig = "tiny"  # preset name, or a full MolmoConfig
    tokenizer: str = "tiny"  # "tiny" or a local HF tokenizer path
    data: str = "shards"  # shards | synthetic
    train_shards: list[str] = field(default_factory=list)
    eval_shards: list[str] = field(default_factory=list)  # empty: a held-out split of train_shards
    holdout_fraction: float = 0.1
    out_dir: str = "out/model/tiny"
    seq_len: int = 256
    global_batch_size: int = 8
    micro_batch_size: int = 4  # per device
    max_steps: int = 200  # schedule length
    stop_after: int | None = None  # stop early (the schedule still spans max_steps)
    optim: OptimConfig = field(default_factory=OptimConfig)
    z_loss: float = 1e-4
    precision: str = "auto"  # auto (bf16 autocast on GPU, fp32 on CPU) | bf16 | fp32 | fsdp_bf16 (FSDP2 bf16 params)
    parallel: str = "auto"  # auto (fsdp when world > 1) | fsdp | ddp | none
    activation_checkpointing: bool | str = False  # True/"all", "vit" (ViT blocks only), "llm", False/"none"
    compile: bool = False
    seed: int = 0
    log_every: int = 10
    save_every: int = 0  # 0: only at the end
    resume: bool = True  # continue from OUT/checkpoints/latest when present
    peak_flops: float = 989e12  # per device; H100 SXM dense bf16
    tensorboard: bool = True
    num_workers: int = 0  # DataLoader workers per rank
    cpu_threads: int = 1  # torch threads per process on CPU (0: torch's default); 1 is fastest on busy CPUs
    init_vit: str | None = None  # HF CLIP/SigLIP checkpoint dir
    init_llm: str | None = None  # HF Qwen2/OLMo-2 checkpoint dir
    init_official: str | None = None  # official Molmo (or MolmoE-1B) checkpoint dir, or a transformers Molmo2 dir
    example_style: str = "demo_or_style"
    eval_every: int = 0  # 0: evaluate only at the end (when there is an eval split)
    eval_examples: int = 64
    max_new_tokens: int = 24
    lora: LoraConfig | None = None  # None: full fine-tune

    def __post_init__(self) -> None:
        for name, allowed in CHOICES.items():
            value = getattr(self, name)
            if not any(value == a and type(value) is type(a) for a in allowed):
                raise ValueError(f"{name} must be one of {', '.join(map(str, allowed))}; got {value!r}")
        for name in ("seq_len", "global_batch_size", "micro_batch_size", "max_steps", "max_new_tokens"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("log_every", "save_every", "eval_every", "eval_examples", "num_workers", "cpu_threads"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.micro_batch_size > self.global_batch_size:
            raise ValueError(f"micro_batch_size ({self.micro_batch_size}) is larger than global_batch_size "
                             f"({self.global_batch_size})")
        if self.stop_after is not None and not 1 <= self.stop_after <= self.max_steps:
            raise ValueError(f"stop_after must be in 1..max_steps ({self.max_steps}), got {self.stop_after}")
        if not 0 <= self.holdout_fraction < 1 or not (math.isfinite(self.z_loss) and self.z_loss >= 0):
            raise ValueError("holdout_fraction must be in [0, 1) and z_loss a finite number >= 0")
        if not self.peak_flops > 0:
            raise ValueError(f"peak_flops must be > 0, got {self.peak_flops}")
        if isinstance(self.model, str):
            get_config(self.model)  # an unknown preset fails here, not at the first step

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        """Strict: unknown fields and wrong types are refused (a ValueError naming the field)."""
        d = dict(d)
        if isinstance(d.get("model"), dict):
            d["model"] = MolmoConfig.from_dict(d["model"])
        return build(cls, d)

    @classmethod
    def from_file(cls, path: str | Path) -> TrainConfig:
        """JSON or YAML; a bare name ("tiny") means model/configs/<name>.json."""
        return cls.from_dict(read_mapping(config_path(path)))

    def model_config(self) -> MolmoConfig:
        if self.init_official and (Path(self.init_official) / "config.json").exists():
            hf = json.loads((Path(self.init_official) / "config.json").read_text())
            if hf.get("model_type") == "molmo2":  # a transformers Molmo2 checkpoint defines the model
                from model.molmo2.hf_dir import load_molmo2_config

                return load_molmo2_config(self.init_official)
            from model.moe import is_molmoe_config, molmoe_config

            if is_molmoe_config(hf):  # so is a MolmoE-1B checkpoint (its decoder is the MoE one)
                return molmoe_config(hf)
        return get_config(self.model) if isinstance(self.model, str) else self.model

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def config_path(path: str | Path) -> Path:
    p = Path(path)
    if not p.exists() and not p.suffix:
        p = CONFIG_DIR / f"{path}.json"
    if not p.exists():
        raise FileNotFoundError(f"train config {path} not found (a file, or one of: "
                                f"{', '.join(sorted(c.stem for c in CONFIG_DIR.glob('*.json')))})")
    return p


def _expand(name: str, value: Any) -> Any:
    """On the way into `model.*` / `lora.*`: a preset name becomes its full config dict."""
    if name == "model" and isinstance(value, str):
        return to_data(get_config(value))
    return value


def load_train_config(files: list[str], sets: list[str]) -> TrainConfig:
    """The defaults, each file laid over them in order, then each `dotted.key=value`."""
    data = to_data(TrainConfig())
    for f in files:
        over = read_mapping(config_path(f))
        if isinstance(over.get("model"), dict) and isinstance(data.get("model"), str):
            data["model"] = _expand("model", data["model"])
        data = merge(data, over)
    for s in sets:
        apply_set(data, TrainConfig, s, expand=_expand)
    return TrainConfig.from_dict(data)
