#!/usr/bin/env bash
# On the lent GPU machine (training/scripts/gpu/README.md). The repository's ignored folders stay
# between calls while the machine is warm, so the parts accumulate in .gpu-store/.
#   device.sh receive PART    keep one carried part
#   device.sh train           reassemble, convert the base, train, split the adapter into $OUT
set -euo pipefail
cd "$(dirname "$0")/../../.."
STORE=.gpu-store
mkdir -p "$STORE"
case "${1:-}" in
receive)
    cp "$2" "$STORE/"
    ls -la "$STORE"
    ;;
train)
    t0=$(date +%s)
    python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .gpu/whl/*.whl
    export PYTHONPATH="/tmp/site:$PWD"
    cat "$STORE"/base.gguf.part-* > "$STORE/base.gguf"
    [ "$(sha256sum "$STORE/base.gguf" | cut -d' ' -f1)" = "$(cat .gpu/model/base.gguf.sha256 2>/dev/null || cat "$STORE/base.gguf.sha256")" ] \
        || { echo "the base model's parts do not reassemble (sha256 differs)"; exit 1; }
    if ls "$STORE"/pack.tar.part-* >/dev/null 2>&1; then
        cat "$STORE"/pack.tar.part-* > "$STORE/pack.tar"
        mkdir -p "$STORE/pack" && tar -C "$STORE/pack" -xf "$STORE/pack.tar"
    fi
    export WINGMAN_HOME="$PWD/$STORE/home"
    python3 - <<'PYEOF'
from pathlib import Path
from model.pull import convert_gguf
out = Path(".gpu-store/base")
if not (out / "config.json").exists():
    convert_gguf(Path(".gpu-store/base.gguf"), out)
PYEOF
    nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
    echo "staged in $(( $(date +%s) - t0 )) s"
    python3 -m wingman train --config training/configs/wingman-v2/train-gpu.yaml \
        --set base_model=.gpu-store/base --set data=.gpu-store/pack --set output=.gpu-store/run
    out="${OUT:-/tmp/out}"; mkdir -p "$out"
    tar -C .gpu-store/run -cf - final log.json train.json loss.png 2>/dev/null | split -b 15M -d - "$out/adapter.tar.part-"
    echo "trained in $(( $(date +%s) - t0 )) s; the adapter is in $out (cat adapter.tar.part-* | tar -x)"
    ;;
*)
    echo "usage: device.sh receive PART | train" >&2; exit 2 ;;
esac
