"""A quantized candidate end to end: a float ONNX MLP (weights from a fitted scikit-learn MLPClassifier) as the
baseline, its int8 copy from ``onnxruntime.quantization.quantize_dynamic`` as the candidate, gated through
``governance check`` with sizes, measured latency and the candidate's bit width in the evidence."""

from __future__ import annotations

import copy
import json
import logging
from pathlib import Path

import numpy as np
import pytest
from builders import FEATURES, TODAY, make_frame, sha, write_yaml

from governance.card import MarkdownCard
from governance.cli import main
from governance.engine import evaluate
from governance.evidence.schema import Evidence
from governance.findings import ExitCode, exit_code
from governance.policy import parse_policy
from governance.rules.provenance import QUANTIZATION_CLAIM

pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402
from onnxruntime.quantization import QuantType, quantize_dynamic  # noqa: E402

HIDDEN = (64, 64)


def _float_onnx(path: Path) -> Path:
    """A random-feature MLP as an ONNX graph: two ReLU layers of fixed random weights, and a read-out fitted by
    scikit-learn's LogisticRegression on their activations (fast, and a real fit); MatMul + Add (+ Relu) per layer,
    then two logits [0, z] and Softmax (softmax([0, z])[1] = sigmoid(z), the logistic read-out's probability)."""
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    train = make_frame(2000, 11)
    weights = [rng.normal(size=(4, HIDDEN[0])) / 2, rng.normal(size=HIDDEN) / np.sqrt(HIDDEN[0])]
    biases = [rng.normal(size=HIDDEN[0]) / 4, np.zeros(HIDDEN[1])]
    h = train[FEATURES].to_numpy()
    for w, b in zip(weights, biases):
        h = np.maximum(h @ w + b, 0.0)
    readout = LogisticRegression(max_iter=500).fit(h, train["label"])
    weights.append(np.concatenate([np.zeros((HIDDEN[1], 1)), readout.coef_.T], axis=1))
    biases.append(np.array([0.0, readout.intercept_[0]]))
    weights = [w.astype(np.float32) for w in weights]
    biases = [b.astype(np.float32) for b in biases]
    nodes, inits, x = [], [], "x"
    for i, (w, b) in enumerate(zip(weights, biases)):
        inits += [numpy_helper.from_array(w, f"W{i}"), numpy_helper.from_array(b, f"b{i}")]
        nodes += [helper.make_node("MatMul", [x, f"W{i}"], [f"m{i}"]), helper.make_node("Add", [f"m{i}", f"b{i}"],
                                                                                       [f"a{i}"])]
        x = f"a{i}"
        if i < len(weights) - 1:
            nodes.append(helper.make_node("Relu", [x], [f"r{i}"]))
            x = f"r{i}"
    nodes.append(helper.make_node("Softmax", [x], ["probabilities"], axis=1))
    graph = helper.make_graph(nodes, "mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])],
                              [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", 2])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


@pytest.fixture(scope="module")
def quantized_release(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("quantized")
    base = _float_onnx(d / "baseline.onnx")
    logging.getLogger().setLevel(logging.ERROR)  # quantize_dynamic suggests pre-processing through the root logger
    quantize_dynamic(str(base), str(d / "candidate.onnx"), weight_type=QuantType.QInt8)
    make_frame(800, 12).to_csv(d / "eval.csv", index=False)
    write_yaml(d / "policy.yaml", {"name": "quantized", "rules": [
        {"id": "PERF-001", "kind": "metric_drop", "metric": "accuracy", "max_drop": 0.02, "max_relative_drop": 0.02,
         "severity": "block"},
        {"id": "PERF-002", "kind": "slice_metric_drop", "metric": "accuracy", "by": ["group"],
         "max_relative_drop": 0.05, "severity": "block"},
        {"id": "EFF-001", "kind": "efficiency", "min_size_reduction": 0.5, "severity": "block"},
    ]})
    write_yaml(d / "provenance.yaml", {
        "datasets": {"eval": {"role": "evaluation", "path": "eval.csv", "sha256": sha(d / "eval.csv"),
                              "source": "test generator", "license": "CC-BY-4.0"}},
        "models": {
            "mlp": {"sha256": sha(base), "license": "Apache-2.0"},
            "mlp-int8": {"sha256": sha(d / "candidate.onnx"), "parent": sha(base), "license": "Apache-2.0",
                         "quantization": {"method": "onnxruntime.quantization.quantize_dynamic", "bits": 8,
                                          "settings": {"weight_type": "QInt8"}}},
        }})
    write_yaml(d / "release.yaml", {
        "name": "mlp-int8", "version": "1.0.0", "task": "binary_classification", "positive_label": 1,
        "baseline": {"path": "baseline.onnx", "format": "onnx"},
        "candidate": {"path": "candidate.onnx", "format": "onnx"},
        "data": {"path": "eval.csv", "target": "label", "sensitive": ["group", "region"]},
        "provenance": "provenance.yaml",
        "evaluation": {"bootstrap": {"resamples": 0}, "robustness": None,
                       "latency": {"batch_sizes": [1, 64], "repeats": 5, "warmup": 1}},
        "policy": "policy.yaml",
    })
    return d


@pytest.fixture(scope="module")
def checked(quantized_release, tmp_path_factory):
    out = tmp_path_factory.mktemp("out")
    code = main(["check", str(quantized_release / "release.yaml"), "--out", str(out)])
    return code, out, json.loads((out / "evidence.json").read_text()), json.loads((out / "verdict.json").read_text())


def test_the_int8_candidate_ships_because_it_keeps_accuracy_and_is_smaller(checked):
    code, _, evidence, verdict = checked
    by_id = {f["rule_id"]: f for f in verdict["findings"]}
    # the stated reason: accuracy within 2 points and 2% of the baseline, every group within 5% of its baseline,
    # and the int8 file at least halves the gzip size
    assert by_id["PERF-001"]["status"] == "pass" and by_id["PERF-001"]["details"]["limits_exceeded"] == []
    assert by_id["PERF-002"]["status"] == "pass"
    assert by_id["EFF-001"]["status"] == "pass"
    assert evidence["efficiency"]["size_reduction"] >= 0.5
    assert code == 0 and verdict["decision"] == "pass"


def test_efficiency_evidence_reports_sizes_latency_and_bit_width(checked):
    _, _, evidence, _ = checked
    eff = evidence["efficiency"]["models"]
    base, cand = eff["baseline"], eff["candidate"]
    assert base["weight_bits"] == 32 and cand["weight_bits"] == 8
    assert "int8" in cand["weight_format"] and "MatMulInteger" in cand["weight_format"]
    assert cand["bytes"] < base["bytes"] / 2 and cand["bytes_gzip"] < base["bytes_gzip"]
    for m in (base, cand):
        assert [lat["batch_size"] for lat in m["latency"]] == [1, 64]
        assert all(lat["median_ms"] > 0 and lat["repeats"] == 5 for lat in m["latency"])
    assert set(evidence["efficiency"]["speedup"]) == {"1", "64"}


def test_sparsity_of_the_quantized_graph_counts_its_int8_weights(checked):
    """Counting only float initializers would leave the int8 graph with its biases and scales as "parameters"."""
    _, _, evidence, _ = checked
    eff = evidence["efficiency"]["models"]
    weights = 4 * HIDDEN[0] + HIDDEN[0] * HIDDEN[1] + HIDDEN[1] * 2
    params = weights + HIDDEN[0] + HIDDEN[1] + 2
    assert eff["baseline"]["parameters"] == eff["candidate"]["parameters"] == params
    assert eff["candidate"]["sparsity"] < 0.1  # only weights that round to the zero point are zeros
    assert "quantized weight initializers" in eff["candidate"]["sparsity_scope"]
    assert eff["candidate"]["macs_dense"] == eff["baseline"]["macs_dense"] == weights


def test_recovery_is_candidate_over_baseline(checked):
    _, _, evidence, _ = checked
    b, c = evidence["models"]["baseline"]["overall"], evidence["models"]["candidate"]["overall"]
    rec = evidence["recovery"]["overall"]
    assert rec["accuracy"] == pytest.approx(c["accuracy"] / b["accuracy"])
    assert rec["log_loss"] == pytest.approx(b["log_loss"] / c["log_loss"])  # lower is better: baseline / candidate
    slices = evidence["models"]["candidate"]["slices"]["group"]
    for value, stats in slices.items():
        base = evidence["models"]["baseline"]["slices"]["group"][value]["accuracy"]
        assert evidence["recovery"]["slices"]["group"][value]["accuracy"] == pytest.approx(stats["accuracy"] / base)


def test_the_card_tags_the_candidate_quantized_and_shows_recovery(checked):
    _, out, evidence, _ = checked
    card = MarkdownCard.loads((out / "model_card.md").read_text())
    tags, body = card.data["tags"], card.text
    assert "quantized" in tags and "pruned" not in tags
    pct = f"{100 * evidence['recovery']['overall']['accuracy']:.1f}%"
    assert "| recovery |" in body and pct in body
    assert "recovery" in (out / "audit_report.html").read_text() and "bits per weight" in body


def test_a_sparsity_rule_is_not_fooled_by_a_quantized_graph(checked):
    _, out, _, _ = checked
    evidence = Evidence.model_validate_json((out / "evidence.json").read_text())
    policy = parse_policy({"name": "sparse", "rules": [
        {"id": "EFF-002", "kind": "efficiency", "min_sparsity": 0.5, "severity": "block"}]}, path=Path("p.yaml"))
    verdict = evaluate(policy, evidence, TODAY)
    assert exit_code(verdict) == ExitCode.BLOCKED  # int8 weights are not zeros: a 50%-sparsity claim fails
    assert verdict.findings[0].observed < 0.1


def _provenance_finding(evidence: Evidence):
    policy = parse_policy({"name": "prov", "rules": [{"id": "PROV-001", "kind": "provenance", "severity": "block",
                                                      "require_models": ["quantization"]}]}, path=Path("p.yaml"))
    return evaluate(policy, evidence, TODAY).findings[0]


def test_the_declared_bit_width_is_checked_against_the_graph(checked):
    raw = copy.deepcopy(checked[2])  # the module's evidence stays as collected
    f = _provenance_finding(Evidence.model_validate(raw))
    claim = QUANTIZATION_CLAIM.format(name="mlp-int8", declared=8, measured=8)
    assert f.status.value == "pass" and claim in f.details["verified"]
    raw["provenance"]["declared"]["models"]["mlp-int8"]["quantization"]["bits"] = 4  # claims more than was done
    f = _provenance_finding(Evidence.model_validate(raw))
    assert f.status.value == "fail"
    assert QUANTIZATION_CLAIM.format(name="mlp-int8", declared=4, measured=8) in f.message
