# Two commands take a fresh machine to a running gate and a green test suite:
#   make demo      set up (.venv, system libraries), then prune a model on the bundled data and gate each candidate
#   make test      set up and run the tests
# Also: make example (gate the small credit example), make benchmark.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup demo example test benchmark clean

setup: $(STAMP)

$(STAMP): pyproject.toml scripts/system-deps.sh
	./scripts/system-deps.sh
	$(PYTHON) -m venv $(VENV)
	# torch pinned first: the CPU build (an unpinned torch would pull a multi-GB CUDA build)
	$(BIN)/pip install --quiet --disable-pip-version-check torch==2.13.0
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[torch,onnx,dev,dask]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/governance demo --out out/demo

example: $(STAMP)
	$(BIN)/governance check examples/credit/release.yaml --out out/credit

test: $(STAMP)
	$(BIN)/pytest

benchmark: $(STAMP)
	$(BIN)/python benchmarks/slice_metrics.py

clean:
	rm -rf $(VENV) out build dist
