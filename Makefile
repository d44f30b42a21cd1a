# Two commands work on a fresh machine: `make run` and `make test`. Each does the set-up it needs.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: run test install pull bench clean-venv

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
	$(BIN)/wingman complete examples/unfinished.py 14:9 --repeat 2

test: pull
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

bench: pull
	$(BIN)/wingman bench --out bench/results-latest.json

clean-venv:
	rm -rf $(VENV)
