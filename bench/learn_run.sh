#!/usr/bin/env bash
# `wingman learn` on a held-out sdist (training/corpus/heldout.txt), unpacked as a git repository
# under /tmp, with a throwaway WINGMAN_HOME so the adapter it trains never lands in the real cache
# (it is trained on an evaluation repository: never use it for `wingman eval`).
# Usage: bench/learn_run.sh [NAME==VERSION] [MINUTES]; results in training/learn/README.md.
set -euo pipefail
SPEC=${1:-boltons==26.2.0}; MINUTES=${2:-10}
NAME=${SPEC%%==*}; REPO=/tmp/learn_$NAME; HOME_DIR=/tmp/learn_home
PY=${PY:-.venv/bin/python}
mkdir -p /tmp/learn_sdist "$HOME_DIR"
ln -sfn "${WINGMAN_HOME:-$HOME/.cache/wingman}/models" "$HOME_DIR/models"  # the pulled model, shared
"$PY" -m pip download --no-binary :all: --no-deps -q -d /tmp/learn_sdist "$SPEC"
rm -rf "$REPO" && mkdir "$REPO"
tar xzf /tmp/learn_sdist/"$NAME"-*.tar.gz -C "$REPO" --strip-components=1
git -C "$REPO" init -q && git -C "$REPO" add -A
WINGMAN_HOME=$HOME_DIR PYTHONPATH=$PWD /usr/bin/time -v "$PY" -m wingman learn "$REPO" --minutes "$MINUTES" --eval-limit 40
