"""Paired intervals for the |e| quantiles of task: regression: the same Poisson weights as the sum metrics, each
replicate's quantile equal to numpy.quantile of the rows repeated by their weights; none past the budgets."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from governance.evidence.poisson import weights
from governance.evidence.regression import (
    QUANTILES_KLL_NO_INTERVAL,
    RegressionAccumulator,
    weighted_quantiles,
)
from governance.metrics_regression import QUANTILES


def _fold(e_base, e_cand, cells, *, replicates, chunks=1, exact_rows=10**9):
    y = np.zeros(len(e_base))
    out = None
    for idx in np.array_split(np.arange(len(y)), chunks):
        a = RegressionAccumulator(replicates=replicates, seed=4, exact_rows=exact_rows)
        a.update(a.cell_ids([(c,) for c in cells[idx]]), y[idx], e_base[idx], e_cand[idx], int(idx[0]))
        out = a if out is None else out.merge(a)
    return out


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(0, 1000, allow_nan=False), min_size=1, max_size=80), st.integers(1, 70),
       st.integers(0, 2**31))
def test_each_replicate_is_numpy_quantile_of_the_repeated_rows(values, replicates, seed):
    v = np.sort(np.array(values))
    rows = np.random.default_rng(seed).permutation(len(v))  # the sorted values' row indices, in any order
    w = weights(0, len(v), replicates, seed)
    got = weighted_quantiles(v, w, rows, QUANTILES)
    for r in range(replicates):
        repeated = np.repeat(v, w[r, rows])
        for name, q in QUANTILES.items():
            if len(repeated) == 0:
                assert np.isnan(got[name][r])
            else:
                assert got[name][r] == pytest.approx(np.quantile(repeated, q), rel=1e-12, abs=1e-12)


def test_intervals_do_not_depend_on_chunking_and_cover_the_difference():
    rng = np.random.default_rng(0)
    n = 3000
    cells = rng.choice(["x", "y"], n)
    e_b = rng.exponential(1.0, n)
    e_c = e_b * 1.3  # the candidate's errors are 30% larger on every row
    one, many = _fold(e_b, e_c, cells, replicates=200), _fold(e_b, e_c, cells, replicates=200, chunks=7)
    w1, w2 = one.replicate_weights(), many.replicate_weights()
    np.testing.assert_array_equal(w1, w2)
    for cell in (("x",), ("y",)):
        a, b = [one.keys.index(cell)], [many.keys.index(cell)]
        d1, d2 = one.replicate_quantiles(a, w1), many.replicate_quantiles(b, w2)
        for k in d1:
            np.testing.assert_allclose(d2[k], d1[k], rtol=1e-12)
        for name, q in QUANTILES.items():
            diff = d1[f"candidate:{name}"] - d1[f"baseline:{name}"]
            point = 0.3 * np.quantile(e_b[cells == cell[0]], q)
            lo, hi = np.quantile(diff, [0.025, 0.975])
            assert lo > 0 and lo <= point <= hi  # a real rise, and the interval holds the point difference


def test_no_quantile_interval_from_sketches_or_over_the_budget():
    rng = np.random.default_rng(1)
    e = rng.exponential(size=500)
    cells = np.array(["x"] * 500)
    sketched = _fold(e, e, cells, replicates=20, exact_rows=100)
    assert sketched.quantile_intervals_missing(10**9) == QUANTILES_KLL_NO_INTERVAL.format(rows=100)
    exact = _fold(e, e, cells, replicates=20)
    assert exact.quantile_intervals_missing(10**9) is None
    assert "exceed the budget" in exact.quantile_intervals_missing(500 * 20 - 1)


def _release(d, *, replicate_budget=1 << 24, planted=0.0):
    import pandas as pd
    from builders import FAST, write_yaml

    rng = np.random.default_rng(3)
    n = 1500
    df = pd.DataFrame({"f0": rng.normal(size=n), "group": rng.choice(["a", "b"], n)})
    df["y"] = 10 * df.f0 + rng.normal(size=n)
    base = df.y + rng.normal(scale=1.0, size=n)
    cand = df.y + (base - df.y) * (1.0 + planted)
    df.to_csv(d / "eval.csv", index=False)
    pd.DataFrame({"pred": base}).to_csv(d / "baseline.csv", index=False)
    pd.DataFrame({"pred": cand}).to_csv(d / "candidate.csv", index=False)
    write_yaml(d / "policy.yaml", {"name": "p", "rules": [
        {"id": "Q-001", "kind": "metric_drop", "metric": "abs_error_p90", "max_drop": 0.1, "decide_on": "bound",
         "severity": "block", "rmf": ["MEASURE 2.3"]}]})
    write_yaml(d / "release.yaml", {
        "name": "reg", "version": "1", "task": "regression",
        "baseline": {"path": "baseline.csv", "format": "predictions"},
        "candidate": {"path": "candidate.csv", "format": "predictions"},
        "data": {"path": "eval.csv", "target": "y", "sensitive": ["group"]}, "policy": "policy.yaml",
        "evaluation": {**FAST, "bootstrap": {"resamples": 300, "seed": 1, "replicate_budget": replicate_budget}}})
    return d / "release.yaml"


@pytest.mark.parametrize("planted, expected", [(0.0, 0), (0.4, 1)])
def test_a_rule_on_the_p90_bound_decides_from_its_interval(tmp_path, capsys, planted, expected):
    from builders import run

    code, out, _ = run(capsys, "check", str(_release(tmp_path, planted=planted)), "--out", str(tmp_path / "o"))
    assert code == expected, out
    import json

    ev = json.loads((tmp_path / "o" / "evidence.json").read_text())
    comp = ev["comparisons"]["overall"]["abs_error_p90"]
    assert comp["difference_ci"] is not None and comp["difference_ci"]["ci_low"] <= comp["difference"]
    assert ev["comparisons"]["slices"]["group"]["a"]["abs_error_p99"]["candidate_ci"] is not None


def test_over_the_weight_budget_the_bound_rule_errors_naming_the_limit(tmp_path, capsys):
    from builders import run

    code, out, _ = run(capsys, "check", str(_release(tmp_path, replicate_budget=1000)), "--out", str(tmp_path / "o"))
    assert code == 1 and "replicate_budget" in out
