"""Multiclass fairness is one-vs-rest (fairlearn on each class's binarised labels, the worst class decides), and a
release whose declared task contradicts its models is refused with the fix named."""

from __future__ import annotations

import warnings
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import write_yaml
from fairlearn import metrics as flm

from governance.cli import main
from governance.engine import evaluate
from governance.evidence.accumulator import Accumulator
from governance.evidence.collect import TASK_IS_BINARY, TASK_IS_MULTICLASS, collect
from governance.findings import Status
from governance.manifest import load_manifest
from governance.metrics import FAIRNESS_HIGHER_IS_WORSE, class_fairness_gaps, worst_class_gaps
from governance.policy import load_policy, parse_policy

TOL = 1e-9
TODAY = date(2026, 11, 25)
GAPS = {"demographic_parity_difference": flm.demographic_parity_difference,
        "demographic_parity_ratio": flm.demographic_parity_ratio,
        "equalized_odds_difference": flm.equalized_odds_difference,
        "equalized_odds_ratio": flm.equalized_odds_ratio}


def _fairlearn(y: np.ndarray, pred: np.ndarray, groups: pd.DataFrame | np.ndarray, k: int) -> dict[str, float]:
    """fairlearn's four gaps on the labels binarised for class ``k`` (NaN where fairlearn gives NaN)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {name: float(fn((y == k).astype(int), (pred == k).astype(int), sensitive_features=groups))
                for name, fn in GAPS.items()}


def _same(ours: float | None, theirs: float, what: str) -> None:
    if np.isnan(theirs):
        assert ours is None, what
    else:
        assert ours == pytest.approx(theirs, abs=TOL), what


def _onehot_scores(pred: np.ndarray, k: int) -> np.ndarray:
    scores = np.full((len(pred), k), 0.1 / (k - 1))
    scores[np.arange(len(pred)), pred] = 0.9
    return scores


def _release(d: Path, y: np.ndarray, preds: dict[str, np.ndarray], sensitive: dict[str, np.ndarray], *,
             k: int, task: str = "multiclass_classification", classes: list | None = None,
             policy: str = "builtin:nist-ai-rmf", chunk: int = 113, resamples: int = 0) -> Path:
    """A real predictions-format release on disk: eval.csv and one CSV of class scores per model."""
    d.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"f0": rng.normal(size=len(y)), **sensitive, "label": y})
    df.to_csv(d / "eval.csv", index=False)
    for role, pred in preds.items():
        pd.DataFrame(_onehot_scores(pred, k), columns=[f"p{i}" for i in range(k)]).to_csv(d / f"{role}.csv",
                                                                                          index=False)
    manifest = {"name": "mc", "version": "1", "task": task,
                "classes": classes if classes is not None else list(range(k)),
                "baseline": {"path": "baseline.csv", "format": "predictions"},
                "candidate": {"path": "candidate.csv", "format": "predictions"},
                "data": {"path": "eval.csv", "target": "label", "sensitive": list(sensitive), "chunk_rows": chunk},
                "policy": policy,
                "evaluation": {"bootstrap": {"resamples": resamples}, "robustness": None, "latency": None}}
    if task == "binary_classification":
        manifest["positive_label"] = 1
    return write_yaml(d / "release.yaml", manifest)


def _random(seed: int, n: int, k: int) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, size=n)
    preds = {role: np.where(rng.random(n) < acc, y, rng.integers(0, k, size=n))
             for role, acc in (("baseline", 0.7), ("candidate", 0.6))}
    preds["candidate"][preds["candidate"] == k - 1] = 0  # a class the candidate never predicts
    if seed % 2 == 0:
        y[(y == 0) & (rng.random(n) < 0.9)] = 1  # a rare class
    sensitive = {"sex": rng.choice(["f", "m"], size=n, p=[0.4, 0.6]),
                 "race": rng.choice(["r1", "r2", "r3"], size=n, p=[0.5, 0.3, 0.2])}
    return y, preds, sensitive


# ------------------------------------------------------------------------- evidence equals fairlearn per class
@pytest.mark.parametrize("seed,k,dim", [(0, 3, "sex & race"), (1, 4, "race")])
def test_per_class_gaps_in_evidence_equal_fairlearn_on_binarised_labels(tmp_path, seed, k, dim):
    """fairlearn is slow per call, so one dimension per case, and the candidate (the baseline's gaps come out of
    the same code); the candidate never predicts the last class and class 0 is rare in one case."""
    y, preds, sensitive = _random(seed, 700 + 31 * seed, k)
    ev = collect(load_manifest(_release(tmp_path, y, preds, sensitive, k=k)))
    frame = pd.DataFrame(sensitive)
    cols = dim.split(" & ")
    assert set(ev.models["baseline"].class_counts) == {"sex", "race", "sex & race"}
    model, pred = ev.models["candidate"], preds["candidate"]
    per_class = class_fairness_gaps({v: (model.slices[dim][v]["count"], c.true, c.predicted, c.correct)
                                     for v, c in model.class_counts[dim].items()})
    expected = [_fairlearn(y, pred, frame[cols], c) for c in range(k)]
    for c in range(k):
        for name in GAPS:
            _same(per_class[c][name], expected[c][name], f"{dim} class {c} {name}")
    for name in GAPS:  # ModelEvidence.fairness: the worst class, over every group
        defined = [e[name] for e in expected if not np.isnan(e[name])]
        worst = (max if FAIRNESS_HIGHER_IS_WORSE[name] else min)(defined)
        assert model.fairness[dim][name] == pytest.approx(worst, abs=TOL), f"{dim} {name}"


def test_class_counts_are_the_one_vs_rest_tallies_and_survive_merging():
    rng = np.random.default_rng(4)
    n, k = 500, 3
    cells = rng.integers(0, 2, size=n)
    y = rng.integers(0, k, size=n)
    pb, pc = (rng.dirichlet(np.ones(k), size=n) for _ in range(2))
    whole = Accumulator(k, None)
    whole.cell_ids([("a",), ("b",)])
    whole.update(cells, y, pb, pc)
    parts = []
    for lo, hi in ((0, 200), (200, n)):
        part = Accumulator(k, None)
        part.cell_ids([("a",), ("b",)])
        part.update(cells[lo:hi], y[lo:hi], pb[lo:hi], pc[lo:hi])
        parts.append(part)
    merged = parts[1].merge(parts[0])
    pred = np.argmax(pc, axis=1)
    mask = cells == 1
    expected = {"true": [int(np.sum(y[mask] == c)) for c in range(k)],
                "predicted": [int(np.sum(pred[mask] == c)) for c in range(k)],
                "correct": [int(np.sum((y[mask] == c) & (pred[mask] == c))) for c in range(k)]}
    assert whole.class_counts([1], 1) == expected
    assert merged.class_counts([merged._index[("b",)]], 1) == expected


def test_worst_class_gaps_skip_undefined_classes():
    per_class = [{"demographic_parity_difference": 0.1, "demographic_parity_ratio": None,
                  "equalized_odds_difference": 0.3, "equalized_odds_ratio": 0.5},
                 {"demographic_parity_difference": 0.4, "demographic_parity_ratio": 0.7,
                  "equalized_odds_difference": None, "equalized_odds_ratio": 0.2}]
    assert worst_class_gaps(per_class) == {"demographic_parity_difference": 0.4, "demographic_parity_ratio": 0.7,
                                           "equalized_odds_difference": 0.3, "equalized_odds_ratio": 0.2}
    assert set(worst_class_gaps([]).values()) == {None}


# ------------------------------------------------------------------------- the rule on a multiclass release
def _collapse(n: int = 1600, ruin: bool = True, seed: int = 7):
    """Three classes, two groups; the candidate equals the baseline except (when ``ruin``) it calls most of
    group b's class-2 rows class 0."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, size=n)
    g = rng.choice(["a", "b"], size=n, p=[0.55, 0.45])
    base = np.where(rng.random(n) < 0.85, y, rng.integers(0, 3, size=n))
    cand = base.copy()
    flip = rng.random(n) < 0.01  # an honest candidate: a few flips anywhere
    cand[flip] = rng.integers(0, 3, size=int(flip.sum()))
    if ruin:
        hurt = (g == "b") & (y == 2) & (rng.random(n) < 0.7)
        cand[hurt] = 0
    return y, {"baseline": base, "candidate": cand}, {"g": g}


def _finding(ev, **rule):
    policy = parse_policy({"name": "p", "defaults": {"min_slice_size": 30},
                           "rules": [{"id": "R-1", "severity": "block", "kind": "fairness_gap", "by": ["g"], **rule}]},
                          path=Path(__file__))
    return evaluate(policy, ev, TODAY).findings[0]


def test_rule_fails_when_one_class_collapses_for_one_group_and_names_class_and_groups(tmp_path):
    y, preds, sens = _collapse()
    ev = collect(load_manifest(_release(tmp_path, y, preds, sens, k=3)))
    f = _finding(ev, metric="equalized_odds_difference", max_increase=0.05)
    assert f.status == Status.FAIL
    assert f.details["widest_class"] == "2" and "class '2'" in f.message
    assert "g=a" in f.message and "g=b" in f.message
    expected = {role: [_fairlearn(y, p, sens["g"], c)["equalized_odds_difference"] for c in range(3)]
                for role, p in preds.items()}
    increases = [c - b for b, c in zip(expected["baseline"], expected["candidate"])]
    assert f.observed == pytest.approx(max(increases), abs=TOL) and f.threshold == 0.05
    assert set(f.details["per_class"]) == {"0", "1", "2"}
    assert f.details["per_class"]["2"]["candidate"] == pytest.approx(expected["candidate"][2], abs=TOL)
    capped = _finding(ev, metric="equalized_odds_difference", max=0.2)
    assert capped.status == Status.FAIL and capped.observed == pytest.approx(max(expected["candidate"]), abs=TOL)


def test_rule_passes_the_clean_twin_and_judges_ratios(tmp_path):
    y, preds, sens = _collapse(ruin=False)
    ev = collect(load_manifest(_release(tmp_path, y, preds, sens, k=3)))
    for metric in ("equalized_odds_difference", "demographic_parity_difference"):
        f = _finding(ev, metric=metric, max_increase=0.05)
        assert f.status == Status.PASS, f.message
        assert f.details["groups_compared"] == 2 and f.details["classes_compared"] == 3
    ratio = _finding(ev, metric="demographic_parity_ratio", max_decrease=0.1)
    expected = [_fairlearn(y, preds["candidate"], sens["g"], c)["demographic_parity_ratio"] for c in range(3)]
    assert ratio.status == Status.PASS and ratio.details["per_class"]["1"]["candidate"] == pytest.approx(
        expected[1], abs=TOL)


def test_evidence_without_class_counts_is_inconclusive_not_a_pass(tmp_path):
    """A multiclass evidence.json from before per-class counts existed is re-evaluated as not judged."""
    y, preds, sens = _collapse(n=400, ruin=True)
    ev = collect(load_manifest(_release(tmp_path, y, preds, sens, k=3)))
    old = ev.model_copy(update={"models": {r: m.model_copy(update={"class_counts": {}})
                                           for r, m in ev.models.items()}})
    f = _finding(old, metric="equalized_odds_difference", max_increase=0.05)
    assert f.status == Status.INCONCLUSIVE and "re-run 'governance check'" in f.message


def test_groups_under_the_minimum_are_left_out_and_reported(tmp_path):
    y, preds, sens = _collapse(n=400, ruin=False)
    sens = {"g": np.where(np.arange(400) < 20, "tiny", sens["g"])}
    ev = collect(load_manifest(_release(tmp_path, y, preds, sens, k=3)))
    f = _finding(ev, metric="equalized_odds_difference", max_increase=0.05, min_slice_size=50)
    assert [s["slice"] for s in f.details["skipped_too_small"]] == ["tiny"]
    assert f.details["groups_compared"] == 2 and "1 slice(s) below the minimum size skipped" in f.message
    assert "g=tiny n=20" in f.message  # named, as in the binary path
    assert [(t["slice"], t["count"]) for t in f.details["thin_slices"]] == [("g=tiny", 20)]
    alone = _finding(ev, metric="equalized_odds_difference", max_increase=0.05, min_slice_size=300)
    assert alone.status == Status.INCONCLUSIVE and "fewer than two groups" in alone.message


# ------------------------------------------------------------------------- the NIST pack, end to end
NIST = Path(__file__).resolve().parent.parent / "policies" / "nist-ai-rmf.yaml"


@pytest.mark.parametrize("ruin,status", [(False, "pass"), (True, "fail")])
def test_nist_pack_judges_multiclass_fairness(tmp_path, ruin, status):
    """Collected from files and decided by the packaged pack (rendering, the slow part of `check`, adds nothing)."""
    y, preds, sens = _collapse(ruin=ruin)
    ev = collect(load_manifest(_release(tmp_path, y, preds, sens, k=3, resamples=50)))
    verdict = evaluate(load_policy(NIST), ev, TODAY)
    fair = {f.rule_id: f for f in verdict.findings if f.rule_id in ("FAIR-001", "FAIR-002")}
    assert fair["FAIR-001"].status.value == status, fair["FAIR-001"].message
    assert fair["FAIR-001"].details["one_vs_rest"] is True
    assert fair["FAIR-002"].status in (Status.PASS, Status.FAIL)  # judged, never "not applicable"
    if ruin:
        assert verdict.decision == "blocked" and "class '2'" in fair["FAIR-001"].message


# ------------------------------------------------------------------------- declared task vs the models
def _one_line_task_error(capsys, manifest: Path, out: Path) -> str:
    code = main(["check", str(manifest), "--out", str(out)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert f"{manifest}: task:" in err, err
    return err


def test_declared_multiclass_with_two_class_models_is_exit_2_naming_the_fix(tmp_path, capsys):
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, size=200)
    two = {"baseline": y.copy(), "candidate": y.copy()}
    # classes declared with two labels
    err = _one_line_task_error(capsys, _release(tmp_path / "a", y, two, {"g": np.array(["a", "b"] * 100)}, k=2),
                               tmp_path / "out-a")
    assert TASK_IS_BINARY.format(what="'classes' lists 2 classes") in err
    # three classes declared, but the score files have two columns
    err = _one_line_task_error(capsys, _release(tmp_path / "b", y, two, {"g": np.array(["a", "b"] * 100)}, k=2,
                                                classes=[0, 1, 2]), tmp_path / "out-b")
    assert TASK_IS_BINARY.format(what="the baseline model returns 2 scores per row") in err
    assert not (tmp_path / "out-b" / "verdict.json").exists()


def test_declared_binary_with_three_class_models_is_exit_2_naming_the_fix(tmp_path, capsys):
    y, preds, sens = _collapse(n=300, ruin=False)
    err = _one_line_task_error(capsys, _release(tmp_path, y, preds, sens, k=3, task="binary_classification",
                                                classes=[0, 1]), tmp_path / "out")
    assert TASK_IS_MULTICLASS.format(what="the baseline model returns 3 scores per row", classes="[0, 1, 2]") in err


def _skops_release(d: Path, n_classes: int, **manifest) -> Path:
    import skops.io as sio
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(2)
    X = rng.normal(size=(300, 2))
    y = np.digitize(X[:, 0], [-0.5, 0.5][: n_classes - 1])
    sio.dump(LogisticRegression(max_iter=200).fit(X, y), d / "m.skops")
    pd.DataFrame({"x0": X[:, 0], "x1": X[:, 1], "g": ["a", "b"] * 150, "label": y}).to_csv(d / "eval.csv",
                                                                                           index=False)
    spec = {"path": "m.skops", "format": "skops"}
    return write_yaml(d / "release.yaml", {
        "name": "s", "version": "1", "baseline": spec, "candidate": spec,
        "data": {"path": "eval.csv", "target": "label", "sensitive": ["g"]}, "policy": "builtin:nist-ai-rmf",
        **manifest})


def test_skops_models_name_their_classes_in_the_fix(tmp_path, capsys):
    (tmp_path / "three").mkdir()
    err = _one_line_task_error(capsys, _skops_release(tmp_path / "three", 3, task="binary_classification",
                                                      positive_label=1), tmp_path / "out3")
    assert TASK_IS_MULTICLASS.format(what="the models have 3 classes", classes="[0, 1, 2]") in err
    (tmp_path / "two").mkdir()  # declared classes that differ too: the task is the fix named
    err = _one_line_task_error(capsys, _skops_release(tmp_path / "two", 2, task="multiclass_classification",
                                                      classes=[0, 1, 2]), tmp_path / "out2")
    assert TASK_IS_BINARY.format(what="the models have 2 classes") in err


def test_a_matching_declared_task_is_not_refused(tmp_path):
    """The twin of the mismatch cases: the same scores declared with the right task are measured."""
    y, preds, sens = _collapse(n=300, ruin=False)
    assert collect(load_manifest(_release(tmp_path / "mc", y, preds, sens, k=3))).task == "multiclass_classification"
    y2 = (y == 2).astype(int)
    two = {r: (p == 2).astype(int) for r, p in preds.items()}
    ev = collect(load_manifest(_release(tmp_path / "bin", y2, two, sens, k=2, task="binary_classification")))
    assert ev.task == "binary_classification" and ev.models["candidate"].class_counts == {}
