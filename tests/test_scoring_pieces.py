"""Torch and ONNX models on the CPU score a chunk in near-equal pieces of at most ``PIECE_ROWS`` rows (the activations
stay in cache, the scores are the same), while latency times each batch in one pass, as a server would call the
model."""

from __future__ import annotations

import textwrap

import numpy as np
import pyarrow as pa
import pytest

torch = pytest.importorskip("torch")

from governance.evidence.efficiency import time_interleaved  # noqa: E402 (after the skip: needs torch)
from governance.manifest import ModelSpec  # noqa: E402
from governance.models import load_model  # noqa: E402
from governance.models._common import PIECE_ROWS  # noqa: E402
from governance.models.protocols import WholeBatch  # noqa: E402
from governance.models.torch_adapter import TorchAdapter  # noqa: E402

ARCH = """
import torch

class Net(torch.nn.Sequential):
    def __init__(self, in_features=4, hidden=32, out=3):
        super().__init__(torch.nn.Linear(in_features, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, out))
"""


def _adapter(tmp_path, output="logits"):
    from safetensors.torch import save_file

    (tmp_path / "gov_test_pieces_arch.py").write_text(textwrap.dedent(ARCH))
    torch.manual_seed(3)
    net = torch.nn.Sequential(torch.nn.Linear(4, 32), torch.nn.ReLU(), torch.nn.Linear(32, 3))
    save_file(net.state_dict(), str(tmp_path / "net.safetensors"))
    spec = ModelSpec(path="net.safetensors", format="torch", architecture="gov_test_pieces_arch:Net", output=output)
    adapter = load_model(spec, tmp_path / "net.safetensors", field="candidate", manifest=tmp_path / "release.yaml")
    assert isinstance(adapter, TorchAdapter)
    return adapter, net


def _rows(n: int, seed: int = 0) -> pa.Table:
    rng = np.random.default_rng(seed)
    return pa.table({f"x{i}": rng.normal(size=n) for i in range(4)})


def _forward_rows(adapter) -> list[int]:
    """The row count of every forward pass of the adapter's module, recorded from now on."""
    seen: list[int] = []
    adapter.module.register_forward_hook(lambda module, args, out: seen.append(int(args[0].shape[0])))
    return seen


@pytest.mark.parametrize("rows", [1, PIECE_ROWS - 1, PIECE_ROWS, PIECE_ROWS + 1, 2 * PIECE_ROWS + 17])
def test_a_chunk_is_scored_in_pieces_with_the_scores_of_one_pass(tmp_path, rows):
    adapter, net = _adapter(tmp_path)
    data = _rows(rows)
    passes = _forward_rows(adapter)
    scores = adapter.predict_proba(data, 0)
    parts = -(-rows // PIECE_ROWS)  # near-equal pieces of at most PIECE_ROWS: no 1-row tail
    assert len(passes) == parts and sum(passes) == rows and max(passes) <= PIECE_ROWS
    assert max(passes) - min(passes) <= 1
    x = torch.from_numpy(np.column_stack([c.to_numpy() for c in data.columns]).astype(np.float32))
    with torch.inference_mode():  # the whole chunk in one pass of the same network: the same probabilities
        whole = torch.softmax(net(x).double(), dim=1).numpy()
    np.testing.assert_allclose(scores, whole, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(scores.sum(axis=1), 1.0)


def test_whole_batches_runs_one_pass_per_call_and_restores_the_pieces(tmp_path):
    adapter, _ = _adapter(tmp_path)
    assert isinstance(adapter, WholeBatch)
    data = _rows(2 * PIECE_ROWS + 5)
    passes = _forward_rows(adapter)
    with adapter.whole_batches():
        one = adapter.predict_proba(data, 0)
    assert passes == [data.num_rows]
    again = adapter.predict_proba(data, 0)
    assert passes[1:] == [1367] * 3  # 2 * 2,048 + 5 = 4,101 rows in three equal pieces
    np.testing.assert_allclose(one, again, rtol=1e-6, atol=1e-7)


def test_latency_times_the_whole_batch_in_one_call(tmp_path):
    """A latency batch larger than a piece is one forward pass per timed call, and the scoring pass's pieces come
    back afterwards."""
    adapter, _ = _adapter(tmp_path)
    batch = _rows(PIECE_ROWS + 100)
    passes = _forward_rows(adapter)
    times = time_interleaved({"candidate": adapter}, batch, repeats=3, warmup=1)
    assert len(times["candidate"]) == 3
    assert passes == [batch.num_rows] * 4
    adapter.predict_proba(batch, 0)
    assert passes[4:] == [(PIECE_ROWS + 100) // 2] * 2


def test_a_regressor_is_timed_whole_too(tmp_path):
    from governance.evidence.regression import _Values

    single = TorchAdapter(torch.nn.Linear(4, 1), tmp_path / "net.safetensors", torch=torch, fmt="torch",
                          field="candidate", output="logits", device=torch.device("cpu"), parameters=[])
    values = _Values(single, "candidate", tmp_path / "net.safetensors")
    assert isinstance(values, WholeBatch)
    passes = _forward_rows(single)
    batch = _rows(PIECE_ROWS + 1)
    time_interleaved({"candidate": values}, batch, repeats=3, warmup=0)
    assert passes == [batch.num_rows] * 3


def test_on_an_accelerator_a_chunk_is_one_pass(tmp_path):
    """Pieces are for CPU caches; on another device (here torch's shape-only 'meta' device) one large pass is what
    is fast."""
    adapter = TorchAdapter(torch.nn.Linear(4, 2), tmp_path / "net.safetensors", torch=torch, fmt="torch",
                           field="candidate", output="logits", device=torch.device("meta"), parameters=[])
    assert adapter._pieces is None


class _Recorded:
    """An onnxruntime session that records the rows of every run."""

    def __init__(self, session) -> None:
        self.session, self.rows = session, []

    def run(self, outputs, feeds):
        self.rows.append(next(iter(feeds.values())).shape[0])
        return self.session.run(outputs, feeds)

    def __getattr__(self, name):
        return getattr(self.session, name)


def _onnx(tmp_path, batch="n"):
    pytest.importorskip("onnxruntime")
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(1)
    w1 = numpy_helper.from_array(rng.normal(size=(4, 32)).astype(np.float32), name="w1")
    b1 = numpy_helper.from_array(rng.normal(size=32).astype(np.float32), name="b1")
    w2 = numpy_helper.from_array(rng.normal(size=(32, 3)).astype(np.float32), name="w2")
    b2 = numpy_helper.from_array(np.zeros(3, dtype=np.float32), name="b2")
    graph = helper.make_graph(
        [helper.make_node("Gemm", ["x", "w1", "b1"], ["h"]), helper.make_node("Relu", ["h"], ["r"]),
         helper.make_node("Gemm", ["r", "w2", "b2"], ["logits"])], "mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, 4])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [batch, 3])], initializer=[w1, b1, w2, b2])
    path = tmp_path / "mlp.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), str(path))
    adapter = load_model(ModelSpec(path=path.name, format="onnx", output="logits"), path, field="candidate",
                         manifest=tmp_path / "release.yaml")
    adapter.session = _Recorded(adapter.session)
    return adapter


def test_an_onnx_graph_scores_a_chunk_in_near_equal_pieces_with_the_scores_of_one_run(tmp_path):
    adapter = _onnx(tmp_path)
    data = _rows(2 * PIECE_ROWS + 3)
    pieces = adapter.predict_proba(data, 0)
    assert adapter.session.rows == [1367, 1366, 1366]  # 2 * 2,048 + 3 = 4,099 rows
    with adapter.whole_batches():
        whole = adapter.predict_proba(data, 0)
    assert adapter.session.rows[3:] == [data.num_rows]
    np.testing.assert_allclose(pieces, whole, rtol=1e-6, atol=1e-7)
    adapter.predict_proba(data.slice(0, PIECE_ROWS), 0)  # a chunk of one piece is one run
    assert adapter.session.rows[4:] == [PIECE_ROWS]


def test_onnx_latency_is_one_run_per_batch(tmp_path):
    adapter = _onnx(tmp_path)
    time_interleaved({"candidate": adapter}, _rows(PIECE_ROWS + 10), repeats=3, warmup=1)
    assert adapter.session.rows == [PIECE_ROWS + 10] * 4


def test_a_fixed_batch_onnx_graph_still_runs_whole_padded_blocks(tmp_path):
    """A graph traced with a fixed batch size takes exactly that many rows: blocks of it, the last one padded, not
    pieces."""
    adapter = _onnx(tmp_path, batch=1000)
    scores = adapter.predict_proba(_rows(2500), 0)
    assert adapter.session.rows == [1000, 1000, 1000] and scores.shape == (2500, 3)
