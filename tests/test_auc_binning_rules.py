"""A rule on a binned ROC AUC never passes what the exact tables would fail.

Past ``evaluation.roc_auc_exact_budget`` the AUC is binned with a stated bound on its error. Here both models put
every score inside one bin of the grid (scores within 5e-4 of 0.2998, a bin
of [0.29883, 0.30078]), so the binned AUCs are both 0.5 (a drop of 0)
while the exact ones differ by about 0.3: without the bound a drop rule would pass. With it the rule is
inconclusive (it blocks), and a rule the bound cannot flip still passes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from builders import FAST, gate, write_yaml
from sklearn.metrics import roc_auc_score

from governance.findings import Status
from governance.rules.performance import AUC_BINNING_UNSURE, AUC_BINNING_UNSURE_SLICES

ROWS = 4000


def _release(d: Path, *, spread: float, budget: int = 0) -> tuple[Path, dict[str, float]]:
    """Binary predictions: baseline scores follow the label closely, candidate scores loosely; all scores are
    0.2998 + ``spread`` x a signal in (-1, 1), so a small ``spread`` puts every score of both models in one bin.
    Returns the manifest and the exact AUCs."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, ROWS)
    group = np.array(["a", "b"])[rng.integers(0, 2, ROWS)]
    signal = {"baseline": (2 * y - 1) + 0.8 * rng.normal(size=ROWS),
              "candidate": (2 * y - 1) + 3.0 * rng.normal(size=ROWS)}
    exact = {}
    for role, s in signal.items():
        p = 0.2998 + spread * np.tanh(s / 4)
        pd.DataFrame({"p1": p}).to_parquet(d / f"{role}.parquet")
        exact[role] = float(roc_auc_score(y, p))
    pd.DataFrame({"f0": rng.normal(size=ROWS), "group": group, "label": y}).to_csv(d / "eval.csv", index=False)
    return write_yaml(d / "release.yaml", {
        "name": "binned-auc", "version": "1", "classes": [0, 1],
        "baseline": {"path": "baseline.parquet", "format": "predictions"},
        "candidate": {"path": "candidate.parquet", "format": "predictions"},
        "data": {"path": "eval.csv", "target": "label", "sensitive": ["group"]},
        "policy": "policy.yaml", "evaluation": {**FAST, "roc_auc_exact_budget": budget}}), exact


DROP = {"id": "AUC-DROP", "kind": "metric_drop", "metric": "roc_auc", "max_drop": 0.05}
FLOOR = {"id": "AUC-FLOOR", "kind": "metric_floor", "metric": "roc_auc", "min": 0.45}
SLICES = {"id": "AUC-SLICES", "kind": "slice_metric_drop", "metric": "roc_auc", "by": ["group"], "max_drop": 0.05}


def test_a_binned_auc_that_hides_a_drop_is_inconclusive_not_passed(tmp_path):
    manifest, exact = _release(tmp_path, spread=5e-4)
    assert exact["baseline"] - exact["candidate"] > 0.2  # the exact tables would fail the 0.05 limit
    findings, evidence = gate(manifest, DROP, FLOOR, SLICES)
    base, cand = (evidence.models[r] for r in ("baseline", "candidate"))
    assert base.roc_auc_binned is not None and cand.roc_auc_binned is not None
    assert base.overall["roc_auc"] == cand.overall["roc_auc"] == 0.5  # one bin: the binned drop is 0
    assert cand.roc_auc_binned.error_bound == 0.5 and set(cand.roc_auc_binned.slices["group"]) == {"a", "b"}
    drop, floor, slices = findings
    for f in findings:
        assert f.status == Status.INCONCLUSIVE and f.blocks, f.message
    assert AUC_BINNING_UNSURE.split("{")[0] in drop.message and "the drop is known only to within 1.0000" in \
        drop.message
    assert "the candidate's value is known only to within 0.5000" in floor.message
    assert AUC_BINNING_UNSURE_SLICES.split("{")[0] in slices.message and "group=a (within 1.0000)" in slices.message
    assert drop.details["auc_error_bound"] == 1.0


def test_a_binned_auc_whose_bound_cannot_cross_the_limit_is_judged(tmp_path):
    manifest, exact = _release(tmp_path, spread=0.29)  # scores spread over the grid: tight bounds
    rules = [{**DROP, "max_drop": 0.5}, {**FLOOR, "min": 0.5}, {**SLICES, "max_drop": 0.5}]
    findings, evidence = gate(manifest, *rules)
    bound = evidence.models["candidate"].roc_auc_binned
    assert bound is not None and bound.error_bound is not None and bound.error_bound < 0.01
    assert abs(evidence.models["candidate"].overall["roc_auc"] - exact["candidate"]) <= bound.error_bound
    assert [f.status for f in findings] == [Status.PASS] * 3, [f.message for f in findings]
    # the same limits with a failing drop still fail: the bound only ever withholds a pass
    findings, _ = gate(manifest, {**DROP, "max_drop": 0.01})
    assert findings[0].status == Status.FAIL


def test_exact_auc_rules_are_unchanged(tmp_path):
    manifest, exact = _release(tmp_path, spread=5e-4, budget=4_000_000)
    findings, evidence = gate(manifest, DROP)
    assert evidence.models["candidate"].roc_auc_binned is None
    assert abs(evidence.models["candidate"].overall["roc_auc"] - exact["candidate"]) < 1e-12
    assert findings[0].status == Status.FAIL and "auc_error_bound" not in findings[0].details
