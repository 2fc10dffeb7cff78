"""ONNX models through onnxruntime: a torch MLP exported to ONNX, and a scikit-learn-onnx style ZipMap graph."""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from governance.errors import InputError
from governance.evidence.efficiency import measure_efficiency
from governance.manifest import ModelSpec
from governance.models import load_model
from governance.models.onnx_model import NOT_ONNX

ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

COLUMNS = ["a", "b", "c"]


@pytest.fixture(scope="module")
def table() -> pa.Table:
    rng = np.random.default_rng(0)
    return pa.table({c: rng.normal(size=57) for c in COLUMNS})


def _matrix(table: pa.Table) -> np.ndarray:
    return np.column_stack([table.column(c).to_numpy() for c in COLUMNS])


def _spec(path: Path, **kw) -> ModelSpec:
    return ModelSpec(path=path.name, format="onnx", **kw)


def _load(path: Path, **kw):
    return load_model(_spec(path, **kw), path, field="candidate", manifest=path.parent / "release.yaml")


def _torch_mlp(out: int = 2, prune_amount: float = 0.0):
    torch = pytest.importorskip("torch")
    from torch.nn.utils import prune

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 16), torch.nn.ReLU(), torch.nn.Linear(16, out)).eval()
    if prune_amount:
        for layer in (model[0], model[2]):
            prune.l1_unstructured(layer, name="weight", amount=prune_amount)
            prune.remove(layer, "weight")
    return model


def _export(model, path: Path, dynamic: bool = True) -> Path:
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript-based exporter is deprecated, and works offline
        torch.onnx.export(model, (torch.randn(8, 3),), str(path), dynamo=False, input_names=["x"],
                          output_names=["logits"], dynamic_axes={"x": {0: "batch"}} if dynamic else None)
    return path


@pytest.mark.parametrize("dynamic", [True, False])  # a fixed batch of 8 runs in padded blocks
def test_exported_torch_mlp_matches_torch_softmax(tmp_path, table, dynamic):
    import torch

    model = _torch_mlp()
    adapter = _load(_export(model, tmp_path / "mlp.onnx", dynamic))
    assert adapter.classes is None
    got = np.concatenate([adapter.predict_proba(table.slice(s, 20), s) for s in range(0, 57, 20)])
    with torch.no_grad():
        expected = torch.softmax(model(torch.tensor(_matrix(table), dtype=torch.float32)), dim=1).numpy()
    assert got.dtype == np.float64 and got.shape == (57, 2)
    np.testing.assert_allclose(got, expected, atol=1e-5)
    adapter.finish(57)


def test_single_logit_becomes_sigmoid_and_probabilities_pass_through(tmp_path, table):
    import torch

    model = _torch_mlp(out=1)
    path = _export(model, tmp_path / "one.onnx")
    with torch.no_grad():
        logit = model(torch.tensor(_matrix(table), dtype=torch.float32)).numpy()
    np.testing.assert_allclose(_load(path).predict_proba(table, 0), 1 / (1 + np.exp(-logit)), atol=1e-5)
    np.testing.assert_allclose(_load(path, output="probabilities").predict_proba(table, 0), logit, atol=1e-5)


def _zipmap_graph(path: Path, weights: np.ndarray, bias: np.ndarray, labels: list[int], zipmap: bool = True) -> Path:
    """What scikit-learn-onnx writes for a linear classifier: a label output and a probability output."""
    nodes = [
        helper.make_node("MatMul", ["X", "W"], ["z0"]),
        helper.make_node("Add", ["z0", "B"], ["z"]),
        helper.make_node("Softmax", ["z"], ["probabilities"], axis=1),
        helper.make_node("ArgMax", ["probabilities"], ["output_label"], axis=1, keepdims=0),
    ]
    if zipmap:
        nodes.append(helper.make_node("ZipMap", ["probabilities"], ["output_probability"], domain="ai.onnx.ml",
                                      classlabels_int64s=labels))
        prob = helper.make_value_info("output_probability", helper.make_sequence_type_proto(
            helper.make_map_type_proto(TensorProto.INT64, helper.make_tensor_type_proto(TensorProto.FLOAT, []))))
    else:
        prob = helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [None, len(labels)])
    graph = helper.make_graph(
        nodes, "linear",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, 3])],
        [helper.make_tensor_value_info("output_label", TensorProto.INT64, [None]), prob],
        initializer=[numpy_helper.from_array(weights.astype(np.float32), "W"),
                     numpy_helper.from_array(bias.astype(np.float32), "B")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("ai.onnx.ml", 3)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


@pytest.mark.parametrize("zipmap", [True, False])
def test_probability_outputs_are_used_as_they_are(tmp_path, table, zipmap):
    rng = np.random.default_rng(1)
    W, B = rng.normal(size=(3, 3)), rng.normal(size=3)
    W[0, 1] = W[2, 2] = 0.0
    adapter = _load(_zipmap_graph(tmp_path / "zip.onnx", W, B, [10, 20, 30], zipmap))
    assert adapter.classes == ([10, 20, 30] if zipmap else None)
    z = _matrix(table).astype(np.float32) @ W.astype(np.float32) + B.astype(np.float32)
    expected = np.exp(z - z.max(1, keepdims=True))
    expected /= expected.sum(1, keepdims=True)
    np.testing.assert_allclose(adapter.predict_proba(table, 0), expected, atol=1e-5)
    assert adapter.describe() == {"format": "onnx", "parameters": 12, "nonzero_parameters": 10,
                                  "bytes": (tmp_path / "zip.onnx").stat().st_size}
    facts = adapter.efficiency_facts(table)
    assert (facts["macs_dense"], facts["macs_effective"]) == (9, 7)


def test_efficiency_of_an_exported_pruned_mlp(tmp_path, table):
    paths = {"baseline": _export(_torch_mlp(), tmp_path / "dense.onnx"),
             "candidate": _export(_torch_mlp(prune_amount=0.5), tmp_path / "pruned.onnx")}
    adapters = {r: _load(p) for r, p in paths.items()}
    eff = measure_efficiency(adapters, paths, table, None)
    b, c = eff.models["baseline"], eff.models["candidate"]
    assert b.parameters == c.parameters == 3 * 16 + 16 + 16 * 2 + 2
    assert c.nonzero_parameters == b.parameters - (24 + 16)
    assert c.sparsity_scope == "all 4 floating-point initializers of the ONNX graph"
    assert b.macs_dense == c.macs_dense == 3 * 16 + 16 * 2 and c.macs_effective == 40


def test_bad_files_are_input_errors(tmp_path, table):
    for name, content in (("garbage.onnx", b"\x00\x01 not a protobuf graph at all"), ("empty.onnx", b"")):
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(InputError) as err:
            _load(path)
        assert err.value.file == str(path) and err.value.field == "candidate.path"
        assert NOT_ONNX.split(" (")[0] in err.value.message
    truncated = tmp_path / "truncated.onnx"
    truncated.write_bytes(_export(_torch_mlp(), tmp_path / "ok.onnx").read_bytes()[:300])
    with pytest.raises(InputError, match=NOT_ONNX.split(" (")[0]):
        _load(truncated)
    adapter = _load(tmp_path / "ok.onnx")
    with pytest.raises(InputError, match="takes 3 features but the data has 2"):
        adapter.predict_proba(table.select(["a", "b"]), 0)


def test_a_missing_onnxruntime_names_the_extra(tmp_path):
    code = (
        "import sys; sys.modules['onnxruntime'] = None\n"
        "from pathlib import Path\n"
        "from governance.errors import InputError\n"
        "from governance.manifest import ModelSpec\n"
        "from governance.models import load_model\n"
        f"p = Path({str(tmp_path / 'm.onnx')!r}); p.write_bytes(b'x')\n"
        "try:\n"
        "    load_model(ModelSpec(path='m.onnx', format='onnx'), p, field='baseline', manifest=p.parent / 'r.yaml')\n"
        "except InputError as e:\n"
        "    print(e.field, '|', e.message)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == ("baseline.format | format 'onnx' needs onnxruntime, which is not installed: "
                           "pip install 'pruning-governance[onnx]'")


def test_importing_the_adapter_does_not_import_onnxruntime():
    code = (
        "import sys, governance.models.onnx_model; "
        "assert 'onnxruntime' not in sys.modules and 'onnx' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[1])


def test_a_zipmap_keyed_by_other_labels_than_its_classifier_uses_the_zipmaps_own(tmp_path, table):
    """A LinearClassifier naming ints [0, 1] before a ZipMap keyed by strings ['0', '1']: the adapter took the
    classifier's labels and looked them up in the ZipMap's dictionaries (KeyError: exit 3)."""
    rng = np.random.default_rng(2)
    W, B = rng.normal(size=(3, 2)), rng.normal(size=2)
    nodes = [helper.make_node("LinearClassifier", ["X"], ["label", "probabilities"], domain="ai.onnx.ml",
                              coefficients=W.T.flatten().tolist(), intercepts=B.tolist(), classlabels_ints=[0, 1],
                              post_transform="SOFTMAX"),
             helper.make_node("ZipMap", ["probabilities"], ["output_probability"], domain="ai.onnx.ml",
                              classlabels_strings=["0", "1"])]
    prob = helper.make_value_info("output_probability", helper.make_sequence_type_proto(
        helper.make_map_type_proto(TensorProto.STRING, helper.make_tensor_type_proto(TensorProto.FLOAT, []))))
    graph = helper.make_graph(nodes, "clf", [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, 3])],
                              [helper.make_tensor_value_info("label", TensorProto.INT64, [None]), prob])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("ai.onnx.ml", 3)])
    model.ir_version = 8
    onnx.save(model, str(tmp_path / "clf.onnx"))
    adapter = _load(tmp_path / "clf.onnx")
    assert adapter.classes == ["0", "1"]
    z = _matrix(table).astype(np.float32) @ W.astype(np.float32) + B.astype(np.float32)
    expected = np.exp(z - z.max(1, keepdims=True))
    np.testing.assert_allclose(adapter.predict_proba(table, 0), expected / expected.sum(1, keepdims=True), atol=1e-5)
