"""LoRA fine-tuning for both model families: adapters on chosen Linear layers of a frozen base.

`apply_lora(model, cfg)` freezes every parameter, optionally casts the frozen base to bf16, and swaps each
targeted `nn.Linear` (matched by the last part of its module name, e.g. "q_proj") for a `LoRALinear` whose
`weight`/`bias` stay the base's (same state-dict keys) plus `lora_A` (r, in) and `lora_B` (out, r) in
fp32; `lora_B` starts at zero so the model is unchanged at step 0. Output: base(x) + alpha/r * B A drop(x).
`adapter_state_dict` / `save_adapters` / `load_adapters` handle the adapters alone; `merge_lora` folds
them into the base weights and restores plain `nn.Linear` modules (what an export writes).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from model.config_io import build, to_data

LLM_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


@dataclass(frozen=True)
class LoraConfig:
    rank: int = 8
    alpha: float = 16.0
    dropout: float = 0.0
    targets: tuple[str, ...] = LLM_TARGETS  # module-name suffixes; ViT: "wq", "wk", "wv", "wo", "w1", "w2"
    base_dtype: str = "bf16"  # bf16 | fp32: dtype of the frozen base weights

    def __post_init__(self) -> None:
        if self.rank < 1 or self.alpha <= 0 or not 0 <= self.dropout < 1:
            raise ValueError(f"LoRA needs rank >= 1, alpha > 0 and 0 <= dropout < 1, got {self}")
        if self.base_dtype not in ("bf16", "fp32") or not self.targets:
            raise ValueError("LoRA base_dtype must be bf16 or fp32 and targets must not be empty")

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LoraConfig:
        return build(cls, d)


class LoRALinear(nn.Linear):
    """A frozen Linear plus a trainable low-rank update; keeps the base's parameter names."""

    def __init__(self, base: nn.Linear, cfg: LoraConfig):
        nn.Module.__init__(self)
        self.in_features, self.out_features = base.in_features, base.out_features
        self.weight, self.bias = base.weight, base.bias
        dev = base.weight.device
        self.lora_A = nn.Parameter(torch.empty(cfg.rank, self.in_features, device=dev, dtype=torch.float32))
        self.lora_B = nn.Parameter(torch.zeros(self.out_features, cfg.rank, device=dev, dtype=torch.float32))
        if dev.type != "meta":
            nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))
        self.scaling = cfg.alpha / cfg.rank
        self.dropout = cfg.dropout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.linear(x.to(self.weight.dtype), self.weight, self.bias)
        h = F.dropout(x, self.dropout, self.training).to(self.lora_A.dtype)
        return out + (F.linear(F.linear(h, self.lora_A), self.lora_B) * self.scaling).to(out.dtype)

    def merged_weight(self) -> torch.Tensor:
        delta = (self.lora_B.float() @ self.lora_A.float()) * self.scaling
        return (self.weight.float() + delta).to(self.weight.dtype)


def apply_lora(model: nn.Module, cfg: LoraConfig) -> list[str]:
    """Freeze `model`, add adapters to the targeted Linear layers; returns their module names."""
    for p in model.parameters():
        p.requires_grad_(False)
    if cfg.base_dtype == "bf16":
        model.to(torch.bfloat16)
    names = []
    for name, mod in list(model.named_modules()):
        if isinstance(mod, nn.Linear) and not isinstance(mod, LoRALinear) and name.split(".")[-1] in cfg.targets:
            parent_name, _, attr = name.rpartition(".")
            setattr(model.get_submodule(parent_name) if parent_name else model, attr, LoRALinear(mod, cfg))
            names.append(name)
    if not names:
        raise ValueError(f"no Linear layer matches the LoRA targets {cfg.targets}")
    setattr(model, "lora_config", cfg)  # noqa: B010  (a plain attribute; nn.Module's typing wants modules)
    return names


def adapter_state_dict(src: nn.Module | dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The adapter tensors of a model (or of a full state dict, e.g. gathered from FSDP)."""
    sd = src.state_dict() if isinstance(src, nn.Module) else src
    return {k: v.detach().cpu().contiguous() for k, v in sd.items() if k.endswith((".lora_A", ".lora_B"))}


def save_adapters(src: nn.Module | dict[str, torch.Tensor], out_dir: str | Path,
                  cfg: LoraConfig | None = None) -> Path:
    """`adapter_model.safetensors` + `adapter_config.json` (the adapters only, not the base)."""
    from safetensors.torch import save_file

    cfg = cfg or lora_config_of(src)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    save_file(adapter_state_dict(src), str(out / "adapter_model.safetensors"))
    (out / "adapter_config.json").write_text(json.dumps(to_data(cfg), indent=2))
    return out


def lora_config_of(model: nn.Module | dict[str, torch.Tensor]) -> LoraConfig:
    """The LoraConfig `apply_lora` attached to `model`."""
    cfg = getattr(model, "lora_config", None)
    if not isinstance(cfg, LoraConfig):
        raise ValueError("the model has no LoRA adapters (apply_lora was not called)")
    return cfg


def load_adapters(model: nn.Module, path: str | Path) -> list[str]:
    """Add adapters (as configured in `path`) to `model` and load their weights."""
    from safetensors.torch import load_file

    path = Path(path)
    cfg = LoraConfig.from_dict(json.loads((path / "adapter_config.json").read_text()))
    names = apply_lora(model, cfg)
    missing, unexpected = model.load_state_dict(load_file(str(path / "adapter_model.safetensors")), strict=False)
    if unexpected or any(k.endswith((".lora_A", ".lora_B")) for k in missing):
        raise ValueError(f"adapters in {path} do not fit the model: unexpected {unexpected[:3]}")
    return names


@torch.no_grad()
def merge_lora(model: nn.Module) -> nn.Module:
    """Fold every adapter into its base weight and put plain `nn.Linear` modules back (in place)."""
    for name, mod in list(model.named_modules()):
        if isinstance(mod, LoRALinear):
            lin = nn.Linear(mod.in_features, mod.out_features, bias=mod.bias is not None,
                            device=mod.weight.device, dtype=mod.weight.dtype)
            lin.weight.copy_(mod.merged_weight())
            if mod.bias is not None:
                lin.bias.copy_(mod.bias)
            parent_name, _, attr = name.rpartition(".")
            setattr(model.get_submodule(parent_name) if parent_name else model, attr, lin)
    if hasattr(model, "lora_config"):
        del model.lora_config
    return model


def trainable_summary(model: nn.Module) -> dict[str, int]:
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return {"total": total, "trainable": trainable}
