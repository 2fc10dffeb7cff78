"""governance monitor: the contract a real `check` writes, windows of real model scores judged against it.

One small release (logistic regression baseline and a magnitude-pruned copy, scored by skops) is gated once per
module; windows are real files of the candidate's real scores on fresh rows: a clean one from the evaluation
distribution and a drifted one (shifted features)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from builders import FAST, FEATURES, make_frame, run, write_yaml
from scipy.spatial.distance import jensenshannon

from governance.cli import main
from governance.monitor.contract import MonitoringContract
from governance.monitor.run import BAD_PROFILE, CONTRACT_VERSION, NOT_A_CONTRACT, MonitorOptions, monitor
from governance.monitor.window import MISSING_COLUMN, summarize
from governance.rules.monitor import js_distance

TODAY = "2026-12-01"
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def released(tmp_path_factory):
    """A gated release: (folder with models, monitoring.json path, the candidate model)."""
    import copy

    import skops.io as sio
    from sklearn.linear_model import LogisticRegression

    d = tmp_path_factory.mktemp("monitored")
    train, evaluation = make_frame(2000, 11), make_frame(1200, 12)
    base = LogisticRegression(max_iter=1000).fit(train[FEATURES], train["label"])
    cand = copy.deepcopy(base)
    cand.coef_ = np.where(np.abs(base.coef_) < np.sort(np.abs(base.coef_[0]))[1], 0.0, base.coef_)
    sio.dump(base, d / "baseline.skops")
    sio.dump(cand, d / "pruned.skops")
    evaluation.to_csv(d / "eval.csv", index=False)
    write_yaml(d / "policy.yaml", {"name": "p", "rules": [
        {"id": "PERF-001", "kind": "metric_drop", "metric": "accuracy", "max_drop": 0.05}]})
    write_yaml(d / "release.yaml", {
        "name": "credit-lr", "version": "2.0-pruned", "task": "binary_classification", "positive_label": 1,
        "baseline": {"path": "baseline.skops", "format": "skops"},
        "candidate": {"path": "pruned.skops", "format": "skops"},
        "data": {"path": "eval.csv", "target": "label", "sensitive": ["group", "region"]},
        "policy": "policy.yaml", "evaluation": FAST})
    out = d / "out"
    assert main(["check", str(d / "release.yaml"), "--out", str(out), "--quiet"]) in (0, 1)
    return d, out / "monitoring.json", base, cand


def window(d: Path, name: str, models, *, seed: int, shift: float = 0.0, rows: int = 600, labels: bool = True,
           parquet: bool = False) -> Path:
    """A window of production logs: features, the candidate's real scores, the baseline's (shadow), labels."""
    base, cand = models
    df = make_frame(rows, seed)
    df[FEATURES] = df[FEATURES] + shift
    df["score"] = cand.predict_proba(df[FEATURES])[:, 1]
    df["baseline_score"] = base.predict_proba(df[FEATURES])[:, 1]
    if not labels:
        df = df.drop(columns=["label"])
    path = d / name
    if parquet:
        df.to_parquet(path, index=False)
    else:
        df.to_csv(path, index=False)
    return path


def test_check_writes_the_contract(released):
    d, contract_path, _, _ = released
    contract = MonitoringContract.model_validate_json(contract_path.read_bytes())
    evidence = json.loads((contract_path.parent / "evidence.json").read_text())
    listed = json.loads((contract_path.parent / "checksums.json").read_text())["files"]
    assert "monitoring.json" in listed
    assert contract.release == {"name": "credit-lr", "version": "2.0-pruned"}
    assert contract.candidate_sha256 == evidence["models"]["candidate"]["file"]["sha256"]
    assert contract.score_columns == ["score"] and contract.baseline_score_columns == ["baseline_score"]
    assert contract.accuracy.evaluation == evidence["models"]["candidate"]["overall"]["accuracy"]
    assert contract.calibration is not None
    assert contract.calibration.ece == evidence["calibration"]["models"]["candidate"]["ece"]
    assert contract.scores is not None and contract.scores.rows == 1200
    assert set(contract.slices["group"]) == {"a", "b", "c"}
    assert contract.reference is not None and contract.reference.source == "evaluation"
    assert contract.reference.profile == evidence["feature_profile"]
    assert str(d) not in contract_path.read_text()  # no machine path in the published contract


def _run(tmp_path, contract, *windows, state=None, policy="builtin:monitor", out="out") -> tuple[int, dict]:
    argv = ["monitor", "--contract", str(contract), "--out", str(tmp_path / out), "--today", TODAY,
            "--policy", str(policy)]
    for w in windows:
        argv += ["--window", str(w)]
    if state is not None:
        argv += ["--state", str(state)]
    code = main(argv)
    return code, json.loads((tmp_path / out / "monitor.json").read_text()) if code in (0, 1) else {}


def test_a_clean_window_passes_and_a_drifted_one_alerts(released, tmp_path):
    _, contract, base, cand = released
    clean = window(tmp_path, "clean.csv", (base, cand), seed=21)
    drifted = window(tmp_path, "drifted.parquet", (base, cand), seed=22, shift=1.5, parquet=True)
    code, report = _run(tmp_path, contract, clean, out="a")
    assert code == 0, report["decision_line"]
    assert report["decision_line"].startswith("PASS: window clean.csv")
    code, report = _run(tmp_path, contract, clean, drifted, out="b")
    assert code == 1
    newest = {f["rule_id"]: f for f in report["windows"][-1]["findings"]}
    assert newest["MON-SCORE-001"]["status"] == "fail"
    assert newest["MON-PERF-001"]["status"] in ("pass", "fail")  # labels arrived: judged, not inconclusive
    assert [w["decision"] for w in report["windows"]] == ["pass", "blocked"]
    junit = (tmp_path / "b" / "junit.xml").read_text()
    assert 'name="MON-SCORE-001"' in junit and "<failure" in junit


@pytest.mark.parametrize("gone", [np.nan, np.inf])
def test_an_input_with_no_value_in_the_window_is_not_waved_through_by_the_share_limit(released, tmp_path, gone):
    _, contract, base, cand = released
    path = window(tmp_path, "outage.parquet", (base, cand), seed=21, parquet=True)  # the clean window's rows
    logs = pd.read_parquet(path)
    logs[FEATURES[0]] = gone  # the pipeline stopped sending one input (or sent infinities); scores unchanged
    logs.to_parquet(path, index=False)
    code, report = _run(tmp_path, contract, path)
    findings = {f["rule_id"]: f for f in report["windows"][-1]["findings"]}
    drift = findings["MON-DRIFT-001"]  # a share limit: 1 of the features drifted is "within" 50%
    assert drift["status"] == "fail", drift["message"]  # its missing share rose from 0% to 100%
    assert drift["details"]["missing_increase"] == {FEATURES[0]: 1.0}
    assert drift["details"]["no_values"] == [FEATURES[0]] and f"'{FEATURES[0]}' 100%" in drift["message"]
    assert code == 1 and report["windows"][-1]["decision"] == "blocked"
    # without the missing-share limit, the outage is still not waved through: not judged, which blocks
    policy = write_yaml(tmp_path / "no-missing-limit.yaml", {"name": "p", "defaults": {"min_slice_size": 100},
                                                              "rules": [
        {"id": "D", "kind": "feature_drift", "max_drifted_share": 0.5, "max_missing_increase": None,
         "severity": "block", "on_inconclusive": "block", "rmf": ["MEASURE 2.4"]}]})
    code, report = _run(tmp_path, contract, path, policy=policy, out="no-limit")
    drift = report["windows"][-1]["findings"][0]
    assert drift["status"] == "inconclusive" and "stopped arriving" in drift["message"], drift["message"]
    assert code == 1 and report["windows"][-1]["decision"] == "blocked"  # not judged blocks (on_inconclusive)


def test_score_drift_is_scipy_jensen_shannon_of_the_histograms(released, tmp_path):
    _, contract_path, base, cand = released
    contract = MonitoringContract.model_validate_json(contract_path.read_bytes())
    path = window(tmp_path, "w.csv", (base, cand), seed=23, shift=0.7)
    summary = summarize(path, contract)
    scores = cand.predict_proba(make_frame(600, 23)[FEATURES] + 0.7)[:, 1]
    edges = np.asarray(contract.scores.bin_edges)
    counts = np.bincount(np.searchsorted(edges[1:-1], scores), minlength=len(edges) - 1)
    assert summary.overall.scores == counts.tolist()
    p, q = np.asarray(contract.scores.counts, float), counts.astype(float)
    assert js_distance(contract.scores.counts, summary.overall.scores) == pytest.approx(
        jensenshannon(p / p.sum(), q / q.sum()), abs=1e-12)
    df = pd.read_csv(path)
    assert summary.overall.labelled == len(df)
    assert summary.overall.correct == int(((df["score"] > 0.5).astype(int) == df["label"]).sum())
    assert summary.overall.confidence == pytest.approx(np.maximum(df["score"], 1 - df["score"]).sum())
    assert summary.overall.agree == int(((df["score"] > 0.5) == (df["baseline_score"] > 0.5)).sum())
    assert sum(c.rows for c in summary.slices["group"].values()) == len(df)


def one2_w1(tmp_path: Path) -> str:
    return json.loads((tmp_path / "one1" / "monitor.json").read_text())["decision_line"]


def test_folding_windows_one_by_one_equals_folding_them_at_once(released, tmp_path):
    _, contract, base, cand = released
    windows = [window(tmp_path, f"w{i}.csv", (base, cand), seed=30 + i, shift=0.4 * i, labels=i != 1)
               for i in range(3)]
    state = tmp_path / "state.json"
    for i, w in enumerate(windows):
        _run(tmp_path, contract, w, state=state, out=f"one{i}")
    _run(tmp_path, contract, *windows, state=tmp_path / "state-all.json", out="all")
    assert state.read_bytes() == (tmp_path / "state-all.json").read_bytes()
    one = json.loads((tmp_path / "one2" / "monitor.json").read_text())
    every = json.loads((tmp_path / "all" / "monitor.json").read_text())
    assert one["decided"] == ["w2.csv"] and every["decided"] == ["w0.csv", "w1.csv", "w2.csv"]
    # the run given all three decides on all three: w1 alerted as well as the newest
    assert every["decision_line"] == f"{one2_w1(tmp_path)}; {one['decision_line']}"
    assert {k: v for k, v in one.items() if k not in ("decided", "decision_line")} == {
        k: v for k, v in every.items() if k not in ("decided", "decision_line")}
    # a window given again is not counted twice
    _, report = _run(tmp_path, contract, windows[-1], state=state, out="again")
    assert len(report["windows"]) == 3 and report["skipped"] == ["w2.csv"]


def test_chunked_reading_gives_the_same_summary(released, tmp_path):
    _, contract_path, base, cand = released
    contract = MonitoringContract.model_validate_json(contract_path.read_bytes())
    path = window(tmp_path, "w.parquet", (base, cand), seed=40, parquet=True)
    from governance.monitor.window import WindowColumns

    whole = summarize(path, contract)
    chunked = summarize(path, contract, WindowColumns(chunk_rows=77))
    assert chunked.overall.scores == whole.overall.scores and chunked.overall.correct == whole.overall.correct
    assert chunked.overall.confidence == pytest.approx(whole.overall.confidence)
    assert chunked.slices.keys() == whole.slices.keys()


def test_the_html_has_one_chart_per_watched_quantity(released, tmp_path):
    _, contract, base, cand = released
    ws = [window(tmp_path, f"h{i}.csv", (base, cand), seed=50 + i, shift=0.5 * i) for i in range(3)]
    _run(tmp_path, contract, *ws)
    html = (tmp_path / "out" / "monitor.html").read_text()
    report = json.loads((tmp_path / "out" / "monitor.json").read_text())
    rules = [s["rule_id"] for s in report["series"]]
    assert len(rules) == 6
    assert html.count("<svg") == len(rules)
    for rid in rules:
        assert f'data-rule="{rid}"' in html
    assert html.count('class="limit"') == sum(any(v is not None for v in s["limits"]) for s in report["series"])
    assert "<script" not in html and "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")


def test_bad_contract_and_missing_column_are_exit_2_one_line(released, tmp_path, capsys):
    _, contract, base, cand = released
    good = window(tmp_path, "w.csv", (base, cand), seed=60)
    bad = tmp_path / "bad.json"
    data = json.loads(contract.read_text())
    bad.write_text(json.dumps({**data, "schema_version": "9"}))
    code, _, err = run(capsys, "monitor", "--contract", bad, "--window", good, "--out", tmp_path / "o")
    assert code == 2 and err.count("\n") == 1
    assert CONTRACT_VERSION.format(got="9", want="1") in err and str(bad) in err
    bad.write_text(json.dumps({k: v for k, v in data.items() if k != "task"}))
    code, _, err = run(capsys, "monitor", "--contract", bad, "--window", good, "--out", tmp_path / "o")
    assert code == 2 and err.count("\n") == 1 and f"{bad}: task: " in err and NOT_A_CONTRACT.split(":")[0] in err
    no_score = tmp_path / "no-score.csv"
    pd.read_csv(good).drop(columns=["score"]).to_csv(no_score, index=False)
    code, _, err = run(capsys, "monitor", "--contract", contract, "--window", no_score, "--out", tmp_path / "o")
    assert code == 2 and err.count("\n") == 1
    assert f"{no_score}: --score-column: " + MISSING_COLUMN.format(column="score", file="no-score.csv", columns="")[
        :30] in err
    broken = {**data, "reference": {**data["reference"], "profile": {"format": "nope"}}}
    bad.write_text(json.dumps(broken))
    code, _, err = run(capsys, "monitor", "--contract", bad, "--window", good, "--out", tmp_path / "o")
    assert code == 2 and err.count("\n") == 1 and f"{bad}: reference.profile: " + BAD_PROFILE.split(":")[0] in err


def test_the_label_free_estimate_needs_calibration(released, tmp_path):
    _, contract_path, base, cand = released
    data = json.loads(contract_path.read_text())
    w = window(tmp_path, "w.csv", (base, cand), seed=70, labels=False)
    uncalibrated = tmp_path / "uncal.json"
    uncalibrated.write_text(json.dumps({**data, "calibration": {**data["calibration"], "ece": 0.2}}))
    result = monitor(uncalibrated, [w], options=MonitorOptions(today=pd.Timestamp(TODAY).date()))
    est = next(f for f in result.verdict.findings if f.rule_id == "MON-EST-001")
    assert est.status.value == "inconclusive" and "ECE 0.2000" in est.message
    perf = next(f for f in result.verdict.findings if f.rule_id == "MON-PERF-001")
    assert perf.status.value == "inconclusive" and "0 labelled rows" in perf.message
    calibrated = tmp_path / "cal.json"
    calibrated.write_text(json.dumps({**data, "calibration": {**data["calibration"], "ece": 0.01}}))
    result = monitor(calibrated, [w], options=MonitorOptions(today=pd.Timestamp(TODAY).date()))
    est = next(f for f in result.verdict.findings if f.rule_id == "MON-EST-001")
    df = pd.read_csv(w)
    assert est.observed == pytest.approx(float(np.maximum(df["score"], 1 - df["score"]).mean()))


def test_the_default_monitor_policy_lints_and_cites_the_rmf(capsys):
    code, _, err = run(capsys, "policy", "lint", "builtin:monitor")
    assert code == 0, err
    code, out, err = run(capsys, "policy", "explain", "builtin:monitor")
    assert "MEASURE 2.4" in out and "MANAGE 4.1" in out


def test_monitor_kinds_and_release_kinds_do_not_overlap():
    from governance.rules import KINDS
    from governance.rules.monitor import EXAMPLES, MONITOR_KINDS

    assert not set(KINDS) & set(MONITOR_KINDS)
    assert set(EXAMPLES) == set(MONITOR_KINDS)
    for kind, example in EXAMPLES.items():
        MONITOR_KINDS[kind].params.model_validate(example)


def test_a_multiclass_window_bins_top_label_confidence(tmp_path):
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression

    from governance.monitor.contract import CalibrationExpectation, Expected, Histogram

    X, y = make_classification(n_samples=900, n_features=5, n_informative=4, n_redundant=0, n_classes=3,
                               random_state=3)
    model = LogisticRegression(max_iter=500).fit(X[:500], y[:500])
    proba = model.predict_proba(X[500:])
    classes = ["a", "b", "c"]
    df = pd.DataFrame(X[500:], columns=[f"f{i}" for i in range(5)])
    for j, c in enumerate(classes):
        df[f"score_{c}"] = proba[:, j]
    df["label"] = np.where(np.arange(len(df)) % 4 == 0, None, np.array(classes, dtype=object)[y[500:]])
    path = tmp_path / "w.parquet"
    df.to_parquet(path, index=False)
    edges = np.linspace(0, 1, 11)
    contract = MonitoringContract(
        release={"name": "m", "version": "1"}, candidate_sha256="0" * 64, task="multiclass_classification",
        classes=classes, target="label", features=[f"f{i}" for i in range(5)], sensitive=[], dimensions={},
        score_columns=[f"score_{c}" for c in classes], baseline_score_columns=[f"baseline_score_{c}" for c in classes],
        scores=Histogram(bin_edges=edges.tolist(), counts=[0, 0, 0, 5, 20, 40, 60, 80, 100, 95]),
        accuracy=Expected(evaluation=0.8), calibration=CalibrationExpectation(rows=400, bins=10, ece=0.01, brier=0.3))
    summary = summarize(path, contract)
    top = proba.max(axis=1)
    assert summary.overall.scores == np.bincount(np.searchsorted(edges[1:-1], top), minlength=10).tolist()
    known = df["label"].notna().to_numpy()
    assert summary.overall.labelled == int(known.sum())
    assert summary.overall.correct == int((proba.argmax(axis=1)[known] == y[500:][known]).sum())
    assert summary.overall.shadow == 0  # no baseline columns in the window
    wrong = tmp_path / "wrong.parquet"
    df.assign(label=df["label"].fillna("zebra")).to_parquet(wrong, index=False)
    from governance.errors import InputError

    with pytest.raises(InputError, match="label 'zebra' is not a class"):
        summarize(wrong, contract)


def test_a_state_of_another_contract_is_exit_2(released, tmp_path, capsys):
    _, contract, base, cand = released
    w = window(tmp_path, "w.csv", (base, cand), seed=80)
    state = tmp_path / "state.json"
    state.write_text(json.dumps({"schema_version": "1", "contract_sha256": "f" * 64, "windows": []}))
    code, _, err = run(capsys, "monitor", "--contract", contract, "--window", w, "--state", state,
                         "--out", tmp_path / "o")
    assert code == 2 and err.count("\n") == 1 and f"{state}: contract_sha256: " in err


def test_an_out_holding_the_contract_or_a_window_is_refused_and_left_whole(released, tmp_path, capsys):
    """--out pointed at the check's own folder replaced it: evidence, verdict and the contract just read were gone."""
    import shutil

    _, contract, base, cand = released
    folder = tmp_path / "checked"
    shutil.copytree(contract.parent, folder)
    before = sorted(p.name for p in folder.iterdir())
    w = window(tmp_path, "w.csv", (base, cand), seed=81)
    code, _, err = run(capsys, "monitor", "--contract", folder / "monitoring.json", "--window", w, "--out", folder)
    assert code == 2 and err.count("\n") == 1 and "--contract" in err and "inside --out" in err, err
    assert sorted(p.name for p in folder.iterdir()) == before
    (folder.parent / "logs").mkdir()
    inside = window(folder.parent / "logs", "w.csv", (base, cand), seed=82)
    code, _, err = run(capsys, "monitor", "--contract", contract, "--window", inside, "--out", folder.parent)
    assert code == 2 and "--window" in err and "inside --out" in err and inside.is_file()


def test_the_docs_schedule_examples_are_well_formed():
    import re

    import yaml

    text = (ROOT / "docs" / "monitoring.md").read_text()
    workflow = yaml.safe_load(re.search(r"```yaml\n(.*?)```", text, flags=re.S).group(1))
    assert workflow[True]["schedule"][0]["cron"] == "15 2 * * *"  # PyYAML reads the key `on` as True
    steps = " ".join(str(s.get("run", "")) for s in workflow["jobs"]["monitor"]["steps"])
    assert "governance monitor --contract" in steps and "--state" in steps
    cron = re.search(r"```cron\n(.*?)```", text, flags=re.S).group(1)
    assert cron.split()[:5] == ["15", "2", "*", "*", "*"] and "governance monitor" in cron
    for path in re.findall(r"examples/monitoring/\w+\.csv", text):
        assert (ROOT / path).is_file(), path


def test_a_monitor_policy_given_to_a_release_command_says_so(released, tmp_path, capsys):
    from governance.policy import MONITOR_KIND_HINT

    _, contract, _, _ = released
    code, _, err = run(capsys, "evaluate", "--evidence", contract.parent / "evidence.json", "--policy",
                       "builtin:monitor", "--out", tmp_path / "o")
    assert code == 2 and MONITOR_KIND_HINT in err


@pytest.mark.parametrize(("edit", "field", "says"), [
    (lambda c: c["accuracy"].update(evaluation=-5.0), "accuracy.evaluation", "-5.0 is outside"),
    (lambda c: c["agreement"].update(evaluation=1.5), "agreement.evaluation", "1.5 is outside"),
    (lambda c: c["scores"].update(counts=c["scores"]["counts"][:-1]), "scores", "bin_edges"),
    (lambda c: c["scores"]["counts"].__setitem__(0, -3), "scores.counts.0", "greater than or equal to 0"),
    (lambda c: c["scores"].update(bin_edges=c["scores"]["bin_edges"][::-1]), "scores", "bin_edges must increase"),
    (lambda c: next(iter(next(iter(c["slices"].values())).values())).update(accuracy=2.0), "slices.", "2.0 is outside"),
])
def test_a_contract_edited_past_what_can_be_measured_is_exit_2(released, tmp_path, capsys, edit, field, says):
    """A monitoring.json edited to an expectation no window can reach (an accuracy of -5 that every window beats)
    is refused naming the field, not judged."""
    _, contract, base, cand = released
    w = window(tmp_path, "w.csv", (base, cand), seed=91)
    data = json.loads(contract.read_text())
    edit(data)
    bad = tmp_path / "edited.json"
    bad.write_text(json.dumps(data))
    code, _, err = run(capsys, "monitor", "--contract", bad, "--window", w, "--out", tmp_path / "o", "--today", TODAY)
    assert code == 2 and err.count("\n") == 1 and f"{bad}: {field}" in err and says in err, err
    assert "Value error" not in err and not (tmp_path / "o" / "monitor.json").exists()


@pytest.mark.parametrize(("edit", "says"), [
    (lambda s: s["overall"].update(correct=s["overall"]["labelled"] + 1), "correct = "),
    (lambda s: s["overall"].update(agree=s["overall"]["shadow"] + 7), "agree = "),
    (lambda s: s["overall"].update(rows=-1), "greater than or equal to 0"),
    (lambda s: s["overall"].update(confidence=s["overall"]["rows"] * 3.0), "more than one per row"),
    (lambda s: s["overall"]["scores"].__setitem__(0, s["overall"]["scores"][0] + s["overall"]["rows"]),
     "sum of scores"),
    (lambda s: next(iter(s["slices"]["group"].values())).update(
        rows=0, labelled=0, correct=0, shadow=0, agree=0, confidence=0.0, scores=[]),
     "the slices of 'group' count"),
])
def test_a_state_edited_to_impossible_counts_is_exit_2(released, tmp_path, capsys, edit, says):
    """A state file edited to 9 correct of 5 labelled rows would read as an accuracy of 1.8 and pass every floor:
    each count is of a subset of the one it refines, and each dimension's slices add up to the window."""
    _, contract, base, cand = released
    state = tmp_path / "state.json"
    assert main(["monitor", "--contract", str(contract), "--window", str(window(tmp_path, "a.csv", (base, cand),
                 seed=92)), "--state", str(state), "--out", str(tmp_path / "first"), "--today", TODAY]) in (0, 1)
    data = json.loads(state.read_text())
    edit(data["windows"][0])
    state.write_text(json.dumps(data))
    code, _, err = run(capsys, "monitor", "--contract", contract, "--window", window(tmp_path, "b.csv", (base, cand),
                       seed=93), "--state", state, "--out", tmp_path / "o", "--today", TODAY)
    assert code == 2 and err.count("\n") == 1 and f"{state}: windows.0" in err and says in err, err
    assert "Value error" not in err and json.loads(state.read_text()) == data


def test_a_blank_sensitive_cell_is_the_missing_slice_in_a_csv_window_as_in_parquet(released, tmp_path):
    """pyarrow reads an empty CSV text cell as "" (a slice named ""), a Parquet null as (missing): the same rows
    must fold into the same slices whatever the file format."""
    _, contract_path, base, cand = released
    contract = MonitoringContract.model_validate_json(contract_path.read_bytes())
    path = window(tmp_path, "w.parquet", (base, cand), seed=41, parquet=True)
    frame = pd.read_parquet(path)
    frame.loc[::25, "group"] = None
    frame.to_parquet(path, index=False)
    frame.to_csv(tmp_path / "w.csv", index=False)
    from governance.data import MISSING

    as_parquet, as_csv = summarize(path, contract), summarize(tmp_path / "w.csv", contract)
    assert as_csv.slices["group"][MISSING].rows == as_parquet.slices["group"][MISSING].rows == len(frame[::25])
    assert "" not in as_csv.slices["group"]
    assert as_csv.slices == as_parquet.slices


def test_a_window_with_a_feature_left_blank_alerts(released, tmp_path, capsys):
    """Every cell of a feature empty (or NaN): pyarrow reads a null column, which the profile refused (exit 3)."""
    import pandas as pd

    _, contract, base, cand = released
    w = window(tmp_path, "w.csv", (base, cand), seed=83)
    frame = pd.read_csv(w)
    feature = FEATURES[0]
    for fill, name in (("", "blank.csv"), ("NaN", "nan.csv")):
        frame[feature] = fill
        frame.to_csv(tmp_path / name, index=False)
        code, _, err = run(capsys, "monitor", "--contract", contract, "--window", tmp_path / name,
                             "--out", tmp_path / f"o-{name}")
        assert code == 1 and "Traceback" not in err, err
        report = json.loads((tmp_path / f"o-{name}" / "monitor.json").read_text())
        drift = next(f for f in report["windows"][-1]["findings"] if f["kind"] == "feature_drift")
        assert drift["status"] == "fail" and drift["details"]["no_values"] == [feature], drift


def test_a_regression_release_is_monitored_on_its_features_and_slices(tmp_path, capsys):
    """A regression contract has slice dimensions but no scores: every window was an internal error (exit 3,
    "the slices of 'region' count 0 rows"), since only scored windows counted their slices."""
    out = tmp_path / "checked"
    assert main(["check", str(ROOT / "examples" / "regression" / "release.yaml"), "--out", str(out), "--quiet"]) \
        in (0, 1)
    capsys.readouterr()
    code, _, err = run(capsys, "monitor", "--contract", out / "monitoring.json", "--window",
                       ROOT / "examples" / "regression" / "eval.csv", "--out", tmp_path / "mon",
                       "--state", tmp_path / "state.json")
    assert code in (0, 1) and "internal error" not in err, err
    report = json.loads((tmp_path / "mon" / "monitor.json").read_text())
    drift = next(f for f in report["windows"][-1]["findings"] if f["kind"] == "feature_drift")
    assert drift["status"] == "pass"  # the evaluation set against its own profile
    summary = json.loads((tmp_path / "state.json").read_text())["windows"][-1]
    rows = summary["overall"]["rows"]
    assert rows == 2000 and sum(c["rows"] for c in summary["slices"]["region"].values()) == rows


@pytest.mark.parametrize("what", ["no features", "deep", "state profile"])
def test_hand_edited_contracts_and_states_are_exit_2_naming_the_field(released, tmp_path, capsys, what):
    """Each was an internal error (exit 3): a KeyError, a RecursionError, "ValueError: not a feature profile"."""
    _, contract, base, cand = released
    w = window(tmp_path, "w.csv", (base, cand), seed=84)
    data = json.loads(contract.read_text())
    edited, state, field = tmp_path / "contract.json", None, None
    if what == "no features":
        data["features"], field = [], "reference.profile"
        edited.write_text(json.dumps(data))
    elif what == "deep":
        edited.write_text('{"schema_version": "1", "notes": ' + "[" * 100_000 + "]" * 100_000 + "}")
    else:
        edited = contract
        state = tmp_path / "state.json"
        assert run(capsys, "monitor", "--contract", contract, "--window", w, "--state", state,
                   "--out", tmp_path / "first")[0] in (0, 1)
        saved = json.loads(state.read_text())
        saved["windows"][0]["profile"]["columns"] = {}
        state.write_text(json.dumps(saved))
        field = "windows[0].profile"
    argv = ["monitor", "--contract", edited, "--window", w, "--out", tmp_path / "o"]
    code, _, err = run(capsys, *argv, *(["--state", state] if state else []))
    assert code == 2 and err.count("\n") == 1 and "internal error" not in err, err
    assert field is None or f": {field}: " in err


def test_a_window_given_again_must_summarise_to_what_the_state_holds(released, tmp_path, capsys):
    """A clean window's summary copied under a drifted window's name and sha256 silenced the drift alert: the
    drifted window, given again, was skipped as already counted."""
    import hashlib

    from governance.monitor.state import EDITED

    _, contract, base, cand = released
    clean = window(tmp_path, "clean.csv", (base, cand), seed=85)
    drifted = window(tmp_path, "drifted.csv", (base, cand), seed=86, shift=3.0)
    state = tmp_path / "state.json"
    argv = ["monitor", "--contract", contract, "--state", state]
    assert run(capsys, *argv, "--window", clean, "--out", tmp_path / "o1")[0] == 0
    assert run(capsys, *argv, "--window", clean, "--out", tmp_path / "o2")[0] == 0  # given again: same summary
    saved = json.loads(state.read_text())
    forged = json.loads(json.dumps(saved["windows"][0]))
    drifted_ref = json.loads(json.dumps(forged["file"]))
    drifted_ref.update(path="drifted.csv", sha256=hashlib.sha256(drifted.read_bytes()).hexdigest(),
                       bytes=drifted.stat().st_size)
    saved["windows"].append({**forged, "name": "drifted.csv", "file": drifted_ref})
    state.write_text(json.dumps(saved))
    code, _, err = run(capsys, *argv, "--window", drifted, "--out", tmp_path / "o3")
    assert code == 2 and EDITED.split("{")[0] in err and "drifted.csv" in err, err


def test_a_window_whose_first_block_leaves_a_feature_blank_is_read(released, tmp_path, capsys, monkeypatch):
    """pyarrow types a column null from an all-blank first block and then refused the first number after it
    ("CSV conversion error to null", exit 2) for a window that is fine."""
    import pandas as pd

    from governance import data as data_module

    monkeypatch.setattr(data_module, "BLOCK_START", 1 << 12)  # a 4 kB first block: the blank rows fill it
    _, contract, base, cand = released
    w = window(tmp_path, "w.csv", (base, cand), seed=87, rows=1200)
    frame = pd.read_csv(w)
    frame[FEATURES[0]] = frame[FEATURES[0]].astype(object)
    frame.loc[:599, FEATURES[0]] = ""
    frame.to_csv(w, index=False)
    code, _, err = run(capsys, "monitor", "--contract", contract, "--window", w, "--out", tmp_path / "o",
                       "--state", tmp_path / "s.json")
    assert code in (0, 1) and "cannot read data" not in err, err
    profile = json.loads((tmp_path / "s.json").read_text())["windows"][0]["profile"]["columns"][FEATURES[0]]
    assert (profile["missing"], profile["count"]) == (600, 600)


@pytest.mark.parametrize("parquet", [False, True])
def test_a_window_with_text_in_a_numeric_feature_is_exit_2_naming_the_row(released, tmp_path, capsys, parquet):
    """The window's feature profile raised a ValueError the command did not expect: exit 3, a bug's code."""
    _, contract_path, base, cand = released
    path = window(tmp_path, "w.csv", (base, cand), seed=71)
    df = pd.read_csv(path)
    df[FEATURES[1]] = df[FEATURES[1]].astype(object)
    df.loc[4, FEATURES[1]] = "high"
    if parquet:
        path = tmp_path / "w.parquet"
        df.astype({FEATURES[1]: str}).to_parquet(path, index=False)
    else:
        df.to_csv(path, index=False)
    code, _, err = run(capsys, "monitor", "--contract", contract_path, "--window", path, "--out", tmp_path / "o")
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert f"{path.name}: {FEATURES[1]}: holds " in err and "data row 5: 'high' is not a number" in err


def test_a_run_given_several_windows_alerts_on_any_of_them_not_only_the_newest(released, tmp_path, capsys):
    """A catch-up run (a week of windows at once) or a retry of a window already in the state decided on the newest
    window only, so a drifted window followed by a clean one exited 0."""
    _, contract, base, cand = released
    drifted = window(tmp_path, "drifted.csv", (base, cand), seed=80, shift=0.8)
    clean = window(tmp_path, "clean.csv", (base, cand), seed=81)
    state = tmp_path / "state.json"
    code, out, _ = run(capsys, "monitor", "--contract", contract, "--window", drifted, "--window", clean,
                       "--state", state, "--out", tmp_path / "o1", "--today", TODAY)
    assert code == 1 and out.startswith("ALERT on window drifted.csv: MON-DRIFT-001")
    report = json.loads((tmp_path / "o1" / "monitor.json").read_text())
    assert report["decision"] == "blocked" and report["decided"] == ["drifted.csv", "clean.csv"]
    assert report["windows"][-1]["decision"] == "pass"  # the newest is clean: it alone said PASS before
    assert 'name="MON-DRIFT-001"' in (tmp_path / "o1" / "junit.xml").read_text()
    assert "Alert on window: drifted.csv" in (tmp_path / "o1" / "monitor.html").read_text()
    # a retry of the drifted window, already in the state: judged again from its summary, and alerts again
    code, out, _ = run(capsys, "monitor", "--contract", contract, "--window", drifted, "--state", state,
                       "--out", tmp_path / "o2", "--today", TODAY)
    assert code == 1 and out.startswith("ALERT on window drifted.csv")
    assert json.loads((tmp_path / "o2" / "monitor.json").read_text())["skipped"] == ["drifted.csv"]
    # the next day's clean window alone: earlier alerts are history, not decided again
    tomorrow = window(tmp_path, "tomorrow.csv", (base, cand), seed=82)
    code, out, _ = run(capsys, "monitor", "--contract", contract, "--window", tomorrow, "--state", state,
                       "--out", tmp_path / "o3", "--today", TODAY)
    assert code == 0 and out.startswith("PASS: window tomorrow.csv")
