"""``weighting: production`` on metric_drop: the drop judged on the metric post-stratified to production's cell shares.

A slice under-represented in the evaluation set, where the candidate is worse, hides in the evaluation-weighted
drop and shows in the production-weighted one; without production-weighted evidence the rule never passes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from builders import REF, TODAY, evidence, gate, one, run, with_sections, write_yaml

from governance.engine import evaluate as decide
from governance.evidence.accumulator import Accumulator
from governance.evidence.production_schema import ProductionEvidence
from governance.evidence.schema import Evidence
from governance.evidence.weighting import build_weighted
from governance.findings import Status
from governance.gate import load_evidence
from governance.manifest import BootstrapSpec
from governance.policy import parse_policy
from governance.rules.performance import (
    NO_PRODUCTION,
    NO_WEIGHTED,
    NO_WEIGHTED_INTERVAL,
    NOT_COUNT_BASED,
    TOO_FEW_PRODUCTION,
    UNCOVERED,
)
from governance.rules.stats import MIN_RESAMPLES, TOO_FEW_RESAMPLES

SENSITIVE = ["group"]
#: group -> (evaluation rows, baseline right, candidate right); the candidate loses 20 points in the small group
CELLS = {"big": (900, 810, 810), "small": (100, 90, 70)}


def _accumulator() -> Accumulator:
    """Evaluation counts with exactly the rights and wrongs of CELLS (binary, positive 1)."""
    acc = Accumulator(2, 1, roc_auc=False)
    for group, (rows, base_right, cand_right) in CELLS.items():
        y = np.arange(rows) % 2
        base = np.where(np.arange(rows) < base_right, y, 1 - y)
        # the candidate keeps the baseline's first cand_right right answers and gets the rest wrong
        cand = np.where(np.arange(rows) < cand_right, y, 1 - y)
        eye = np.eye(2)
        acc.update(acc.cell_ids([(group,)] * rows), y, eye[base], eye[cand])
    return acc


def _evidence(production: dict[tuple[str, ...], int] | None, resamples: int = 200) -> Evidence:
    """Evaluation evidence of CELLS, plus a production block whose cells hold ``production`` rows."""
    acc = _accumulator()
    cells = list(range(len(acc.keys)))
    ev = evidence(acc.metrics(cells, 0), acc.metrics(cells, 1))
    if production is None:
        return ev
    keys, rows = list(production), np.array(list(production.values()))
    weighted = build_weighted(acc, SENSITIVE, keys, rows, SENSITIVE, BootstrapSpec(resamples=resamples),
                              ["0", "1"], 1)
    block = ProductionEvidence(file=REF, rows=int(rows.sum()), labelled=False, sensitive=SENSITIVE,
                               weighted=weighted)
    return with_sections(ev, production=block)


RULE = {"kind": "metric_drop", "metric": "accuracy", "max_drop": 0.05}
EQUAL = {("big",): 500, ("small",): 500}  # production: the small group is half of it, 5x its evaluation share


def test_weighting_evaluation_passes_where_weighting_production_fails():
    ev = _evidence(EQUAL)
    plain = one(RULE, ev)
    assert plain.status == Status.PASS and plain.observed == pytest.approx(0.02)
    assert "production-weighted" not in plain.message and "weighting" not in plain.details
    weighted = one({**RULE, "weighting": "production"}, ev)
    assert weighted.status == Status.FAIL
    assert weighted.observed == pytest.approx(0.10)  # 0.5 x 0 + 0.5 x 0.2
    assert weighted.details["weighting"] == "production"
    assert "production-weighted accuracy worsened by 0.1000" in weighted.message
    assert "shares of group" in weighted.message and "interval" in weighted.message


def test_weighting_production_passes_when_production_looks_like_the_evaluation_set():
    f = one({**RULE, "weighting": "production"}, _evidence({("big",): 9000, ("small",): 1000}))
    assert f.status == Status.PASS and f.observed == pytest.approx(0.02)


def test_deciding_on_the_weighted_bound_uses_the_weighted_interval():
    ev = _evidence(EQUAL)
    assert ev.production is not None and ev.production.weighted is not None
    comp = ev.production.weighted.overall["accuracy"]
    assert comp.difference_ci is not None
    upper = -comp.difference_ci.ci_low
    assert upper > 0.10
    rule = {**RULE, "weighting": "production", "max_drop": (0.10 + upper) / 2}
    assert one(rule, ev).status == Status.PASS
    f = one({**rule, "decide_on": "bound"}, ev)
    assert f.status == Status.FAIL and f.observed == pytest.approx(upper) and "upper end" in f.message


def test_a_relative_limit_is_relative_to_the_weighted_baseline():
    ev = _evidence(EQUAL)
    f = one({"kind": "metric_drop", "metric": "accuracy", "max_relative_drop": 0.10, "weighting": "production"}, ev)
    assert f.status == Status.FAIL
    assert f.details["relative_observed"] == pytest.approx(0.10 / 0.90)
    plain = one({"kind": "metric_drop", "metric": "accuracy", "max_relative_drop": 0.10}, ev)
    assert plain.status == Status.PASS


def test_bound_without_a_weighted_interval_is_an_error():
    f = one({**RULE, "weighting": "production", "decide_on": "bound"}, _evidence(EQUAL, resamples=0))
    assert f.status == Status.ERROR and NO_WEIGHTED_INTERVAL.format(metric="accuracy") in f.message


def test_a_production_sample_thinner_than_min_slice_size_is_not_weighted_to():
    """One production row puts all the weight on its cell and its resampled share never moves: the rule that
    passed on it (the small group's 20-point loss weighted away) is inconclusive, as every thin-data case is."""
    for rows in ({("big",): 1}, {("big",): 20, ("small",): 9}):
        for decide_on in ("point", "bound"):
            f = one({**RULE, "weighting": "production", "decide_on": decide_on}, _evidence(rows))
            assert f.status == Status.INCONCLUSIVE and f.blocks
            assert TOO_FEW_PRODUCTION.format(rows=sum(rows.values()), minimum=30) in f.message
    assert one({**RULE, "weighting": "production"}, _evidence({("big",): 15, ("small",): 15})).status == Status.FAIL


@pytest.mark.parametrize("resamples", [1, 5, MIN_RESAMPLES - 1])
def test_a_bound_decided_on_too_few_resamples_is_an_error_never_a_pass(resamples):
    """With one resample the "interval" is one draw: [-0.0000, -0.0000] around a drop of 0.02 passed a bound rule."""
    rule = {**RULE, "weighting": "production", "decide_on": "bound", "max_drop": 0.15}
    ok = one(rule, _evidence(EQUAL, resamples=MIN_RESAMPLES))
    assert ok.status == Status.PASS, ok.message
    f = one(rule, _evidence(EQUAL, resamples=resamples))
    assert f.status == Status.ERROR and f.blocks
    assert TOO_FEW_RESAMPLES.format(n=resamples, minimum=MIN_RESAMPLES) in f.message
    assert "raise evaluation.bootstrap.resamples" in f.message
    point = one({**rule, "decide_on": "point"}, _evidence(EQUAL, resamples=resamples))
    assert point.status == Status.PASS and "drop_ci_high" not in point.details  # rough intervals: not quoted


@pytest.mark.parametrize("case,expected", [
    ("no production block", NO_PRODUCTION),
    ("no weighted evidence", NO_WEIGHTED),
    ("uncovered cells", UNCOVERED.format(share=1 / 3, cells="new")),
    ("not a count metric", NOT_COUNT_BASED.format(metric="log_loss")),
])
def test_without_judgeable_weighted_evidence_the_rule_is_inconclusive_never_pass(case, expected):
    rule = {**RULE, "weighting": "production"}
    if case == "no production block":
        ev = _evidence(None)
    elif case == "no weighted evidence":
        ev = with_sections(_evidence(None), production=ProductionEvidence(file=REF, rows=10, labelled=False,
                                                                          sensitive=[]))
    elif case == "uncovered cells":
        ev = _evidence({("big",): 100, ("small",): 100, ("new",): 100})
    else:
        ev, rule = _evidence(EQUAL), {**rule, "metric": "log_loss"}
    f = one(rule, ev)
    assert f.status == Status.INCONCLUSIVE
    assert f.message == f"production-weighted {rule['metric']} not judged: {expected}."


# ---- end to end: governance check on real files ------------------------------------------------------------------

FEATURE_COLUMNS = ["x0", "x1", "x2", "x3"]


def _rows(n: int, small: int, seed: int) -> pd.DataFrame:
    """``small`` of ``n`` rows in group "small", whose label leans on x3, a field only that group fills (0 in the
    big group): pruning x3's weight leaves the big group's predictions as they were and hurts the small one."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, len(FEATURE_COLUMNS)))
    group = np.array(["small"] * small + ["big"] * (n - small))
    rng.shuffle(group)
    X[group == "big", 3] = 0.0
    logit = np.where(group == "big", 2 * X[:, 0] + 0.5 * X[:, 1], 0.5 * X[:, 0] + 2 * X[:, 3])
    df = pd.DataFrame(X, columns=FEATURE_COLUMNS)
    df["group"], df["label"] = group, (logit + rng.logistic(size=n) * 0.5 > 0).astype(int)
    return df


@pytest.fixture(scope="module")
def under_represented(tmp_path_factory) -> Path:
    """A release whose evaluation set holds the small group at 10% while production holds it at 50% (5x), and a
    pruned candidate (x3's coefficient zeroed) that keeps the big group and loses the small one."""
    import copy

    import skops.io as sio
    from sklearn.linear_model import LogisticRegression

    d = tmp_path_factory.mktemp("weighted")
    train = _rows(4000, 400, 1)
    base = LogisticRegression(max_iter=1000).fit(train[FEATURE_COLUMNS], train["label"])
    pruned = copy.deepcopy(base)
    pruned.coef_ = np.where(np.arange(len(FEATURE_COLUMNS)) == 3, 0.0, base.coef_)
    sio.dump(base, d / "baseline.skops")
    sio.dump(pruned, d / "pruned.skops")
    _rows(2000, 200, 2).to_csv(d / "eval.csv", index=False)
    _rows(2000, 1000, 3).drop(columns="label").to_parquet(d / "production.parquet")
    manifest = {
        "name": "weighted", "version": "1", "task": "binary_classification", "positive_label": 1,
        "baseline": {"path": "baseline.skops", "format": "skops"},
        "candidate": {"path": "pruned.skops", "format": "skops"},
        "data": {"path": "eval.csv", "target": "label", "sensitive": ["group"], "chunk_rows": 500},
        "production": {"path": "production.parquet", "chunk_rows": 700},
        "evaluation": {"bootstrap": {"resamples": 200}, "latency": None, "robustness": None},
    }
    for weighting in ("evaluation", "production"):
        rule = {"id": "PERF-001", "kind": "metric_drop", "metric": "accuracy", "max_drop": 0.05,
                "weighting": weighting, "severity": "block", "rmf": ["MEASURE 2.3"],
                "rationale": "Pruning may cost at most five points of accuracy."}
        write_yaml(d / f"policy-{weighting}.yaml", {"name": weighting, "defaults": {"min_slice_size": 30},
                                                    "rules": [rule]})
        write_yaml(d / f"release-{weighting}.yaml", {**manifest, "policy": f"policy-{weighting}.yaml"})
    return d


def _finding(out: Path) -> dict:
    verdict = json.loads((out / "verdict.json").read_text())
    return next(f for f in verdict["findings"] if f["rule_id"] == "PERF-001")


def test_a_slice_under_represented_5x_passes_evaluation_weighting_and_blocks_production_weighting(
        under_represented, tmp_path, capsys):
    d = under_represented
    code, out, err = run(capsys, "check", d / "release-production.yaml", "--out", tmp_path / "out")
    assert code == 1, err
    assert "production-weighted accuracy" in out
    weighted = _finding(tmp_path / "out")
    assert weighted["status"] == "fail" and weighted["observed"] > 0.05
    assert "production-weighted accuracy" in weighted["message"] and "shares of group" in weighted["message"]
    saved = json.loads((tmp_path / "out" / "evidence.json").read_text())
    block = saved["production"]["weighted"]
    assert block["by"] == ["group"] and block["uncovered_share"] == 0
    assert {c["key"][0]: c["weight"] for c in block["cells"]} == pytest.approx({"small": 5.0, "big": 5 / 9})
    assert weighted["observed"] == pytest.approx(-block["overall"]["accuracy"]["difference"])
    # the same evidence under weighting: evaluation (what `governance evaluate` re-decides): the drop the
    # evaluation set shows is within the limit, and the gate would ship
    evidence = load_evidence(tmp_path / "out" / "evidence.json")
    verdict = decide(parse_policy(yaml.safe_load((d / "policy-evaluation.yaml").read_text()),
                                  path=d / "policy-evaluation.yaml"), evidence, TODAY)
    plain = verdict.findings[0]
    assert plain.status == Status.PASS and plain.observed is not None and plain.observed < 0.05
    assert plain.observed == pytest.approx(-saved["comparisons"]["overall"]["accuracy"]["difference"])
    assert verdict.decision == "pass"


def test_the_docs_example_rule_is_a_valid_production_weighted_metric_drop():
    docs = (Path(__file__).resolve().parents[1] / "docs" / "production.md").read_text()
    section = docs.split("## Production-weighted evidence", 1)[1].split("\n## ", 1)[0]
    (block,) = re.findall(r"```yaml\n(.*?)```", section, flags=re.S)
    policy = parse_policy({"name": "docs", "rules": yaml.safe_load(block)}, path=Path("docs/production.md"))
    (rule,) = policy.rules
    assert rule.kind == "metric_drop" and rule.weighting == "production"  # type: ignore[union-attr]


def _regression_release(tmp_path, production: dict, *, production_region: bool = False) -> Path:
    """A predictions-format regression release whose candidate is worse, and biased, in group c; production has
    half its rows in c and lacks the region column unless ``production_region``."""
    rng = np.random.default_rng(8)
    n = 1500
    group = np.array(["c"] * 150 + ["a"] * (n - 150))
    df = pd.DataFrame({"f0": rng.normal(size=n), "group": group, "region": rng.choice(["north", "south"], n)})
    df["y"] = 50 + 10 * df.f0 + rng.normal(size=n)
    base = df.y + rng.normal(scale=2.0, size=n)
    cand = base + rng.normal(scale=0.1, size=n) + np.where(group == "c", 3.0, 0.0)  # worse, and biased, in c
    df.to_csv(tmp_path / "eval.csv", index=False)
    pd.DataFrame({"pred": base}).to_csv(tmp_path / "baseline.csv", index=False)
    pd.DataFrame({"pred": cand}).to_csv(tmp_path / "candidate.csv", index=False)
    prod = pd.DataFrame({"f0": rng.normal(size=1000), "group": ["c"] * 500 + ["a"] * 500})
    if production_region:
        prod["region"] = rng.choice(["north", "south"], 1000)
    prod.to_csv(tmp_path / "production.csv", index=False)
    return write_yaml(tmp_path / "release.yaml", {
        "name": "reg", "version": "1", "task": "regression",
        "baseline": {"path": "baseline.csv", "format": "predictions"},
        "candidate": {"path": "candidate.csv", "format": "predictions"},
        "data": {"path": "eval.csv", "target": "y", "sensitive": ["group", "region"], "chunk_rows": 400},
        "production": {"path": "production.csv", **production}, "policy": "unused.yaml",
        "evaluation": {"bootstrap": {"resamples": 200}, "latency": None, "robustness": None}})


def test_a_regression_release_is_weighted_on_its_sum_metrics(tmp_path):
    """Predictions-format regression: the production sample holds one of the two sensitive columns (the cells are
    marginalised onto it, production.unrecorded says region is not logged) and is not scored; the weighting needs
    only its cells."""
    manifest = _regression_release(tmp_path, {"unrecorded": ["region"]})
    rules = [{"id": f"R-{w}-{m}", "kind": "metric_drop", "metric": m, "max_drop": 0.5, "weighting": w}
             for m in ("mae", "mean_error") for w in ("evaluation", "production")]
    findings, ev = gate(manifest, *rules)
    assert ev.production is not None and ev.production.weighted is not None
    weighted = ev.production.weighted
    assert weighted.by == ["group"] and "Poisson" in weighted.method
    by_id = {f.rule_id: f for f in findings}
    for metric in ("mae", "mean_error"):
        plain, prod = by_id[f"R-evaluation-{metric}"], by_id[f"R-production-{metric}"]
        assert plain.status == Status.PASS and prod.status == Status.FAIL, (metric, plain.message, prod.message)
        assert "production-weighted" in prod.message and "interval" in prod.message
    # the candidate's bias in c is 3.0: a tenth of the evaluation rows, half of production's
    assert weighted.overall["mean_error"].difference == pytest.approx(1.5, abs=0.05)
    assert ev.models["candidate"].overall["mean_error"] - ev.models["baseline"].overall["mean_error"] == \
        pytest.approx(0.3, abs=0.05)


def test_a_sensitive_column_production_lacks_without_declaration_leaves_the_weighted_drop_inconclusive(tmp_path):
    """An export that dropped region must not let the production-weighted drop pass on group alone: a shift of
    production into one region would go unseen."""
    manifest = _regression_release(tmp_path, {})
    rule = {"id": "R-w", "kind": "metric_drop", "metric": "mae", "max_drop": 100.0, "weighting": "production"}
    (f,), ev = gate(manifest, rule)
    assert ev.production is not None and ev.production.undeclared_missing == ["region"]
    assert f.status == Status.INCONCLUSIVE, f.message
    assert "'region'" in f.message and "production.unrecorded" in f.message
    # the same rule on the same data passes once the manifest says production does not record region
    (declared,), _ = gate(_regression_release(tmp_path, {"unrecorded": ["region"]}), rule)
    assert declared.status == Status.PASS, declared.message


@pytest.mark.parametrize(("unrecorded", "production_region", "expected"), [
    (["region"], True, "which production.csv records"),
    (["nosuch"], False, "not among data.sensitive"),
])
def test_a_wrong_unrecorded_list_is_bad_input(tmp_path, capsys, unrecorded, production_region, expected):
    manifest = _regression_release(tmp_path, {"unrecorded": unrecorded}, production_region=production_region)
    policy = write_yaml(tmp_path / "unused.yaml", {"name": "p", "rules": [
        {"id": "R-1", "kind": "metric_drop", "metric": "mae", "max_drop": 1.0, "severity": "block"}]})
    assert policy.exists()
    code, _, err = run(capsys, "check", manifest, "--out", tmp_path / "out")
    assert code == 2, err
    assert "production.unrecorded" in err and expected in err and "Traceback" not in err
    assert not (tmp_path / "out" / "verdict.json").exists()
