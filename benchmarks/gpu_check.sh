#!/usr/bin/env bash
# One-GPU training benchmark of Molmo: CLIP ViT-L/14-336 (23 layers) + a Qwen2-1.5B-shaped decoder
# ("vitl-1.5b"), sequence length 2304, 13 crops per row, bf16, FSDP2 (fully_shard on 1 GPU),
# torch.compile per block. Prints tokens/s and MFU (peak 989 TFLOP/s dense bf16: H100 SXM; the H200
# has the same bf16 rate) and writes everything to $OUT. Needs only python3 with torch (the device
# image's /opt/torch/.venv); no network, no pip. Capped at $BUDGET seconds (default 400).
#
#   bash benchmarks/gpu_check.sh [mfu|recipes]   # results: $OUT/results.jsonl, $OUT/gpu_check.log
#
# mfu (default): the fastest settings (FSDP2 bf16 params, bf16 ViT attention, compile, fused AdamW)
#   at 4 rows per microbatch (74.5 GB on an H100) with 4, 8, 16 and 32 microbatches per step; recipes: the reference recipe eager and compiled, then the fast settings.
set -u
cd "$(dirname "$0")/.."
OUT=${OUT:-out/gpu_check}
mkdir -p "$OUT"
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1 TORCHINDUCTOR_CACHE_DIR=/tmp/inductor_cache
export PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True
PY=${PY:-python3}
MODEL=${MODEL:-vitl-1.5b} SEQ=${SEQ:-2304} CROPS=${CROPS:-13}  # overridable for a dry run on CPU
SUITE=${1:-mfu}
BUDGET=${BUDGET:-400}
LOG=$OUT/gpu_check.log
RES=$OUT/results.jsonl
START=$(date +%s)
: > "$RES"

{
  date -u
  nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv
  $PY -c "import torch, sys; print('python', sys.version.split()[0], 'torch', torch.__version__, torch.cuda.get_device_name())"
} 2>&1 | tee "$LOG"

left() { echo $(( BUDGET - ($(date +%s) - START) )); }

bench() {  # bench TIMEOUT ARGS...: one configuration in its own process (an OOM or hang stays contained)
  local t=$1; shift
  local l; l=$(left)
  if (( l < 40 )); then echo "skipped (time budget): $*" | tee -a "$LOG"; return 9; fi
  (( t > l )) && t=$l
  echo "=== bench_train.py $* (limit ${t}s)" >> "$LOG"
  timeout "$t" $PY benchmarks/bench_train.py --config "$MODEL" --seq-len "$SEQ" --crops "$CROPS" --fsdp \
    --json-out "$RES" "$@" >> "$LOG" 2>&1
  local rc=$?
  tail -n 8 "$LOG"
  return $rc
}

FAST="--compile --precision fsdp_bf16 --fast-vit-attention"
if [[ $SUITE == recipes ]]; then
  # 1) the reference recipe, eager: bf16 autocast over fp32 master weights, FSDP2
  bench 90 --batch 1 --steps 5 --warmup 2
  # 2) the same with torch.compile (warm-up includes compilation)
  bench 150 --batch 1 --steps 8 --warmup 3 --compile
  # 3) fastest settings, 2 rows per step
  bench 120 --batch 2 --steps 8 --warmup 3 $FAST || bench 100 --batch 1 --steps 8 --warmup 3 $FAST
else
  # gradient accumulation amortises the per-step work (clipping, AdamW, FSDP bookkeeping) that a
  # single 4-row microbatch, the most that fits an 80 GB GPU without checkpointing, cannot
  bench 170 --batch 4 --accum 4 --steps 4 --warmup 2 $FAST
  bench 110 --batch 4 --accum 8 --steps 3 --warmup 1 $FAST
  bench 110 --batch 4 --accum 16 --steps 2 --warmup 1 $FAST
  # the reference pre-training batch on one GPU: global 128 rows = 32 microbatches of 4 (molmo.md)
  bench 100 --batch 4 --accum 32 --steps 2 --warmup 1 $FAST
fi

${PYSUM:-$PY} - "$RES" <<'EOF' 2>&1 | tee "$OUT/summary.txt"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print(f"{'precision':<10} {'compile':<8} {'vit-attn':<9} {'AC':<5} {'batch':>5} {'accum':>5} {'step ms':>8} {'tok/s':>8} {'TFLOP/s':>8} {'MFU':>6} {'vs matmul':>9} {'mem GB':>7}")
for r in rows:
    if "error" in r:
        print("error:", r["error"][:120]); continue
    print(f"{r['precision']:<10} {str(r['compile']):<8} {'bf16' if r['fast_vit_attention'] else 'fp32 qk':<9} "
          f"{str(r['activation_checkpointing']):<5} {r['batch']:>5} {r.get('accum', 1):>5} "
          f"{r['step_s']*1e3:>8.0f} {r['tokens_per_s']:>8.0f} {r['model_tflops']:>8.1f} {r['mfu']:>6.1%} "
          f"{r['ratio_vs_matmul']:>9.2f} {r['max_mem_gb'] or 0:>7.1f}")
ok = [r for r in rows if "error" not in r]
best = max(ok, key=lambda r: r["mfu"]) if ok else None
print(json.dumps({"device": ok[0]["device"] if ok else None, "best_mfu": best and best["mfu"],
                  "best_tokens_per_s": best and best["tokens_per_s"], "target_mfu": 0.40, "runs": len(rows)}))
EOF
echo "total $(( $(date +%s) - START )) s" | tee -a "$LOG"
