#!/usr/bin/env bash
# Prepare what a GPU run carries (training/scripts/gpu/README.md), into .gpu/ (git-ignored):
#   .gpu/model/     the base model's Q4_1 GGUF (98 MB) in parts of PART_MB, one part per call
#   .gpu/whl/       the wheels the device image lacks (gguf: to read the GGUF; cattrs: our configs)
#   .gpu/data/      the packed corpus in its compact form (uint16 ids + trained bits, xz), split too
# and prints the call sequence. Each call carries the tracked tree (~25 MB) plus at most one part,
# within the device tool's 64 MiB.
#   training/scripts/gpu/stage.sh [PACK_DIR]      (default runs/wingman-v2/pack)
set -euo pipefail
cd "$(dirname "$0")/../../.."
PY="${PYTHON:-.venv/bin/python}"
PACK="${1:-runs/wingman-v2/pack}"
PART_MB="${PART_MB:-32}"
rm -rf .gpu && mkdir -p .gpu/model .gpu/whl .gpu/data
"$PY" - <<'PYEOF'
import shutil
from model.llamacpp import base_gguf
shutil.copy(base_gguf(), ".gpu/base.gguf")
PYEOF
split -b "${PART_MB}M" -d .gpu/base.gguf .gpu/model/base.gguf.part-
sha256sum .gpu/base.gguf | cut -d' ' -f1 > .gpu/model/base.gguf.sha256
rm .gpu/base.gguf
"$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_17_x86_64 -d .gpu/whl gguf cattrs
if [ -d "$PACK/train" ]; then
    tar -C "$PACK" -cf .gpu/pack.tar tokenizer train validation
    split -b "${PART_MB}M" -d .gpu/pack.tar .gpu/data/pack.tar.part-
    sha256sum .gpu/pack.tar | cut -d' ' -f1 > .gpu/data/pack.tar.sha256
    rm .gpu/pack.tar
else
    echo "no packed corpus at $PACK (training/scripts/wingman_v2_data.sh makes it)" >&2
fi
echo "staged:"; du -sh .gpu/* .gpu/*/* | sed 's/^/  /'
echo "calls (run tool, carry the part, keep the machine warm between them):"
for p in .gpu/model/base.gguf.part-* .gpu/data/pack.tar.part-*; do
    [ -e "$p" ] && echo "  carry [$p, .gpu/$(basename "$(dirname "$p")")/$(basename "$(dirname "$p")" | sed 's/model/base.gguf/;s/data/pack.tar/').sha256]: bash training/scripts/gpu/device.sh receive $p"
done
echo "  carry [.gpu/whl]: bash training/scripts/gpu/device.sh train   (one command of at most 10 minutes)"
