"""The Poisson bootstrap: partition-invariant weights, their distribution, coverage by simulation, and intervals
for log loss and ROC AUC judged end to end (``decide_on: bound``)."""

from __future__ import annotations

import itertools
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml
from builders import gate, write_yaml
from scipy.stats import rankdata
from sklearn.metrics import roc_auc_score

from governance.evidence import poisson as P
from governance.evidence.accumulator import Accumulator, SliceRef
from governance.evidence.bootstrap import interval
from governance.evidence.replicates import SLICES_OVER_BUDGET, ScoreReplicates
from governance.findings import Status
from governance.metrics import clipped_neg_log


def _uneven(n: int, rng: np.random.Generator) -> list[tuple[int, int]]:
    """An uneven split of 0..n into chunks (some of one row, some across block boundaries)."""
    cuts = np.unique(np.concatenate([[0, n], rng.integers(0, n, size=12), [1, 2, P.BLOCK - 1, P.BLOCK + 1]]))
    cuts = cuts[cuts <= n]
    return [(int(a), int(b)) for a, b in itertools.pairwise(cuts)]


# -- the weights ----------------------------------------------------------------------------------------------------

def test_weights_are_the_same_however_the_rows_are_chunked():
    rng = np.random.default_rng(0)
    n, reps = 2 * P.BLOCK + 300, 130
    whole = P.weights(0, n, reps, seed=11)
    parts = np.concatenate([P.weights(a, b - a, reps, seed=11) for a, b in _uneven(n, rng)], axis=1)
    assert np.array_equal(whole, parts)
    assert not np.array_equal(whole, P.weights(0, n, reps, seed=12))  # the seed matters


def test_more_replicates_leave_the_first_ones_unchanged():
    few, many = P.weights(500, 5000, 70, seed=-3), P.weights(500, 5000, 257, seed=-3)
    assert np.array_equal(many[:70], few)
    # and the sums too: replicate_sums of more replicates extends, never redraws
    x = np.random.default_rng(1).normal(size=5000)
    assert np.allclose(P.replicate_sums(500, x, None, 1, 257, -3)[:70], P.replicate_sums(500, x, None, 1, 70, -3),
                       rtol=1e-13, atol=0)


def test_weight_distribution_is_the_documented_one_with_mean_one_and_variance_one():
    counts = np.array(P.COUNTS)
    probs = counts / 256
    k = np.arange(len(counts))
    assert counts.sum() == 256 and (probs * k).sum() == 1.0 and (probs * (k - 1) ** 2).sum() == 1.0  # exactly
    w = P.weights(0, 40_000, 100, seed=5).ravel()
    assert w.max() == len(counts) - 1
    freq = np.bincount(w, minlength=len(counts)) / w.size
    assert np.abs(freq - probs).max() < 0.002  # 4M draws: the empirical frequencies match the table
    assert abs(w.mean() - 1) < 0.002 and abs(w.var() - 1) < 0.004


def test_replicate_sums_equal_weights_times_values_and_do_not_depend_on_chunking_or_order():
    rng = np.random.default_rng(2)
    n, reps, cells = P.BLOCK + 777, 90, 7
    x = rng.normal(size=(n, 2)) * 1e3
    codes = rng.integers(0, cells, size=n)
    whole = P.replicate_sums(10, x, codes, cells, reps, seed=4)
    w = P.weights(10, n, reps, seed=4).astype(np.float64)
    direct = np.stack([np.stack([w[:, codes == c] @ x[codes == c, j] for j in range(2)], axis=1)
                       for c in range(cells)], axis=1)
    scale = 1e-12 * np.abs(x).sum()  # float64 sums agree to ~1e-12 of the magnitudes summed (order of additions)
    np.testing.assert_allclose(whole, direct, rtol=1e-12, atol=scale)
    chunks = _uneven(n, rng)
    rng.shuffle(chunks)  # any order of arrival
    parts = sum(P.replicate_sums(10 + a, x[a:b], codes[a:b], cells, reps, seed=4) for a, b in chunks)
    np.testing.assert_allclose(parts, whole, rtol=1e-12, atol=scale)


# -- log loss and ROC AUC state in the accumulator ------------------------------------------------------------------

def _scored(n: int, k: int, seed: int):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, size=n)
    probs = []
    for shift in (1.5, 1.0):
        logits = rng.normal(size=(n, k)) + shift * np.eye(k)[y]
        p = np.exp(logits)
        probs.append(p / p.sum(axis=1, keepdims=True))
    cells = rng.integers(0, 4, size=n)
    return y, probs, cells


def _fold(pieces, k, positive, reps, budget=1 << 24) -> list[Accumulator]:
    out = []
    for (a, b), (y, probs, cells) in pieces:
        acc = Accumulator(k, positive, replicates=reps, seed=9, replicate_budget=budget)
        ids = acc.cell_ids([(str(c),) for c in range(4)])
        acc.update(ids[cells[a:b]], y[a:b], probs[0][a:b], probs[1][a:b], rows=np.arange(a, b))
        out.append(acc)
    return out


def _score_draws(acc: Accumulator) -> dict:
    every = list(range(len(acc.keys)))
    named = {"all": SliceRef(every), "c1": SliceRef([acc.keys.index(("1",))]), "class0": SliceRef(every, 0)}
    points = {name: (acc.metrics(ref.cells, 0, ref.true_class)["roc_auc"],
                     acc.metrics(ref.cells, 1, ref.true_class)["roc_auc"]) for name, ref in named.items()}
    assert acc.boot is not None
    return acc.boot.draws(named, points)[0]


@pytest.mark.parametrize("k", [2, 3])
def test_log_loss_and_auc_replicates_do_not_depend_on_chunking_or_merge_order(k):
    n = P.BLOCK + 900
    data = _scored(n, k, seed=3)
    positive = 1 if k == 2 else None
    one = _fold([((0, n), data)], k, positive, 70)[0]
    rng = np.random.default_rng(4)
    parts = _fold([(c, data) for c in _uneven(n, rng)], k, positive, 70)
    rng.shuffle(parts)
    merged = parts[0]
    for p in parts[1:]:
        merged = p.merge(merged) if rng.random() < 0.5 else merged.merge(p)
    a, b = _score_draws(one), _score_draws(merged)
    assert set(a) == set(b) and set(a["all"]) == {f"{r}:{m}" for r in ("baseline", "candidate")
                                                  for m in ("log_loss", "roc_auc")}
    assert set(a["class0"]) == {"baseline:log_loss", "candidate:log_loss"}  # AUC is undefined within one class
    for name in a:
        for key in a[name]:
            np.testing.assert_allclose(b[name][key], a[name][key], rtol=1e-12, err_msg=f"{name} {key}")


def test_auc_replicates_are_centred_on_the_exact_point_and_as_wide_as_a_row_bootstrap():
    n = 2000
    y, probs, cells = _scored(n, 2, seed=6)
    acc = _fold([((0, n), (y, probs, cells))], 2, 1, 300)[0]
    exact = acc.metrics(list(range(4)), 0)["roc_auc"]
    assert exact == pytest.approx(roc_auc_score(y, probs[0][:, 1]), abs=1e-12)
    reps = _score_draws(acc)["all"]["baseline:roc_auc"]
    assert abs(np.median(reps) - exact) < 0.004
    rng = np.random.default_rng(7)  # independent check: resample rows, AUC by the rank-sum (Mann-Whitney) formula
    oracle = []
    for _ in range(300):
        r = rng.integers(0, n, size=n)
        pos, ranks = y[r] == 1, rankdata(probs[0][r, 1])
        oracle.append((ranks[pos].sum() - pos.sum() * (pos.sum() + 1) / 2) / (pos.sum() * (~pos).sum()))
    assert np.std(reps) == pytest.approx(np.std(oracle), rel=0.15)


def test_over_the_budget_slices_lose_their_interval_and_the_state_says_why():
    n = 2000
    data = _scored(n, 2, seed=8)
    acc = _fold([((0, n), data)], 2, 1, 50, budget=3 * 50 * 4 + 50 * 1024)[0]  # log loss per cell; AUC overall only
    draws = _score_draws(acc)
    assert "baseline:roc_auc" in draws["all"] and "baseline:roc_auc" not in draws["c1"]
    assert "baseline:log_loss" in draws["c1"]
    assert acc.boot is not None
    _, missing = acc.boot.draws({"c1": SliceRef([1])}, {})
    assert missing["roc_auc"] == SLICES_OVER_BUDGET.format(metric="roc_auc", need=4 * 1024 * 50, cells=4,
                                                           budget=3 * 50 * 4 + 50 * 1024)


# -- coverage by simulation -----------------------------------------------------------------------------------------

def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


#: two fixed models of a population where P(y = 1 | x) = sigmoid(x), x ~ N(0, 1)
MODELS = ((0.7, 0.3), (1.3, -0.2))  # (slope, intercept)


def _true_log_loss(slope: float, intercept: float) -> float:
    """The population log loss, by quadrature over x ~ N(0, 1) (independent of the bootstrap code)."""
    x = np.linspace(-9, 9, 200_001)
    density = np.exp(-x * x / 2) / np.sqrt(2 * np.pi)
    q, p = _sigmoid(x), _sigmoid(slope * x + intercept)
    loss = -(q * np.log(p) + (1 - q) * np.log(1 - p))
    return float(np.sum(loss * density) * (x[1] - x[0]))


def test_poisson_intervals_cover_a_mean_a_log_loss_and_a_paired_difference_at_least_93_percent():
    runs, n, reps = 400, 300, 200
    truth = [_true_log_loss(*m) for m in MODELS]
    rng = np.random.default_rng(2026)
    hits = {"mean": 0, "log_loss": 0, "difference": 0}
    for run in range(runs):
        # a mean: exponential rows (skewed), true mean 1, through replicate_sums directly
        v = rng.exponential(size=n)
        s = P.replicate_sums(run * n, np.column_stack([np.ones(n), v]), None, 1, reps, seed=run)[:, 0]
        lo, hi = interval(s[:, 1] / s[:, 0], 0.95) or (np.nan, np.nan)
        hits["mean"] += lo <= 1.0 <= hi
        # log loss of two models on the same rows, through the accumulator's replicate state
        x = rng.normal(size=n)
        y = (rng.random(n) < _sigmoid(x)).astype(np.int64)
        probs = [np.column_stack([1 - _sigmoid(a * x + b), _sigmoid(a * x + b)]) for a, b in MODELS]
        state = ScoreReplicates(2, [], reps, seed=run)
        state.grow(1)
        state.update(0, np.zeros(n, dtype=np.int64), y,
                     (clipped_neg_log(probs[0][np.arange(n), y]), clipped_neg_log(probs[1][np.arange(n), y])),
                     (probs[0], probs[1]))
        d = state.draws({"all": SliceRef([0])}, {})[0]["all"]
        lo, hi = interval(d["baseline:log_loss"], 0.95) or (np.nan, np.nan)
        hits["log_loss"] += lo <= truth[0] <= hi
        lo, hi = interval(d["candidate:log_loss"] - d["baseline:log_loss"], 0.95) or (np.nan, np.nan)
        hits["difference"] += lo <= truth[1] - truth[0] <= hi
    coverage = {k: v / runs for k, v in hits.items()}
    assert all(c >= 0.93 for c in coverage.values()), coverage
    assert all(c <= 0.99 for c in coverage.values()), coverage  # not trivially wide


# -- decide_on: bound on ROC AUC and log loss, end to end ----------------------------------------------------------

@pytest.fixture
def bootstrapped(release_dir: Path, tmp_path: Path) -> Path:
    """The conftest release (mild and harsh candidates) with 300 bootstrap replicates."""
    d = tmp_path / "rel"
    shutil.copytree(release_dir, d)
    for name in ("release.yaml", "release-harsh.yaml"):
        manifest = yaml.safe_load((d / name).read_text())
        manifest["evaluation"] = {"bootstrap": {"resamples": 300}, "latency": None, "robustness": None}
        write_yaml(d / name, manifest)
    return d


def _rules(metric: str, max_drop: float) -> list[dict]:
    return [{"id": "PERF-1", "kind": "metric_drop", "metric": metric, "max_drop": max_drop, "decide_on": "bound"},
            {"id": "PERF-2", "kind": "slice_metric_drop", "metric": metric, "by": ["group"], "max_drop": max_drop,
             "decide_on": "bound", "min_slice_size": 30}]


@pytest.mark.parametrize("metric, max_drop", [("roc_auc", 0.05), ("log_loss", 0.1)])
def test_a_bound_on_auc_or_log_loss_passes_a_mild_pruning(bootstrapped, metric, max_drop):
    findings, evidence = gate(bootstrapped / "release.yaml", *_rules(metric, max_drop))
    assert [f.status for f in findings] == [Status.PASS, Status.PASS], [f.message for f in findings]
    assert evidence.comparisons is not None and "Poisson" in evidence.comparisons.methods[metric]
    assert findings[0].details["drop_ci_high"] > findings[0].details["drop"]  # decided on the worse end


@pytest.mark.parametrize("metric, max_drop", [("roc_auc", 0.05), ("log_loss", 0.1)])
def test_a_bound_on_auc_or_log_loss_fails_a_harsh_pruning(bootstrapped, metric, max_drop):
    findings, _ = gate(bootstrapped / "release-harsh.yaml", *_rules(metric, max_drop))
    assert [f.status for f in findings] == [Status.FAIL, Status.FAIL], [f.message for f in findings]


def test_a_bound_on_a_slice_whose_interval_is_over_the_budget_errs_saying_why(bootstrapped):
    manifest = yaml.safe_load((bootstrapped / "release.yaml").read_text())
    manifest["evaluation"]["bootstrap"]["replicate_budget"] = 300 * 1024  # AUC overall only
    write_yaml(bootstrapped / "release.yaml", manifest)
    findings, evidence = gate(bootstrapped / "release.yaml", *_rules("roc_auc", 0.05))
    assert evidence.comparisons is not None and "roc_auc" in evidence.comparisons.missing
    assert [f.status for f in findings] == [Status.PASS, Status.ERROR]
    assert evidence.comparisons.missing["roc_auc"] in findings[1].message


def test_a_merge_that_passes_the_budget_keeps_the_overall_state_a_single_pass_would():
    n, reps = 3000, 40
    y, probs, cells = _scored(n, 2, seed=10)
    budget = 5 * 1024 * reps  # AUC per cell fits 5 cells, not 6: overall only once the sixth appears
    keys = [(str(c),) for c in range(6)]
    single = Accumulator(2, 1, replicates=reps, seed=9, replicate_budget=budget)
    code = cells + 2 * (np.arange(n) >= n // 2)  # first half in cells 0-3, second half in cells 2-5
    single.update(single.cell_ids(keys)[code], y, probs[0], probs[1], rows=np.arange(n))
    halves = []
    for part in (slice(0, n // 2), slice(n // 2, n)):
        acc = Accumulator(2, 1, replicates=reps, seed=9, replicate_budget=budget)
        present = sorted(set(code[part].tolist()))
        ids = dict(zip(present, acc.cell_ids([keys[c] for c in present])))
        acc.update(np.array([ids[c] for c in code[part]]), y[part], probs[0][part], probs[1][part],
                   rows=np.arange(n)[part])
        assert acc.boot is not None and acc.boot.auc_scope == "cell"  # four cells each: within the budget
        halves.append(acc)
    merged = halves[1].merge(halves[0])
    assert merged.boot is not None and single.boot is not None
    assert merged.boot.auc_scope == single.boot.auc_scope == "overall" and "roc_auc" in merged.boot.notes
    every = {"all": SliceRef(list(range(6)))}
    point = {"all": (0.5, 0.5)}
    a, b = single.boot.draws(every, point)[0]["all"], merged.boot.draws(every, point)[0]["all"]
    for key in a:
        np.testing.assert_allclose(b[key], a[key], rtol=1e-12, err_msg=key)


def test_the_bound_fails_an_auc_drop_whose_point_estimate_is_within_the_limit(bootstrapped):
    rule = {"id": "PERF-1", "kind": "metric_drop", "metric": "roc_auc", "max_drop": 0.09}
    (on_point, on_bound), _ = gate(bootstrapped / "release-harsh.yaml", {**rule, "decide_on": "point"},
                                   {**rule, "id": "PERF-2", "decide_on": "bound"})
    assert on_point.details["drop"] < 0.09 < on_bound.details["drop_ci_high"]
    assert (on_point.status, on_bound.status) == (Status.PASS, Status.FAIL)
