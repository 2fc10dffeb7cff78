"""max_relative_drop: a drop limit relative to the baseline's value, next to (or instead of) max_drop."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from builders import OVERALL_B, OVERALL_C, evidence, one, rates, run, write_yaml

from governance.errors import InputError
from governance.evidence.recovery import DEFINITION, measure, recovery
from governance.findings import Status
from governance.rules.relative import ABSOLUTE, NO_DROP_LIMIT, RELATIVE, UNDEFINED_RELATIVE

# OVERALL_B -> OVERALL_C: accuracy 0.90 -> 0.885 (drop 0.015, 1.667% of 0.90); log_loss 0.30 -> 0.36 (a rise of
# 0.06, 20% of 0.30)
ACC_REL = 0.015 / 0.90
LOSS_REL = 0.06 / 0.30


@pytest.mark.parametrize("metric,limit,status,rel", [
    ("accuracy", 0.02, Status.PASS, ACC_REL),  # higher is better: 1.67% worse, 2% allowed
    ("accuracy", 0.01, Status.FAIL, ACC_REL),
    ("log_loss", 0.25, Status.PASS, LOSS_REL),  # lower is better: a 20% rise, 25% allowed
    ("log_loss", 0.10, Status.FAIL, LOSS_REL),
])
def test_relative_limit_passes_within_and_fails_beyond_in_both_directions(metric, limit, status, rel):
    f = one({"kind": "metric_drop", "metric": metric, "max_relative_drop": limit}, evidence(OVERALL_B, OVERALL_C))
    assert f.status == status
    assert f.observed == pytest.approx(rel) and f.threshold == limit
    assert f.details["relative_drop"] == pytest.approx(rel)
    assert f.details["limits_exceeded"] == ([RELATIVE] if status == Status.FAIL else [])
    assert "(relative)" in f.message and "(absolute)" not in f.message


def test_an_improvement_is_a_negative_relative_drop_and_passes():
    f = one({"kind": "metric_drop", "metric": "accuracy", "max_relative_drop": 0.0},
            evidence(OVERALL_C, OVERALL_B))  # the candidate is the better model
    assert f.status == Status.PASS and f.observed == pytest.approx(-0.015 / 0.885)


@pytest.mark.parametrize("max_drop,max_rel,exceeded,observed,threshold", [
    (0.02, 0.01, [RELATIVE], ACC_REL, 0.01),  # absolute holds, relative bites
    (0.01, 0.05, [ABSOLUTE], 0.015, 0.01),  # relative holds, absolute bites
    (0.01, 0.01, [ABSOLUTE, RELATIVE], 0.015, 0.01),  # both bite: reported in the absolute units
    (0.02, 0.02, [], 0.015, 0.02),  # both hold
])
def test_with_both_limits_both_must_hold_and_the_finding_says_which_bit(max_drop, max_rel, exceeded, observed,
                                                                        threshold):
    f = one({"kind": "metric_drop", "metric": "accuracy", "max_drop": max_drop, "max_relative_drop": max_rel},
            evidence(OVERALL_B, OVERALL_C))
    assert f.status == (Status.FAIL if exceeded else Status.PASS)
    assert f.details["limits_exceeded"] == exceeded
    assert f.observed == pytest.approx(observed) and f.threshold == threshold
    assert "(absolute)" in f.message and "(relative)" in f.message
    for limit in (ABSOLUTE, RELATIVE):
        word = "more than" if limit in exceeded else "within"
        kind = "absolute" if limit == ABSOLUTE else "relative"
        assert re.search(rf"{word} the allowed [0-9.%]+ \({kind}\)", f.message), (limit, f.message)


ZERO_B = {**OVERALL_B, "false_positive_rate": 0.0}
ZERO_C = {**OVERALL_C, "false_positive_rate": 0.02}


def test_a_zero_baseline_makes_the_relative_drop_undefined_and_the_rule_inconclusive():
    f = one({"kind": "metric_drop", "metric": "false_positive_rate", "max_relative_drop": 0.5},
            evidence(ZERO_B, ZERO_C))
    assert f.status == Status.INCONCLUSIVE
    assert UNDEFINED_RELATIVE.format(metric="false_positive_rate", where="") in f.message
    assert f.details["relative_undefined"] is True and f.observed is None
    # an absolute limit that holds does not turn it into a pass; one that fails still fails
    both = {"kind": "metric_drop", "metric": "false_positive_rate", "max_relative_drop": 0.5}
    assert one({**both, "max_drop": 0.05}, evidence(ZERO_B, ZERO_C)).status == Status.INCONCLUSIVE
    failed = one({**both, "max_drop": 0.01}, evidence(ZERO_B, ZERO_C))
    assert failed.status == Status.FAIL and failed.details["limits_exceeded"] == [ABSOLUTE]


def test_deciding_on_the_bound_divides_the_upper_end_by_the_baseline(noise_evidence):
    comp = noise_evidence.comparisons.overall["accuracy"]
    upper = -comp.difference_ci.ci_low  # the drop interval's upper end (higher is better)
    point = comp.baseline - comp.candidate
    rel_upper, rel_point = upper / comp.baseline, point / comp.baseline
    limit = (max(rel_point, 0.0) + rel_upper) / 2
    rule = {"kind": "metric_drop", "metric": "accuracy", "max_relative_drop": limit}
    assert one(rule, noise_evidence).status == Status.PASS
    f = one({**rule, "decide_on": "bound"}, noise_evidence)
    assert f.status == Status.FAIL and f.observed == pytest.approx(rel_upper)
    assert f.details["relative_drop"] == pytest.approx(rel_point)


# slice a: 0.90 -> 0.88 (drop 0.02, 2.22%); slice b: 0.40 -> 0.39 (drop 0.01, 2.5%)
SLICES_B = {"g": {"a": rates(500, 0.90), "b": rates(400, 0.40)}}
SLICES_C = {"g": {"a": rates(500, 0.88), "b": rates(400, 0.39)}}


def _slices(**limits):
    return one({"kind": "slice_metric_drop", "metric": "accuracy", "by": ["g"], **limits},
               evidence(OVERALL_B, OVERALL_C, SLICES_B, SLICES_C))


def test_slice_relative_limit_judges_each_slice_against_its_own_baseline():
    absolute = _slices(max_drop=0.015)
    assert absolute.status == Status.FAIL and absolute.failing_slices == ["g=a"]
    rel = _slices(max_relative_drop=0.023)  # a: 2.22% holds; b: 2.5% is beyond it
    assert rel.status == Status.FAIL and rel.failing_slices == ["g=b"]
    assert rel.details["limits_exceeded"] == [RELATIVE]
    assert rel.observed == pytest.approx(0.01 / 0.40) and rel.threshold == 0.023
    assert "(relative)" in rel.message and "g=b" in rel.message
    by_slice = {s["slice"]: s for s in rel.details["slices"]}
    assert by_slice["g=a"]["relative_drop"] == pytest.approx(0.02 / 0.90)
    both = _slices(max_drop=0.015, max_relative_drop=0.023)
    assert both.status == Status.FAIL and sorted(both.failing_slices) == ["g=a", "g=b"]
    assert _slices(max_drop=0.03, max_relative_drop=0.03).status == Status.PASS


def test_slice_with_a_zero_baseline_is_not_passed_on_the_relative_limit():
    base = {"g": {"a": rates(500, 0.90, fpr=0.0), "b": rates(400, 0.40, fpr=0.1)}}
    cand = {"g": {"a": rates(500, 0.90, fpr=0.01), "b": rates(400, 0.40, fpr=0.1)}}
    f = one({"kind": "slice_metric_drop", "metric": "false_positive_rate", "by": ["g"], "max_relative_drop": 0.5},
            evidence(OVERALL_B, OVERALL_C, base, cand))
    assert f.status == Status.INCONCLUSIVE
    assert f.details["relative_undefined_slices"] == ["g=a"]
    assert UNDEFINED_RELATIVE.format(metric="false_positive_rate", where=" in g=a") in f.message


@pytest.mark.parametrize("kind,extra", [("metric_drop", {}), ("slice_metric_drop", {"by": ["g"]})])
def test_a_drop_rule_without_any_limit_is_refused(kind, extra):
    with pytest.raises(InputError, match=re.escape(NO_DROP_LIMIT)):
        one({"kind": kind, "metric": "accuracy", **extra}, evidence(OVERALL_B, OVERALL_C))


def test_a_policy_with_a_limitless_drop_rule_is_exit_2_naming_the_rule(tmp_path, capsys):
    p = write_yaml(tmp_path / "policy.yaml", {"name": "p", "rules": [
        {"id": "PERF-9", "kind": "metric_drop", "metric": "accuracy", "severity": "block"}]})
    code, _, err = run(capsys, "policy", "lint", p)
    assert code == 2 and "PERF-9" in err and NO_DROP_LIMIT in err
    assert len(err.strip().splitlines()) == 1  # one line, no traceback


# ---- recovery: candidate / baseline, as compressed-model cards report it ----------------------------------------

def test_recovery_matches_a_hand_computation():
    ev = evidence({**OVERALL_B, "false_positive_rate": 0.0}, {**OVERALL_C, "false_positive_rate": 0.02},
                  SLICES_B, SLICES_C)
    rec = measure(ev.models["baseline"], ev.models["candidate"])
    assert rec.overall["accuracy"] == pytest.approx(0.885 / 0.90)  # higher is better: candidate / baseline
    assert rec.overall["recall"] == pytest.approx(0.7 / 0.8)
    assert rec.overall["log_loss"] == pytest.approx(0.30 / 0.36)  # lower is better: baseline / candidate (< 1: worse)
    assert rec.overall["false_positive_rate"] is None  # a perfect baseline (0): no ratio says how much was kept
    assert "count" not in rec.overall and "selection_rate" not in rec.slices["g"]["a"]  # not a score
    assert rec.slices["g"]["b"]["accuracy"] == pytest.approx(0.39 / 0.40)
    assert recovery("false_positive_rate", 0.1, 0.0) is None  # baseline / 0: undefined
    assert recovery("accuracy", 0.0, 0.5) is None and recovery("accuracy", 0.8, None) is None
    assert recovery("accuracy", -0.2, 0.5) is None  # a ratio of negative scores (e.g. R^2) says nothing
    assert DEFINITION


def test_the_policy_in_docs_compression_lints(tmp_path, capsys):
    doc = (Path(__file__).resolve().parent.parent / "docs" / "compression.md").read_text()
    block = re.search(r"```yaml\n(name: .*?)```", doc, re.S)
    assert block is not None
    p = tmp_path / "policy.yaml"
    p.write_text(block.group(1))
    code, _, err = run(capsys, "policy", "lint", p)
    assert code == 0, err
