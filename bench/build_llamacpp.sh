#!/usr/bin/env bash
# Build llama.cpp's llama-bench and llama-server (CPU only) into Wingman's cache, once per machine.
#
# llama.cpp is a yardstick and a real remote engine for tests, never a dependency: the sources come
# from the llama-cpp-python sdist (its vendor/llama.cpp) and nothing of it is installed into Python.
#   LLAMACPP_SDIST=path.tar.gz  reuse an already-downloaded sdist instead of fetching it
#   PYTHON=python3              the interpreter whose pip fetches the sdist
#   JOBS=N                      parallel compile jobs (default: nproc)
set -euo pipefail

VERSION=0.3.36
HOME_DIR="${WINGMAN_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/wingman}"
ROOT="$HOME_DIR/llamacpp/$VERSION"
BIN="$ROOT/bin"
STAMP="$ROOT/.built"
PYTHON="${PYTHON:-python3}"
JOBS="${JOBS:-$(nproc)}"

if [[ -f "$STAMP" && -x "$BIN/llama-bench" && -x "$BIN/llama-server" ]]; then
    echo "llama.cpp (llama-cpp-python $VERSION) already built: $BIN"
    exit 0
fi

mkdir -p "$ROOT"
start=$(date +%s)

sdist="${LLAMACPP_SDIST:-}"
if [[ -z "$sdist" ]]; then
    "$PYTHON" -m pip download --quiet --disable-pip-version-check --no-deps --no-binary :all: \
        "llama-cpp-python==$VERSION" -d "$ROOT/sdist"
    sdist="$ROOT/sdist/llama_cpp_python-$VERSION.tar.gz"
fi
rm -rf "$ROOT/src"
mkdir -p "$ROOT/src"
tar -xzf "$sdist" -C "$ROOT/src" --strip-components=1
SRC="$ROOT/src/vendor/llama.cpp"

# Static libraries so the two binaries can live alone in bin/ (no rpath into the build tree).
# The UI, OpenSSL and the prebuilt-UI download are off: the machine is offline and the server is
# only spoken to over loopback HTTP by benches and tests.
cmake -S "$SRC" -B "$ROOT/build" -G Ninja \
    -DCMAKE_BUILD_TYPE=Release \
    -DGGML_NATIVE=ON \
    -DBUILD_SHARED_LIBS=OFF \
    -DLLAMA_OPENSSL=OFF \
    -DLLAMA_BUILD_UI=OFF \
    -DLLAMA_USE_PREBUILT_UI=OFF \
    -DLLAMA_BUILD_TESTS=OFF \
    -DLLAMA_BUILD_EXAMPLES=OFF \
    -DGGML_CCACHE=OFF
cmake --build "$ROOT/build" --config Release -j "$JOBS" --target llama-bench llama-server

mkdir -p "$BIN"
cp "$ROOT/build/bin/llama-bench" "$ROOT/build/bin/llama-server" "$BIN/"
# The build tree and sources are ~1 GB and are not needed once the binaries are copied out.
rm -rf "$ROOT/build" "$ROOT/src"

elapsed=$(( $(date +%s) - start ))
echo "$VERSION built in ${elapsed}s on $(nproc) cores, jobs=$JOBS" > "$STAMP"
"$BIN/llama-server" --version 2>&1 | head -1
# llama-bench does not print system_info; llama-server logs it at verbosity 4 before loading any
# model (here: none, loopback, a random port, stopped after 3 s).
timeout 3 "$BIN/llama-server" -lv 4 --host 127.0.0.1 --port 0 --no-webui 2>&1 \
    | grep -m1 -o 'system_info: .*' || echo "system_info: (not printed)"
echo "llama.cpp built in ${elapsed}s (wall, sdist fetch and unpack included): $BIN"
