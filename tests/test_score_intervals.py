"""evaluation.bootstrap.score_intervals: the Poisson bootstrap of log loss and ROC AUC only where a rule reads it.

Under ``auto`` (the default) a check whose policy has no rule reading those intervals skips their replicate state
(about 10x the inference of a small model), and says so in the evidence and the documents; a rule that does read
them gets them; and a rule that needs an interval the evidence lacks (``never``, or evidence re-judged under a
stricter policy) is an error finding, never a pass."""

from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from builders import TODAY, same_evidence, write_yaml

from governance.engine import evaluate
from governance.evidence.collect import collect
from governance.findings import Status
from governance.gate import CheckOptions, check
from governance.manifest import load_manifest
from governance.packaged import builtin_policies
from governance.policy import load_policy, parse_policy
from governance.rules.needs import score_interval_readers

SCORES = ("log_loss", "roc_auc")
POINT_RULES = [
    {"id": "P-ACC", "kind": "metric_drop", "metric": "accuracy", "max_drop": 0.2, "decide_on": "bound"},
    {"id": "P-AUC", "kind": "metric_drop", "metric": "roc_auc", "max_drop": 0.2},
    {"id": "P-LL", "kind": "metric_drop", "metric": "log_loss", "max_drop": 1.0},
]
AUC_BOUND = {"id": "B-AUC", "kind": "metric_drop", "metric": "roc_auc", "max_drop": 0.2, "decide_on": "bound"}


def _policy(rules: list[dict]):
    return parse_policy({"name": "p", "rules": [{"severity": "block", **r} for r in rules]}, path=Path("p.yaml"))


def _release(release_dir: Path, tmp_path: Path, rules: list[dict], score_intervals: str | None = None) -> Path:
    d = tmp_path / "rel"
    shutil.copytree(release_dir, d)
    manifest = yaml.safe_load((d / "release.yaml").read_text())
    boot: dict = {"resamples": 200}
    if score_intervals is not None:
        boot["score_intervals"] = score_intervals
    manifest["evaluation"] = {"bootstrap": boot, "latency": None, "robustness": None}
    write_yaml(d / "policy.yaml", {"name": "team", "rules": [{"severity": "block", **r} for r in rules]})
    return write_yaml(d / "release.yaml", manifest)


def test_which_rules_read_score_intervals():
    assert score_interval_readers(_policy(POINT_RULES).rules) == []
    readers = [
        AUC_BOUND,
        {"id": "F-LL", "kind": "metric_ceiling", "metric": "log_loss", "max": 1.0, "decide_on": "bound"},
        {"id": "G-AUC", "kind": "group_drop", "metric": "roc_auc", "by": ["group"], "slices": ["A"],
         "max_drop": 0.1, "decide_on": "bound"},
        {"id": "S-LL", "kind": "slice_metric_drop", "metric": "log_loss", "by": ["group"], "max_drop": 0.1},
    ]
    assert score_interval_readers(_policy(POINT_RULES + readers).rules) == ["B-AUC", "F-LL", "G-AUC", "S-LL"]
    # a plugin's kind may read anything in the evidence: counted as a reader
    assert score_interval_readers([SimpleNamespace(id="X-1", kind="third_party_kind")]) == ["X-1"]
    # the shipped packs decide on point estimates of these metrics: their checks skip the Poisson bootstrap
    for name in ("nist-ai-rmf", "edge", "production"):
        assert score_interval_readers(load_policy(builtin_policies()[name]).rules) == [], name


def test_auto_skips_them_when_no_rule_reads_them_and_says_so(release_dir, tmp_path):
    auto = check(_release(release_dir, tmp_path / "auto", POINT_RULES), options=CheckOptions(today=TODAY))
    always = check(_release(release_dir, tmp_path / "always", POINT_RULES, "always"),
                   options=CheckOptions(today=TODAY))
    comps = auto.evidence.comparisons
    assert comps is not None
    for metric in SCORES:
        assert comps.overall[metric].difference_ci is None
        assert "no rule of policy 'team' reads" in comps.missing[metric]
        assert always.evidence.comparisons.overall[metric].difference_ci is not None
        assert metric not in always.evidence.comparisons.missing
        assert all(values[metric].difference_ci is None for values in comps.slices["group"].values())
    # the count metrics keep their intervals; every point value is the same either way
    assert comps.overall["accuracy"] == always.evidence.comparisons.overall["accuracy"]
    same_evidence({r: m.model_dump(mode="json") for r, m in auto.evidence.models.items()},
                  {r: m.model_dump(mode="json") for r, m in always.evidence.models.items()})
    assert [(f.rule_id, f.status) for f in auto.verdict.findings] == \
           [(f.rule_id, f.status) for f in always.verdict.findings]
    # the documents say which intervals were left out, and why
    card = auto.outputs.files["model_card.md"].decode()
    assert "Intervals left out: log_loss: not computed, since no rule of policy 'team'" in card
    report = auto.outputs.files["audit_report.html"].decode()
    assert "Intervals left out:" in report and "score_intervals: auto" in report


def test_auto_computes_them_for_a_rule_that_reads_them(release_dir, tmp_path):
    result = check(_release(release_dir, tmp_path, [*POINT_RULES, AUC_BOUND]), options=CheckOptions(today=TODAY))
    comps = result.evidence.comparisons
    assert comps.overall["roc_auc"].difference_ci is not None and comps.overall["log_loss"].difference_ci is not None
    assert comps.missing == {}
    assert {f.rule_id: f.status for f in result.verdict.findings}["B-AUC"] is Status.PASS


def test_a_rule_without_its_interval_is_an_error_never_a_pass(release_dir, tmp_path):
    result = check(_release(release_dir, tmp_path, [*POINT_RULES, AUC_BOUND], "never"),
                   options=CheckOptions(today=TODAY))
    found = {f.rule_id: f for f in result.verdict.findings}["B-AUC"]
    assert found.status is Status.ERROR and "score_intervals: never" in found.message
    assert result.exit_code == 1
    # evidence collected for a lenient policy, re-judged under a strict one: the strict rule errors too
    lenient = check(_release(release_dir, tmp_path / "lenient", POINT_RULES), options=CheckOptions(today=TODAY))
    strict = evaluate(_policy([*POINT_RULES, AUC_BOUND]), lenient.evidence, TODAY)
    found = {f.rule_id: f for f in strict.findings}["B-AUC"]
    assert found.status is Status.ERROR and "no rule of policy 'team' reads a roc_auc interval" in found.message


def test_library_collection_without_a_policy_computes_them(release_dir, tmp_path):
    ev = collect(load_manifest(_release(release_dir, tmp_path, POINT_RULES)))
    assert all(ev.comparisons.overall[m].difference_ci is not None for m in SCORES)


def test_a_bad_setting_is_bad_input(release_dir, tmp_path, capsys):
    from governance.cli import main

    manifest = _release(release_dir, tmp_path, POINT_RULES, "sometimes")
    assert main(["check", str(manifest), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "score_intervals" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("setting", ["auto", "never"])
def test_the_dask_engine_skips_them_alike(release_dir, tmp_path, setting):
    pytest.importorskip("distributed")
    import pandas as pd

    manifest = _release(release_dir, tmp_path, POINT_RULES, setting)
    pd.read_csv(manifest.parent / "eval.csv").to_parquet(manifest.parent / "eval.parquet", row_group_size=500)
    data = yaml.safe_load(manifest.read_text())
    write_yaml(manifest, {**data, "data": {**data["data"], "path": "eval.parquet"}})
    local = check(manifest, options=CheckOptions(today=TODAY))
    dask = check(manifest, options=CheckOptions(today=TODAY, engine="dask", workers=1))
    assert dask.evidence.comparisons.missing == local.evidence.comparisons.missing != {}
    same_evidence(dask.evidence.comparisons.model_dump(mode="json"), local.evidence.comparisons.model_dump(mode="json"))
