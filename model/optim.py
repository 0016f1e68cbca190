"""AdamW with per-component groups, the `multimodal` cosine schedule and per-component clipping.

docs/spec/molmo.md 7.1: one linear warmup from 0 and one cosine to `alpha_f` x peak per component
(connector, ViT, LLM); gradient clipping uses the global norm of each component separately.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

COMPONENTS = ("connector", "vit", "llm")
IMPLEMENTATIONS = ("auto", "fused", "foreach")


@dataclass
class OptimConfig:
    connector_lr: float = 2e-4
    vit_lr: float = 6e-6
    llm_lr: float = 2e-5
    connector_warmup: int = 200
    vit_warmup: int = 2000
    llm_warmup: int = 2000
    alpha_f: float = 0.1  # final LR = alpha_f * peak
    weight_decay: float = 0.0
    betas: tuple[float, float] = (0.9, 0.95)
    eps: float = 1e-6
    max_grad_norm: float = 1.0  # per component; 0 disables clipping
    implementation: str = "auto"  # auto (fused on CUDA, foreach elsewhere) | fused | foreach

    def __post_init__(self) -> None:
        for c in COMPONENTS:
            if not (math.isfinite(self.peak(c)) and self.peak(c) >= 0) or self.warmup(c) < 0:
                raise ValueError(f"optim.{c}_lr must be a finite number >= 0 and optim.{c}_warmup >= 0, got "
                                 f"{self.peak(c)!r} and {self.warmup(c)!r}")
        if not 0 <= self.alpha_f <= 1 or self.weight_decay < 0 or self.max_grad_norm < 0 or not self.eps > 0:
            raise ValueError("optim needs 0 <= alpha_f <= 1, weight_decay >= 0, max_grad_norm >= 0 and eps > 0")
        if not all(0 <= b < 1 for b in self.betas):
            raise ValueError(f"optim.betas must lie in [0, 1), got {self.betas}")
        if self.implementation not in IMPLEMENTATIONS:
            raise ValueError(f"optim.implementation must be one of {', '.join(IMPLEMENTATIONS)}, "
                             f"got {self.implementation!r}")

    def peak(self, component: str) -> float:
        return float(getattr(self, f"{component}_lr"))

    def warmup(self, component: str) -> int:
        return int(getattr(self, f"{component}_warmup"))


def cosine_lr(step: int, peak: float, warmup: int, total: int, alpha_f: float = 0.1) -> float:
    """Linear warmup from 0, then cosine from `peak` to `alpha_f * peak` at `total`."""
    if step < warmup:
        return peak * step / warmup
    lo = alpha_f * peak
    t = min(1.0, (step - warmup) / max(1, total - warmup))
    return lo + (peak - lo) * (1 + math.cos(math.pi * t)) / 2


def build_optimizer(groups: dict[str, list[tuple[str, nn.Parameter]]], cfg: OptimConfig) -> torch.optim.AdamW:
    """One AdamW param group per non-empty component; each group remembers its component name."""
    param_groups: list[dict[str, Any]] = [
        {"params": [p for _, p in named], "component": name, "lr": 0.0, "weight_decay": cfg.weight_decay}
        for name, named in groups.items() if named
    ]
    impl = cfg.implementation  # checked by OptimConfig
    if impl == "auto":
        on_cuda = any(p.is_cuda for named in groups.values() for _, p in named)
        impl = "fused" if on_cuda else "foreach"
    return torch.optim.AdamW(param_groups, lr=0.0, betas=cfg.betas, eps=cfg.eps, weight_decay=cfg.weight_decay,
                             **{impl: True})


def set_lrs(optimizer: torch.optim.Optimizer, step: int, total: int, cfg: OptimConfig) -> dict[str, float]:
    lrs = {}
    for g in optimizer.param_groups:
        c = g["component"]
        g["lr"] = lrs[c] = cosine_lr(step, cfg.peak(c), cfg.warmup(c), total, cfg.alpha_f)
    return lrs


def norms_to_floats(norms: dict[str, torch.Tensor]) -> dict[str, float]:
    values = torch.stack([n.float() for n in norms.values()]).tolist() if norms else []  # one host sync
    return dict(zip(norms, values, strict=True))


def clip_grad_norm_tensors(optimizer: torch.optim.Optimizer, max_norm: float) -> dict[str, torch.Tensor]:
    """Clip each component by its own global norm (works with FSDP2 DTensor grads).

    Returns the norms as device tensors (no host sync); `norms_to_floats` reads them in one sync."""
    norms = {}
    for g in optimizer.param_groups:
        params = [p for p in g["params"] if p.grad is not None]
        if not params:
            continue
        limit = max_norm if max_norm > 0 else float("inf")
        norm = torch.nn.utils.clip_grad_norm_(params, limit, foreach=True)
        norms[g["component"]] = norm.full_tensor() if hasattr(norm, "full_tensor") else norm
    return norms
