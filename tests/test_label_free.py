"""The label-free estimate validated where the truth is known: a well-specified (so calibrated) logistic regression,
production drawn from a shifted covariate distribution with its labels kept aside. The estimate follows the shift
that the evaluation accuracy cannot see; a sharpened (miscalibrated) candidate is refused, not estimated."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import skops.io as sio
from builders import FAST, gate, write_yaml
from sklearn.linear_model import LogisticRegression

from governance.evidence.production import ProductionChunk
from governance.evidence.production_agreement import ASSUMPTIONS, ProductionScores, build_estimate
from governance.findings import Status
from governance.rules.production import NOT_CALIBRATED

X_COLS = ["x0", "x1", "x2"]
W, B = np.array([2.0, -1.5, 0.0]), 0.3  # x2 is irrelevant: pruning it keeps the model well specified
#: |estimate - truth| allowed: the truth's own sampling error on 4000 rows is about 0.007 (3 SE ~ 0.02)
TOLERANCE = 0.025


def _rows(n: int, seed: int, mean=(0.0, 0.0, 0.0), scale=1.0, p_b=0.5) -> pd.DataFrame:
    """Rows of the true model P(y=1|x) = sigmoid(W.x + B); ``p_true`` is kept for the noise-free truth."""
    rng = np.random.default_rng(seed)
    X = rng.normal(mean, scale, size=(n, 3))
    p = 1.0 / (1.0 + np.exp(-(X @ W + B)))
    df = pd.DataFrame(X, columns=X_COLS)
    df["group"] = np.where(rng.random(n) < p_b, "b", "a")
    df["label"] = (rng.random(n) < p).astype(int)
    df["p_true"] = p
    return df


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    """Baseline LR, a pruned copy (x2's coefficient zeroed: still calibrated), a sharpened copy (logits x3)."""
    d = tmp_path_factory.mktemp("label_free")
    train = _rows(4000, 1)
    base = LogisticRegression(max_iter=1000).fit(train[X_COLS], train["label"])
    pruned = copy.deepcopy(base)
    pruned.coef_ = base.coef_ * np.array([1.0, 1.0, 0.0])
    sharp = copy.deepcopy(pruned)
    sharp.coef_, sharp.intercept_ = pruned.coef_ * 3.0, pruned.intercept_ * 3.0
    for name, model in (("baseline", base), ("pruned", pruned), ("sharp", sharp)):
        sio.dump(model, d / f"{name}.skops")
    _rows(3000, 2).drop(columns="p_true").to_csv(d / "eval.csv", index=False)
    # production near the decision boundary (accuracy falls) and with more of group b
    near = _rows(4000, 3, mean=(0.0, 0.2, 0.0), scale=0.4, p_b=0.7)
    near.drop(columns="p_true").to_parquet(d / "near.parquet", index=False)
    write_yaml(d / "policy.yaml", {"name": "p", "rules": [{"id": "L", "kind": "label_free_performance",
                                                           "max_drop": 0.05}]})
    models = {"pruned": pruned, "sharp": sharp}
    return d, models, near


def _manifest(d, candidate: str, production: str):
    return write_yaml(d / f"release-{candidate}-{production}.yaml", {
        "name": "lf", "version": "1", "task": "binary_classification", "positive_label": 1,
        "baseline": {"path": "baseline.skops", "format": "skops"},
        "candidate": {"path": f"{candidate}.skops", "format": "skops"},
        "data": {"path": "eval.csv", "target": "label", "sensitive": ["group"], "chunk_rows": 1000},
        "evaluation": FAST, "policy": "policy.yaml",
        "production": {"path": f"{production}.parquet", "target": "label", "chunk_rows": 1500}})


def _truth(model, rows: pd.DataFrame) -> tuple[float, float]:
    """(realized accuracy on the kept-aside labels, noise-free accuracy from the true probabilities)."""
    pred = model.predict(rows[X_COLS])
    noise_free = np.where(pred == 1, rows["p_true"], 1.0 - rows["p_true"]).mean()
    return float(np.mean(pred == rows["label"])), float(noise_free)


def test_a_calibrated_candidate_s_estimate_tracks_a_covariate_shift_and_the_rule_fails_the_real_drop(release):
    d, models, near = release
    rule = {"id": "L", "kind": "label_free_performance", "max_drop": 0.05, "dimensions": ["group"]}
    (f,), ev = gate(_manifest(d, "pruned", "near"), rule)
    est = ev.production.estimate.models["candidate"]
    realized, noise_free = _truth(models["pruned"], near)
    evaluation = ev.models["candidate"].overall["accuracy"]
    assert ev.calibration.models["candidate"].ece <= 0.05  # the precondition holds: well specified, so calibrated
    assert est.realized_accuracy == pytest.approx(realized, abs=1e-12) and est.labelled_rows == 4000
    assert abs(est.expected_accuracy - realized) < TOLERANCE
    assert abs(est.expected_accuracy - noise_free) < 0.01  # against the truth without label noise: tighter
    assert evaluation - realized > 0.1  # the shift is real: the evaluation accuracy would miss it
    for value in ("a", "b"):
        rows = near[near["group"] == value]
        s = ev.production.estimate.slices["group"][value]["candidate"]
        assert abs(s.expected_accuracy - _truth(models["pruned"], rows)[0]) < 2 * TOLERANCE
    assert f.status == Status.FAIL and f.observed == pytest.approx(evaluation - est.expected_accuracy)
    assert f.details["assumptions"] == ASSUMPTIONS and "Assumes (CBPE): calibrated probabilities" in f.message
    assert f.details["realized_accuracy"] == pytest.approx(realized)


def test_the_estimate_passes_a_limit_the_shift_stays_within_and_fails_a_floor_above_it(release):
    d, _, _ = release
    rules = [{"id": "OK", "kind": "label_free_performance", "max_drop": 0.3},
             {"id": "FLOOR", "kind": "label_free_performance", "min_accuracy": 0.8}]
    (ok, floor), ev = gate(_manifest(d, "pruned", "near"), *rules)
    assert ok.status == Status.PASS and floor.status == Status.FAIL
    assert floor.observed == pytest.approx(ev.production.estimate.models["candidate"].expected_accuracy)


def test_a_sharpened_candidate_is_refused_as_not_calibrated_and_its_estimate_would_be_wrong(release):
    d, models, near = release
    (f,), ev = gate(_manifest(d, "sharp", "near"), {"id": "L", "kind": "label_free_performance", "max_drop": 0.05})
    ece = ev.calibration.models["candidate"].ece
    assert ece > 0.05 and f.status == Status.INCONCLUSIVE
    assert f.message.startswith(NOT_CALIBRATED.format(ece=f"{ece:.4f}", limit="0.0500").split(" (")[0])
    assert f"ECE {ece:.4f} > 0.0500" in f.message
    realized, _ = _truth(models["sharp"], near)
    assert ev.production.estimate.models["candidate"].expected_accuracy - realized > 0.1  # overconfident: why


def test_multiclass_estimate_of_a_well_specified_softmax_model_is_within_tolerance():
    rng = np.random.default_rng(5)
    w = np.array([[2.0, 0.0], [-1.0, 1.7], [-1.0, -1.7]])

    def draw(n, mean, scale):
        X = rng.normal(mean, scale, size=(n, 2))
        logits = X @ w.T
        p = np.exp(logits - logits.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        y = (rng.random((n, 1)) > np.cumsum(p, axis=1)).sum(axis=1)
        return X, y, p

    X, y, _ = draw(4000, 0.0, 1.0)
    model = LogisticRegression(max_iter=1000).fit(X, y)
    Xp, yp, p_true = draw(4000, 0.3, 0.6)
    proba = model.predict_proba(Xp)
    obs = ProductionScores(3, None)
    for lo in range(0, 4000, 1000):
        sl = slice(lo, lo + 1000)
        obs.update(ProductionChunk(lo, pa.table({"x": Xp[sl, 0]}), np.zeros(1000, np.int64),
                                   {"baseline": proba[sl], "candidate": proba[sl]}, yp[sl]))
    est = build_estimate(obs, {}).models["candidate"]
    pred = proba.argmax(axis=1)
    assert est.expected_accuracy == pytest.approx(proba.max(axis=1).mean(), rel=1e-12)
    assert est.realized_accuracy == pytest.approx(np.mean(pred == yp))
    assert abs(est.expected_accuracy - est.realized_accuracy) < TOLERANCE
    assert abs(est.expected_accuracy - p_true[np.arange(4000), pred].mean()) < 0.015
    assert est.expected_precision is None  # binary only


def test_binary_expected_confusion_is_the_sum_of_probabilities_and_tracks_precision_and_recall(release):
    d, models, near = release
    (_,), ev = gate(_manifest(d, "pruned", "near"), {"id": "L", "kind": "label_free_performance", "max_drop": 0.3})
    est = ev.production.estimate.models["candidate"]
    p = models["pruned"].predict_proba(near[X_COLS])[:, 1]
    says = p > 0.5
    assert est.expected_confusion["tp"] == pytest.approx(p[says].sum(), rel=1e-9)
    assert est.expected_confusion["fn"] == pytest.approx(p[~says].sum(), rel=1e-9)
    assert est.expected_precision == pytest.approx(p[says].mean(), rel=1e-9)
    assert abs(est.expected_precision - est.realized_precision) < 2 * TOLERANCE
    assert abs(est.expected_recall - est.realized_recall) < 2 * TOLERANCE
