"""The planted-defect suite: under the default pack, every planted defect blocks and names its rule.

Each case is a real release (tests/planted.py) with one defect of the kind pruning causes or paperwork hides,
gated through the real CLI (``governance check --json --today``) on ``policy: builtin:nist-ai-rmf``. The clean
twin, carrying honest paperwork, ships with every block rule judged and passed: a gate that blocks everything
would pass the defect tests, so the twin is the other half of the specification.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import planted
import pytest

from governance.cli import main
from governance.findings import Verdict


@pytest.fixture(scope="session")
def trained() -> planted.Shared:
    return planted.train_shared()


@pytest.fixture
def without_pdf(monkeypatch: pytest.MonkeyPatch) -> None:
    """Leave the audit PDF out of a check's outputs: WeasyPrint's layout is most of a check's time here, it
    plays no part in the decision, and test_render.py covers it. The clean twin still renders everything."""
    from governance.render import RENDERERS

    monkeypatch.delitem(RENDERERS, "audit_report.pdf")


def gate(shared: planted.Shared, tmp_path: Path, capsys: pytest.CaptureFixture[str],
         case: Callable[[planted.Shared], planted.Plan]) -> tuple[int, dict[str, Any], Verdict]:
    """Build the case's release, gate it as a user would; the exit code, the --json summary and verdict.json."""
    plan = case(shared)
    release = planted.write_release(shared, tmp_path / "release", plan)
    out = tmp_path / "out"
    argv = ["check", str(release), "--out", str(out), "--json", "--today", planted.TODAY]
    if plan.waivers:
        argv += ["--waivers", str(release.parent / "waivers.yaml")]
    capsys.readouterr()
    code = main(argv)
    captured = capsys.readouterr()
    assert code in (0, 1), f"exit {code}, not a decision: {captured.err.strip()[-600:]}"
    summary = json.loads(captured.out)
    verdict = Verdict.model_validate_json((out / "verdict.json").read_text(encoding="utf-8"))
    return code, summary, verdict


def explain(verdict: Verdict) -> str:
    """Every finding that did not pass, one line each: the assertion message a failing case shows."""
    rows = [f"{f.rule_id} [{f.severity}] {f.status.value}: {f.message}" for f in verdict.findings
            if f.status.value != "pass"]
    return f"decision {verdict.decision}; not passed:\n  " + "\n  ".join(rows or ["(none)"])


def names_the_thin_group(verdict: Verdict) -> None:
    """The thin group is named with its observed drop, and the verdict says a block rule was not judged."""
    finding = next(f for f in verdict.findings if f.rule_id == "SLICE-001")
    thin = {t["slice"]: t["drop"] for t in finding.details.get("thin_slices", [])}
    assert thin.get("group=d", 0.0) > 0.5, finding.details
    assert "SLICE-001" in [n.rule_id for n in verdict.not_judged]


def reports_copied_rows(verdict: Verdict) -> None:
    finding = next(f for f in verdict.findings if f.rule_id == "DATA-001")
    assert "300 of 3000" in finding.message, finding.message


# (case, the rule that must block, an optional further check of the verdict)
DEFECTS: list[tuple[Callable[[planted.Shared], planted.Plan], str, Callable[[Verdict], None] | None]] = [
    (planted.slice_collapse, "SLICE-001", None),
    (planted.rare_class_collapse, "SLICE-002", None),
    (planted.fairness_growth, "FAIR-001", None),
    (planted.calibration_break, "CAL-001", None),
    (planted.robustness_collapse, "ROB-001", None),
    (planted.fake_efficiency_resaved, "EFF-001", None),
    (planted.fake_efficiency_barely_pruned, "EFF-001", None),
    (planted.identical_models, "EFF-002", None),
    (planted.data_tamper, "PROV-001", None),
    (planted.leakage, "DATA-001", reports_copied_rows),
    (planted.undeclared_identifiers, "DATA-002", None),
    (planted.signoff_for_another_file, "SIGN-001", None),
    (planted.thin_group_hurt, "SLICE-001", names_the_thin_group),
    (planted.ranking_damage, "PERF-003", None),
]


def test_clean_twin_ships_with_every_block_rule_judged(trained, tmp_path, capsys):
    code, summary, verdict = gate(trained, tmp_path, capsys, planted.clean)
    assert (code, summary["decision"], summary["blocking"]) == (0, "pass", []), explain(verdict)
    not_judged = [f.rule_id for f in verdict.findings if f.severity == "block" and f.status.value != "pass"]
    assert not_judged == [] and verdict.not_judged == [], explain(verdict)
    assert (tmp_path / "out" / "audit_report.pdf").read_bytes().startswith(b"%PDF")


@pytest.mark.usefixtures("without_pdf")
@pytest.mark.parametrize("case, rule_id, also", [pytest.param(*d, id=f"{d[0].__name__}-{d[1]}") for d in DEFECTS])
def test_defect_blocks_naming_its_rule(trained, tmp_path, capsys, case, rule_id, also):
    code, summary, verdict = gate(trained, tmp_path, capsys, case)
    assert (code, summary["decision"]) == (1, "blocked"), explain(verdict)
    assert rule_id in summary["blocking"], explain(verdict)
    assert rule_id in [f.rule_id for f in verdict.blocking], explain(verdict)
    if also is not None:
        also(verdict)


@pytest.mark.usefixtures("without_pdf")
def test_expired_waiver_is_ignored_and_reported(trained, tmp_path, capsys):
    code, summary, verdict = gate(trained, tmp_path, capsys, planted.expired_waiver)
    assert (code, summary["decision"]) == (1, "blocked"), explain(verdict)
    assert "EFF-001" in summary["blocking"], explain(verdict)
    assert [(w["rule"], w["state"]) for w in verdict.waivers] == [("EFF-001", "expired")]


@pytest.mark.usefixtures("without_pdf")
def test_active_waiver_twin_ships_with_the_rule_waived(trained, tmp_path, capsys):
    code, summary, verdict = gate(trained, tmp_path, capsys, planted.active_waiver)
    assert (code, summary["decision"]) == (0, "pass"), explain(verdict)
    assert {f.rule_id: f.status.value for f in verdict.findings}["EFF-001"] == "waived"
    assert [(w["rule"], w["state"]) for w in verdict.waivers] == [("EFF-001", "applied")]
