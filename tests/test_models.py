"""Model adapters, with real models saved in each format (no mocks)."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from governance.errors import InputError
from governance.manifest import ModelSpec
from governance.models import load_model, pickled, predictions, torch_export
from governance.models.torch_model import MISSING_KEYS, UNEXPECTED_KEYS

FEATURES = ["a", "b", "c"]


def chunks(df: pd.DataFrame, size: int):
    for start in range(0, len(df), size):
        yield pa.Table.from_pandas(df.iloc[start : start + size], preserve_index=False), start


def score_all(adapter, df: pd.DataFrame, size: int) -> np.ndarray:
    out = [adapter.predict_proba(table, offset) for table, offset in chunks(df, size)]
    adapter.finish(len(df))
    return np.concatenate(out)


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(120, 3)), columns=FEATURES)
    y2 = (X["a"] + 0.5 * X["b"] + rng.normal(scale=0.5, size=120) > 0).astype(int).to_numpy()
    y3 = np.digitize(X["c"] + X["a"], [-0.5, 0.5])
    return X, y2, y3


@pytest.fixture()
def manifest(tmp_path: Path) -> Path:
    return tmp_path / "release.yaml"  # adapters only name it (and use its folder); it need not exist


# --------------------------------------------------------------------------- skops / sklearn
def test_skops_logistic_regression_matches_its_own_predict_proba(tmp_path, manifest, data):
    import skops.io as sio
    from sklearn.linear_model import LogisticRegression

    X, _, y3 = data
    model = LogisticRegression(max_iter=500).fit(X, y3)
    path = tmp_path / "lr.skops"
    sio.dump(model, path)

    adapter = load_model(ModelSpec(path=path.name, format="skops"), path, field="baseline", manifest=manifest)
    assert adapter.classes == [0, 1, 2]
    got = score_all(adapter, X, 7)
    assert got.dtype == np.float64 and got.shape == (120, 3)
    np.testing.assert_allclose(got, model.predict_proba(X), rtol=0, atol=1e-12)
    assert adapter.describe() == {
        "format": "skops", "parameters": None, "nonzero_parameters": None, "bytes": path.stat().st_size
    }


def test_skops_tree_loads_only_when_its_type_is_trusted(tmp_path, manifest, data):
    import skops.io as sio
    from sklearn.tree import DecisionTreeClassifier

    X, y2, _ = data
    model = DecisionTreeClassifier(max_depth=4, random_state=0).fit(X, y2)
    path = tmp_path / "tree.skops"
    sio.dump(model, path)

    with pytest.raises(InputError) as err:
        load_model(ModelSpec(path=path.name, format="skops"), path, field="candidate", manifest=manifest)
    assert err.value.file == str(manifest)
    assert err.value.field == "candidate.trusted_types"
    assert "sklearn.tree._tree.Tree" in err.value.message and str(path) in err.value.message

    spec = ModelSpec(path=path.name, format="skops", trusted_types=["sklearn.tree._tree.Tree"])
    adapter = load_model(spec, path, field="candidate", manifest=manifest)
    np.testing.assert_array_equal(score_all(adapter, X, 50), model.predict_proba(X))
    assert adapter.classes == [0, 1]


@pytest.mark.parametrize("content", ["pickle", "garbage", "zip"])
def test_a_file_that_is_not_skops_is_an_input_error(tmp_path, manifest, content):
    path = tmp_path / "model.skops"
    if content == "pickle":
        path.write_bytes(pickle.dumps({"not": "a model"}))
    elif content == "garbage":
        path.write_bytes(b"\x00garbage")
    else:
        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr("readme.txt", "hello")
    with pytest.raises(InputError) as err:
        load_model(ModelSpec(path=path.name, format="skops"), path, field="baseline", manifest=manifest)
    assert err.value.file == str(path) and "not a valid skops file" in err.value.message


def test_sklearn_model_without_predict_proba_is_rejected(tmp_path, manifest, data):
    import skops.io as sio
    from sklearn.linear_model import LinearRegression

    X, y2, _ = data
    path = tmp_path / "reg.skops"
    sio.dump(LinearRegression().fit(X, y2), path)
    adapter = load_model(ModelSpec(path=path.name, format="skops"), path, field="baseline", manifest=manifest)
    with pytest.raises(InputError, match="no predict_proba"):  # a regressor loads (task: regression), never scores
        adapter.predict_proba(pa.Table.from_pandas(X.iloc[:3], preserve_index=False), 0)


def test_features_that_do_not_fit_the_model_are_an_input_error(tmp_path, manifest, data):
    import skops.io as sio
    from sklearn.linear_model import LogisticRegression

    X, y2, _ = data
    path = tmp_path / "lr.skops"
    sio.dump(LogisticRegression().fit(X, y2), path)
    adapter = load_model(ModelSpec(path=path.name, format="skops"), path, field="baseline", manifest=manifest)
    wrong = pa.Table.from_pandas(X.rename(columns={"c": "z"}).iloc[:10], preserve_index=False)
    with pytest.raises(InputError) as err:
        adapter.predict_proba(wrong, 0)
    assert err.value.file == str(path) and "also hold 'z' and lack 'c'" in err.value.message  # named, before scoring


@pytest.mark.parametrize("fmt", ["pickle", "joblib"])
def test_pickles_need_explicit_trust(tmp_path, manifest, data, fmt):
    import joblib
    from sklearn.linear_model import LogisticRegression

    X, y2, _ = data
    model = LogisticRegression().fit(X, y2)
    path = tmp_path / f"model.{fmt}"
    if fmt == "pickle":
        path.write_bytes(pickle.dumps(model))
    else:
        joblib.dump(model, path)
    spec = ModelSpec(path=path.name, format=fmt)

    with pytest.raises(InputError) as err:
        load_model(spec, path, field="baseline", manifest=manifest)
    assert (err.value.file, err.value.field, err.value.message) == (str(manifest), "baseline.format", pickled.REFUSAL)

    adapter = load_model(spec, path, field="baseline", manifest=manifest, trust_pickle=True)
    np.testing.assert_allclose(score_all(adapter, X, 33), model.predict_proba(X), atol=1e-12)
    assert adapter.describe()["format"] == fmt


def test_corrupt_pickle_with_trust_is_an_input_error(tmp_path, manifest):
    path = tmp_path / "model.pkl"
    path.write_bytes(b"not a pickle")
    with pytest.raises(InputError) as err:
        spec = ModelSpec(path=path.name, format="pickle")
        load_model(spec, path, field="baseline", manifest=manifest, trust_pickle=True)
    assert err.value.file == str(path)


def test_missing_model_file(tmp_path, manifest):
    path = tmp_path / "nope.skops"
    with pytest.raises(InputError, match="model file not found"):
        load_model(ModelSpec(path=path.name, format="skops"), path, field="baseline", manifest=manifest)


# --------------------------------------------------------------------------- torch (safetensors)
ARCH = """
import torch

class Net(torch.nn.Sequential):
    def __init__(self, in_features=3, hidden=8, out=2):
        super().__init__(torch.nn.Linear(in_features, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, out))

def build(in_features=3, hidden=8, out=2):
    return Net(in_features, hidden, out)

class HalfSoftmax(Net):
    '''Ends in a softmax computed in float16: rows sum to 1 within ~1e-3.'''
    def forward(self, x):
        return torch.softmax(super().forward(x).half(), dim=1)
"""


@pytest.fixture(scope="module")
def arch_dir(tmp_path_factory) -> Path:
    """A folder holding the manifest and its architecture module (a name unique to this test file)."""
    folder = tmp_path_factory.mktemp("torch_release")
    (folder / "gov_test_models_arch.py").write_text(textwrap.dedent(ARCH))
    return folder


def _mlp(arch_dir: Path, out: int = 2, seed: int = 0):
    import torch

    sys.path.insert(0, str(arch_dir))
    try:
        from gov_test_models_arch import build
    finally:
        sys.path.remove(str(arch_dir))
    torch.manual_seed(seed)
    return build(out=out).eval()


def _own_proba(model, X: pd.DataFrame, output: str = "softmax") -> np.ndarray:
    import torch

    with torch.no_grad():
        logits = model(torch.tensor(X.to_numpy(), dtype=torch.float32))
    return (torch.sigmoid(logits) if output == "sigmoid" else torch.softmax(logits, dim=1)).numpy()


def _torch_spec(path: Path, **kw) -> ModelSpec:
    return ModelSpec(path=path.name, format="torch", architecture="gov_test_models_arch:Net", **kw)


def test_torch_state_dict_matches_the_models_own_softmax(arch_dir, data):
    from safetensors.torch import save_file

    X, _, _ = data
    model = _mlp(arch_dir)
    path = arch_dir / "mlp.safetensors"
    save_file(model.state_dict(), path)

    adapter = load_model(_torch_spec(path), path, field="baseline", manifest=arch_dir / "release.yaml")
    assert adapter.classes is None
    got = score_all(adapter, X, 7)
    assert got.dtype == np.float64 and got.shape == (120, 2)
    np.testing.assert_allclose(got, _own_proba(model, X), atol=1e-6)
    np.testing.assert_allclose(got.sum(axis=1), 1.0, atol=1e-12)


def test_torch_single_logit_becomes_sigmoid_and_probabilities_pass_through(arch_dir, data):
    from safetensors.torch import save_file

    X, _, _ = data
    model = _mlp(arch_dir, out=1)
    path = arch_dir / "mlp1.safetensors"
    save_file(model.state_dict(), path)
    manifest = arch_dir / "release.yaml"

    adapter = load_model(_torch_spec(path, architecture_kwargs={"out": 1}), path, field="candidate", manifest=manifest)
    got = score_all(adapter, X, 1000)
    assert got.shape == (120, 1)
    np.testing.assert_allclose(got, _own_proba(model, X, "sigmoid"), atol=1e-6)

    spec = _torch_spec(path, architecture_kwargs={"out": 1}, output="probabilities")
    raw = load_model(spec, path, field="candidate", manifest=manifest)
    table = pa.Table.from_pandas(X, preserve_index=False)
    import torch

    with torch.no_grad():
        expected = model(torch.tensor(X.to_numpy(), dtype=torch.float32)).numpy()
    np.testing.assert_allclose(raw.predict_proba(table, 0), expected, atol=1e-6)


def test_torch_state_dict_that_does_not_fit_is_an_input_error(arch_dir):
    import torch
    from safetensors.torch import save_file

    manifest = arch_dir / "release.yaml"
    state = _mlp(arch_dir).state_dict()

    wrong_shape = dict(state, **{"0.weight": torch.zeros(8, 4)})
    path = arch_dir / "wrong_shape.safetensors"
    save_file(wrong_shape, path)
    with pytest.raises(InputError) as err:
        load_model(_torch_spec(path), path, field="candidate", manifest=manifest)
    assert err.value.file == str(path) and err.value.field == "candidate.path"
    assert "size mismatch for 0.weight" in err.value.message

    missing = {k: v for k, v in state.items() if k != "2.bias"}
    missing["extra.weight"] = torch.zeros(1)
    path = arch_dir / "missing.safetensors"
    save_file(missing, path)
    with pytest.raises(InputError) as err:
        load_model(_torch_spec(path), path, field="candidate", manifest=manifest)
    assert MISSING_KEYS.format(keys="2.bias") in err.value.message
    assert UNEXPECTED_KEYS.format(keys="extra.weight") in err.value.message


def test_torch_bad_files_and_architectures_are_input_errors(arch_dir, tmp_path):
    manifest = arch_dir / "release.yaml"
    path = arch_dir / "not_safetensors.safetensors"
    path.write_bytes(pickle.dumps({"0.weight": [1.0]}))
    with pytest.raises(InputError) as err:
        load_model(_torch_spec(path), path, field="baseline", manifest=manifest)
    assert err.value.file == str(path) and "not a valid safetensors file" in err.value.message

    for arch in ["no_such_module_xyz:Net", "gov_test_models_arch:nope"]:
        spec = ModelSpec(path=path.name, format="torch", architecture=arch)
        with pytest.raises(InputError) as err:
            load_model(spec, path, field="baseline", manifest=manifest)
        assert (err.value.file, err.value.field) == (str(manifest), "baseline.architecture")

    with pytest.raises(InputError) as err:
        load_model(_torch_spec(path, architecture_kwargs={"bogus": 1}), path, field="baseline", manifest=manifest)
    assert err.value.field == "baseline.architecture_kwargs"


def test_torch_needs_numeric_features(arch_dir, data):
    from safetensors.torch import save_file

    _X, _, _ = data
    path = arch_dir / "mlp_numeric.safetensors"
    save_file(_mlp(arch_dir).state_dict(), path)
    adapter = load_model(_torch_spec(path), path, field="baseline", manifest=arch_dir / "release.yaml")
    table = pa.table({"a": [0.1, 0.2], "b": ["x", "y"], "c": [1.0, 2.0]})
    with pytest.raises(InputError, match="feature column 'b'"):
        adapter.predict_proba(table, 0)
    with pytest.raises(InputError, match="missing value at row 11"):
        adapter.predict_proba(pa.table({"a": [0.1, None], "b": [1.0, 2.0], "c": [1.0, 2.0]}), 10)
    with pytest.raises(InputError, match="rows 0-1"):  # 2 features for a 3-input network
        adapter.predict_proba(pa.table({"a": [0.1, 0.2], "b": [1.0, 2.0]}), 0)
    encoded = pa.table(
        {"a": pa.array([1, 2]).dictionary_encode(), "b": [True, False], "c": pa.array([1, 2], pa.int8())}
    )
    assert adapter.predict_proba(encoded, 0).shape == (2, 2)


def test_describe_counts_parameters_and_nonzeros_after_pruning(arch_dir):
    import torch
    from safetensors.torch import save_file
    from torch.nn.utils import prune

    model = _mlp(arch_dir)
    total = sum(p.numel() for p in model.parameters())  # 3*8+8 + 8*2+2 = 50
    assert total == 50
    layer = model[0]
    prune.l1_unstructured(layer, name="weight", amount=0.5)  # 12 of its 24 weights

    attached = arch_dir / "attached.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, attached)
    with pytest.raises(InputError, match=r"prune\.remove"):
        load_model(_torch_spec(attached), attached, field="candidate", manifest=arch_dir / "release.yaml")

    prune.remove(layer, "weight")
    path = arch_dir / "pruned.safetensors"
    save_file(model.state_dict(), path)
    adapter = load_model(_torch_spec(path), path, field="candidate", manifest=arch_dir / "release.yaml")
    expected_nonzero = sum(int(torch.count_nonzero(p)) for p in model.parameters())
    assert expected_nonzero == 50 - 12
    assert adapter.describe() == {
        "format": "torch", "parameters": 50, "nonzero_parameters": 38, "bytes": path.stat().st_size
    }


# --------------------------------------------------------------------------- torch.export (.pt2)
def _export(model, path: Path, dynamic: bool) -> None:
    import torch

    example = (torch.randn(5, 3),)
    shapes = ({0: torch.export.Dim("batch")},) if dynamic else None
    torch.export.save(torch.export.export(model, example, dynamic_shapes=shapes), path)


def test_torch_export_needs_trust_and_then_matches_the_model(arch_dir, data, tmp_path):
    X, _, _ = data
    model = _mlp(arch_dir)
    path = tmp_path / "mlp.pt2"
    _export(model, path, dynamic=True)
    spec = ModelSpec(path=path.name, format="torch-export")
    manifest = tmp_path / "release.yaml"

    with pytest.raises(InputError) as err:
        load_model(spec, path, field="candidate", manifest=manifest)
    assert (err.value.file, err.value.field) == (str(manifest), "candidate.format")
    assert err.value.message == torch_export.REFUSAL

    adapter = load_model(spec, path, field="candidate", manifest=manifest, trust_pickle=True)
    np.testing.assert_allclose(score_all(adapter, X, 7), _own_proba(model, X), atol=1e-6)
    assert adapter.describe()["parameters"] == 50 and adapter.describe()["nonzero_parameters"] == 50

    static = tmp_path / "static.pt2"  # traced with a fixed batch of 5: scored in padded blocks
    _export(model, static, dynamic=False)
    adapter = load_model(spec, static, field="candidate", manifest=manifest, trust_pickle=True)
    np.testing.assert_allclose(score_all(adapter, X, 13), _own_proba(model, X), atol=1e-6)
    with pytest.raises(InputError, match="takes 3 features"):
        adapter.predict_proba(pa.table({"a": [1.0], "b": [2.0]}), 0)


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_untrusted_pt2_is_refused_before_any_of_it_is_read(tmp_path, arch_dir):
    """A .pt2 whose sample inputs are a code-running pickle: torch.export.load would run it."""
    good = tmp_path / "good.pt2"
    _export(_mlp(arch_dir), good, dynamic=True)
    marker = tmp_path / "ran"

    evil = tmp_path / "evil.pt2"
    payload = pickle.dumps(_Touch(str(marker)))
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(evil, "w") as dst:
        for info in src.infolist():
            data = payload if info.filename.endswith("sample_inputs/model.pt") else src.read(info.filename)
            dst.writestr(info.filename, data)
    spec = ModelSpec(path=evil.name, format="torch-export")
    with pytest.raises(InputError, match="arbitrary code"):
        load_model(spec, evil, field="candidate", manifest=tmp_path / "r.yaml")
    assert not marker.exists()

    # The danger is real: with --trust-pickle, torch.export.load runs the payload (then fails to load).
    with pytest.raises(InputError) as err:
        load_model(spec, evil, field="candidate", manifest=tmp_path / "r.yaml", trust_pickle=True)
    assert err.value.file == str(evil)
    assert marker.exists()


class _Touch:
    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


@pytest.mark.parametrize("content", [b"garbage", b"PK\x05\x06" + b"\x00" * 18])
def test_a_file_that_is_not_pt2_is_an_input_error(tmp_path, content):
    path = tmp_path / "model.pt2"
    path.write_bytes(content)
    with pytest.raises(InputError) as err:
        spec = ModelSpec(path=path.name, format="torch-export")
        load_model(spec, path, field="baseline", manifest=tmp_path / "r.yaml", trust_pickle=True)
    assert err.value.file == str(path) and "torch.export archive" in err.value.message


# --------------------------------------------------------------------------- predictions files
N_ROWS = 250


@pytest.fixture()
def scores() -> pd.DataFrame:
    rng = np.random.default_rng(1)
    p = rng.dirichlet([1, 1, 1], size=N_ROWS)
    return pd.DataFrame({"id": np.arange(N_ROWS), "p0": p[:, 0], "p1": p[:, 1], "p2": p[:, 2]})


def _write(df: pd.DataFrame, path: Path) -> Path:
    if path.suffix == ".csv":
        df.to_csv(path, index=False, float_format="%.17g")
    else:
        pq.write_table(pa.Table.from_pandas(df, preserve_index=False), path, row_group_size=16)
    return path


def _rows(n: int) -> pd.DataFrame:
    return pd.DataFrame({"a": np.zeros(n)})


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
@pytest.mark.parametrize("chunk", [7, 1000])
def test_predictions_stream_back_in_order_for_any_chunk_size(tmp_path, monkeypatch, scores, suffix, chunk):
    monkeypatch.setattr(predictions, "CSV_BLOCK_BYTES", 2048)  # several CSV batches for 250 rows
    monkeypatch.setattr(predictions, "BATCH_ROWS", 10)
    path = _write(scores, tmp_path / f"scores{suffix}")
    spec = ModelSpec(path=path.name, format="predictions", columns=["p0", "p1", "p2"])
    adapter = load_model(spec, path, field="candidate", manifest=tmp_path / "r.yaml")
    got = score_all(adapter, _rows(N_ROWS), chunk)
    assert got.dtype == np.float64
    np.testing.assert_array_equal(got, scores[["p0", "p1", "p2"]].to_numpy())
    assert adapter.classes is None
    assert adapter.describe() == {
        "format": "predictions", "parameters": None, "nonzero_parameters": None, "bytes": path.stat().st_size
    }


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_predictions_default_to_every_column_and_one_column_is_p_positive(tmp_path, scores, suffix):
    path = _write(scores[["p1"]], tmp_path / f"one{suffix}")
    spec = ModelSpec(path=path.name, format="predictions")
    adapter = load_model(spec, path, field="baseline", manifest=tmp_path / "r.yaml")
    got = score_all(adapter, _rows(N_ROWS), 64)
    assert got.shape == (N_ROWS, 1)
    np.testing.assert_array_equal(got[:, 0], scores["p1"].to_numpy())


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_predictions_with_too_few_or_too_many_rows(tmp_path, scores, suffix):
    path = _write(scores, tmp_path / f"scores{suffix}")
    spec = ModelSpec(path=path.name, format="predictions", columns=["p0", "p1"])
    manifest = tmp_path / "r.yaml"

    too_few = load_model(spec, path, field="candidate", manifest=manifest)
    with pytest.raises(InputError) as err:
        score_all(too_few, _rows(N_ROWS + 5), 100)
    assert err.value.file == str(path) and f"has {N_ROWS} rows" in err.value.message

    too_many = load_model(spec, path, field="candidate", manifest=manifest)
    out = [too_many.predict_proba(t, o) for t, o in chunks(_rows(N_ROWS - 3), 100)]
    assert sum(len(o) for o in out) == N_ROWS - 3
    with pytest.raises(InputError) as err:
        too_many.finish(N_ROWS - 3)
    assert err.value.file == str(path)
    assert f"has {N_ROWS} rows but the evaluation data has {N_ROWS - 3}" in err.value.message


def test_predictions_bad_columns_and_values(tmp_path, scores):
    manifest = tmp_path / "r.yaml"
    path = _write(scores, tmp_path / "scores.csv")
    with pytest.raises(InputError) as err:
        spec = ModelSpec(path=path.name, format="predictions", columns=["p0", "score"])
        load_model(spec, path, field="candidate", manifest=manifest)
    assert (err.value.file, err.value.field) == (str(path), "candidate.columns") and "'score'" in err.value.message

    labelled = scores.assign(label=["x"] * N_ROWS)
    path = _write(labelled, tmp_path / "labelled.parquet")
    with pytest.raises(InputError, match="'label'"):
        load_model(ModelSpec(path=path.name, format="predictions"), path, field="candidate", manifest=manifest)

    holes = scores.copy()
    holes.loc[200, "p1"] = np.nan
    path = _write(holes, tmp_path / "holes.csv")
    spec = ModelSpec(path=path.name, format="predictions", columns=["p1"])
    adapter = load_model(spec, path, field="candidate", manifest=manifest)
    with pytest.raises(InputError, match="row 200"):
        score_all(adapter, _rows(N_ROWS), 50)

    path = tmp_path / "junk.csv"
    path.write_bytes(b"\x00\x01 not,a\ncsv")
    with pytest.raises(InputError) as err:
        spec = ModelSpec(path=path.name, format="predictions")
        adapter = load_model(spec, path, field="candidate", manifest=manifest)
        score_all(adapter, _rows(1), 1)
    assert err.value.file == str(path)


def test_predictions_must_be_read_in_order(tmp_path, scores):
    path = _write(scores, tmp_path / "scores.parquet")
    spec = ModelSpec(path=path.name, format="predictions")
    adapter = load_model(spec, path, field="candidate", manifest=tmp_path / "r.yaml")
    adapter.predict_proba(pa.Table.from_pandas(_rows(10)), 0)
    with pytest.raises(ValueError, match="expected row_offset 10"):
        adapter.predict_proba(pa.Table.from_pandas(_rows(10)), 20)


# --------------------------------------------------------------------------- packaging
def test_importing_the_adapters_does_not_import_heavy_libraries():
    code = (
        "import sys, governance.models, governance.models.predictions, governance.models.torch_model, "
        "governance.models.torch_export, governance.models.skops_model, governance.models.pickled; "
        "heavy = [m for m in ('torch', 'safetensors', 'skops', 'sklearn', 'joblib') if m in sys.modules]; "
        "assert not heavy, heavy"
    )
    root = Path(__file__).resolve().parents[1]
    env = dict(os.environ, PYTHONPATH=str(root))
    subprocess.run([sys.executable, "-c", code], check=True, cwd=root, env=env)



def test_half_precision_probabilities_are_renormalised_not_refused(arch_dir, data):
    """A float16 softmax sums to 1 within ~1e-3; the 1e-6 check refused it and its hint ('output: logits') led to a
    silent second softmax."""
    from safetensors.torch import save_file

    X, _, _ = data
    model = _mlp(arch_dir)
    path = arch_dir / "half.safetensors"
    save_file(model.state_dict(), path)
    spec = ModelSpec(path=path.name, format="torch", architecture="gov_test_models_arch:HalfSoftmax",
                     output="probabilities")
    got = score_all(load_model(spec, path, field="candidate", manifest=arch_dir / "release.yaml"), X, 7)
    np.testing.assert_allclose(got.sum(axis=1), 1.0, atol=1e-12)
    np.testing.assert_allclose(got, _own_proba(model, X), atol=5e-3)



def test_a_network_that_already_ends_in_softmax_read_as_logits_is_warned(arch_dir, data):
    """A second softmax squashes the scores toward 1/K (ECE 0.19 instead of 0.02) and nothing said so."""
    from safetensors.torch import save_file

    from governance.models.torch_adapter import ALREADY_PROBABILITIES

    X, _, _ = data
    path = arch_dir / "soft.safetensors"
    save_file(_mlp(arch_dir).state_dict(), path)
    for arch, warned in (("HalfSoftmax", True), ("Net", False)):
        spec = ModelSpec(path=path.name, format="torch", architecture=f"gov_test_models_arch:{arch}")
        adapter = load_model(spec, path, field="candidate", manifest=arch_dir / "release.yaml")
        score_all(adapter, X, 7)
        assert adapter.notes == ([ALREADY_PROBABILITIES.format(field="candidate")] if warned else [])


def test_a_written_row_index_is_not_read_as_a_class_score(tmp_path, scores):
    """pandas' to_csv without index=False adds a column named '': read as a third score, the release was told to
    become multiclass."""
    from governance.errors import InputError

    path = tmp_path / "scores.csv"
    scores[["p0", "p1"]].to_csv(path)  # the index written as the first, unnamed column
    with pytest.raises(InputError) as exc:
        load_model(ModelSpec(path=path.name, format="predictions"), path, field="candidate",
                   manifest=tmp_path / "r.yaml")
    assert "looks like a written row index" in str(exc.value) and "['p0', 'p1']" in str(exc.value)
    spec = ModelSpec(path=path.name, format="predictions", columns=["p0", "p1"])
    assert load_model(spec, path, field="candidate", manifest=tmp_path / "r.yaml").columns == ["p0", "p1"]
