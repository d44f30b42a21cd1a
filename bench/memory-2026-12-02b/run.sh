#!/bin/bash
# This branch, back to back: the dense bf16 copy (the plan before), unpacking (int4dq), then the
# measured plan under the default 700 MB budget; two rounds; then torch held to AVX2 (auto).
out=$(dirname "$0"); tree=$(cd "$out/../.." && pwd)
run() {  # name, extra env, replay args
  echo "== $1; load $(cut -d' ' -f1-3 /proc/loadavg); $(date -u +%H:%M:%S)"
  (cd $tree && env PYTHONPATH=$tree $2 /work/main/.venv/bin/python bench/replay.py --keystrokes 40 --seed 0 \
     --no-baseline --json $out/replay-$1.json "${@:3}" 2>&1 | grep -v "Ignoring notification")
}
for round in 1 2; do
  run copy-r$round "" --set model.kernels=int4/bf16/float32
  run int4dq-r$round "" --set model.kernels=int4/int4dq/float32
  run auto-r$round ""
done
run avx2-auto "ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2"
