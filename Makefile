# Two commands take a fresh machine to a running gate and a green test suite:
#   make example   set up (.venv, system libraries) and gate the bundled example
#   make test      set up and run the tests
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup example test benchmark clean

setup: $(STAMP)

$(STAMP): pyproject.toml scripts/system-deps.sh
	./scripts/system-deps.sh
	$(PYTHON) -m venv $(VENV)
	# torch pinned first: the CPU build (an unpinned torch would pull a multi-GB CUDA build)
	$(BIN)/pip install --quiet --disable-pip-version-check torch==2.13.0
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[torch,onnx,dev]'
	touch $(STAMP)

example: $(STAMP)
	$(BIN)/governance check examples/credit/release.yaml --out out/credit

test: $(STAMP)
	$(BIN)/pytest

benchmark: $(STAMP)
	$(BIN)/python benchmarks/slice_metrics.py

clean:
	rm -rf $(VENV) out build dist
