"""bom.cdx.json: a CycloneDX 1.6 ML-BOM, validated against the CycloneDX JSON schema."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from builders import PROVENANCE_RULE, gate, make_release
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from governance.card import load_card
from governance.render import RENDERERS, RenderContext
from governance.render.bom import bom_json, licenses
from governance.render.sample import sample_evidence, sample_verdict

VALIDATOR = JsonStrictValidator(SchemaVersion.V1_6)
CARD = Path(__file__).resolve().parent.parent / "examples" / "credit" / "card.yaml"
PERF = {"id": "PERF-001", "kind": "metric_drop", "metric": "accuracy", "max_drop": 0.05, "rmf": ["MEASURE 2.3"]}


def valid(content: bytes) -> dict:
    error = VALIDATOR.validate_str(content.decode())
    assert error is None, error
    return json.loads(content)


@pytest.fixture(scope="module")
def release_bom(release_dir, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("bom")
    manifest = make_release(release_dir, tmp, evaluation={"bootstrap": {"resamples": 50}, "latency": None,
                                                          "robustness": None})
    findings, evidence = gate(manifest, PROVENANCE_RULE, PERF)
    from governance.findings import Verdict, decide

    verdict = Verdict(decision=decide(findings), evaluated_on="2026-11-25", findings=findings,
                      release=dict(evidence.release), policy={"name": "p"})
    ctx = RenderContext(evidence, verdict, card=load_card(CARD))
    return valid(bom_json(ctx)), evidence


def test_the_release_bom_is_valid_cyclonedx_1_6(release_bom):
    bom, _ = release_bom
    assert bom["bomFormat"] == "CycloneDX" and bom["specVersion"] == "1.6"
    assert bom["serialNumber"].startswith("urn:uuid:")
    assert "bom.cdx.json" in RENDERERS


def test_the_candidate_is_the_boms_subject_with_its_hash_baseline_and_pruning(release_bom):
    bom, ev = release_bom
    model = bom["metadata"]["component"]  # the subject of the BOM (metadata.component), not one of its parts
    assert all(c["bom-ref"] != "model:candidate" for c in bom["components"])
    assert model["type"] == "machine-learning-model" and model["name"] == ev.release["name"]
    assert model["hashes"] == [{"alg": "SHA-256", "content": ev.inputs["candidate"].sha256}]
    ancestor = model["pedigree"]["ancestors"][0]
    assert ancestor["type"] == "machine-learning-model" and ancestor["name"] == "lr-1.0"
    assert ancestor["hashes"][0]["content"] == ev.inputs["baseline"].sha256
    props = {p["name"]: p["value"] for p in model["properties"]}
    assert props["pruning-governance:pruning_method"] == "magnitude"
    assert props["pruning-governance:parent"] == ev.inputs["baseline"].sha256
    assert model["licenses"] == [{"license": {"id": "Apache-2.0"}}]


def test_datasets_carry_hashes_licences_and_provenance(release_bom):
    bom, ev = release_bom
    data = {c["name"]: c for c in bom["components"] if c["type"] == "data"}
    assert set(data) == {"eval", "train"}
    assert data["eval"]["hashes"][0]["content"] == ev.inputs["data"].sha256
    assert data["eval"]["licenses"] == [{"license": {"id": "CC-BY-4.0"}}]
    assert data["train"]["data"][0]["contents"]["url"] == "s3://bucket/train.parquet"
    props = {p["name"]: p["value"] for p in data["eval"]["properties"]}
    assert props["pruning-governance:role"] == "evaluation" and props["pruning-governance:evaluated"] == "true"
    refs = {d["ref"] for d in bom["metadata"]["component"]["modelCard"]["modelParameters"]["datasets"]}
    assert refs == {"data:eval", "data:train"}
    assert bom["dependencies"] == [{"ref": "model:candidate", "dependsOn": ["data:train"]}]


def test_quantitative_analysis_has_slices_and_intervals(release_bom):
    bom, ev = release_bom
    metrics = bom["metadata"]["component"]["modelCard"]["quantitativeAnalysis"]["performanceMetrics"]
    overall = next(m for m in metrics if m["type"] == "accuracy" and "slice" not in m)
    comp = ev.comparisons.overall["accuracy"]
    assert float(overall["value"]) == pytest.approx(comp.candidate)
    assert float(overall["confidenceInterval"]["lowerBound"]) == pytest.approx(comp.candidate_ci.ci_low)
    sliced = {m["slice"] for m in metrics if "slice" in m}
    assert {"group=a", "region=north", "group & region=c & south"} <= sliced
    considerations = bom["metadata"]["component"]["modelCard"]["considerations"]
    assert considerations["useCases"] and considerations["ethicalConsiderations"][0]["name"]


def test_the_policy_rmf_references_and_findings_are_properties(release_bom):
    bom, _ = release_bom
    props = {p["name"]: p["value"] for p in bom["metadata"]["properties"]}
    assert props["nist-ai-rmf:MAP 4.1"] == "PROV-001" and props["nist-ai-rmf:MEASURE 2.3"] == "PERF-001"
    assert props["pruning-governance:finding:PROV-001"].startswith("pass (provenance")
    assert props["pruning-governance:decision"] == "pass"


def test_a_release_without_provenance_or_intervals_still_gives_a_valid_bom():
    ev = sample_evidence(3)
    ev = ev.model_copy(update={"comparisons": None})
    bom = valid(bom_json(RenderContext(ev, sample_verdict(ev))))
    (data,) = [c for c in bom["components"] if c["type"] == "data"]
    assert data["hashes"][0]["content"] == ev.inputs["data"].sha256
    metrics = bom["metadata"]["component"]["modelCard"]["quantitativeAnalysis"]["performanceMetrics"]
    assert metrics and all("confidenceInterval" not in m for m in metrics)


def test_the_validator_rejects_a_broken_bom(release_bom):
    bom, _ = release_bom
    broken = json.loads(json.dumps(bom))
    broken["metadata"]["component"]["type"] = "neural-network"
    assert VALIDATOR.validate_str(json.dumps(broken)) is not None


@pytest.mark.parametrize("text,expected", [
    ("apache-2.0", [{"license": {"id": "Apache-2.0"}}]),
    ("MIT OR Apache-2.0", [{"expression": "MIT OR Apache-2.0"}]),
    ("Internal use only", [{"license": {"name": "Internal use only"}}]),
    (None, None),
])
def test_licences_are_spdx_ids_where_possible(text, expected):
    assert licenses(text) == expected
