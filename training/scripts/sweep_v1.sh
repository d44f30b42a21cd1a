#!/usr/bin/env bash
# The Wingman v1 sweep: short LoRA runs, one factor at a time from a centre point (lr 1e-3, r 16,
# FIM rate 0.9, loss on the FIM middle only, 1024-token sequences; 8 steps of 4 × 1024 tokens), each judged on one validation
# set (the main pack's) and a quick eval (line completion + infilling, 10 held-out samples each).
# Results: runs/wingman-v1/sweep/*/; the table: python -m training.scripts.sweep_table.
# Needs the packs of training/configs/wingman-v1/{pack,sweep-pack-*}.yaml (training/scripts/wingman_v1.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."
W="${WINGMAN:-.venv/bin/wingman}"
OUT=runs/wingman-v1/sweep
STEPS="${SWEEP_STEPS:-8}"
common=(--config training/configs/wingman-v1/train.yaml --set max_steps="$STEPS" --set warmup_steps=2
        --set micro_batch_size=4 --set grad_accum=1 --set eval_every="$STEPS" --set eval_batches=8
        --set validation=runs/wingman-v1/pack
        --set save_every=1000)
run() {  # name, then --set overrides
    local name=$1; shift
    [ -f "$OUT/$name/eval/report.json" ] && { echo "sweep: $name done"; return; }
    mkdir -p "$OUT/$name"
    "$W" train "${common[@]}" --set output="$OUT/$name/train" "$@" > "$OUT/$name/train.log" 2>&1
    "$W" export --train "$OUT/$name/train" --output "$OUT/$name/adapter" --adapter > "$OUT/$name/export.log" 2>&1
    "$W" eval --no-base --candidate "$name=$OUT/$name/adapter" --tasks line,infill --limit 10 --seed 1234 \
        --no-repo-tests --out "$OUT/$name/eval" > "$OUT/$name/eval.log" 2>&1
    echo "sweep: $name finished"
}
run centre
# The base model's validation loss is the same for every run: the centre measures it once.
common+=(--set eval_at_start=false)
run lr3e-4 --set lr=3e-4
run lr3e-3 --set lr=3e-3
run r64 --set lora_r=64 --set lora_alpha=128
run fim50 --set data=runs/wingman-v1/pack-fim50
[ "${SWEEP_FIM_LOSS:-0}" = 1 ] && run fimall --set data=runs/wingman-v1/pack-fimall  # loss on the whole FIM sample
# 4 × 2 micro-batches of 512 = the others' 4 × 1024 tokens a step; validation then scores the same 32 sequences
run seq512 --set data=runs/wingman-v1/pack-512 --set grad_accum=2
python -m training.scripts.sweep_table "$OUT"
