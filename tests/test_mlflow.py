"""Spec: ``format: mlflow`` models by URI and ``--mlflow-run`` / ``governance mlflow log``, against a real MLflow
tracking server (SQLite backend, 127.0.0.1, started once for this file by tests/mlflow_server.py).

A real small scikit-learn model is logged and registered twice (cloudpickle, then skops), gated by
``models:/credit-lr/N``, and the verdict logged back is read with ``MlflowClient`` as a user's code would.
"""

from __future__ import annotations

import hashlib
import json
import re
import shlex
import shutil
from pathlib import Path

import pytest
import yaml
from builders import FAST, run, write_yaml
from mlflow_server import free_port, mlflow_server  # noqa: F401  # the session fixture

pytest.importorskip("mlflow")

from governance.integrations.mlflow_log import DECISION_TAG, LOG_FAILED
from governance.manifest import BAD_MLFLOW_URI, MLFLOW_NEEDS_URI
from governance.models.mlflow_model import PICKLE_REFUSAL

ROOT = Path(__file__).resolve().parent.parent
DOC = (ROOT / "docs" / "mlflow.md").read_text()
NAME = "credit-lr"


@pytest.fixture(scope="module")
def registry(mlflow_server, release_dir):  # noqa: F811
    """The pruned model registered as credit-lr version 1 (cloudpickle) and 2 (skops); an evaluation run."""
    import mlflow
    import mlflow.sklearn
    import skops.io as sio
    from mlflow import MlflowClient

    path = release_dir / "pruned.skops"
    model = sio.load(path, trusted=sio.get_untrusted_types(file=path))
    mlflow.set_tracking_uri(mlflow_server.url)
    mlflow.set_registry_uri(mlflow_server.url)
    with mlflow.start_run() as training:
        for fmt in ("cloudpickle", "skops"):
            mlflow.sklearn.log_model(model, name=f"model-{fmt}", registered_model_name=NAME,
                                     serialization_format=fmt, pip_requirements=["scikit-learn"])
    client = MlflowClient(mlflow_server.url)
    evaluation = client.create_run(training.info.experiment_id).info.run_id
    return {"client": client, "training": training.info.run_id, "evaluation": evaluation}


@pytest.fixture
def release(release_dir, tmp_path, mlflow_server, monkeypatch):  # noqa: F811
    """A copy of the shared release whose candidate is ``format: mlflow``; MLFLOW_TRACKING_URI names the server."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server.url)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    folder = tmp_path / "release"
    shutil.copytree(release_dir, folder)

    def write(uri: str, tracking_uri: str | None = None, **extra) -> Path:
        manifest = yaml.safe_load((folder / "release.yaml").read_text())
        candidate = {"format": "mlflow", "uri": uri, **({"tracking_uri": tracking_uri} if tracking_uri else {})}
        manifest.update({"candidate": candidate, "evaluation": FAST, **extra})
        return write_yaml(folder / "release.yaml", manifest)

    return write


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def test_a_registered_pickle_model_is_gated_with_trust_pickle_and_the_verdict_logged_back(
        registry, release, tmp_path, capsys, mlflow_server):  # noqa: F811
    manifest, out = release(f"models:/{NAME}/1"), tmp_path / "out"
    code, _, err = run(capsys, "check", manifest, "--out", out, "--trust-pickle", "--quiet",
                       "--mlflow-run", registry["evaluation"])
    assert code == 0, err
    assert f"logged to MLflow run {registry['evaluation']}: {DECISION_TAG}=pass, model version {NAME}/1" in err

    evidence = json.loads((out / "evidence.json").read_text())
    cand = evidence["models"]["candidate"]
    source = cand["source"]
    assert (source["uri"], source["registered_model"], source["version"]) == (f"models:/{NAME}/1", NAME, "1")
    assert (source["run_id"], source["flavour"], source["serialization"]) == (
        registry["training"], "sklearn", "cloudpickle")
    assert source["tracking_uri"] == mlflow_server.url
    # the evaluated file is the one the server stores, hashed; published by URI, never by a temp folder
    assert cand["file"]["path"] == f"models:/{NAME}/1/model.pkl"
    hashes = {hashlib.sha256(p.read_bytes()).hexdigest() for p in mlflow_server.artifacts.rglob("model.pkl")}
    assert cand["file"]["sha256"] in hashes
    assert {f["path"] for f in source["files"]} >= {"MLmodel", "model.pkl"}
    assert evidence["inputs"]["candidate"]["sha256"] == cand["file"]["sha256"]
    assert "/tmp" not in (out / "model_card.md").read_text()

    client = registry["client"]
    logged = client.get_run(registry["evaluation"]).data
    assert logged.tags[DECISION_TAG] == "pass"
    overall = evidence["models"]["candidate"]["overall"]
    assert logged.metrics["governance.candidate.accuracy"] == pytest.approx(overall["accuracy"])
    assert logged.metrics["governance.difference.accuracy"] == pytest.approx(
        overall["accuracy"] - evidence["models"]["baseline"]["overall"]["accuracy"])
    assert client.get_model_version(NAME, "1").tags[DECISION_TAG] == "pass"
    listed = {a.path for a in client.list_artifacts(registry["evaluation"], "governance")}
    assert listed == {f"governance/{n}" for n in ("verdict.json", "evidence.json", "audit_report.pdf",
                                                     "model_card.md", "junit.xml")}


def test_a_pickle_flavour_is_refused_without_trust_pickle_naming_the_field(registry, release, tmp_path, capsys):
    code, _, err = run(capsys, "check", release(f"models:/{NAME}/1"), "--out", tmp_path / "out", "--quiet")
    line = _one_line(err)
    assert code == 2
    assert "candidate.uri" in line
    assert PICKLE_REFUSAL.format(uri=f"models:/{NAME}/1", serialization="cloudpickle") in line


def test_a_skops_flavour_loads_without_trust_and_intervals_are_logged(registry, release, tmp_path, capsys):
    manifest = release(f"models:/{NAME}/2", evaluation={**FAST, "bootstrap": {"resamples": 200, "seed": 1}})
    code, _, err = run(capsys, "check", manifest, "--out", tmp_path / "out", "--quiet")
    assert code == 0, err
    source = json.loads((tmp_path / "out" / "evidence.json").read_text())["models"]["candidate"]["source"]
    assert (source["version"], source["serialization"]) == ("2", "skops")

    code, out, err = run(capsys, "mlflow", "log", "--run", registry["evaluation"], "--out", tmp_path / "out")
    assert code == 0, err
    assert f"model version {NAME}/2" in out
    client = registry["client"]
    metrics = client.get_run(registry["evaluation"]).data.metrics
    low, high = metrics["governance.difference.accuracy.ci_low"], metrics["governance.difference.accuracy.ci_high"]
    assert low <= metrics["governance.difference.accuracy"] <= high
    assert client.get_model_version(NAME, "2").tags[DECISION_TAG] == "pass"


def test_a_run_uri_resolves_to_its_run(registry, release, tmp_path, capsys):
    manifest = release(f"runs:/{registry['training']}/model-skops")
    code, _, err = run(capsys, "check", manifest, "--out", tmp_path / "out", "--quiet")
    assert code == 0, err
    source = json.loads((tmp_path / "out" / "evidence.json").read_text())["models"]["candidate"]["source"]
    assert (source["run_id"], source["version"], source["registered_model"]) == (registry["training"], None, None)


@pytest.mark.parametrize("uri", ["models:/credit-lr", "models:/credit-lr/latest", "s3://bucket/model", "runs:/"])
def test_a_malformed_uri_is_exit_2_naming_the_field(release_dir, tmp_path, capsys, uri):
    folder = tmp_path / "r"
    shutil.copytree(release_dir, folder)
    manifest = yaml.safe_load((folder / "release.yaml").read_text())
    write_yaml(folder / "release.yaml", {**manifest, "candidate": {"format": "mlflow", "uri": uri}})
    code, _, err = run(capsys, "check", folder / "release.yaml", "--out", tmp_path / "out", "--quiet")
    assert code == 2 and "candidate" in _one_line(err)
    assert BAD_MLFLOW_URI.format(uri=uri) in err


def test_a_path_instead_of_a_uri_is_exit_2(release_dir, tmp_path, capsys):
    folder = tmp_path / "r"
    shutil.copytree(release_dir, folder)
    manifest = yaml.safe_load((folder / "release.yaml").read_text())
    write_yaml(folder / "release.yaml", {**manifest, "candidate": {"format": "mlflow", "path": "pruned.skops"}})
    code, _, err = run(capsys, "check", folder / "release.yaml", "--out", tmp_path / "out", "--quiet")
    assert code == 2 and MLFLOW_NEEDS_URI in _one_line(err)


def test_a_server_that_is_down_is_exit_2_in_one_line_and_the_verdict_is_unchanged(
        registry, release, tmp_path, capsys, monkeypatch, mlflow_server):  # noqa: F811
    out = tmp_path / "out"
    assert run(capsys, "check", release(f"models:/{NAME}/2"), "--out", out, "--quiet")[0] == 0
    before = (out / "verdict.json").read_bytes()
    down = f"http://127.0.0.1:{free_port()}"
    code, _, err = run(capsys, "mlflow", "log", "--run", registry["evaluation"], "--out", out, "--tracking-uri", down)
    line = _one_line(err)
    assert code == 2
    assert LOG_FAILED.split("{")[0] in line and down in line
    assert (out / "verdict.json").read_bytes() == before

    # through check --mlflow-run (model from the manifest's tracking_uri, logging to a down MLFLOW_TRACKING_URI):
    # exit 2 in one line, and the verdict written as decided
    manifest = release(f"models:/{NAME}/2", tracking_uri=mlflow_server.url)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", down)
    code, _, err = run(capsys, "check", manifest, "--out", tmp_path / "out2", "--quiet",
                       "--mlflow-run", registry["evaluation"])
    assert code == 2 and _one_line(err).startswith("error: --mlflow-run: could not log to MLflow run"), err
    assert json.loads((tmp_path / "out2" / "verdict.json").read_text())["decision"] == "pass"


def test_the_documented_example_runs_as_written(registry, release, tmp_path, capsys, mlflow_server, monkeypatch):  # noqa: F811
    release(f"models:/{NAME}/1")
    block = re.search(r"```sh\n(.*?)\n```", DOC.split("## A runnable example")[1], re.S).group(1)
    commands = [shlex.split(line) for line in block.splitlines() if line.startswith("governance ")]
    assert [c[:2] for c in commands] == [["governance", "check"], ["governance", "mlflow"]]
    monkeypatch.chdir(tmp_path)
    for argv in commands:
        argv = [a.replace("$RUN_ID", registry["evaluation"]) for a in argv[1:]]
        code, _, err = run(capsys, *argv)
        assert code == 0, (argv, err)
    client = registry["client"]
    assert client.get_run(registry["evaluation"]).data.tags[DECISION_TAG] == "pass"


def test_the_onnx_flavour_is_read_by_onnxruntime_without_trust(tmp_path):
    """No server needed: a model folder as the gate downloads it, with the onnx flavour (protobuf, no pickle)."""
    import numpy as np
    import pyarrow as pa

    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    import mlflow.onnx
    from onnx import TensorProto, helper, numpy_helper

    from governance.manifest import ModelSpec
    from governance.models import load_model

    w = numpy_helper.from_array(np.array([[1.0, -1.0], [0.5, 0.5]], dtype=np.float32), name="w")
    b = numpy_helper.from_array(np.zeros(2, dtype=np.float32), name="b")
    graph = helper.make_graph(
        [helper.make_node("Gemm", ["x", "w", "b"], ["logits"])], "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 2])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["n", 2])], initializer=[w, b])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    mlflow.onnx.save_model(model, str(tmp_path / "m"), pip_requirements=["onnx"])
    spec = ModelSpec(format="mlflow", uri="models:/tiny/1", output="logits")
    adapter = load_model(spec, tmp_path / "m" / "model.onnx", field="candidate", manifest=tmp_path / "release.yaml")
    x = pa.table({"a": [1.0, 0.0], "b": [0.0, 1.0]})
    logits = np.array([[1.0, -1.0], [0.5, 0.5]])
    expected = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(adapter.predict_proba(x, 0), expected, rtol=1e-5)


def test_a_flavour_the_gate_cannot_read_safely_is_refused_naming_it(tmp_path):
    from governance.errors import InputError
    from governance.manifest import ModelSpec
    from governance.models import load_model
    from governance.models.mlflow_model import UNSUPPORTED_FLAVOUR

    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "MLmodel").write_text(yaml.safe_dump({"flavors": {"python_function": {"loader_module": "x"},
                                                               "pytorch": {"model_data": "data"}}}))
    (folder / "model.pth").write_bytes(b"not loaded")
    with pytest.raises(InputError) as err:
        load_model(ModelSpec(format="mlflow", uri="models:/x/1"), folder / "model.pth", field="candidate",
                   manifest=tmp_path / "release.yaml")
    assert err.value.field == "candidate.uri"
    assert err.value.message == UNSUPPORTED_FLAVOUR.format(uri="models:/x/1", flavours="python_function, pytorch")


def test_a_model_server_that_is_down_is_exit_2_naming_the_uri(release_dir, tmp_path, capsys, monkeypatch):
    from governance.models.mlflow_model import FETCH_FAILED

    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    down = f"http://127.0.0.1:{free_port()}"
    folder = tmp_path / "r"
    shutil.copytree(release_dir, folder)
    manifest = yaml.safe_load((folder / "release.yaml").read_text())
    candidate = {"format": "mlflow", "uri": "models:/nowhere/1", "tracking_uri": down}
    write_yaml(folder / "release.yaml", {**manifest, "candidate": candidate})
    code, _, err = run(capsys, "check", folder / "release.yaml", "--out", tmp_path / "out", "--quiet")
    line = _one_line(err)
    assert code == 2 and "candidate.uri" in line
    assert FETCH_FAILED.split("{reason}")[0].format(uri="models:/nowhere/1", tracking=down) in line
    assert not (tmp_path / "out" / "verdict.json").exists()
