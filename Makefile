# Two commands work on a fresh machine: `make run` and `make test`. Each does the set-up it needs.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: run test install pull bench llamacpp wingman-model clean-venv vsix editors-deps test-editors fuzz typescript

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# torch pinned first: the CPU build lies on local disk; an unpinned torch would pull CUDA.
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[train,test]'
	touch $(STAMP)

install: $(STAMP)

pull: install
	$(BIN)/wingman model pull

run: pull
	$(BIN)/wingman demo

# Emacs/eglot and Vim/ALE (Debian, ~30 s) for the editor snippet tests; without them (no root,
# no apt) those tests skip and say why. The VS Code end-to-end run is `make test-editors`.
test: pull
	-$(MAKE) -C editors deps-light
	$(BIN)/python -m pytest -q -m "not editors_e2e" $(PYTEST_ARGS)

# The long fuzz run of the language server and its stdio soak (server/README.md, ~25 min);
# `make test` runs a short one.
fuzz: install
	$(BIN)/python tests/fuzz/lsp_fuzz.py --long

bench: pull
	$(BIN)/wingman bench --out bench/results-latest.json

# llama.cpp's llama-bench and llama-server (CPU, -march=native) into the cache, once per machine
# (~8 min on 2 cores): the speed yardstick and a real remote engine for the slow tests, never a
# dependency (nothing in `make test` needs it; those tests skip without it).
llamacpp:
	PYTHON=$(PY) bench/build_llamacpp.sh

# Reproduce the shipped adapter model/adapters/wingman-v1 (training/MODEL_CARD.md; about 75 min on
# 2 cores). SWEEP=1 runs the sweep first; EVAL=1 ends with the README's base-vs-Wingman evaluation.
wingman-model: pull
	WINGMAN=$(abspath $(BIN)/wingman) training/scripts/wingman_v1.sh

clean-venv:
	rm -rf $(VENV)

# The TypeScript compiler that checks translations (tsc --noEmit), as pinned in
# model/tasks/typescript/package-lock.json, into the cache folder (npm ci, ~2 s). Never part of
# `make test`: without it the TypeScript checks skip and say so.
typescript: install
	$(BIN)/python -c 'from model.tasks.toolchains import install_typescript; print(install_typescript())'

# The editor clients (editors/Makefile): the .vsix, and every editor test including VS Code in
# code-server with Playwright (~5 min on a fresh machine, installs included).
vsix:
	$(MAKE) -C editors vsix

editors-deps:
	$(MAKE) -C editors deps

test-editors: pull
	$(MAKE) -C editors test-all PY=$(abspath $(BIN)/python)
