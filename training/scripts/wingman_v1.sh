#!/usr/bin/env bash
# Reproduce the shipped Wingman v1 adapter (model/adapters/wingman-v1) from nothing but PyPI and
# this machine's Python: collect → clean → annotate → pack → train → export. `make wingman-model`.
# Each step's output lands under runs/wingman-v1/; training resumes from its last checkpoint
# (every 10 steps), so a stopped run continues where it was. SWEEP=1 also runs the sweep first
# (training/scripts/sweep_v1.sh); EVAL=1 ends with the base-vs-Wingman evaluation of the README.
set -euo pipefail
cd "$(dirname "$0")/../.."
W="${WINGMAN:-.venv/bin/wingman}"
C=training/configs/wingman-v1
"$W" model pull
[ -f runs/wingman-v1/collect/report.json ] || "$W" collect --config $C/collect.yaml
[ -f runs/wingman-v1/clean/report.json ] || "$W" clean --config $C/clean.yaml
for a in annotate sweep-annotate-fimall; do
    out=$(sed -n 's/^output: *//p' $C/$a.yaml)
    [ -f "$out/report.json" ] || "$W" annotate --config $C/$a.yaml
done
for p in pack sweep-pack-fim50 sweep-pack-512 sweep-pack-fimall; do
    out=$(sed -n 's/^output: *//p' $C/$p.yaml)
    [ -f "$out/report.json" ] || "$W" pack --config $C/$p.yaml
done
[ "${SWEEP:-0}" = 1 ] && training/scripts/sweep_v1.sh
"$W" train --config $C/train.yaml --resume
"$W" export --train runs/wingman-v1/train --output model/adapters/wingman-v1 --adapter
if [ "${EVAL:-0}" = 1 ]; then
    training/scripts/eval_v1.sh
fi
