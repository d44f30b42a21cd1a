#!/bin/bash
# main's code and this branch's, one after the other, native then torch held to AVX2
out=$(dirname "$0")
for env in native avx2; do
  for tree in main mem; do
    dir=/work/main; [ $tree = mem ] && dir=/work/wt/mem
    extra=""; [ $env = avx2 ] && extra="ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2"
    echo "== $tree $env; load $(cut -d' ' -f1-3 /proc/loadavg); $(date -u +%H:%M:%S)"
    (cd $dir && env PYTHONPATH=$dir $extra /work/main/.venv/bin/python bench/replay.py --keystrokes 40 --seed 0 --no-baseline --json $out/replay-$tree-$env.json 2>&1 | grep -v "Ignoring notification")
  done
done
