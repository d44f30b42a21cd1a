#!/usr/bin/env bash
# The README's speed figures, one script: the engine against HF generate() and llama.cpp in the same
# run, on this CPU and again with torch's kernels held to AVX2 (the laptop class), then the typing
# replay through `wingman serve` against its baseline and llama-server. Run it on a quiet machine
# (nothing else computing); it prints the CPU's features and the load before each part.
#   OUT=bench/speed-YYYY-MM-DD bench/speed_report.sh      (~20 min on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}
OUT=${OUT:-bench/speed-$(date +%F)}
KEYS=${KEYS:-80}
mkdir -p "$OUT"
features() {
    echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores;" \
         "features: $(grep -o 'avx512[a-z_0-9]*\|amx[a-z_0-9]*\|avx2' /proc/cpuinfo | sort -u | tr '\n' ' ')"
    echo "load: $(cut -d' ' -f1-3 /proc/loadavg)  torch capability: ATEN_CPU_CAPABILITY=${ATEN_CPU_CAPABILITY:-native} ONEDNN_MAX_CPU_ISA=${ONEDNN_MAX_CPU_ISA:-native}"
}
{
    features
    echo "== wingman bench --model base --repeats 3 --tokens 64 --against-llamacpp"
    "$BIN/wingman" bench --model base --repeats 3 --tokens 64 --against-llamacpp --out "$OUT/bench-native.json"
    export ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2
    features
    echo "== the same, torch held to AVX2 (llama.cpp keeps its native build: its AVX2 figure needs an AVX2 build)"
    "$BIN/wingman" bench --model base --repeats 3 --tokens 64 --against-llamacpp --out "$OUT/bench-avx2.json"
    unset ATEN_CPU_CAPABILITY ONEDNN_MAX_CPU_ISA
    features
    echo "== bench/replay.py --keystrokes $KEYS --llamacpp (baseline: no adaptation, no deadline, no debounce)"
    "$BIN/python" bench/replay.py --keystrokes "$KEYS" --seed 0 --llamacpp \
        --baseline completion.debounceMs=0 --baseline completion.adaptive=false \
        --baseline completion.deadlineMs=0 --baseline model.adaptiveThreads=false --json "$OUT/replay.json"
} 2>&1 | tee "$OUT/report.txt"
