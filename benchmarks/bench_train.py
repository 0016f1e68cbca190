"""Training throughput of Molmo: tokens/s and MFU for a model preset (`python benchmarks/bench_train.py`).

Each step is a real training step of `model.train` (forward and backward over `--accum`
microbatches of `--batch` rows, per-component clipping, AdamW) on synthetic batches: every row holds `--crops` image crops whose pooled features are
injected into the first `crops * tokens_per_crop` positions, followed by text with loss. FLOPs
count the ViT, connector, decoder blocks (with causal attention) and the LM head on loss tokens.

The baseline, measured in the same run, is a plain matrix product on the same device and dtype
(bf16 on GPU, fp32 on CPU): the model's achieved FLOP/s is reported as a ratio to it, and MFU
against `--peak-flops` (default 989e12, H100/H200 SXM dense bf16).

    --quick (CPU):  tiny preset, seq 128, batch 4, 6 steps
    GPU:            --config vitl-1.5b --seq-len 2304 --batch 4 --accum 4 --fsdp --compile
The last line is one JSON object with the figures and the target (MFU >= 0.40 on an H100).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from model.optim import OptimConfig  # noqa: E402
from model.train import TrainConfig, build_training, setup_distributed, step_flops, train_step  # noqa: E402

TARGET_MFU = 0.40


def synthetic_batch(cfg, batch: int, seq_len: int, crops: int, device) -> dict[str, torch.Tensor]:
    v, tpc, p = cfg.llm.vocab_size, cfg.tokens_per_crop, cfg.vision.n_patches
    n_img = crops * tpc
    if n_img + 8 > seq_len:
        raise ValueError(f"{crops} crops x {tpc} tokens do not fit in seq_len {seq_len}")
    g = torch.Generator().manual_seed(0)
    tokens = torch.randint(5, v, (batch, seq_len), generator=g)
    tokens[:, 1:1 + n_img] = v + 2  # <im_patch>
    loss = torch.zeros(batch, seq_len)
    loss[:, 1 + n_img:] = 1.0
    out = {
        "input_tokens": tokens, "target_tokens": torch.roll(tokens, -1, 1), "loss_masks": loss,
        "position_ids": torch.arange(seq_len).expand(batch, seq_len).contiguous(),
        "images": torch.randint(0, 256, (batch, crops, p, cfg.vision.patch_dim), dtype=torch.uint8, generator=g),
        "image_input_idx": (torch.arange(n_img) + 1).view(1, crops, tpc).expand(batch, -1, -1).contiguous(),
        "image_masks": torch.ones(batch, crops, p),
        "crop_mask": torch.ones(batch, crops, dtype=torch.bool),
    }
    return {k: t.to(device) for k, t in out.items()}


def matmul_flops(device: torch.device, dtype: torch.dtype, n: int, reps: int) -> float:
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    for _ in range(2):
        a @ b
    _sync(device)
    t = time.perf_counter()
    for _ in range(reps):
        a @ b
    _sync(device)
    return 2 * n**3 * reps / (time.perf_counter() - t)


def phase_times(model, opt, mb: dict, cfg, d) -> dict[str, float]:
    """One extra step with a sync between phases: ms for one microbatch's forward+backward, the
    per-component clipping and the AdamW step (where the time goes; not used for MFU)."""
    from model.optim import clip_grad_norm_tensors
    from model.train import autocast_ctx

    out = {}
    _sync(d.device)
    t = time.perf_counter()
    with autocast_ctx(cfg, d):
        loss = model(**mb, loss_normalizer=1.0, z_loss=cfg.z_loss).loss
    loss.backward()
    _sync(d.device)
    out["fwd_bwd"], t = (time.perf_counter() - t) * 1e3, time.perf_counter()
    clip_grad_norm_tensors(opt, cfg.optim.max_grad_norm)
    _sync(d.device)
    out["clip"], t = (time.perf_counter() - t) * 1e3, time.perf_counter()
    opt.step()
    opt.zero_grad(set_to_none=True)
    _sync(d.device)
    out["optimizer"] = (time.perf_counter() - t) * 1e3
    return {k: round(v, 1) for k, v in out.items()}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def run(args) -> dict:
    parallel = "fsdp" if args.fsdp else "none"
    precision = args.precision if args.precision != "auto" else ("bf16" if torch.cuda.is_available() else "fp32")
    cfg = TrainConfig(model=args.config, data="synthetic", seq_len=args.seq_len,
                      global_batch_size=args.batch * args.accum, micro_batch_size=args.batch, max_steps=10**6,
                      parallel=parallel, precision=precision, compile=args.compile,
                      activation_checkpointing=args.ac, tensorboard=False, cpu_threads=args.threads,
                      optim=OptimConfig(implementation=args.optimizer))
    d = setup_distributed(need_group=args.fsdp)
    if d.device.type == "cpu" and args.threads:
        torch.set_num_threads(args.threads)
    mcfg = cfg.model_config()
    if args.fast_vit_attention:
        mcfg.vision.float32_attention = False
    cfg.model = mcfg
    model, core, opt, mode = build_training(cfg, d)
    mbs = [synthetic_batch(mcfg, args.batch, args.seq_len, args.crops, d.device)] * args.accum
    t0 = time.perf_counter()
    for s in range(args.warmup):  # includes compilation
        train_step(model, opt, mbs, 2000 + s, cfg, d)
    _sync(d.device)
    warm_s = time.perf_counter() - t0
    if d.device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    for s in range(args.steps):
        m = train_step(model, opt, mbs, 2000 + args.warmup + s, cfg, d)
    _sync(d.device)
    dt = (time.perf_counter() - t0) / args.steps
    flops, tokens = step_flops(core, mbs)
    phases = phase_times(model, opt, mbs[0], cfg, d)
    dtype = torch.bfloat16 if d.device.type == "cuda" else torch.float32
    mm = matmul_flops(d.device, dtype, 8192 if d.device.type == "cuda" else 512, 20 if d.device.type == "cuda" else 5)
    peak = args.peak_flops if d.device.type == "cuda" else mm
    return {
        "config": args.config, "device": torch.cuda.get_device_name() if d.device.type == "cuda" else "cpu",
        "torch": torch.__version__, "seq_len": args.seq_len, "batch": args.batch, "accum": args.accum,
        "crops": args.crops, "optimizer": type(opt).__name__ + ("(fused)" if opt.defaults.get("fused") else ""),
        "phases_ms": phases,
        "parallel": mode, "precision": precision, "compile": args.compile, "activation_checkpointing": args.ac,
        "fast_vit_attention": args.fast_vit_attention,
        "params_b": round(sum(p.numel() for p in core.parameters()) / 1e9, 3),
        "step_s": dt, "warmup_s": warm_s, "tokens_per_s": tokens / dt, "model_tflops": flops / dt / 1e12,
        "matmul_tflops": mm / 1e12, "ratio_vs_matmul": flops / dt / mm, "mfu": flops / dt / peak,
        "peak_tflops": peak / 1e12, "loss": m["loss"],
        "max_mem_gb": torch.cuda.max_memory_allocated() / 2**30 if d.device.type == "cuda" else None,
        "target_mfu": TARGET_MFU,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", default="vitl-1.5b", help="model preset: tiny | vitl-1.5b | molmo-7b-d ...")
    ap.add_argument("--seq-len", type=int, default=2304)
    ap.add_argument("--batch", type=int, default=2, help="rows per microbatch")
    ap.add_argument("--accum", type=int, default=1, help="microbatches per optimizer step (gradient accumulation)")
    ap.add_argument("--crops", type=int, default=13, help="image crops per row (13 = 12 + global)")
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--compile", action="store_true", help="torch.compile every block")
    ap.add_argument("--fsdp", action="store_true", help="wrap with FSDP2 fully_shard (even on 1 GPU)")
    ap.add_argument("--ac", nargs="?", const="all", default=False, choices=["all", "vit", "llm"],
                    help="activation checkpointing: all blocks (bare --ac), ViT blocks only, or LLM blocks only")
    ap.add_argument("--optimizer", default="auto", choices=["auto", "fused", "foreach"],
                    help="AdamW implementation (auto: fused on CUDA)")
    ap.add_argument("--precision", default="auto", help="auto | bf16 (autocast) | fsdp_bf16 | fp32")
    ap.add_argument("--fast-vit-attention", action="store_true", help="bf16 ViT attention (reference: fp32 q/k)")
    ap.add_argument("--peak-flops", type=float, default=989e12)
    ap.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch default)")
    ap.add_argument("--quick", action="store_true", help="tiny preset, small shapes (CPU, < 2 minutes)")
    ap.add_argument("--json-out", default=None, help="also append the JSON line to this file")
    args = ap.parse_args()
    if args.quick:
        args.config, args.seq_len, args.batch, args.crops, args.steps, args.warmup = "tiny", 128, 4, 3, 6, 1
    try:
        r = run(args)
    except torch.cuda.OutOfMemoryError as exc:
        r = {"config": args.config, "batch": args.batch, "error": f"out of memory: {str(exc)[:200]}"}
    if "error" not in r:
        print(f"{r['config']} on {r['device']}: seq {r['seq_len']} x batch {r['batch']} x accum {r['accum']} "
              f"({r['crops']} crops/row), "
              f"{r['parallel']}, {r['precision']}, compile={r['compile']}, ac={r['activation_checkpointing']}")
        print(f"  step time        {r['step_s'] * 1e3:9.1f} ms   (warm-up incl. compile {r['warmup_s']:.1f} s)")
        print(f"  tokens/s         {r['tokens_per_s']:9.0f}")
        print(f"  model TFLOP/s    {r['model_tflops']:9.3g}   = {r['ratio_vs_matmul']:.2f}x the matmul baseline "
              f"({r['matmul_tflops']:.3g} TFLOP/s measured now)")
        print(f"  phases (ms)      {r['phases_ms']}   (one synced microbatch; {r['optimizer']})")
        print(f"  MFU              {r['mfu']:9.1%}   (peak {r['peak_tflops']:.3g} TFLOP/s; target {TARGET_MFU:.0%})")
    if args.json_out:
        with open(args.json_out, "a") as f:
            f.write(json.dumps(r) + "\n")
    print(json.dumps(r))
    if torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()
    os._exit(0 if "error" not in r else 3)


if __name__ == "__main__":
    main()
