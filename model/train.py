"""The Molmo training loop: one readable file (docs/spec/molmo.md section 7).

    cfg = TrainConfig.from_file("model/configs/tiny.json")   # model/train_config.py
    result = train(cfg)               # or: torchrun --nproc_per_node N -m model.cli train --config CFG

Per step: every rank takes its microbatches of the global batch from its loader (`model.data`,
prefetched one step ahead; the loader state of every rank is saved with each checkpoint, so a
resume continues at the next sample), computes the loss normaliser (average weighted loss tokens
per device, all-reduced), accumulates gradients (reduced across ranks on the last microbatch only), clips each
component by its own norm, steps AdamW with per-component cosine LRs, and logs loss, LRs,
tokens/s and MFU to TensorBoard.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.distributed as dist

from model.checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint
from model.config import MolmoConfig
from model.molmo import Molmo, build_model
from model.optim import build_optimizer, clip_grad_norm_tensors, norms_to_floats, set_lrs
from model.train_config import TrainConfig  # also imported from here: `from model.train import TrainConfig`

if TYPE_CHECKING:
    from model.data.source import LoaderSource

# ----------------------------------------------------------------------------- distributed


@dataclass
class Dist:
    rank: int = 0
    world: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def main(self) -> bool:
        return self.rank == 0


def setup_distributed(need_group: bool = False) -> Dist:
    """torchrun sets RANK/WORLD_SIZE; a single process gets a group only when asked (FSDP on 1 GPU)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    cuda = torch.cuda.is_available()
    local = int(os.environ.get("LOCAL_RANK", "0"))
    device = torch.device(f"cuda:{local}") if cuda else torch.device("cpu")
    if cuda:
        torch.cuda.set_device(device)
    if (world > 1 or need_group) and not dist.is_initialized():
        if world == 1:
            os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
            os.environ.setdefault("MASTER_PORT", str(29500 + os.getpid() % 1000))
            os.environ.setdefault("RANK", "0")
        dist.init_process_group("nccl" if cuda else "gloo", world_size=world,
                                rank=int(os.environ.get("RANK", "0")))
    rank = dist.get_rank() if dist.is_initialized() else 0
    return Dist(rank, world, device)


def shutdown_distributed() -> None:
    """Every rank reaches this point before the group is destroyed, so none exits mid-collective.

    Without the barrier a fast rank tears down its gloo pairs while a slow one (rank 0 writing the
    loss curve) still holds them, which on a busy CPU can abort the fast rank at exit.
    """
    if dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def all_reduce_sum(x: torch.Tensor) -> torch.Tensor:
    if dist.is_initialized():
        x = x.clone()
        dist.all_reduce(x)
    return x


def loss_normalizer(local_weight_sum: torch.Tensor) -> torch.Tensor:
    """Average weighted loss tokens per device (docs/spec/molmo.md 7.3): sums 300 and 500 -> 400."""
    world = dist.get_world_size() if dist.is_initialized() else 1
    return all_reduce_sum(local_weight_sum.double()) / world


def parallelize(model: Molmo, cfg: TrainConfig, d: Dist) -> tuple[torch.nn.Module, str]:
    """Activation checkpointing, compile, then FSDP2 (or DDP) from outside the model code."""
    if cfg.activation_checkpointing:
        model.set_grad_checkpointing(cfg.activation_checkpointing)
    if cfg.compile:  # compile each block's forward; FSDP2 hooks stay outside the compiled code
        import torch._dynamo as dynamo  # (a plain `import torch._dynamo` would shadow `torch` here)

        dynamo.config.cache_size_limit = max(dynamo.config.cache_size_limit, 64)
        for block in [*model.transformer.blocks, *model.vision_backbone.image_vit.blocks]:
            block.forward = torch.compile(block.forward)
    mode = cfg.parallel if cfg.parallel != "auto" else ("fsdp" if d.world > 1 else "none")
    if mode == "fsdp":
        from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard

        bf16 = cfg.precision == "fsdp_bf16"  # default: fp32 params + autocast
        # Blocks keep their float inputs as given (cast_forward_inputs=False): RoPE cos/sin stay fp32, and
        # activation-checkpoint recomputation sees the same dtypes as the forward pass.
        # The same policy on the outer modules keeps the loss weights fp32.
        mp = MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32,
                                  cast_forward_inputs=False) if bf16 else MixedPrecisionPolicy()
        for block in [*model.vision_backbone.image_vit.blocks, *model.transformer.blocks]:
            fully_shard(block, mp_policy=mp)
        fully_shard(model.vision_backbone, mp_policy=mp)
        fully_shard(model, mp_policy=mp)
    elif mode == "ddp":
        return torch.nn.parallel.DistributedDataParallel(model), mode
    return model, mode


# ----------------------------------------------------------------------------- data


def synthetic_examples(cfg: MolmoConfig, n: int, seq_len: int, seed: int = 0, n_crops: int = 2) -> list[dict]:
    """Per-example dicts of the contract with random images and a learnable copy task (smoke runs)."""
    rng = np.random.default_rng(seed)
    v, tpc = cfg.llm.vocab_size, cfg.tokens_per_crop
    out = []
    for i in range(n):
        crops = n_crops if i % 4 else 0  # every 4th example is text-only (zero crops)
        img_len = crops * tpc + (2 if crops else 0)
        half = max(2, (seq_len - img_len - 1) // 2)
        text = rng.integers(5, v, size=half)
        seq = np.concatenate([[v], np.full(crops * tpc, v + 2), [v + 1]]) if crops else np.zeros(0, np.int64)
        seq = np.concatenate([seq, text, text]).astype(np.int64)
        mask = np.zeros(len(seq), np.float32)
        mask[len(seq) - half:] = 1.0
        out.append({
            "input_tokens": np.concatenate([[0], seq[:-1]]), "target_tokens": seq, "loss_masks": mask,
            "position_ids": np.arange(len(seq)),
            "images": rng.integers(0, 256, size=(crops, cfg.vision.n_patches, cfg.vision.patch_dim), dtype=np.uint8),
            "image_input_idx": (np.arange(crops * tpc).reshape(crops, tpc) + 2).astype(np.int64),
            "image_masks": np.ones((crops, cfg.vision.n_patches), np.float32),
        })
    return out


def step_indices(step: int, n: int, cfg: TrainConfig, d: Dist) -> list[int]:
    """Example indices of this rank's share of global batch `step` (epoch-wise shuffles)."""
    per_rank = cfg.global_batch_size // d.world
    start = step * cfg.global_batch_size + d.rank * per_rank
    out = []
    for pos in range(start, start + per_rank):
        epoch, off = divmod(pos, n)
        perm = np.random.default_rng(cfg.seed + epoch * 1771).permutation(n)
        out.append(int(perm[off]))
    return out


def microbatches(source: Any, step: int, cfg: TrainConfig, d: Dist) -> list[dict[str, torch.Tensor]]:
    """This rank's microbatches of `step`: from a step-indexed loader, or a list of example dicts."""
    from model.collate import collate

    if hasattr(source, "batches"):  # model.data.source.LoaderSource (prefetches the next step)
        return [{k: v.to(d.device, non_blocking=True) for k, v in mb.items() if isinstance(v, torch.Tensor)}
                for mb in source.batches(step)]
    idx = step_indices(step, len(source), cfg, d)
    mbs = [idx[i:i + cfg.micro_batch_size] for i in range(0, len(idx), cfg.micro_batch_size)]
    return [{k: v.to(d.device) for k, v in collate([source[i] for i in mb], cfg.seq_len, pad_to_seq_len=False).items()}
            for mb in mbs]


# ----------------------------------------------------------------------------- the loop


def autocast_ctx(cfg: TrainConfig, d: Dist):
    use_bf16 = cfg.precision == "bf16" or (cfg.precision == "auto" and d.device.type == "cuda")
    return torch.autocast(d.device.type, dtype=torch.bfloat16) if use_bf16 else nullcontext()


def grad_sync(model: torch.nn.Module, sync: bool):
    """Gradients are reduced across ranks on the last microbatch only: DDP ``no_sync`` and FSDP2
    ``set_requires_gradient_sync`` (unsharded gradients accumulate locally until then)."""
    if isinstance(model, torch.nn.parallel.DistributedDataParallel):
        return nullcontext() if sync else model.no_sync()
    set_sync = getattr(model, "set_requires_gradient_sync", None)  # an FSDP2 module
    if callable(set_sync):
        set_sync(sync)
    return nullcontext()


def train_step(model, optimizer, mbs: list[dict], step: int, cfg: TrainConfig, d: Dist) -> dict:
    lrs = set_lrs(optimizer, step, cfg.max_steps, cfg.optim)
    local_w = sum(torch.where(mb["loss_masks"] > 0, mb["loss_masks"], 0).sum() for mb in mbs)
    # kept on the device: no host sync before the forward pass (the GPU never idles waiting for it)
    norm = loss_normalizer(torch.as_tensor(local_w, device=d.device, dtype=torch.float32)).float()
    stats = torch.zeros(5, dtype=torch.float64, device=d.device)  # ce, z, weight, correct, tokens
    for i, mb in enumerate(mbs):
        with grad_sync(model, i == len(mbs) - 1):
            with autocast_ctx(cfg, d):
                out = model(**mb, loss_normalizer=norm, z_loss=cfg.z_loss)
            out.loss.backward()
        stats += torch.stack([out.ce_sum.detach(), out.z_sum.detach(), out.weight_sum.detach(),
                              out.n_correct.double(), out.n_tokens.double()]).double()
    norm_tensors = clip_grad_norm_tensors(optimizer, cfg.optim.max_grad_norm)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    grad_norms = norms_to_floats(norm_tensors)  # the step's only host syncs: here and the stats below
    stats = all_reduce_sum(stats)
    w = max(float(stats[2]), 1e-9)
    return {"loss": float(stats[0]) / w, "z_loss": float(stats[1]) / w,
            "accuracy": float(stats[3]) / max(float(stats[4]), 1.0), "lr": lrs,
            "grad_norm": grad_norms}


def step_flops(core: Molmo, mbs: list[dict]) -> tuple[float, int]:
    """Model FLOPs (forward + backward) and input tokens of this rank's microbatches."""
    flops, tokens = 0.0, 0
    for mb in mbs:
        t = mb["input_tokens"].shape[1]
        n_tok = int((mb["input_tokens"] >= 0).sum())
        n_loss = int(((mb["loss_masks"] > 0) & (mb["target_tokens"] >= 0)).sum())
        n_crops = int(mb["crop_mask"].sum()) if "crop_mask" in mb else len(mb.get("pixel_values", ()))
        flops += n_tok * core.flops_per_token(t) + n_loss * core.head_flops_per_token()
        flops += n_crops * core.vit_flops_per_crop()
        tokens += n_tok
    return flops, tokens


def build_training(cfg: TrainConfig, d: Dist) -> tuple[torch.nn.Module, Molmo, torch.optim.Optimizer, str]:
    torch.manual_seed(cfg.seed)
    mcfg = cfg.model_config()
    core: Molmo
    if cfg.init_official and mcfg.family == "molmo2":
        from model.molmo2.hf_dir import load_molmo2_dir

        core = load_molmo2_dir(cfg.init_official)
    elif cfg.init_official:
        from model.weights import load_official

        core = load_official(cfg.init_official, mcfg)
    else:
        core = build_model(mcfg, d.device, seed=cfg.seed)  # initialised where it will train
        from model.weights import load_hf_llm, load_hf_vit

        if cfg.init_vit:
            load_hf_vit(core, cfg.init_vit)
        if cfg.init_llm:
            load_hf_llm(core, cfg.init_llm)
    if cfg.lora is not None:  # frozen (bf16) base + fp32 adapters, before sharding
        from model.lora import apply_lora

        apply_lora(core, cfg.lora)
    core = core.to(d.device).train()
    model, mode = parallelize(core, cfg, d)
    optimizer = build_optimizer(core.param_groups(), cfg.optim)  # after sharding: DTensor params
    return model, core, optimizer, mode


def train(cfg: TrainConfig, source: Sequence[dict] | LoaderSource | None = None) -> dict[str, Any]:
    """Run (or resume) training. Returns per-step metrics, the parallel mode and output paths."""
    d = setup_distributed(need_group=cfg.parallel == "fsdp")
    if d.device.type == "cpu" and cfg.cpu_threads:
        torch.set_num_threads(cfg.cpu_threads)
    out_dir = Path(cfg.out_dir)
    eval_spec = None
    if source is None and cfg.data == "synthetic":
        source = synthetic_examples(cfg.model_config(), 4 * cfg.global_batch_size, cfg.seq_len, cfg.seed)
    data: Any = source  # a list of example dicts, or model.data.source.LoaderSource
    if data is None:
        from model.data.source import build_sources

        data, eval_spec = build_sources(cfg, d.rank, d.world)
    if cfg.global_batch_size % d.world:
        raise ValueError(f"global_batch_size {cfg.global_batch_size} is not divisible by world size {d.world}")
    model, core, optimizer, mode = build_training(cfg, d)
    start, history, evals = 0, [], []
    ckpt = latest_checkpoint(out_dir) if cfg.resume else None
    if ckpt is not None:
        blob = load_checkpoint(ckpt, model, optimizer)
        start, history, evals = blob["step"], blob.get("history", []), blob.get("evals", [])
        restore_loader(data, blob, d)
    writer = _writer(cfg, out_dir, d)
    end = min(cfg.max_steps, cfg.stop_after or cfg.max_steps)
    for step in range(start, end):
        t0 = time.perf_counter()
        mbs = microbatches(data, step, cfg, d)
        m = train_step(model, optimizer, mbs, step, cfg, d)
        if d.device.type == "cuda":
            torch.cuda.synchronize()
        dt = time.perf_counter() - t0
        flops, tokens = step_flops(core, mbs)
        tot = all_reduce_sum(torch.tensor([flops, float(tokens)], dtype=torch.float64, device=d.device))
        m.update(step=step + 1, tokens_per_s=float(tot[1]) / dt, mfu=float(tot[0]) / dt / (cfg.peak_flops * d.world))
        history.append(m)
        _log(writer, m, d, cfg)
        if eval_spec and cfg.eval_every and (step + 1) % cfg.eval_every == 0 and mode == "none":
            evals.append((step + 1, run_eval(core, cfg, eval_spec)["accuracy"]))
        if cfg.save_every and (step + 1) % cfg.save_every == 0 and step + 1 < end:
            save_checkpoint(out_dir, model, optimizer, step + 1, _extra(history, evals, cfg, data))
    path = save_checkpoint(out_dir, model, optimizer, end, _extra(history, evals, cfg, data))
    if hasattr(data, "close"):
        data.close()
    result: dict[str, Any] = {"history": history, "parallel": mode, "world": d.world, "checkpoint": str(path),
              "final_loss": history[-1]["loss"] if history else math.nan}
    if cfg.lora is not None:  # the adapters alone, next to the full checkpoint
        from model.checkpoint import full_model_state
        from model.lora import lora_config_of, save_adapters

        msd = full_model_state(model)  # collective under FSDP
        if d.main:
            result["adapters"] = str(save_adapters(msd, out_dir / "adapters", lora_config_of(core)))
    if d.main and eval_spec:
        from model.checkpoint import load_model

        result["eval"] = run_eval(core if mode == "none" else load_model(path, d.device), cfg, eval_spec)
        if not evals or evals[-1][0] != end:
            evals.append((end, result["eval"]["accuracy"]))
        (out_dir / "eval.json").write_text(json.dumps(result["eval"], indent=2))
    if d.main:
        result["curve"] = str(plot_curve(history, out_dir / "loss_curve.png", evals))
        (out_dir / "history.json").write_text(json.dumps(history))
    if writer is not None:
        writer.close()
    return result


def _extra(history: list, evals: list, cfg: TrainConfig, source: Any = None) -> dict[str, Any]:
    extra = {"history": history, "evals": evals, "train_config": cfg.to_dict()}
    if hasattr(source, "state"):  # the loader state of every rank (collective under torchrun)
        extra["loader_state"] = gather_objects(source.state)
    return extra


def gather_objects(obj: Any) -> list[Any]:
    if not dist.is_initialized():
        return [obj]
    out: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def restore_loader(source: Any, blob: dict[str, Any], d: Dist) -> None:
    """Continue the data exactly after the checkpoint's last sample (no batch is rebuilt or replayed)."""
    if not hasattr(source, "load_state"):
        return  # example lists are indexed by step
    states = blob.get("loader_state")
    if not states or len(states) != d.world:
        raise ValueError(f"checkpoint has loader states for {len(states or [])} ranks, this run has {d.world}: "
                         "resume with the same number of ranks (or start a new out_dir)")
    source.load_state(states[d.rank])


def run_eval(core: Molmo, cfg: TrainConfig, spec: dict) -> dict[str, Any]:
    """Held-out evaluation of the (unsharded) model; restores train mode afterwards."""
    from model.data import load_tokenizer
    from model.evaluate import evaluate_model

    try:
        return evaluate_model(core, load_tokenizer(cfg.tokenizer), spec["shards"], split=spec["split"],
                              max_examples=cfg.eval_examples, max_new_tokens=cfg.max_new_tokens,
                              val_fraction=cfg.holdout_fraction, seq_len=cfg.seq_len, style_kind=cfg.example_style)
    finally:
        core.train()


def _writer(cfg: TrainConfig, out_dir: Path, d: Dist):
    if not (cfg.tensorboard and d.main):
        return None
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # tensorboard not installed: logs go to stdout only
        return None
    return SummaryWriter(str(out_dir / "tb"))


def _log(writer, m: dict, d: Dist, cfg: TrainConfig) -> None:
    if not d.main:
        return
    if writer is not None:
        for k in ("loss", "z_loss", "accuracy", "tokens_per_s", "mfu"):
            writer.add_scalar(f"train/{k}", m[k], m["step"])
        for k, v in {**{f"lr/{c}": x for c, x in m["lr"].items()},
                     **{f"grad_norm/{c}": x for c, x in m["grad_norm"].items()}}.items():
            writer.add_scalar(k, v, m["step"])
    if cfg.log_every and (m["step"] % cfg.log_every == 0 or m["step"] == 1):
        print(f"step {m['step']:>5}  loss {m['loss']:.4f}  acc {m['accuracy']:.3f}  "
              f"tok/s {m['tokens_per_s']:.0f}  mfu {m['mfu']:.2%}", flush=True)


def plot_curve(history: list[dict], path: Path, eval_points: list[tuple[int, float]] | None = None) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot([h["step"] for h in history], [h["loss"] for h in history], label="train loss")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    if eval_points:
        ax2 = ax.twinx()
        ax2.plot(*zip(*eval_points, strict=True), "o-", color="tab:green", label="held-out accuracy")
        ax2.set_ylabel("held-out accuracy")
        ax2.set_ylim(0, 1)
    ax.set_title("Molmo training")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
