"""Training checkpoints: full (unsharded) model + optimizer state, step, RNG states of every rank.

One file per save, `OUT/checkpoints/step{N:06d}.pt`, written atomically by rank 0, and a
`latest` text file naming it. Works for plain, DDP and FSDP2 models through
`torch.distributed.checkpoint.state_dict` (full state dicts gathered to CPU).
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from model.molmo import Molmo


def _dcp():
    """torch.distributed.checkpoint.state_dict, imported on first use (a slow import)."""
    from torch.distributed.checkpoint import state_dict

    return state_dict


def _full(cpu_offload: bool = True):
    return _dcp().StateDictOptions(full_state_dict=True, cpu_offload=cpu_offload)


def _unwrap(model: nn.Module) -> Molmo:
    """The Molmo inside a DDP wrapper (`.module`), or the model itself."""
    inner = getattr(model, "module", model)
    assert isinstance(inner, Molmo), type(inner)
    return inner


def rng_state() -> dict[str, Any]:
    state = {"torch": torch.get_rng_state(), "python": random.getstate(), "numpy": np.random.get_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(state["cuda"])


def _gather_rng() -> list[dict[str, Any]]:
    if not (dist.is_available() and dist.is_initialized()):
        return [rng_state()]
    out: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(out, rng_state())
    return out


def full_model_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """The whole (unsharded, CPU) state dict; collective under FSDP."""
    return _dcp().get_model_state_dict(model, options=_full())


def save_checkpoint(out_dir: str | Path, model: nn.Module, optimizer: torch.optim.Optimizer, step: int,
                    extra: dict[str, Any] | None = None) -> Path:
    """Collective: every rank must call it. Returns the checkpoint path."""
    msd = _dcp().get_model_state_dict(model, options=_full())
    osd = _dcp().get_optimizer_state_dict(model, optimizer, options=_full())
    rngs = _gather_rng()
    ckpt_dir = Path(out_dir) / "checkpoints"
    path = ckpt_dir / f"step{step:06d}.pt"
    rank = dist.get_rank() if dist.is_initialized() else 0
    if rank == 0:
        ckpt_dir.mkdir(parents=True, exist_ok=True)
        blob = {"model": msd, "optimizer": osd, "step": step, "rng": rngs,
                "model_config": _unwrap(model).cfg.to_dict(), **(extra or {})}
        tmp = path.with_suffix(".tmp")
        torch.save(blob, tmp)
        os.replace(tmp, path)
        (ckpt_dir / "latest").write_text(path.name)
        (ckpt_dir / "model_config.json").write_text(json.dumps(blob["model_config"], indent=2))
    if dist.is_initialized():
        dist.barrier()
    return path


def latest_checkpoint(out_dir: str | Path) -> Path | None:
    marker = Path(out_dir) / "checkpoints" / "latest"
    if not marker.exists():
        return None
    path = marker.parent / marker.read_text().strip()
    return path if path.exists() else None


def load_checkpoint(path: str | Path, model: nn.Module, optimizer: torch.optim.Optimizer | None = None) -> dict:
    """Restore model (+ optimizer and this rank's RNG); returns the blob without the big states."""
    blob = torch.load(path, map_location="cpu", weights_only=False)
    _dcp().set_model_state_dict(model, blob.pop("model"), options=_full(False))
    osd = blob.pop("optimizer")
    if optimizer is not None:
        _dcp().set_optimizer_state_dict(model, optimizer, osd, options=_full(False))
    rank = dist.get_rank() if dist.is_initialized() else 0
    rngs = blob.get("rng") or []
    if rank < len(rngs):
        set_rng_state(rngs[rank])
    return blob


def load_model(path: str | Path, device: str | torch.device = "cpu"):
    """A `Molmo` from a training checkpoint file or a run directory (uses its latest checkpoint)."""
    from model.config import MolmoConfig
    from model.molmo import model_class

    path = Path(path)
    if path.is_dir():
        found = latest_checkpoint(path) or latest_checkpoint(path.parent)
        if found is None:
            raise FileNotFoundError(f"no checkpoint under {path} (expected checkpoints/latest)")
        path = found
    blob = torch.load(path, map_location="cpu", weights_only=False)
    cfg = MolmoConfig.from_dict(blob["model_config"])
    with torch.device("meta"):
        model = model_class(cfg)(cfg)
    lora = (blob.get("train_config") or {}).get("lora")
    if lora is not None:  # a LoRA run: same modules as in training (merge_lora gives a plain model)
        from model.lora import LoraConfig, apply_lora

        apply_lora(model, LoraConfig.from_dict(lora))
    model.load_state_dict(blob["model"], strict=True, assign=True)
    if cfg.ft_embedding == "lm_head":
        model.transformer.wte.embedding.requires_grad_(False)
    model.train_config = blob.get("train_config")
    return model.to(device).eval()
