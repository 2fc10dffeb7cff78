"""Strict YAML input: every way a lenient reading would change a decision silently is refused (exit 2), naming
the file, the field and the line; each refusal has a passing twin. Real files in tmp_path, real CLI."""

from __future__ import annotations

import os
import re
import shutil
import threading
import time
from pathlib import Path

import pytest
import yaml
from conftest import POLICY, write_yaml
from pydantic import ValidationError

from governance.card import load_card
from governance.cli import main
from governance.errors import InputError
from governance.metrics import METRICS
from governance.policy import (
    EXTENDS_TOO_DEEP,
    MAX_EXTENDS_DEPTH,
    UNKNOWN_KIND,
    WAIVER_NO_APPROVER,
    WAIVER_NO_REASON,
    Policy,
    load_policy,
    load_waivers,
    parse_policy,
)
from governance.provenance import load_provenance
from governance.rules import KINDS
from governance.rules.limits import FRACTION_HINT, LIMITS, METRIC_RANGES, OUTSIDE
from governance.yamlfile import (
    DID_YOU_MEAN,
    DUPLICATE_KEY,
    MAX_YAML_ALIASES,
    MAX_YAML_BYTES,
    NOT_REGULAR,
    TOO_DEEP,
    TOO_LARGE,
    TOO_MANY_ALIASES,
    TOO_MANY_NODES,
    UNKNOWN_KEY,
    read_yaml,
)

RULE = """name: p
rules:
  - id: PERF-001
    kind: metric_drop
    metric: accuracy
    max_drop: {value}
"""


@pytest.fixture()
def rel(release_dir, tmp_path) -> Path:
    d = tmp_path / "rel"
    shutil.copytree(release_dir, d)
    return d


def cli(capsys, *argv) -> tuple[int, str]:
    code = main([str(a) for a in argv])
    _, err = capsys.readouterr()
    return code, err


def refused(capsys, *argv, out: Path | None = None) -> str:
    """Exit 2, one line on stderr, no traceback, nothing written."""
    code, err = cli(capsys, *argv)
    assert code == 2, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert out is None or not out.exists() or not any(out.iterdir())
    return err


def error_of(fn, *args) -> str:
    with pytest.raises(InputError) as exc:
        fn(*args)
    return str(exc.value)


# --- 1. duplicate keys -------------------------------------------------------------------------------------
def test_duplicate_key_in_a_rule_names_both_lines(tmp_path, capsys):
    p = tmp_path / "policy.yaml"
    p.write_text(RULE.format(value=0.01) + "    severity: warn\n    max_drop: 0.5\n")
    err = refused(capsys, "policy", "lint", p)
    assert "policy.yaml" in err and "rules[0] (PERF-001)" in err
    assert DUPLICATE_KEY.format(key="max_drop", first=6, second=8) in err
    p.write_text(RULE.format(value=0.01) + "    severity: warn\n")
    assert cli(capsys, "policy", "lint", p)[0] == 0


def test_manifest_with_policy_twice_is_refused_before_anything_runs(rel, tmp_path, capsys):
    text = (rel / "release.yaml").read_text()
    (rel / "release.yaml").write_text(text + "policy: other.yaml\n")
    out = tmp_path / "out"
    err = refused(capsys, "check", rel / "release.yaml", "--out", out, out=out)
    first = next(i for i, line in enumerate(text.splitlines(), 1) if line.startswith("policy:"))
    assert "release.yaml" in err
    assert DUPLICATE_KEY.format(key="policy", first=first, second=len(text.splitlines()) + 1) in err


def test_duplicates_are_found_in_every_yaml_input(tmp_path):
    prov = tmp_path / "provenance.yaml"
    prov.write_text("datasets:\n  eval:\n    role: evaluation\n    role: training\nmodels: {}\n")
    assert "datasets.eval" in error_of(load_provenance, prov) and "(lines 3 and 4)" in error_of(load_provenance, prov)
    card = tmp_path / "card.yaml"
    card.write_text("model_details:\n  name: a\n  name: b\n")
    assert DUPLICATE_KEY.format(key="name", first=2, second=3) in error_of(load_card, card)
    waivers = tmp_path / "waivers.yaml"
    waivers.write_text(
        "waivers:\n  - {rule: PERF-001, reason: r, reason: s, approved_by: Dana Roe, expires: 2030-01-01}\n"
    )
    assert "waivers[0]" in error_of(load_waivers, waivers, parse_policy(POLICY, Path("p.yaml")))


def test_keys_that_yaml_merges_are_duplicates_but_merge_keys_are_not(tmp_path):
    f = tmp_path / "a.yaml"
    f.write_text("1: a\ntrue: b\n")  # both are the key True == 1 once loaded: the first would be lost
    assert DUPLICATE_KEY.split(" {")[0] in error_of(read_yaml, f)
    f.write_text("base: &b {x: 1, y: 2}\nc:\n  <<: *b\n  x: 3\n")  # an override through a merge is deliberate
    assert read_yaml(f)[0] == {"base": {"x": 1, "y": 2}, "c": {"x": 3, "y": 2}}
    # two merge keys in one mapping merged silently: the second hid the first's limit
    f.write_text("strict: &s {max_drop: 0.01}\nlax: &l {max_drop: 0.5}\nrule:\n  <<: *s\n  <<: *l\n")
    err = error_of(read_yaml, f)
    assert "rule" in err and DUPLICATE_KEY.format(key="<<", first=4, second=5) in err
    f.write_text("a: &a {x: 1}\nb: &b {y: 2}\nc:\n  <<: [*a, *b]\n")  # one merge of a list is YAML's way
    assert read_yaml(f)[0]["c"] == {"x": 1, "y": 2}


# --- 2. NaN and infinity -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text", [".nan", ".NaN", ".NAN", ".inf", ".Inf", ".INF", "-.inf", "+.inf", "-.Inf", "1.0e+999"]
)
def test_non_finite_numbers_are_refused(tmp_path, capsys, text):
    p = tmp_path / "policy.yaml"
    p.write_text(RULE.format(value=text))
    err = refused(capsys, "policy", "lint", p)
    assert "rules[0] (PERF-001).max_drop (line 6)" in err and "not a finite number" in err and text in err


@pytest.mark.parametrize("text", ['"nan"', "'inf'", '"-Infinity"'])
def test_non_finite_numbers_as_text_are_refused_too(tmp_path, capsys, text):
    p = tmp_path / "policy.yaml"
    p.write_text(RULE.format(value=text))
    assert "not a finite number" in refused(capsys, "policy", "lint", p)


def test_a_finite_threshold_and_nan_as_a_word_are_accepted(tmp_path, capsys):
    p = tmp_path / "policy.yaml"
    p.write_text(RULE.format(value=0.03) + "    rationale: nan is not a number, inf is a word here\n")
    assert cli(capsys, "policy", "lint", p)[0] == 0


def test_nan_in_a_manifest_is_refused(rel, tmp_path, capsys):
    data = yaml.safe_load((rel / "release.yaml").read_text())
    text = yaml.safe_dump({**data, "evaluation": {"robustness": {"sigmas": [0.1, 0.3]}}}, sort_keys=False)
    (rel / "release.yaml").write_text(text.replace("- 0.3", "- .nan"))
    out = tmp_path / "out"
    err = refused(capsys, "check", rel / "release.yaml", "--out", out, out=out)
    assert "release.yaml" in err and "evaluation.robustness.sigmas[1]" in err and "not a finite number" in err


# --- 3. size, aliases, depth, not a regular file ----------------------------------------------------------
def test_billion_laughs_is_refused_quickly_without_expanding(tmp_path, capsys):
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi"):
        lines.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    p = tmp_path / "provenance.yaml"
    p.write_text("\n".join(lines) + "\n")
    start = time.perf_counter()
    assert TOO_MANY_NODES in error_of(load_provenance, p)
    assert time.perf_counter() - start < 2


def test_too_many_aliases_cycles_and_deep_nesting_are_refused(tmp_path):
    f = tmp_path / "a.yaml"
    f.write_text("x: &x 1\ny: [" + ", ".join(["*x"] * (MAX_YAML_ALIASES + 1)) + "]\n")
    assert TOO_MANY_ALIASES in error_of(read_yaml, f)
    f.write_text("a: &a [1, *a]\n")
    assert "refers to itself" in error_of(read_yaml, f)
    f.write_text("[" * 500 + "]" * 500 + "\n")
    assert TOO_DEEP in error_of(read_yaml, f)


def test_a_few_aliases_are_fine(tmp_path):
    f = tmp_path / "a.yaml"
    f.write_text("x: &x [1, 2]\ny: [*x, *x]\n")
    assert read_yaml(f)[0] == {"x": [1, 2], "y": [[1, 2], [1, 2]]}


def test_size_limit(tmp_path, capsys):
    p = tmp_path / "policy.yaml"
    p.write_text(RULE.format(value=0.01) + "# " + "x" * MAX_YAML_BYTES + "\n")
    err = refused(capsys, "policy", "lint", p)
    assert "policy.yaml" in err and TOO_LARGE.split("{")[0] in err and str(MAX_YAML_BYTES) in err
    p.write_text(RULE.format(value=0.01) + "# " + "x" * (MAX_YAML_BYTES // 2) + "\n")
    assert cli(capsys, "policy", "lint", p)[0] == 0


def test_a_fifo_is_refused_without_hanging(tmp_path):
    fifo = tmp_path / "policy.yaml"
    os.mkfifo(fifo)
    result: list[str] = []
    reader = threading.Thread(target=lambda: result.append(error_of(read_yaml, fifo)), daemon=True)
    reader.start()
    reader.join(5)
    assert not reader.is_alive(), "read_yaml blocked on a FIFO"
    assert result and NOT_REGULAR.format(what="a FIFO") in result[0]


@pytest.mark.parametrize("what", ["a directory", "a device"])
def test_directories_and_devices_are_refused(tmp_path, capsys, what):
    path = tmp_path / "policy.yaml" if what == "a directory" else Path("/dev/zero")
    if what == "a directory":
        path.mkdir()
    err = refused(capsys, "policy", "lint", path)
    assert str(path) in err and NOT_REGULAR.format(what=what) in err


# --- 4. threshold ranges -------------------------------------------------------------------------------------
BASE = {"metric_drop": {"metric": "accuracy"}, "metric_floor": {"metric": "recall"},
        "metric_ceiling": {"metric": "false_positive_rate"},
        "slice_metric_drop": {"metric": "accuracy", "by": ["group"]},
        "fairness_gap": {"metric": "equalized_odds_difference", "by": ["group"]},
        "fairness_gap_ratio": {"kind": "fairness_gap", "metric": "demographic_parity_ratio", "by": ["group"]},
        "agreement": {"min": 0.9, "by": ["group"]}, "calibration": {},
        "robustness_drop": {"max_extra_drop": 0.03}, "efficiency": {},
        "leakage": {}, "pii_scan": {}, "distinct_models": {}, "provenance": {},
        "group_drop": {"by": ["group"], "slices": ["a"]}, "data_quality": {},
        "production_agreement": {"min_agreement": 0.9}, "label_free_performance": {"max_drop": 0.05},
        "representativeness": {}}
# (base, field, a value outside the range, a value inside it)
CASES = [
    ("metric_drop", "max_drop", 3, 0.03), ("metric_drop", "max_drop", -0.01, 0.0),
    ("metric_floor", "min", 1.5, 0.7), ("metric_floor", "min", -0.1, 0.0),
    ("metric_ceiling", "max", 20, 0.2), ("slice_metric_drop", "max_drop", 5, 0.05),
    ("fairness_gap", "max", 10, 0.1), ("fairness_gap", "max_increase", -0.05, 0.05),
    ("fairness_gap_ratio", "min", 80, 0.8), ("fairness_gap_ratio", "max_decrease", 1.2, 0.1),
    ("agreement", "min", 90, 0.9), ("agreement", "min_per_slice", 1.5, 0.8),
    ("calibration", "max_ece", 5, 0.05), ("calibration", "max_ece_increase", -0.01, 0.02),
    ("robustness_drop", "max_extra_drop", 3, 0.03), ("robustness_drop", "level", 0, 0.1),
    ("efficiency", "min_sparsity", 50, 0.5), ("efficiency", "min_size_reduction", 1, 0.99),
    ("efficiency", "min_size_reduction", -0.1, 0.0), ("efficiency", "min_speedup", 0, 1.5),
    ("efficiency", "max_latency_ms", -1, 5.0), ("leakage", "max_overlap_share", 5, 0.05),
    ("pii_scan", "min_share", 0, 0.05), ("pii_scan", "min_share", 2, 1.0),
    ("distinct_models", "score_tolerance", -0.1, 0.001), ("provenance", "max_pruning_shortfall", 5, 0.05),
    ("metric_drop", "max_relative_drop", 2, 0.02), ("slice_metric_drop", "max_relative_drop", -0.01, 0.05),
    ("group_drop", "max_drop", 2, 0.02),
    ("data_quality", "max_missing_share", 5, 0.05), ("data_quality", "max_duplicate_share", -0.01, 0.01),
    ("data_quality", "min_class_share", 10, 0.1), ("data_quality", "max_class_balance_distance", 1.5, 0.1),
    ("production_agreement", "min_agreement", 95, 0.95), ("production_agreement", "max_flip_rate", 5, 0.05),
    ("production_agreement", "max_score_js", -0.1, 0.1), ("label_free_performance", "max_drop", 3, 0.03),
    ("label_free_performance", "min_accuracy", 80, 0.8), ("label_free_performance", "max_ece", 5, 0.05),
    ("representativeness", "max_feature_distance", -0.1, 0.1), ("representativeness", "drift_threshold", 0, 0.1),
    ("representativeness", "max_drifted_share", 50, 0.5), ("representativeness", "max_share_ratio", 0.5, 2.0),
]


def _rule(base: str, field: str, value: float) -> dict:
    spec = dict(BASE[base])
    return {"id": "R-1", "kind": spec.pop("kind", base), **spec, field: value}


@pytest.mark.parametrize("base,field,bad,good", CASES)
def test_a_threshold_outside_its_range_is_a_lint_error(tmp_path, capsys, base, field, bad, good):
    p = tmp_path / "policy.yaml"
    write_yaml(p, {"name": "p", "rules": [_rule(base, field, good)]})
    assert cli(capsys, "policy", "lint", p)[0] == 0
    write_yaml(p, {"name": "p", "rules": [_rule(base, field, bad)]})
    err = refused(capsys, "policy", "lint", p)
    assert f"rules[0] (R-1).{field} (line" in err and f"{field}: {bad} is outside" in err


def test_the_range_message_suggests_a_fraction(tmp_path, capsys):
    p = tmp_path / "policy.yaml"
    p.write_text(RULE.format(value=3))
    err = refused(capsys, "policy", "lint", p)
    assert (OUTSIDE.format(field="max_drop", value=3, interval="[0, 1]")
            + FRACTION_HINT.format(subject="accuracy", suggestion="0.03")) in err
    assert FRACTION_HINT.format(subject="recall", suggestion="0.015") in error_of(
        parse_policy, {"name": "p", "rules": [_rule("metric_floor", "min", 1.5)]}, Path("p.yaml"))


def test_log_loss_drops_are_unbounded_above_but_not_negative():
    ok = {"id": "L", "kind": "metric_drop", "metric": "log_loss", "max_drop": 3}
    assert parse_policy({"name": "p", "rules": [ok]}, Path("p.yaml")).rules[0].max_drop == 3
    negative = {"name": "p", "rules": [{**ok, "max_drop": -1}]}
    assert OUTSIDE.format(field="max_drop", value=-1, interval="[0, inf)") in error_of(parse_policy, negative,
                                                                                        Path("p.yaml"))


def test_policies_built_in_code_are_range_checked_too():
    with pytest.raises(ValidationError, match=re.escape(OUTSIDE.format(field="max_drop", value=3, interval="[0, 1]"))):
        Policy.model_validate({"name": "p", "rules": [_rule("metric_drop", "max_drop", 3)]})


def test_every_threshold_field_of_every_kind_has_a_range():
    for metric in METRICS:
        assert metric in METRIC_RANGES, metric
    for kind, rk in KINDS.items():
        for name, field in rk.params.model_fields.items():
            if "float" in str(field.annotation) or field.annotation is float:
                bounds = {type(m).__name__ for m in field.metadata}  # or bounded on both sides by pydantic itself
                assert name in LIMITS.get(kind, {}) or (bounds & {"Ge", "Gt"} and bounds & {"Le", "Lt"}), \
                    f"{kind}.{name} has no range in governance/rules/limits.py"
    assert set(LIMITS) <= set(KINDS)  # a field the table lists ahead of its rule (max_relative_drop) is ignored
    assert {base for base, *_ in CASES} == set(BASE)
    tested = {(_rule(b, f, 0)["kind"], f) for b, f, *_ in CASES}
    listed = {(k, f) for k, fs in LIMITS.items() for f in fs if f in KINDS[k].params.model_fields}
    assert listed <= tested, listed - tested


def test_shipped_packs_and_examples_lint(capsys):
    root = Path(__file__).resolve().parent.parent
    for p in [*(root / "policies").glob("*.yaml"), *(root / "examples").glob("*/policy.yaml")]:
        code, err = cli(capsys, "policy", "lint", p)
        assert code == 0, err


# --- 5. unknown keys and values name the nearest valid one ------------------------------------------------
def test_a_misspelt_key_is_named_with_the_valid_one(tmp_path, capsys):
    p = tmp_path / "policy.yaml"
    p.write_text(RULE.format(value=0.03).replace("max_drop", "max_dorp"))
    err = refused(capsys, "policy", "lint", p)
    assert "rules[0] (PERF-001).max_dorp (line 6): unknown key 'max_dorp' (did you mean 'max_drop'?)" in err
    assert "missing" not in err and "more problem" not in err


def test_misspelt_keys_in_manifest_card_provenance_and_waivers(rel, tmp_path, capsys):
    text = (rel / "release.yaml").read_text().replace("policy:", "polcy:")
    (rel / "release.yaml").write_text(text)
    err = refused(capsys, "check", rel / "release.yaml", "--out", tmp_path / "out")
    assert UNKNOWN_KEY.format(key="polcy") + DID_YOU_MEAN.format(suggestion="policy") in err
    card = tmp_path / "card.yaml"
    card.write_text("model_details:\n  licence: MIT\n")
    assert "model_details.licence (line 2): unknown key 'licence' (did you mean 'license'?)" in error_of(
        load_card, card
    )
    prov = tmp_path / "provenance.yaml"
    prov.write_text("datasets:\n  eval: {role: evaluation, sorce: x}\nmodels: {m: {sha256: " + "0" * 64 + "}}\n")
    assert UNKNOWN_KEY.format(key="sorce") + DID_YOU_MEAN.format(suggestion="source") in error_of(load_provenance, prov)
    waivers = tmp_path / "waivers.yaml"
    waivers.write_text("waivers:\n  - {rule: PERF-001, reason: r1, approved_by: Dana Roe, expirs: 2030-01-01}\n")
    assert UNKNOWN_KEY.format(key="expirs") + DID_YOU_MEAN.format(suggestion="expires") in error_of(
        load_waivers, waivers, parse_policy(POLICY, Path("p.yaml")))


def test_an_unknown_metric_kind_or_severity_echoes_what_was_typed(tmp_path, capsys):
    p = tmp_path / "policy.yaml"
    p.write_text(RULE.format(value=0.03).replace("metric: accuracy", "metric: acuracy"))
    assert "unknown metric 'acuracy' (did you mean 'accuracy'?)" in refused(capsys, "policy", "lint", p)
    p.write_text(RULE.format(value=0.03).replace("kind: metric_drop", "kind: metric_dorp"))
    err = refused(capsys, "policy", "lint", p)
    assert ("rules[0] (PERF-001).kind (line 4): " + UNKNOWN_KIND.format(kind="metric_dorp")
            + DID_YOU_MEAN.format(suggestion="metric_drop")) in err
    p.write_text(RULE.format(value=0.03) + "    severity: blok\n")
    assert "unknown severity 'blok' (did you mean 'block'?)" in refused(capsys, "policy", "lint", p)
    p.write_text(RULE.format(value=0.03).replace("metric: accuracy", "metric: zzz"))
    assert "unknown metric 'zzz' (expected one of: 'accuracy'" in refused(capsys, "policy", "lint", p)


# --- 6. dates that do not exist ----------------------------------------------------------------------------
def test_a_waiver_expiring_on_a_day_that_does_not_exist(tmp_path, capsys):
    p = tmp_path / "policy.yaml"
    waiver = "waivers:\n  - {rule: PERF-001, reason: cost target, approved_by: Dana Roe, expires: 2026-02-DD}\n"
    p.write_text(RULE.format(value=0.03) + waiver.replace("DD", "30"))
    err = refused(capsys, "policy", "lint", p)
    assert "policy.yaml" in err and "waivers[0].expires (line 8)" in err
    p.write_text(RULE.format(value=0.03) + waiver.replace("DD", "28"))
    assert cli(capsys, "policy", "lint", p)[0] == 0


def test_an_approval_dated_in_month_13(rel, tmp_path, capsys):
    text = (rel / "release.yaml").read_text() + (
        "approvals:\n  - {role: risk-officer, name: Dana Roe, date: 2026-13-01, statement: approved,\n"
        f"     candidate_sha256: {'a' * 64}}}\n")
    (rel / "release.yaml").write_text(text)
    out = tmp_path / "out"
    err = refused(capsys, "check", rel / "release.yaml", "--out", out, out=out)
    assert "release.yaml" in err and "approvals[0].date" in err


# --- 7. extends depth --------------------------------------------------------------------------------------
def _chain(tmp_path: Path, n: int) -> Path:
    write_yaml(tmp_path / "p0.yaml", {"name": "p0", "rules": POLICY["rules"]})
    for i in range(1, n):
        write_yaml(tmp_path / f"p{i}.yaml", {"name": f"p{i}", "extends": f"p{i - 1}.yaml", "rules": []})
    return tmp_path / f"p{n - 1}.yaml"


def test_extends_chain_depth_is_limited(tmp_path, capsys):
    ok = tmp_path / "ok"
    ok.mkdir()
    assert len(load_policy(_chain(ok, MAX_EXTENDS_DEPTH)).rules) == len(POLICY["rules"])
    deep = tmp_path / "deep"
    deep.mkdir()
    err = refused(capsys, "policy", "lint", _chain(deep, MAX_EXTENDS_DEPTH + 1))
    assert EXTENDS_TOO_DEEP in err and ".yaml: extends" in err


# --- 8. absurd evaluation settings ----------------------------------------------------------------------------
@pytest.mark.parametrize("evaluation,field", [
    ({"calibration_bins": 1_000_000_000}, "evaluation.calibration_bins"),
    ({"bootstrap": {"resamples": 10_000_000}}, "evaluation.bootstrap.resamples"),
    ({"broken_examples": 10**9}, "evaluation.broken_examples"),
    ({"robustness": {"sigmas": [-0.1]}}, "evaluation.robustness.sigmas[0]"),
    ({"robustness": {"sigmas": ["inf"]}}, "evaluation.robustness.sigmas[0]"),
    ({"robustness": {"max_rows": 10**12}}, "evaluation.robustness.max_rows"),
    ({"latency": {"repeats": 10**9}}, "evaluation.latency.repeats"),
    ({"latency": {"batch_sizes": [1, 10**9]}}, "evaluation.latency.batch_sizes[1]"),
])
def test_absurd_evaluation_settings_are_refused(rel, tmp_path, capsys, evaluation, field):
    data = yaml.safe_load((rel / "release.yaml").read_text())
    write_yaml(rel / "release.yaml", {**data, "evaluation": evaluation})
    out = tmp_path / "out"
    assert field in refused(capsys, "check", rel / "release.yaml", "--out", out, out=out)


def test_sensible_evaluation_settings_load():
    from governance.manifest import EvaluationSpec

    spec = EvaluationSpec.model_validate({"calibration_bins": 1000, "bootstrap": {"resamples": 100_000},
                                          "robustness": {"sigmas": [0.05, 1.0]}, "latency": {"batch_sizes": [1, 4096]}})
    assert spec.calibration_bins == 1000 and spec.robustness is not None and spec.robustness.sigmas == [0.05, 1.0]


# --- 9. waivers need a named approver and a reason ------------------------------------------------------------
@pytest.mark.parametrize("approver", ["", "   ", "TODO", "<name>", "<your name>", "Your Name", "tbd",
                                      # what renders as nothing: a Hangul filler, zero-width and soft-hyphen text
                                      "\u3164", "\u200b", "\u2063\u2063", "\u00ad", "\u200bTODO\u200b", "\u2800"])
def test_a_waiver_without_a_named_approver_is_refused(tmp_path, capsys, approver):
    p = tmp_path / "policy.yaml"
    write_yaml(p, {**POLICY, "waivers": [{"rule": "PERF-001", "reason": "Q4 cost target", "approved_by": approver,
                                         "expires": "2030-01-01"}]})
    err = refused(capsys, "policy", "lint", p)
    assert "waivers[0].approved_by" in err and WAIVER_NO_APPROVER in err


@pytest.mark.parametrize("reason", ["", " \t ", "TODO", "<reason>", "\u3164", "\u200b\u200b", "\ufeff"])
def test_a_waiver_without_a_reason_is_refused(tmp_path, reason):
    waivers = write_yaml(tmp_path / "waivers.yaml", {"waivers": [
        {"rule": "PERF-001", "reason": reason, "approved_by": "Dana Roe (risk)", "expires": "2030-01-01"}]})
    err = error_of(load_waivers, waivers, parse_policy(POLICY, Path("p.yaml")))
    assert "waivers[0].reason" in err and WAIVER_NO_REASON in err


def test_a_waiver_with_a_named_approver_and_a_reason_loads(rel, tmp_path, capsys):
    waivers = write_yaml(tmp_path / "waivers.yaml", {"waivers": [
        {"rule": "PERF-001", "reason": "accepted for the Q4 cost target", "approved_by": "Dana Roe (risk)",
         "expires": "2030-01-01"}]})
    assert load_waivers(waivers, parse_policy(POLICY, Path("p.yaml")))[0].approved_by == "Dana Roe (risk)"
    bad = write_yaml(tmp_path / "bad.yaml", {"waivers": [
        {"rule": "PERF-001", "reason": "x", "approved_by": " ", "expires": "2030-01-01"}]})
    out = tmp_path / "out"
    err = refused(capsys, "check", rel / "release.yaml", "--out", out, "--waivers", bad, out=out)
    assert "bad.yaml" in err and WAIVER_NO_APPROVER in err


# --- 7. booleans, versions and dates that YAML reads as something else --------------------------------------
@pytest.mark.parametrize("text", ["yes", "no", "on", "true", "False"])
def test_a_boolean_where_a_number_belongs_is_refused(tmp_path, capsys, text):
    """``max_drop: yes`` was read as a drop of 1.0 and passed a release that lost 4 points of accuracy."""
    p = tmp_path / "policy.yaml"
    p.write_text(RULE.format(value=text))
    err = refused(capsys, "policy", "lint", p)
    assert "rules[0] (PERF-001)" in err and "max_drop: got the boolean" in err
    p.write_text(RULE.format(value="1") + "defaults: {min_slice_size: " + text + "}\n")
    assert "min_slice_size: got the boolean" in refused(capsys, "policy", "lint", p)


def test_booleans_are_refused_as_numbers_in_the_manifest_too(rel, tmp_path, capsys):
    data = yaml.safe_load((rel / "release.yaml").read_text())
    for evaluation, field in (({"bootstrap": {"resamples": True}}, "resamples"),
                              ({"robustness": {"sigmas": [0.1, True]}}, "sigmas"),
                              ({"calibration_bins": False}, "calibration_bins")):
        (rel / "release.yaml").write_text(yaml.safe_dump({**data, "evaluation": evaluation}))
        err = refused(capsys, "check", rel / "release.yaml", "--out", tmp_path / "out", out=tmp_path / "out")
        assert f"{field}: got the boolean" in err, err
    (rel / "release.yaml").write_text(yaml.safe_dump({**data, "positive_label": True}))
    assert "positive_label: got the boolean true, not a number" in refused(
        capsys, "check", rel / "release.yaml", "--out", tmp_path / "out")


def test_a_version_read_as_a_decimal_number_is_refused(rel, tmp_path, capsys):
    """``version: 1.10`` is the float 1.1: the release was recorded as version "1.1"."""
    text = (rel / "release.yaml").read_text()
    version = yaml.safe_load(text)["version"]
    (rel / "release.yaml").write_text(text.replace(f"version: {version}", "version: 1.10")
                                      .replace(f"version: '{version}'", "version: 1.10")
                                      .replace(f'version: "{version}"', "version: 1.10"))
    err = refused(capsys, "check", rel / "release.yaml", "--out", tmp_path / "out")
    assert "version" in err and "was read as a number" in err and "quote it" in err
    card = tmp_path / "card.yaml"
    card.write_text("model_details:\n  version: 2.0\n")
    assert "was read as a number" in error_of(load_card, card)
    card.write_text("model_details:\n  version: 2\n")
    assert load_card(card).model_details.version == "2"


def test_a_waiver_expiry_given_as_a_number_is_refused(tmp_path, capsys):
    p = tmp_path / "policy.yaml"
    waiver = "waivers:\n  - {rule: PERF-001, reason: cost target, approved_by: Dana Roe, expires: 1780272000}\n"
    p.write_text(RULE.format(value=0.03) + waiver)
    err = refused(capsys, "policy", "lint", p)
    assert "waivers[0].expires" in err and "must be a date (YYYY-MM-DD), not the number 1780272000" in err


@pytest.mark.parametrize("expires", ['"1893456000"', '"1893456000.5"', '"2030-01-01T00:00:00"', '"20300101"'])
def test_a_waiver_expiry_that_is_not_written_as_a_date_is_refused(tmp_path, capsys, expires):
    """pydantic reads the text "1893456000" as seconds since 1970: a waiver nobody dated in force until 2030."""
    p = tmp_path / "policy.yaml"
    waiver = f"waivers:\n  - {{rule: PERF-001, reason: cost target, approved_by: Dana Roe, expires: {expires}}}\n"
    p.write_text(RULE.format(value=0.03) + waiver)
    err = refused(capsys, "policy", "lint", p)
    assert "waivers[0].expires" in err and "must be a date written YYYY-MM-DD" in err, err


@pytest.mark.parametrize("date", ['"1780272000"', "1780272000", '"2026-06-01T00:00"'])
def test_a_sign_off_and_a_provenance_period_dated_otherwise_are_refused(date):
    from governance.manifest import Approval
    from governance.provenance import CollectionPeriod

    approval = {"role": "model-owner", "name": "Dana Roe", "statement": "approved", "candidate_sha256": "a" * 64}
    with pytest.raises(ValueError, match="must be a date written YYYY-MM-DD"):
        Approval.model_validate({**approval, "date": yaml.safe_load(date)})
    with pytest.raises(ValueError, match="must be a date written YYYY-MM-DD"):
        CollectionPeriod.model_validate({"start": yaml.safe_load(date)})
    assert Approval.model_validate({**approval, "date": "2026-06-01"}).date.isoformat() == "2026-06-01"
    for blank in ("\u3164", "\u200b\u200b", "\u00ad"):  # a sign-off by nobody visible
        with pytest.raises(ValueError):
            Approval.model_validate({**approval, "date": "2026-06-01", "name": blank})
        with pytest.raises(ValueError):
            Approval.model_validate({**approval, "date": "2026-06-01", "statement": blank})


@pytest.mark.parametrize("value,message", [
    ("1" + "0" * 400, "is too large a number (at most 2**63)"),  # float() of it overflowed: exit 3
    ('"0.01"\n    rationale: "half a pair \\uD800"', "lone surrogate (\\uD800)"),  # lint passed, evaluate crashed
    ('0.01\n    rationale: "red \\x1b[31m text"', "control character \\x1B"),  # broke junit.xml
    ('0.01\n    rationale: "nul \\0"', "control character \\x00"),
])
def test_numbers_and_text_no_output_can_hold_are_refused_by_field(tmp_path, capsys, value, message):
    p = tmp_path / "policy.yaml"
    p.write_text(RULE.format(value=value))
    err = refused(capsys, "policy", "lint", p)
    assert "rules[0] (PERF-001)." in err and message in err, err


def test_tabs_and_line_breaks_in_text_are_fine(tmp_path, capsys):
    p = tmp_path / "policy.yaml"
    p.write_text(RULE.format(value='0.01\n    rationale: "a\\tb\\nc\\r\\nd, ü, 漢字, 🙂"'))
    assert cli(capsys, "policy", "lint", p)[0] == 0
    p.write_text(RULE.format(value="1\n    min_slice_size: 9223372036854775807"))  # 2**63 - 1: still a number
    assert "too large" not in cli(capsys, "policy", "lint", p)[1]


def test_text_yaml_reads_as_a_number_says_to_quote_it(tmp_path):
    """A sha256 of digits only was "Input should be a valid string", which does not say why."""
    prov = tmp_path / "provenance.yaml"
    prov.write_text("datasets:\n  e: {role: evaluation, path: eval.csv}\nmodels:\n  m: {sha256: " + "1" * 64 + "}\n")
    assert "quote it if it is text, such as a hash" in error_of(load_provenance, prov)
    card = tmp_path / "card.yaml"
    card.write_text("model_details:\n  license: 2024\n")
    assert "expected text, but YAML read 2024 as a number: quote it" in error_of(load_card, card)


def test_a_card_date_that_does_not_exist_names_its_field(tmp_path):
    card = tmp_path / "card.yaml"
    card.write_text("model_details:\n  date: 2026-02-30\n")
    assert "model_details.date (line 2)" in error_of(load_card, card) and "not a day that exists" in error_of(
        load_card, card)
    card.write_text("model_details:\n  date: spring 2026\n")
    assert load_card(card).model_details.date == "spring 2026"
