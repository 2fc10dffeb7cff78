"""Spec: each model format is a ``ModelAdapter`` and has exactly the optional capabilities it claims.

The capability table in governance/models/protocols.py, checked on real small models of every format; and
the one numeric-type helper the adapters share (features take booleans, prediction scores do not).
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from governance.errors import InputError
from governance.manifest import ModelSpec
from governance.models import (
    EfficiencyFacts,
    InputGradient,
    ModelAdapter,
    Rescorable,
    load_model,
)
from governance.models._common import feature_matrix, is_numeric
from governance.models.protocols import WholeBatch

COLUMNS = ["a", "b", "c"]
CAPABILITIES = (Rescorable, EfficiencyFacts, InputGradient, WholeBatch)
#: format -> the optional capabilities its adapter has (the table in protocols.py)
CLAIMS = {
    "skops": {Rescorable, EfficiencyFacts},
    "pickle": {Rescorable, EfficiencyFacts},
    "torch": {Rescorable, EfficiencyFacts, InputGradient, WholeBatch},
    "onnx": {Rescorable, EfficiencyFacts, WholeBatch},
    "predictions": set(),
    "mlflow": {Rescorable, EfficiencyFacts},  # the flavour's adapter (sklearn here); tests/test_mlflow.py: a server
}
ARCH = """
import torch

class Net(torch.nn.Sequential):
    def __init__(self, in_features=3, hidden=4, out=2):
        super().__init__(torch.nn.Linear(in_features, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, out))
"""


@pytest.fixture(scope="module")
def table() -> pa.Table:
    rng = np.random.default_rng(0)
    return pa.table({c: rng.normal(size=40) for c in COLUMNS})


def _labels(table: pa.Table) -> np.ndarray:
    return (table.column("a").to_numpy() > 0).astype(int)


def _sklearn(table: pa.Table):
    from sklearn.linear_model import LogisticRegression

    X = np.column_stack([table.column(c).to_numpy() for c in COLUMNS])
    return LogisticRegression().fit(X, _labels(table))


def _skops(folder: Path, table: pa.Table) -> tuple[ModelSpec, Path]:
    import skops.io as sio

    path = folder / "model.skops"
    sio.dump(_sklearn(table), path)
    return ModelSpec(path=path.name, format="skops"), path


def _pickle(folder: Path, table: pa.Table) -> tuple[ModelSpec, Path]:
    path = folder / "model.pkl"
    path.write_bytes(pickle.dumps(_sklearn(table)))
    return ModelSpec(path=path.name, format="pickle"), path


def _torch(folder: Path, table: pa.Table) -> tuple[ModelSpec, Path]:
    torch = pytest.importorskip("torch")
    from safetensors.torch import save_file

    (folder / "gov_test_protocols_arch.py").write_text(textwrap.dedent(ARCH))
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    path = folder / "model.safetensors"
    save_file(model.state_dict(), str(path))
    return ModelSpec(path=path.name, format="torch", architecture="gov_test_protocols_arch:Net"), path


def _onnx(folder: Path, table: pa.Table) -> tuple[ModelSpec, Path]:
    pytest.importorskip("onnxruntime")
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(np.arange(6, dtype=np.float32).reshape(3, 2) / 10, name="w")
    b = numpy_helper.from_array(np.zeros(2, dtype=np.float32), name="b")
    graph = helper.make_graph(
        [helper.make_node("Gemm", ["x", "w", "b"], ["logits"])], "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 3])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["n", 2])], initializer=[w, b])
    path = folder / "model.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), str(path))
    return ModelSpec(path=path.name, format="onnx"), path


def _predictions(folder: Path, table: pa.Table) -> tuple[ModelSpec, Path]:
    p = np.linspace(0.1, 0.9, table.num_rows)
    path = folder / "scores.parquet"
    pq.write_table(pa.table({"p0": 1 - p, "p1": p}), path)
    return ModelSpec(path=path.name, format="predictions"), path


def _mlflow(folder: Path, table: pa.Table) -> tuple[ModelSpec, Path]:
    """An MLflow model folder as the gate downloads it (sklearn flavour, skops serialization)."""
    sk = pytest.importorskip("mlflow.sklearn")
    sk.save_model(_sklearn(table), str(folder / "mlflow-model"), serialization_format="skops",
                  pip_requirements=["scikit-learn"])
    return ModelSpec(format="mlflow", uri="models:/protocols/1"), folder / "mlflow-model" / "model.skops"


BUILDERS = {"skops": _skops, "pickle": _pickle, "torch": _torch, "onnx": _onnx, "predictions": _predictions,
            "mlflow": _mlflow}


@pytest.mark.parametrize("fmt", sorted(CLAIMS))
def test_each_format_has_exactly_the_capabilities_it_claims(tmp_path, table, fmt):
    spec, path = BUILDERS[fmt](tmp_path, table)
    adapter = load_model(spec, path, field="candidate", manifest=tmp_path / "release.yaml", trust_pickle=True)
    assert isinstance(adapter, ModelAdapter)
    has = {cap for cap in CAPABILITIES if isinstance(adapter, cap)}
    assert has == CLAIMS[fmt], f"{fmt}: has {sorted(c.__name__ for c in has)}"

    clean = adapter.predict_proba(table, 0)
    assert clean.shape == (table.num_rows, 2)
    if isinstance(adapter, Rescorable):  # re-scoring the same rows again, out of order, gives the same scores
        np.testing.assert_allclose(adapter.rescore(table.slice(10, 5), 10), clean[10:15])
    if isinstance(adapter, EfficiencyFacts):
        facts = adapter.efficiency_facts(table.slice(0, 1))
        assert facts["parameters"] is not None and facts["macs_dense"] is not None
    if isinstance(adapter, InputGradient):
        grad = adapter.input_gradient(table, _labels(table), 0)
        assert grad.shape == (table.num_rows, len(COLUMNS)) and np.any(grad != 0)
    adapter.finish(table.num_rows)


def test_precomputed_predictions_cannot_be_rescored_even_in_row_order(tmp_path, table):
    """Why predictions are not ``Rescorable``: their file is read once, forward; the scores cannot be asked again."""
    spec, path = _predictions(tmp_path, table)
    adapter = load_model(spec, path, field="candidate", manifest=tmp_path / "release.yaml")
    adapter.predict_proba(table.slice(0, 10), 0)
    with pytest.raises(ValueError, match="expected row_offset 10"):
        adapter.predict_proba(table.slice(0, 10), 0)


def test_one_numeric_helper_features_take_booleans_prediction_scores_do_not(tmp_path):
    assert is_numeric(pa.bool_()) and not is_numeric(pa.bool_(), boolean=False)
    assert not is_numeric(pa.null()) and is_numeric(pa.null(), null=True)
    assert not is_numeric(pa.string(), null=True)
    x = feature_matrix(pa.table({"flag": [True, False]}), 0, path=tmp_path / "d.csv", field="data", fmt="torch")
    np.testing.assert_array_equal(x, [[1.0], [0.0]])

    path = tmp_path / "scores.parquet"
    pq.write_table(pa.table({"p": [True, False]}), path)
    with pytest.raises(InputError) as err:
        load_model(ModelSpec(path=path.name, format="predictions"), path, field="candidate",
                   manifest=tmp_path / "release.yaml")
    assert err.value.field == "candidate.columns" and "has type bool, not a probability" in err.value.message


def test_importing_the_split_torch_modules_does_not_import_torch():
    code = ("import sys, governance.models.protocols, governance.models.torch_adapter, governance.models.torch_macs, "
            "governance.models.torch_gradient, governance.models.torch_architecture, governance.models.torch_model, "
            "governance.evidence.efficiency, governance.evidence.robustness; "
            "assert 'torch' not in sys.modules")
    root = Path(__file__).resolve().parents[1]
    subprocess.run([sys.executable, "-c", code], check=True, cwd=root, env=dict(os.environ, PYTHONPATH=str(root)))
