"""Production-weighted evidence (governance/evidence/weighting.py): post-stratified count metrics and their intervals.

The oracle is a row-level weighted computation: sklearn's metrics with ``sample_weight`` = production share /
evaluation share of each row's cell, on the rows themselves, not on the counts the module uses."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score, precision_score, recall_score

from governance.evidence.accumulator import Accumulator, SliceRef
from governance.evidence.bootstrap import interval, resample_metrics
from governance.evidence.weighting import METHOD, WeightedEvidence, build_weighted
from governance.manifest import BootstrapSpec

SENSITIVE = ["sex", "race"]


def _one_hot(pred: np.ndarray, k: int) -> np.ndarray:
    out = np.zeros((len(pred), k))
    out[np.arange(len(pred)), pred] = 1.0
    return out


def _accumulate(sex: np.ndarray, race: np.ndarray, y: np.ndarray, base: np.ndarray, cand: np.ndarray, k: int,
                positive: int | None, chunk: int = 173) -> Accumulator:
    """The evaluation counts, folded in chunks as collect does."""
    acc = Accumulator(k, positive, roc_auc=False)
    for lo in range(0, len(y), chunk):
        sl = slice(lo, lo + chunk)
        cells = acc.cell_ids(list(zip(sex[sl], race[sl])))
        acc.update(cells, y[sl], _one_hot(base[sl], k), _one_hot(cand[sl], k))
    return acc


def _random_rows(rng: np.random.Generator, n: int, k: int) -> tuple[np.ndarray, ...]:
    sex = rng.choice(["f", "m"], size=n, p=[0.3, 0.7])
    race = rng.choice(["r1", "r2", "r3"], size=n, p=[0.6, 0.3, 0.1])
    y = rng.integers(0, k, size=n)
    base = np.where(rng.random(n) < 0.8, y, rng.integers(0, k, size=n))
    cand = np.where(rng.random(n) < 0.85, base, rng.integers(0, k, size=n))
    return sex, race, y, base, cand


def _production(rng: np.random.Generator, columns: dict[str, list[str]], m: int, p: list[float]
                ) -> tuple[list[tuple[str, ...]], np.ndarray]:
    """Production cells (every combination of ``columns``' values, in order) and rows drawn with shares ``p``."""
    grids = np.meshgrid(*columns.values(), indexing="ij")
    keys = list(zip(*(g.ravel() for g in grids)))
    return keys, rng.multinomial(m, p)


def _row_weights(frame_keys: list[tuple[str, ...]], keys: list[tuple[str, ...]], rows: np.ndarray) -> np.ndarray:
    """Each evaluation row's production share / evaluation share of its cell."""
    prod = dict(zip(keys, rows / rows.sum()))
    share = {key: c / len(frame_keys) for key, c in Counter(frame_keys).items()}
    return np.array([prod.get(key, 0.0) / share[key] for key in frame_keys])


def _oracle(y: np.ndarray, pred: np.ndarray, w: np.ndarray, positive: int | None) -> dict[str, float]:
    keep = w > 0  # rows of cells production lacks do not exist in production
    y, pred, w = y[keep], pred[keep], w[keep]
    avg = "binary" if positive is not None else "macro"
    extra = {"pos_label": positive} if positive is not None else {}
    out = {
        "accuracy": accuracy_score(y, pred, sample_weight=w),
        "balanced_accuracy": balanced_accuracy_score(y, pred, sample_weight=w),
        "precision": precision_score(y, pred, average=avg, sample_weight=w, zero_division=0, **extra),
        "recall": recall_score(y, pred, average=avg, sample_weight=w, zero_division=0, **extra),
        "f1": f1_score(y, pred, average=avg, sample_weight=w, zero_division=0, **extra),
    }
    if positive is not None:
        pos, neg = y == positive, y != positive
        hit = pred == positive
        out["selection_rate"] = float(np.sum(w * hit) / np.sum(w))
        out["false_positive_rate"] = float(np.sum(w * (hit & neg)) / np.sum(w * neg))
        out["false_negative_rate"] = float(np.sum(w * (~hit & pos)) / np.sum(w * pos))
    return out


@pytest.mark.parametrize("k,positive", [(2, 1), (2, 0), (4, None)])
@pytest.mark.parametrize("by", [["sex", "race"], ["race"]])
def test_weighted_point_estimates_equal_sklearn_with_row_weights(k, positive, by):
    rng = np.random.default_rng(k * 10 + (positive or 0) + len(by))
    sex, race, y, base, cand = _random_rows(rng, 2000, k)
    acc = _accumulate(sex, race, y, base, cand, k, positive)
    columns = {"sex": ["f", "m"], "race": ["r1", "r2", "r3"]}
    columns = {c: columns[c] for c in by}
    shares = rng.dirichlet(np.ones(int(np.prod([len(v) for v in columns.values()]))))
    keys, rows = _production(rng, columns, 5000, list(shares))
    out = build_weighted(acc, SENSITIVE, keys, rows, by, BootstrapSpec(resamples=0), [str(i) for i in range(k)],
                         positive)
    assert isinstance(out, WeightedEvidence) and out.by == by and out.uncovered_share == 0
    frame_keys = [tuple(v) for v in zip(*({"sex": sex, "race": race}[c] for c in by))]
    w = _row_weights(frame_keys, keys, rows)
    for role, pred in (("baseline", base), ("candidate", cand)):
        expected = _oracle(y, pred, w, positive)
        got = {m: getattr(c, role) for m, c in out.overall.items()}
        assert set(got) == set(expected)
        for metric, value in expected.items():
            assert got[metric] == pytest.approx(value, abs=1e-12), (role, metric)
    acc_cmp = out.overall["accuracy"]
    assert acc_cmp.difference == pytest.approx(acc_cmp.candidate - acc_cmp.baseline)
    assert acc_cmp.difference_ci is None  # resamples 0: no intervals
    # the cells say what was weighted and by how much
    by_key = {tuple(c.key): c for c in out.cells}
    assert sum(c.production_rows for c in out.cells) == rows.sum()
    assert sum(c.evaluation_rows for c in out.cells) == len(y)
    first = frame_keys[0]
    assert by_key[first].weight == pytest.approx(w[0])


def test_weighting_to_the_evaluation_shares_changes_nothing():
    rng = np.random.default_rng(3)
    sex, race, y, base, cand = _random_rows(rng, 1500, 2)
    acc = _accumulate(sex, race, y, base, cand, 2, 1)
    keys = sorted(set(zip(sex, race)))
    rows = np.array([np.sum((sex == s) & (race == r)) for s, r in keys]) * 3  # the same shares, more rows
    out = build_weighted(acc, SENSITIVE, keys, rows, SENSITIVE, BootstrapSpec(resamples=0), ["0", "1"], 1)
    assert out is not None
    assert out.overall["accuracy"].baseline == pytest.approx(accuracy_score(y, base))
    assert out.overall["f1"].candidate == pytest.approx(f1_score(y, cand))
    assert all(c.weight == pytest.approx(1.0) for c in out.cells)


def test_cells_production_has_and_evaluation_lacks_are_reported_and_left_out():
    rng = np.random.default_rng(4)
    sex, race, y, base, cand = _random_rows(rng, 1200, 2)
    acc = _accumulate(sex, race, y, base, cand, 2, 1)
    keys = [("r1",), ("r2",), ("r3",), ("r9",)]
    rows = np.array([100, 100, 100, 100])
    out = build_weighted(acc, SENSITIVE, keys, rows, ["race"], BootstrapSpec(resamples=50), ["0", "1"], 1)
    assert out is not None
    assert out.uncovered_share == pytest.approx(0.25) and out.uncovered_cells == [["r9"]]
    assert out.notes and "25.00%" in out.notes[0]
    assert {tuple(c.key): c.weight for c in out.cells}[("r9",)] is None
    # the metric covers the three covered cells, renormalised: equal production shares among them
    covered = build_weighted(acc, SENSITIVE, keys[:3], rows[:3], ["race"], BootstrapSpec(resamples=0), ["0", "1"], 1)
    assert covered is not None and covered.uncovered_share == 0
    assert out.overall["accuracy"].candidate == pytest.approx(covered.overall["accuracy"].candidate)
    assert out.overall["accuracy"].difference_ci is not None  # intervals over the covered cells


def test_evaluation_cells_production_lacks_get_weight_zero():
    rng = np.random.default_rng(5)
    sex, race, y, base, cand = _random_rows(rng, 1200, 2)
    acc = _accumulate(sex, race, y, base, cand, 2, 1)
    out = build_weighted(acc, SENSITIVE, [("r1",)], np.array([50]), ["race"], BootstrapSpec(resamples=0),
                         ["0", "1"], 1)
    assert out is not None
    only = race == "r1"
    assert out.overall["accuracy"].baseline == pytest.approx(accuracy_score(y[only], base[only]))
    assert {tuple(c.key): (c.production_rows, c.weight) for c in out.cells}[("r3",)] == (0, 0.0)


def test_no_sensitive_column_in_production_means_no_weighted_evidence():
    rng = np.random.default_rng(6)
    acc = _accumulate(*_random_rows(rng, 300, 2), 2, 1)
    assert build_weighted(acc, SENSITIVE, [()], np.array([300]), [], BootstrapSpec(resamples=10), ["0", "1"], 1) \
        is None


def test_the_evidence_serialises_and_states_its_method():
    rng = np.random.default_rng(7)
    sex, race, y, base, cand = _random_rows(rng, 800, 3)
    acc = _accumulate(sex, race, y, base, cand, 3, None)
    keys, rows = _production(rng, {"sex": ["f", "m"]}, 400, [0.5, 0.5])
    out = build_weighted(acc, SENSITIVE, keys, rows, ["sex"], BootstrapSpec(resamples=40, seed=2), ["a", "b", "c"],
                         None)
    assert out is not None and out.method == METHOD and "resampled too" in METHOD
    assert "selection_rate" not in out.overall  # a binary-only rate, undefined for a multiclass task
    again = WeightedEvidence.model_validate_json(out.model_dump_json())
    assert again == out
    # deterministic under the seed
    assert build_weighted(acc, SENSITIVE, keys, rows, ["sex"], BootstrapSpec(resamples=40, seed=2), ["a", "b", "c"],
                          None) == out


# ---- intervals: coverage and width on a population whose production-weighted truth is known ---------------------

#: cell -> (evaluation share, production share, baseline accuracy, P(candidate right | baseline right),
#: P(candidate right | baseline wrong))
POPULATION = {"a": (0.9, 0.5, 0.90, 0.97, 0.30), "b": (0.1, 0.5, 0.80, 0.80, 0.30)}


def _truth() -> float:
    """The production-weighted accuracy difference (candidate - baseline) of the population."""
    d = 0.0
    for _, prod, acc_b, keep, fix in POPULATION.values():
        acc_c = acc_b * keep + (1 - acc_b) * fix
        d += prod * (acc_c - acc_b)
    return d


def _sample(rng: np.random.Generator, n: int, m: int) -> tuple[Accumulator, list[tuple[str, ...]], np.ndarray]:
    cells = list(POPULATION)
    which = rng.choice(len(cells), size=n, p=[v[0] for v in POPULATION.values()])
    y = rng.integers(0, 2, size=n)
    acc_b, keep, fix = (np.array([POPULATION[c][i] for c in cells])[which] for i in (2, 3, 4))
    b_right = rng.random(n) < acc_b
    c_right = np.where(b_right, rng.random(n) < keep, rng.random(n) < fix)
    base, cand = np.where(b_right, y, 1 - y), np.where(c_right, y, 1 - y)
    group = np.array(cells)[which]
    acc = _accumulate(group, np.full(n, "-"), y, base, cand, 2, 1)
    rows = rng.multinomial(m, [v[1] for v in POPULATION.values()])
    return acc, [(c,) for c in cells], rows


def test_difference_intervals_cover_the_production_weighted_truth():
    rng = np.random.default_rng(11)
    truth, trials = _truth(), 120
    hits, widths, points = 0, [], []
    for t in range(trials):
        acc, keys, rows = _sample(rng, 1000, 400)
        out = build_weighted(acc, SENSITIVE, keys, rows, ["sex"], BootstrapSpec(resamples=200, seed=t),
                             ["0", "1"], 1)
        assert out is not None
        comp = out.overall["accuracy"]
        ci = comp.difference_ci
        assert ci is not None and ci.ci_low <= comp.difference <= ci.ci_high
        hits += ci.ci_low <= truth <= ci.ci_high
        widths.append(ci.ci_high - ci.ci_low)
        points.append(comp.difference)
    assert 0.88 <= hits / trials <= 1.0
    # the interval is as wide as the estimate's spread across samples (95%: about 3.92 standard deviations)
    assert 0.75 <= np.mean(widths) / (3.92 * np.std(points)) <= 1.3
    assert abs(np.mean(points) - truth) < 0.01  # and centred on the truth: the weighting removes the shift


def test_the_weighted_interval_is_wider_than_the_unweighted_when_a_small_cell_is_up_weighted():
    rng = np.random.default_rng(12)
    acc, keys, rows = _sample(rng, 1000, 100_000)
    out = build_weighted(acc, SENSITIVE, keys, rows, ["sex"], BootstrapSpec(resamples=400), ["0", "1"], 1)
    assert out is not None
    plain = resample_metrics(acc, {"all": SliceRef(list(range(len(acc.keys))))}, 400, 0)["all"]
    ci = interval(plain["candidate:accuracy"] - plain["baseline:accuracy"], 0.95)
    assert ci is not None
    weighted = out.overall["accuracy"].difference_ci
    assert weighted is not None
    # cell b (10% of the evaluation rows) carries half the weight: its noise dominates
    assert weighted.ci_high - weighted.ci_low > 1.3 * (ci[1] - ci[0])


# ---- regression: the sum metrics, weighted ---------------------------------------------------------------------

def _regression(rng: np.random.Generator, n: int, replicates: int, chunk: int = 211):
    from governance.evidence.regression import RegressionAccumulator

    sex = rng.choice(["f", "m"], size=n, p=[0.3, 0.7])
    race = rng.choice(["r1", "r2", "r3"], size=n, p=[0.6, 0.3, 0.1])
    y = rng.normal(size=n) * 3 + (race == "r3") * 2.0
    y[:5] = 0.0  # MAPE leaves rows with y == 0 out
    base = y + rng.normal(size=n) * 0.5
    cand = base + rng.normal(size=n) * 0.3 + (race == "r3") * 0.8
    acc = RegressionAccumulator(replicates=replicates, seed=3)
    for lo in range(0, n, chunk):
        sl = slice(lo, lo + chunk)
        acc.update(acc.cell_ids(list(zip(sex[sl], race[sl]))), y[sl], base[sl], cand[sl], lo)
    return acc, sex, race, y, base, cand


@pytest.mark.parametrize("by", [["sex", "race"], ["race"]])
def test_weighted_regression_metrics_equal_sklearn_with_row_weights(by):
    from sklearn.metrics import mean_absolute_error, r2_score, root_mean_squared_error

    rng = np.random.default_rng(21 + len(by))
    acc, sex, race, y, base, cand = _regression(rng, 3000, 0)
    columns = {c: {"sex": ["f", "m"], "race": ["r1", "r2", "r3"]}[c] for c in by}
    shares = rng.dirichlet(np.ones(int(np.prod([len(v) for v in columns.values()]))))
    keys, rows = _production(rng, columns, 4000, list(shares))
    out = build_weighted(acc, SENSITIVE, keys, rows, by, BootstrapSpec(resamples=0))
    assert out is not None and out.uncovered_share == 0
    frame_keys = [tuple(v) for v in zip(*({"sex": sex, "race": race}[c] for c in by))]
    w = _row_weights(frame_keys, keys, rows)
    nonzero = y != 0
    for role, pred in (("baseline", base), ("candidate", cand)):
        e = pred - y
        expected = {
            "mae": mean_absolute_error(y, pred, sample_weight=w),
            "rmse": root_mean_squared_error(y, pred, sample_weight=w),
            "r2": r2_score(y, pred, sample_weight=w),
            "mean_error": float(np.sum(w * e) / np.sum(w)),
            "abs_mean_error": abs(float(np.sum(w * e) / np.sum(w))),
            "mape": float(np.sum(w[nonzero] * np.abs(e[nonzero]) / np.abs(y[nonzero])) / np.sum(w[nonzero])),
        }
        got = {m: getattr(c, role) for m, c in out.overall.items()}
        assert set(got) == set(expected)
        for metric, value in expected.items():
            assert got[metric] == pytest.approx(value, rel=1e-9, abs=1e-12), (role, metric)


def test_weighted_regression_intervals_come_from_the_replicates_and_hold_the_estimate():
    rng = np.random.default_rng(31)
    acc, *_ = _regression(rng, 2000, 200)
    keys, rows = _production(rng, {"race": ["r1", "r2", "r3"]}, 2000, [0.3, 0.3, 0.4])
    out = build_weighted(acc, SENSITIVE, keys, rows, ["race"], BootstrapSpec(resamples=200, seed=3))
    assert out is not None and "Poisson" in out.method
    for metric in ("mae", "rmse", "r2", "abs_mean_error"):
        comp = out.overall[metric]
        assert comp.difference_ci is not None and comp.difference is not None
        assert comp.difference_ci.ci_low <= comp.difference <= comp.difference_ci.ci_high, metric
    # r3 (10% of the evaluation rows, 40% of production) is where the candidate's error grows: weighted, it shows
    plain = acc.metrics(list(range(len(acc.keys))), 1)["mae"] - acc.metrics(list(range(len(acc.keys))), 0)["mae"]
    assert out.overall["mae"].difference > plain + 0.05
    assert out.overall["mae"].difference_ci.ci_low > plain
