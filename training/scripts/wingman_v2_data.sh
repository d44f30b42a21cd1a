#!/usr/bin/env bash
# The Wingman v2 corpus (training/README.md, "The Wingman v2 corpus"): collect → clean → annotate →
# pack under runs/wingman-v2/, each step timed by GNU time (wall clock, peak memory) into
# runs/wingman-v2/<step>.time, then the corpus table. Collect and clean resume where a killed run
# stopped (resume: true in their configs). Annotate and pack always re-render from the cleaned
# corpus, so a change of the prompt layout (model/tasks/) needs only `STEPS="annotate pack"`.
#   training/scripts/wingman_v2_data.sh            # every step
#   STEPS="annotate pack" training/scripts/wingman_v2_data.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
PY="${PYTHON:-.venv/bin/python}"
C=training/configs/wingman-v2
mkdir -p runs/wingman-v2
for step in ${STEPS:-collect clean annotate pack}; do
    /usr/bin/time -v -o runs/wingman-v2/$step.time nice -n 15 "$PY" -m wingman $step --config $C/$step.yaml
done
"$PY" -m training.scripts.corpus_table runs/wingman-v2
