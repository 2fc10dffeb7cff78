"""The packaged policy packs on the bundled example, where the answers are known in advance."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from governance.cli import main
from governance.policy import load_policy
from governance.rmf import subcategories

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def credit(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("credit")
    shutil.copytree(ROOT / "examples" / "credit", d / "credit")
    return d / "credit"


def _check(credit: Path, manifest: str, policy: str, out: Path) -> tuple[int, dict]:
    code = main(["check", str(credit / manifest), "--policy", policy, "--out", str(out), "--quiet"])
    return code, json.loads((out / "verdict.json").read_text())


def test_every_pack_rule_cites_real_rmf_subcategories_and_says_why():
    for pack in ("nist-ai-rmf", "edge"):
        policy = load_policy(ROOT / "policies" / f"{pack}.yaml")
        for rule in policy.rules:
            assert rule.rmf and set(rule.rmf) <= set(subcategories()), rule.id
            assert rule.rationale and rule.rationale.endswith("."), rule.id
    kinds = {r.kind for r in load_policy(ROOT / "policies" / "nist-ai-rmf.yaml").rules}
    assert {"metric_drop", "slice_metric_drop", "fairness_gap", "calibration", "agreement", "robustness_drop",
            "efficiency", "provenance", "documentation", "attestation", "leakage", "pii_scan"} <= kinds


def test_default_pack_runs_clean_on_the_good_candidate(credit, tmp_path):
    code, verdict = _check(credit, "release.yaml", "builtin:nist-ai-rmf", tmp_path / "good")
    assert code == 0, [f["message"] for f in verdict["findings"] if f["status"] != "pass"]
    assert {f["status"] for f in verdict["findings"]} == {"pass"}


def test_default_pack_blocks_the_aggressive_candidate_for_the_right_reasons(credit, tmp_path):
    code, verdict = _check(credit, "release-aggressive.yaml", "builtin:nist-ai-rmf", tmp_path / "bad")
    status = {f["rule_id"]: f["status"] for f in verdict["findings"]}
    assert code == 1
    assert status["PERF-001"] == "fail" and status["SLICE-002"] == "fail"   # quality and the minority class
    assert status["SIGN-001"] == "fail"  # nobody signed this file
    assert status["PROV-001"] == "pass" and status["DATA-001"] == "pass"     # it is the declared, clean lineage


def test_edge_pack_reports_measured_speed(credit, tmp_path):
    _, verdict = _check(credit, "release.yaml", "builtin:edge", tmp_path / "edge")
    evidence = json.loads((tmp_path / "edge" / "evidence.json").read_text())
    eff2 = next(f for f in verdict["findings"] if f["rule_id"] == "EFF-002")
    assert eff2["observed"] == pytest.approx(evidence["efficiency"]["speedup"]["1"])
    assert "measured speedup" in eff2["message"]
