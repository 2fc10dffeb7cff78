"""Efficiency evidence on real models: counts read from the weights, sizes from the files, latency timed."""

from __future__ import annotations

import copy
import gzip
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from governance.evidence.efficiency import batch_of, gzip_size, measure_efficiency, time_interleaved
from governance.manifest import LatencySpec, ModelSpec
from governance.models import load_model

torch = pytest.importorskip("torch")
from safetensors.torch import save_file  # noqa: E402
from torch.nn.utils import prune  # noqa: E402

N_FEATURES, HIDDEN = 8, 64
ARCH = """
import torch

class Net(torch.nn.Sequential):
    def __init__(self, in_features=8, hidden=64, out=2):
        super().__init__(
            torch.nn.Linear(in_features, hidden), torch.nn.ReLU(),
            torch.nn.Linear(hidden, hidden), torch.nn.ReLU(),
            torch.nn.Linear(hidden, out),
        )

def build(in_features=8, hidden=64, out=2):
    return Net(in_features, hidden, out)
"""
COLUMNS = [f"f{i}" for i in range(N_FEATURES)]
FAST = LatencySpec(batch_sizes=[1, 7, 64], repeats=5, warmup=1)


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("efficiency")
    (d / "gov_test_eff_arch.py").write_text(textwrap.dedent(ARCH))
    sys.path.insert(0, str(d))
    yield d
    sys.path.remove(str(d))


@pytest.fixture(scope="module")
def sample() -> pa.Table:
    rng = np.random.default_rng(0)
    return pa.Table.from_pandas(pd.DataFrame(rng.normal(size=(20, N_FEATURES)), columns=COLUMNS))


def _build(hidden: int = HIDDEN):
    from gov_test_eff_arch import build

    torch.manual_seed(0)
    return build(hidden=hidden).eval()


def _save(folder: Path, name: str, model, hidden: int = HIDDEN):
    path = folder / f"{name}.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, path)
    spec = ModelSpec(path=path.name, format="torch", architecture="gov_test_eff_arch:Net",
                     architecture_kwargs={"hidden": hidden})
    return load_model(spec, path, field=name, manifest=folder / "release.yaml"), path


def _unstructured(amount: float):
    model = _build()
    for layer in model:
        if isinstance(layer, torch.nn.Linear):
            prune.l1_unstructured(layer, name="weight", amount=amount)
            prune.remove(layer, "weight")
    return model


def _structured(keep: int):
    """A genuinely smaller network: the `keep` hidden neurons of each layer with the largest L1 norm."""
    dense, small = _build(), _build(keep)
    with torch.no_grad():
        first = dense[0].weight.abs().sum(1).topk(keep).indices.sort().values
        second = dense[2].weight[:, first].abs().sum(1).topk(keep).indices.sort().values
        small[0].weight.copy_(dense[0].weight[first])
        small[0].bias.copy_(dense[0].bias[first])
        small[2].weight.copy_(dense[2].weight[second][:, first])
        small[2].bias.copy_(dense[2].bias[second])
        small[4].weight.copy_(dense[4].weight[:, second])
        small[4].bias.copy_(dense[4].bias)
    return small


def _gz(path: Path) -> int:
    return len(gzip.compress(path.read_bytes(), compresslevel=9, mtime=0))


def test_unstructured_pruning_halves_effective_macs_over_exactly_the_stated_tensors(folder, sample):
    base, base_path = _save(folder, "dense", _build())
    cand, cand_path = _save(folder, "half", _unstructured(0.5))
    eff = measure_efficiency({"baseline": base, "candidate": cand},
                             {"baseline": base_path, "candidate": cand_path}, sample, None)
    b, c = eff.models["baseline"], eff.models["candidate"]

    weights = N_FEATURES * HIDDEN + HIDDEN * HIDDEN + HIDDEN * 2
    biases = HIDDEN + HIDDEN + 2
    assert b.parameters == c.parameters == weights + biases
    assert c.sparsity_scope == "all 6 parameter tensors (3 weight, 3 bias) of 3 Linear layers; buffers excluded"
    zeros = weights // 2  # l1_unstructured rounds amount * numel per layer; every layer here is even
    assert c.nonzero_parameters == weights + biases - zeros
    assert c.sparsity == pytest.approx(zeros / (weights + biases))
    bias_share = biases / (weights + biases)
    assert 0.5 - bias_share <= c.sparsity <= 0.5
    assert b.sparsity == 0.0

    assert b.macs_dense == c.macs_dense == weights  # one multiply-add per weight per row
    assert b.macs_effective == b.macs_dense
    assert c.macs_effective == weights // 2
    # unstructured pruning stores a dense file of the same size; only its compressed size shrinks
    assert b.bytes == c.bytes
    assert c.bytes_gzip < b.bytes_gzip
    assert (b.bytes_gzip, c.bytes_gzip) == (_gz(base_path), _gz(cand_path))
    assert eff.compression_ratio == pytest.approx(b.bytes_gzip / c.bytes_gzip)
    assert eff.size_reduction == pytest.approx(1 - c.bytes_gzip / b.bytes_gzip)
    assert eff.models["baseline"].latency == [] and eff.speedup == {}
    assert "not measured" in eff.method and "both models: 3 linear" in eff.method


def test_structured_pruning_has_fewer_macs_and_fewer_bytes(folder, sample):
    base, base_path = _save(folder, "dense", _build())
    cand, cand_path = _save(folder, "narrow", _structured(HIDDEN // 2), hidden=HIDDEN // 2)
    eff = measure_efficiency({"baseline": base, "candidate": cand},
                             {"baseline": base_path, "candidate": cand_path}, sample, None)
    b, c = eff.models["baseline"], eff.models["candidate"]
    h = HIDDEN // 2
    assert c.macs_dense == N_FEATURES * h + h * h + h * 2 < b.macs_dense
    assert c.macs_effective == c.macs_dense and c.sparsity == 0.0
    assert c.parameters < b.parameters and c.bytes < b.bytes and c.bytes_gzip < b.bytes_gzip
    assert c.bytes == cand_path.stat().st_size
    assert eff.compression_ratio > 1 and 0 < eff.size_reduction < 1


def test_latency_has_one_entry_per_batch_size_and_consistent_statistics(folder, sample):
    base, base_path = _save(folder, "dense", _build())
    cand, cand_path = _save(folder, "half", _unstructured(0.5))
    eff = measure_efficiency({"baseline": base, "candidate": cand},
                             {"baseline": base_path, "candidate": cand_path}, sample, FAST)
    for role in ("baseline", "candidate"):
        lat = eff.models[role].latency
        assert [s.batch_size for s in lat] == FAST.batch_sizes  # 64 > 20 sample rows: rows are repeated
        for s in lat:
            assert s.repeats == FAST.repeats
            assert 0 < s.median_ms <= s.p95_ms
            assert s.rows_per_s == pytest.approx(s.batch_size / (s.median_ms / 1000))
    assert set(eff.speedup) == {"1", "7", "64"}
    for size, ratio in eff.speedup.items():
        b = next(s for s in eff.models["baseline"].latency if s.batch_size == int(size))
        c = next(s for s in eff.models["candidate"].latency if s.batch_size == int(size))
        assert ratio == pytest.approx(b.median_ms / c.median_ms)
    assert "interleaved" in eff.method and eff.device == "cpu"
    assert "logical CPUs" in eff.hardware and "torch" in eff.hardware


class _Recorder:
    """A real adapter that also writes down the order of its calls (to check the interleaving)."""

    def __init__(self, adapter, role: str, log: list[str]) -> None:
        self.adapter, self.role, self.log = adapter, role, log

    def predict_proba(self, features: pa.Table, row_offset: int) -> np.ndarray:
        self.log.append(self.role[0])
        assert features.num_rows == 5
        return self.adapter.predict_proba(features, row_offset)


def test_calls_interleave_baseline_and_candidate(folder, sample):
    base, _ = _save(folder, "dense", _build())
    cand, _ = _save(folder, "half", _unstructured(0.5))
    log: list[str] = []
    times = time_interleaved({"baseline": _Recorder(base, "baseline", log),
                              "candidate": _Recorder(cand, "candidate", log)}, batch_of(sample, 5), 4, 1)
    assert "".join(log) == "bc" + "bccbbccb"  # warm-up, then the order flips every round
    assert [len(t) for t in times.values()] == [4, 4]


def test_batches_repeat_a_small_sample():
    t = pa.table({"a": [1.0, 2.0, 3.0]})
    assert batch_of(t, 7).column("a").to_pylist() == [1, 2, 3, 1, 2, 3, 1]
    assert batch_of(t, 2).num_rows == 2


def test_gzip_size_streams_to_the_same_bytes_as_gzip_compress(tmp_path):
    path = tmp_path / "blob.bin"
    data = np.random.default_rng(0).integers(0, 256, size=1_500_000, dtype=np.uint8)
    data[::2] = 0  # compressible, and more than one 1 MiB read block
    path.write_bytes(data.tobytes())
    assert gzip_size(path) == _gz(path)


def test_torch_export_gets_the_same_counts_as_the_module(folder, sample, tmp_path):
    model = _unstructured(0.5)
    torch_adapter, _ = _save(folder, "half", model)
    path = tmp_path / "half.pt2"
    torch.export.save(torch.export.export(model, (torch.randn(4, N_FEATURES),)), path)  # fixed batch of 4
    exported = load_model(ModelSpec(path=path.name, format="torch-export"), path, field="candidate",
                          manifest=tmp_path / "release.yaml", trust_pickle=True)
    facts, expected = exported.efficiency_facts(sample), torch_adapter.efficiency_facts(sample)
    for key in ("parameters", "nonzero_parameters", "macs_dense", "macs_effective"):
        assert facts[key] == expected[key], key
    assert facts["sparsity_scope"] == "all 6 parameter tensors (3 weight, 3 bias); buffers excluded"


# --------------------------------------------------------------------------- scikit-learn and predictions
@pytest.fixture(scope="module")
def sklearn_pair(tmp_path_factory):
    import skops.io as sio
    from sklearn.linear_model import LogisticRegression

    d = tmp_path_factory.mktemp("sk")
    rng = np.random.default_rng(1)
    X = pd.DataFrame(rng.normal(size=(300, 4)), columns=["a", "b", "c", "d"])
    y = (X["a"] - X["b"] + 0.3 * X["c"] > 0).astype(int)
    base = LogisticRegression().fit(X, y)
    pruned = copy.deepcopy(base)
    pruned.coef_ = np.where(np.abs(base.coef_) < np.sort(np.abs(base.coef_[0]))[2], 0.0, base.coef_)  # keep 2
    paths = {"baseline": d / "base.skops", "candidate": d / "pruned.skops"}
    sio.dump(base, paths["baseline"])
    sio.dump(pruned, paths["candidate"])
    adapters = {r: load_model(ModelSpec(path=p.name, format="skops"), p, field=r, manifest=d / "release.yaml")
                for r, p in paths.items()}
    return adapters, paths, pa.Table.from_pandas(X.iloc[:50], preserve_index=False)


def test_logistic_regression_counts_its_coefficients(sklearn_pair):
    adapters, paths, sample = sklearn_pair
    eff = measure_efficiency(adapters, paths, sample, LatencySpec(batch_sizes=[1, 32], repeats=3, warmup=0))
    b, c = eff.models["baseline"], eff.models["candidate"]
    assert (b.parameters, b.nonzero_parameters, b.macs_dense, b.macs_effective) == (5, 5, 4, 4)
    assert (c.parameters, c.nonzero_parameters, c.macs_dense, c.macs_effective) == (5, 3, 4, 2)
    assert c.sparsity == pytest.approx(2 / 5)
    assert c.sparsity_scope == "coef_ (1x4) and intercept_ (1) of LogisticRegression"
    assert [s.batch_size for s in c.latency] == [1, 32] and set(eff.speedup) == {"1", "32"}
    assert b.bytes == paths["baseline"].stat().st_size


def test_trees_report_nodes_not_parameters(tmp_path):
    import skops.io as sio
    from sklearn.tree import DecisionTreeClassifier

    rng = np.random.default_rng(2)
    X = rng.normal(size=(200, 3))
    y = (X[:, 0] + X[:, 1] * X[:, 2] + rng.normal(scale=0.5, size=200) > 0).astype(int)  # needs a deep tree
    paths = {}
    for role, depth in (("baseline", 6), ("candidate", 2)):
        paths[role] = tmp_path / f"{role}.skops"
        sio.dump(DecisionTreeClassifier(max_depth=depth, random_state=0).fit(X, y), paths[role])
    adapters = {r: load_model(ModelSpec(path=p.name, format="skops",
                                        trusted_types=["sklearn.tree._tree.Tree"]), p, field=r,
                              manifest=tmp_path / "r.yaml") for r, p in paths.items()}
    eff = measure_efficiency(adapters, paths, pa.table({"a": X[:5, 0], "b": X[:5, 1], "c": X[:5, 2]}), None)
    c = eff.models["candidate"]
    assert c.parameters is None and c.sparsity is None and c.macs_dense is None
    assert c.sparsity_scope.startswith("not applicable to trees: DecisionTreeClassifier has 1 tree, ")
    assert "nodes" in c.sparsity_scope and "leaves" in c.sparsity_scope
    for role, model in eff.models.items():  # nodes, leaves and depth as numbers, equal to the trees' own
        tree = adapters[role].model.tree_
        assert (model.tree_nodes, model.tree_leaves, model.tree_depth) == (tree.node_count, tree.n_leaves,
                                                                          tree.max_depth)
    assert eff.models["candidate"].tree_nodes < eff.models["baseline"].tree_nodes


def test_predictions_get_sizes_but_no_latency(tmp_path, sklearn_pair):
    _, _, sample = sklearn_pair
    paths = {}
    for role in ("baseline", "candidate"):
        paths[role] = tmp_path / f"{role}.csv"
        pd.DataFrame({"p": np.linspace(0, 1, 50)}).to_csv(paths[role], index=False)
    adapters = {r: load_model(ModelSpec(path=p.name, format="predictions"), p, field=r,
                              manifest=tmp_path / "r.yaml") for r, p in paths.items()}
    eff = measure_efficiency(adapters, paths, sample, FAST)
    for role in ("baseline", "candidate"):
        m = eff.models[role]
        assert m.latency == [] and m.parameters is None and m.macs_dense is None
        assert m.bytes == paths[role].stat().st_size and m.bytes_gzip == _gz(paths[role])
    assert eff.speedup == {} and "precomputed predictions cannot be re-run" in eff.method
    assert eff.compression_ratio == pytest.approx(1.0)
    # the predictions were never read: a full pass in order still works afterwards
    assert adapters["baseline"].predict_proba(sample, 0).shape == (50, 1)
