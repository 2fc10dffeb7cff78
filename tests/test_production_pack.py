"""builtin:production: the nist-ai-rmf pack plus the production rules; without a production sample its blocking
rules cannot be judged, so the release is blocked, never passed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from governance.cli import main
from governance.policy import load_policy
from governance.rmf import subcategories

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION_KINDS = {"representativeness", "production_agreement", "label_free_performance"}


def test_every_rule_of_every_pack_cites_real_rmf_subcategories_and_says_why():
    from governance.monitor.judge import load_monitor_policy

    for path in sorted((ROOT / "policies").glob("*.yaml")):
        rules = load_monitor_policy(path)[0].rules if path.name == "monitor.yaml" else load_policy(path).rules
        for rule in rules:
            assert rule.rmf and set(rule.rmf) <= set(subcategories()), (path.name, rule.id)
            assert rule.rationale and rule.rationale.endswith("."), (path.name, rule.id)


def test_the_production_pack_extends_the_default_and_adds_the_production_rules():
    default = {r.id for r in load_policy(ROOT / "policies" / "nist-ai-rmf.yaml").rules}
    pack = load_policy(ROOT / "policies" / "production.yaml")
    assert default <= {r.id for r in pack.rules}
    assert {r.kind for r in pack.rules} >= PRODUCTION_KINDS
    weighted = [r for r in pack.rules if getattr(r, "weighting", "evaluation") == "production"]
    assert weighted and all(r.severity == "block" for r in weighted)


@pytest.fixture(scope="module")
def example(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("prod") / "production"
    shutil.copytree(ROOT / "examples" / "production", d)
    return d


def _verdict(out: Path) -> dict:
    return {f["rule_id"]: f for f in json.loads((out / "verdict.json").read_text())["findings"]}


def test_without_a_production_sample_the_pack_blocks_naming_what_was_not_judged(example, tmp_path):
    manifest = example / "release.yaml"
    text = manifest.read_text().replace("production: {path: production.csv}\n", "")
    (example / "no-production.yaml").write_text(text)
    code = main(["check", str(example / "no-production.yaml"), "--policy", "builtin:production", "--out",
                 str(tmp_path / "o"), "--quiet"])
    findings = _verdict(tmp_path / "o")
    assert code == 1
    for rule in ("PROD-001", "PROD-003"):
        assert findings[rule]["status"] == "inconclusive", findings[rule]
        assert "production" in findings[rule]["message"].lower()
    verdict = json.loads((tmp_path / "o" / "verdict.json").read_text())
    assert verdict["decision"] == "blocked"


def test_the_documented_example_passes_on_the_evaluation_set_and_blocks_for_production(example, tmp_path):
    """docs/production.md's table: the evaluation-weighted drop passes, the production-weighted one blocks."""
    code = main(["check", str(example / "release.yaml"), "--out", str(tmp_path / "o"), "--quiet"])
    findings = _verdict(tmp_path / "o")
    assert code == 1
    assert findings["PERF-001"]["status"] == "pass" and findings["PERF-002"]["status"] == "fail"
    assert findings["PERF-002"]["observed"] > 3 * findings["PERF-001"]["observed"]
    assert findings["REP-001"]["status"] == "fail" and findings["REP-001"]["severity"] == "warn"
    assert findings["PROD-001"]["status"] == "fail" and findings["PROD-002"]["status"] == "pass"
    html = (tmp_path / "o" / "audit_report.html").read_text()
    section = html[html.index('id="production"'):html.index("<h3>Calibration</h3>")]
    assert "Production-weighted" in section and "Label-free estimate" in section and "It assumes:" in section
    first_share = section[section.index("<tbody>"):].split("</tr>")[0]
    assert "C" in first_share  # the most under-represented slice comes first
    text = (ROOT / "docs" / "production.md").read_text()
    assert "governance check examples/production/release.yaml --out out/production   # exit 1" in text
