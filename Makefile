# Two commands take a fresh machine to a running gate and a green test suite:
#   make demo      set up (.venv, system libraries), then prune a model on the bundled data and gate each candidate
#   make test      set up and run the tests
# Also: make example (gate the small credit example), make benchmark.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# The MLflow tracking server the tests start (docs/mlflow.md), in a venv of its own: full mlflow pins pyarrow below
# the gate's and pulls in a web stack; .venv gets only the client (mlflow-skinny, the [mlflow] extra).
# The two venvs are independent: `make -j2 setup` builds them side by side (.ci/run does).
MLFLOW_SERVER ?= mlflow==3.17.2
MLFLOW_VENV   := .venv-mlflow
MLFLOW_STAMP  := $(MLFLOW_VENV)/.installed-$(subst =,,$(MLFLOW_SERVER))

.PHONY: setup demo example test benchmark clean

setup: $(STAMP) $(MLFLOW_STAMP)

$(STAMP): pyproject.toml scripts/system-deps.sh
	./scripts/system-deps.sh
	$(PYTHON) -m venv $(VENV)
	# torch pinned first: the CPU build (an unpinned torch would pull a multi-GB CUDA build)
	$(BIN)/pip install --quiet --disable-pip-version-check torch==2.13.0
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[torch,onnx,dev,dask,mlflow]'
	touch $(STAMP)

$(MLFLOW_STAMP):
	rm -rf $(MLFLOW_VENV)
	$(PYTHON) -m venv $(MLFLOW_VENV)
	$(MLFLOW_VENV)/bin/pip install --quiet --disable-pip-version-check '$(MLFLOW_SERVER)'
	touch $(MLFLOW_STAMP)

demo: $(STAMP)
	$(BIN)/governance demo --out out/demo

example: $(STAMP)
	$(BIN)/governance check examples/credit/release.yaml --out out/credit

test: $(STAMP) $(MLFLOW_STAMP)
	$(BIN)/pytest

benchmark: $(STAMP)
	$(BIN)/python benchmarks/slice_metrics.py

clean:
	rm -rf $(VENV) $(MLFLOW_VENV) out build dist
