"""`governance demo --quick` end to end with real torch (no mocks), and the bundled Adult data and datasheet."""

from __future__ import annotations

import hashlib
import importlib.util
import io
import json
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from governance.datasets import datasheet, path

ROOT = Path(__file__).resolve().parent.parent
ADULT_COLUMNS = ["age", "workclass", "fnlwgt", "education", "education_num", "marital_status", "occupation",
                 "relationship", "race", "sex", "capital_gain", "capital_loss", "hours_per_week", "native_country",
                 "income", "split", "age_group"]
DOCUMENTS = ["verdict.json", "evidence.json", "junit.xml", "model_card.md", "model_card.html", "audit_report.html",
             "audit_report.pdf", "checksums.json"]


# --- the bundled data ---------------------------------------------------------------------------------------
def test_bundled_adult_matches_its_datasheet():
    parquet = path("adult.parquet")
    sheet = datasheet()
    assert hashlib.sha256(parquet.read_bytes()).hexdigest() == sheet["dataset"]["sha256"]
    table = pq.read_table(parquet)
    assert table.num_rows == 48_842 == sheet["rows"]
    assert table.column_names == ADULT_COLUMNS
    splits = table.column("split").to_pylist()
    assert (splits.count("train"), splits.count("test")) == (32_561, 16_281)
    assert set(table.column("income").to_pylist()) == {0, 1}
    assert set(table.column("age_group").to_pylist()) == {"<25", "25-44", "45-64", "65+"}
    assert None in set(table.column("workclass").to_pylist())  # '?' became null
    assert "10.24432/C5XW20" in sheet["citation"] and sheet["dataset"]["license"] == "CC-BY-4.0"
    # the source files' hashes are the ones scripts/make_adult.py checks
    spec = importlib.util.spec_from_file_location("make_adult", ROOT / "scripts" / "make_adult.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    assert {s["file"]: s["sha256"] for s in sheet["sources"]} == {k: v[2] for k, v in script.SOURCES.items()}


def test_datasheet_validates_against_the_provenance_model():
    provenance = pytest.importorskip("governance.provenance")
    dataset = provenance.DatasetProvenance.model_validate(datasheet()["dataset"])
    assert dataset.collection_period.start.year == dataset.collection_period.end.year == 1994
    assert {"sex", "race", "age"} <= set(dataset.personal_data)


# --- the demo -----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from governance.cli import main

    out = tmp_path_factory.mktemp("demo")
    stdout, stderr = io.StringIO(), io.StringIO()
    with redirect_stdout(stdout), redirect_stderr(stderr):
        code = main(["demo", "--out", str(out), "--quick"])
    return out, code, stdout.getvalue(), stderr.getvalue()


def _evidence(out: Path, name: str) -> dict:
    return json.loads((out / name / "evidence.json").read_text())


def test_demo_runs_and_gates_every_candidate(demo):
    from governance.demo import CANDIDATES

    out, code, _stdout, stderr = demo
    assert code == 0, stderr
    for cand in CANDIDATES:
        for doc in DOCUMENTS:
            assert (out / cand.name / doc).is_file(), f"{cand.name}/{doc}"
        verdict = json.loads((out / cand.name / "verdict.json").read_text())
        assert verdict["decision"] in ("pass", "blocked")
        assert verdict["policy"]["name"] == "nist-ai-rmf"
        assert (out / f"release-{cand.name}.yaml").is_file() and (out / f"card-{cand.name}.yaml").is_file()


def test_demo_prints_a_table_naming_every_candidate_and_its_decision(demo):
    from governance.demo import CANDIDATES

    out, _, stdout, _ = demo
    table = stdout[: stdout.index("Drops are baseline - candidate")]
    for cand in CANDIDATES:
        row = next(line for line in table.splitlines() if f" {cand.name} " in line)
        decision = json.loads((out / cand.name / "verdict.json").read_text())["decision"]
        assert ("PASS" if decision == "pass" else "BLOCKED") in row
    assert "No candidate was blocked for a slice reason" in stdout or "looks fine on average" in stdout
    assert f"in {out}/<candidate>/" in stdout.replace("\n", " ")


def test_measured_sparsity_matches_the_pruning_amount(demo):
    """Sparsity in the evidence (all parameter tensors, biases included) within 0.01 of the amount pruned from
    the Linear weights, and exactly the amount over the Linear weights themselves (read from the file)."""
    from safetensors.numpy import load_file

    from governance.demo import CANDIDATES

    out = demo[0]
    for cand in (c for c in CANDIDATES if not c.structured):
        ev = _evidence(out, cand.name)
        measured = ev["efficiency"]["models"]["candidate"]
        assert measured["sparsity"] == pytest.approx(cand.amount, abs=0.01), cand.name
        assert "parameter tensors" in measured["sparsity_scope"]
        state = load_file(str(out / f"{cand.name}.safetensors"))
        weights = [v for k, v in state.items() if k.startswith("layers.") and k.endswith(".weight")]
        zeros = sum(int((w == 0).sum()) for w in weights) / sum(w.size for w in weights)
        assert zeros == pytest.approx(cand.amount, abs=1e-3), cand.name
    baseline = _evidence(out, CANDIDATES[0].name)["efficiency"]["models"]["baseline"]
    assert baseline["sparsity"] < 0.01


def test_structured_candidate_is_really_smaller(demo):
    from governance.demo import CANDIDATES

    out = demo[0]
    cand = next(c for c in CANDIDATES if c.structured)
    ev = _evidence(out, cand.name)
    base, small = ev["models"]["baseline"]["description"], ev["models"]["candidate"]["description"]
    assert small["parameters"] < 0.5 * base["parameters"]
    assert small["bytes"] < base["bytes"]
    eff = ev["efficiency"]["models"]
    assert eff["candidate"]["macs_dense"] < eff["baseline"]["macs_dense"]
    assert eff["candidate"]["sparsity"] < 0.01  # smaller, not sparser


def test_demo_outputs_can_be_gated_again_on_their_own(demo):
    """The manifests the demo writes load, name the packaged pack and an architecture file next to them."""
    from governance.demo import CANDIDATES
    from governance.manifest import load_manifest

    out = demo[0]
    for cand in CANDIDATES:
        m = load_manifest(out / f"release-{cand.name}.yaml").manifest
        assert m.policy == "builtin:nist-ai-rmf" and m.candidate.architecture == "adult_mlp:AdultMLP"
        assert m.data.sensitive == ["sex", "race", "age_group"]
    assert (out / "adult_mlp.py").is_file()
    assert pq.read_metadata(out / "eval.parquet").num_rows == 4000


def test_quiet_demo_lines_state_the_decision_line_with_rules_not_judged(demo, capsys):
    """--quiet prints the same decision line as every other output (findings.decision_line), not a copy of it."""
    from governance.demo import CANDIDATES, _print
    from governance.demo.report import row
    from governance.evidence.schema import Evidence
    from governance.findings import Verdict, decision_line

    out = demo[0]
    rows = []
    for cand in CANDIDATES:
        evidence = Evidence.model_validate_json((out / cand.name / "evidence.json").read_bytes())
        verdict = Verdict.model_validate_json((out / cand.name / "verdict.json").read_bytes())
        rows.append((row(cand.name, out / cand.name, evidence, verdict, 50), decision_line(verdict)))
    _print([r for r, _ in rows], [], out, "nist-ai-rmf", 50, True, 1.0, True)
    printed = capsys.readouterr().out.splitlines()
    assert printed == [f"{r.name}: {line}  (outputs in {r.folder})" for r, line in rows]


def test_demo_judges_one_candidate_for_production_and_monitors_two_windows(demo):
    """The production step: the group pruning hurt most is more common in production, the accuracy drop re-weighted
    to production's shares is larger than on the evaluation set, and the monitor passes a window like production
    and raises on one after the population moved."""
    from governance.demo.production import CANDIDATE

    out, _, stdout, _ = demo
    ev = _evidence(out, "production")
    prod = ev["production"]
    text = " ".join(stdout.split())
    story = text[text.index("Production: ") + len("Production: "):]
    dim, value = story.split(" is ")[0].split("=", 1)  # the group pruning hurt most, made more common
    assert dim in ("sex", "race", "age_group") and prod["slices"][dim][value]["share_ratio"] > 1.5
    weighted = prod["weighted"]["overall"]["accuracy"]
    evaluation = ev["comparisons"]["overall"]["accuracy"]
    assert -weighted["difference"] > -evaluation["difference"]  # pruning hurt the boosted group most
    verdict = json.loads((out / "production" / "verdict.json").read_text())
    assert verdict["policy"]["name"] == "production" and ev["release"]["version"].endswith(f"{CANDIDATE}-production")
    assert {f["rule_id"] for f in verdict["findings"]} >= {"PROD-001", "PROD-002", "PROD-003", "PROD-004"}
    assert (out / "production" / "monitoring.json").is_file()
    clean = json.loads((out / "monitor-clean" / "monitor.json").read_text())
    drifted = json.loads((out / "monitor-drifted" / "monitor.json").read_text())
    assert clean and drifted
    assert "window like production exits 0" in " ".join(stdout.split())
    assert "after the population moved exits 1" in " ".join(stdout.split())
