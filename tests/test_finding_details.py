"""The typed accessors over ``Finding.details`` read what the engine and the rules write, and the JSON keys
stay the ``DetailKey`` strings (verdict.json unchanged)."""

from __future__ import annotations

import json
from datetime import date

from governance.engine import apply_waivers
from governance.findings import DetailKey, Finding, Status
from governance.policy import Waiver

TODAY = date(2026, 11, 25)


def _slice_failure(failing: list[str]) -> Finding:
    return Finding(rule_id="FAIR-001", kind="slice_metric_drop", status=Status.FAIL, severity="block",
                   message="2 slice(s) beyond the allowed 0.0300",
                   details={DetailKey.FAILING_SLICES: failing, DetailKey.METRIC: "accuracy"})


def _waiver(scope: list[str] | None) -> Waiver:
    return Waiver(rule="FAIR-001", reason="accepted for one release", approved_by="Dana Reviewer",
                  expires=date(2026, 12, 31), scope=scope)


def test_a_scoped_waiver_covers_exactly_the_failing_slices_the_accessor_reads() -> None:
    f = _slice_failure(["group=A", "group=B"])
    assert f.failing_slices == ["group=A", "group=B"]
    covered, _ = apply_waivers([f], [_waiver(["group=A", "group=B", "group=C"])], TODAY)
    narrow, states = apply_waivers([f], [_waiver(["group=A"])], TODAY)
    assert covered[0].status == Status.WAIVED
    assert narrow[0].status == Status.FAIL and states[0]["state"] == "unused"


def test_a_waived_finding_exposes_its_waiver_and_the_status_it_replaced() -> None:
    (waived,), _ = apply_waivers([_slice_failure(["group=A"])], [_waiver(None)], TODAY)
    assert waived.waived_status == "fail"
    assert waived.waiver["approved_by"] == "Dana Reviewer" and waived.waiver["state"] == "applied"
    dumped = json.loads(waived.model_dump_json())
    assert dumped["details"]["waived_status"] == "fail" and dumped["details"]["waiver"]["reason"]
    assert "failing_slices" not in dumped and "waiver" not in dumped  # accessors are not serialised fields


def test_accessors_are_empty_on_findings_without_those_details() -> None:
    plain = Finding(rule_id="PERF-001", kind="metric_drop", status=Status.PASS, severity="block", message="ok")
    assert plain.failing_slices == [] and plain.waived_status is None and plain.waiver == {}
