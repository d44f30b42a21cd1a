#!/usr/bin/env bash
# The README's base-vs-Wingman table: both models in each run, same held-out samples (seed 1234).
# Completion tasks on 20 samples each; the chat tasks (tests, translation: up to 768 generated
# tokens each) on 10. About 25 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/../.."
W="${WINGMAN:-.venv/bin/wingman}"
"$W" eval --model base --name base --candidate wingman=default --tasks line,infill,humaneval,latency \
    --limit 20 --seed 1234 --out bench/eval-wingman-v1
"$W" eval --model base --name base --candidate wingman=default --tasks tests,translate \
    --limit 10 --seed 1234 --out bench/eval-wingman-v1-chat
