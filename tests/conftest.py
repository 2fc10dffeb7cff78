"""Shared fixtures: a small real release on disk (data, two skops models, policy, manifest).

Builders (functions that make releases, evidence, rules) live in tests/builders.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from builders import FEATURES, make_frame, write_yaml

POLICY = {
    "name": "test-policy",
    "defaults": {"min_slice_size": 30},
    "rules": [
        {"id": "PERF-001", "kind": "metric_drop", "metric": "accuracy", "max_drop": 0.01, "severity": "block",
         "rmf": ["MEASURE 2.3"], "rationale": "Pruning may cost at most one point of accuracy."},
        {"id": "PERF-002", "kind": "metric_floor", "metric": "recall", "min": 0.6, "severity": "block"},
        {"id": "FAIR-001", "kind": "slice_metric_drop", "metric": "accuracy", "by": ["group"], "max_drop": 0.03,
         "min_slice_size": 50, "severity": "block"},
        {"id": "FAIR-002", "kind": "fairness_gap", "metric": "equalized_odds_difference", "by": ["group"],
         "max": 0.3, "max_increase": 0.05, "severity": "warn"},
    ],
}


@pytest.fixture(scope="session")
def release_dir(tmp_path_factory) -> Path:
    """A real release: logistic regression baseline, a magnitude-pruned copy (smallest coefficients zeroed)
    that keeps quality, and a heavily pruned copy that loses it."""
    import copy

    import skops.io as sio
    from sklearn.linear_model import LogisticRegression

    d = tmp_path_factory.mktemp("release")
    train, evaluation = make_frame(3000, 1), make_frame(1500, 2)
    base = LogisticRegression(max_iter=1000).fit(train[FEATURES], train["label"])
    mild = copy.deepcopy(base)
    mild.coef_ = np.where(np.abs(base.coef_) < np.sort(np.abs(base.coef_[0]))[1], 0.0, base.coef_)  # zero the smallest
    harsh = copy.deepcopy(base)
    harsh.coef_ = np.where(np.abs(base.coef_) < np.abs(base.coef_).max(), 0.0, base.coef_)  # keep only the largest
    for name, model in (("baseline", base), ("pruned", mild), ("harsh", harsh)):
        sio.dump(model, d / f"{name}.skops")
    evaluation.to_csv(d / "eval.csv", index=False)
    write_yaml(d / "policy.yaml", POLICY)
    manifest = {
        "name": "credit-lr", "version": "1.1.0-pruned", "task": "binary_classification", "positive_label": 1,
        "baseline": {"path": "baseline.skops", "format": "skops"},
        "candidate": {"path": "pruned.skops", "format": "skops"},
        "data": {"path": "eval.csv", "target": "label", "sensitive": ["group", "region"], "chunk_rows": 400},
        "policy": "policy.yaml",
    }
    write_yaml(d / "release.yaml", manifest)
    write_yaml(d / "release-harsh.yaml", {**manifest, "candidate": {"path": "harsh.skops", "format": "skops"}})
    return d


@pytest.fixture(scope="session")
def noise_evidence(tmp_path_factory):
    """Evidence collected from random predictions (baseline and candidate independent noise, 1600 rows):
    real intervals and p-values for the rules that decide on them."""
    from builders import random_release

    return random_release(tmp_path_factory.mktemp("noise"), 21, n=1600)[2]
