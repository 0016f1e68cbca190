"""LoRA figures: trainable parameters and training-state memory per preset; a measured CPU run.

Counts come from models built on the meta device (nothing allocated). Memory is the training state a
LoRA run holds: the frozen base in its dtype, fp32 adapters, their gradients and two AdamW moments,
against full fine-tuning with fp32 weights, gradients and moments (activations excluded). `--run` adds
a measured CPU run on the tiny preset (synthetic batches): peak RSS and the loss of the first and last steps.
Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import json
import resource
import time

import torch

from model.config import get_config
from model.lora import LoraConfig, apply_lora, trainable_summary
from model.molmo import build_model

GiB = 2**30


def figures(preset: str, lora: LoraConfig) -> dict:
    cfg = get_config(preset)
    model = build_model(cfg, "meta")
    apply_lora(model, lora)
    n = trainable_summary(model)
    base_bytes = 2 if lora.base_dtype == "bf16" else 4
    lora_state = (n["total"] - n["trainable"]) * base_bytes + n["trainable"] * 4 * 4  # weights, grads, 2 moments
    full_state = n["total"] * 4 * 4
    return {"preset": preset, "params": n["total"], "trainable": n["trainable"],
            "trainable_pct": round(100 * n["trainable"] / n["total"], 3),
            "lora_state_gib": round(lora_state / GiB, 2), "full_ft_state_gib": round(full_state / GiB, 2)}


def cpu_run(steps: int) -> dict:
    from model.collate import collate
    from model.train import synthetic_examples

    cfg = get_config("tiny")
    model = build_model(cfg, seed=0).train()
    apply_lora(model, LoraConfig(rank=8, alpha=16))
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    b = collate(synthetic_examples(cfg, 8, 96, 0))
    keys = ("input_tokens", "images", "image_masks", "image_input_idx", "target_tokens", "loss_masks")
    losses, t0 = [], time.perf_counter()
    for _ in range(steps):
        out = model(**{k: b[k] for k in keys if k in b})
        loss = out.ce_sum / out.weight_sum
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(round(float(loss.detach()), 3))
    return {"steps": steps, "s_per_step": round((time.perf_counter() - t0) / steps, 3),
            "loss_first": losses[0], "loss_last": losses[-1], **trainable_summary(model),
            "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rank", type=int, default=16)
    ap.add_argument("--run", type=int, default=0, help="steps of a measured CPU run on the tiny preset")
    args = ap.parse_args()
    lora = LoraConfig(rank=args.rank, alpha=2 * args.rank)
    rows = [figures(p, lora) for p in ("tiny", "molmo2-tiny", "molmo2-4b", "molmo2-8b", "molmo2-o-7b", "molmo-7b-d")]
    for r in rows:
        print(f"{r['preset']:>12}: {r['trainable']:>12,} / {r['params']:>14,} trainable ({r['trainable_pct']}%), "
              f"state {r['lora_state_gib']} GiB LoRA vs {r['full_ft_state_gib']} GiB full")
    out = {"rank": args.rank, "presets": rows}
    if args.run:
        out["cpu_run"] = cpu_run(args.run)
        print(out["cpu_run"])
    print(json.dumps(out))


if __name__ == "__main__":
    main()
