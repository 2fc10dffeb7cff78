"""Paired bootstrap intervals, calibration, class slices and exemplars, against slow or library oracles."""

from __future__ import annotations

import numpy as np
import pytest
from builders import random_release as _random_release
from scipy.stats import false_discovery_control
from sklearn.calibration import calibration_curve
from sklearn.metrics import brier_score_loss, recall_score

from governance.evidence.accumulator import Accumulator
from governance.evidence.bootstrap import SliceRef, interval, resample_metrics
from governance.rules.stats import reject


def _fold(y, pb, pc, cells, keys, chunk, register=None):
    acc = Accumulator(2, 1, examples=15, seed=3)
    acc.cell_ids(register or keys)  # the order in which cells first appear
    ids = acc.cell_ids(keys)
    for s in range(0, len(y), chunk):
        part = slice(s, s + chunk)
        acc.update(ids[cells[part]], y[part], pb[part], pc[part], rows=np.arange(len(y))[part])
    return acc


def _data(n, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    pb = np.clip(np.where(y == 1, 0.7, 0.3) + rng.normal(0, 0.25, n), 0, 1)
    pc = np.clip(pb + rng.normal(0, 0.15, n), 0, 1)
    cells = rng.integers(0, 3, n)
    return y, np.stack([1 - pb, pb], 1), np.stack([1 - pc, pc], 1), cells


def test_multinomial_bootstrap_matches_a_slow_row_bootstrap():
    y, pb, pc, cells = _data(300)
    acc = _fold(y, pb, pc, cells, [("a",), ("b",), ("c",)], 64)
    R = 4000
    fast = resample_metrics(acc, {"all": SliceRef([0, 1, 2]), "a": SliceRef([0])}, R, seed=1)
    rng = np.random.default_rng(2)
    predb, predc = pb.argmax(1), pc.argmax(1)
    slow_diff, slow_a = [], []
    for _ in range(R):
        idx = rng.integers(0, len(y), len(y))
        slow_diff.append(np.mean(predc[idx] == y[idx]) - np.mean(predb[idx] == y[idx]))
        m = cells[idx] == 0
        slow_a.append(recall_score(y[idx][m], predc[idx][m], zero_division=0))
    fast_diff = fast["all"]["candidate:accuracy"] - fast["all"]["baseline:accuracy"]
    # same distribution within Monte-Carlo error: mean, spread and the interval's ends
    assert np.mean(fast_diff) == pytest.approx(np.mean(slow_diff), abs=0.002)
    assert np.std(fast_diff) == pytest.approx(np.std(slow_diff), rel=0.06)
    assert np.allclose(interval(fast_diff, 0.95), np.quantile(slow_diff, [0.025, 0.975]), atol=0.006)
    assert np.std(fast["a"]["candidate:recall"]) == pytest.approx(np.std(slow_a), rel=0.08)


def test_paired_interval_is_narrower_than_unpaired():
    y, pb, pc, cells = _data(500, seed=4)
    acc = _fold(y, pb, pc, cells, [("a",), ("b",), ("c",)], 100)
    draws = resample_metrics(acc, {"all": SliceRef([0, 1, 2])}, 2000, seed=0)["all"]
    paired = np.std(draws["candidate:accuracy"] - draws["baseline:accuracy"])
    unpaired = np.hypot(np.std(draws["candidate:accuracy"]), np.std(draws["baseline:accuracy"]))
    assert paired < 0.8 * unpaired


def test_bootstrap_is_seeded_and_independent_of_chunking_and_arrival_order():
    y, pb, pc, cells = _data(400, seed=5)
    a = _fold(y, pb, pc, cells, [("a",), ("b",), ("c",)], 37)
    b = _fold(y, pb, pc, cells, [("a",), ("b",), ("c",)], 400, register=[("c",), ("a",), ("b",)])
    ra = resample_metrics(a, {"x": SliceRef([a.keys.index(("a",))])}, 300, seed=9)
    rb = resample_metrics(b, {"x": SliceRef([b.keys.index(("a",))])}, 300, seed=9)
    for key in ra["x"]:
        np.testing.assert_array_equal(ra["x"][key], rb["x"][key])
    assert list(a.broken_rows) == list(b.broken_rows)


def test_broken_examples_are_broken_flips_and_bounded():
    y, pb, pc, cells = _data(600, seed=6)
    acc = _fold(y, pb, pc, cells, [("a",), ("b",), ("c",)], 50)
    broken = np.flatnonzero((pb.argmax(1) == y) & (pc.argmax(1) != y))
    assert len(broken) > 15 and len(acc.broken_rows) == 15
    assert set(acc.broken_rows) <= set(broken)
    halves = _fold(y[:300], pb[:300], pc[:300], cells[:300], [("a",), ("b",), ("c",)], 50)
    rest = Accumulator(2, 1, examples=15, seed=3)
    ids = rest.cell_ids([("a",), ("b",), ("c",)])
    rest.update(ids[cells[300:]], y[300:], pb[300:], pc[300:], rows=np.arange(300, 600))
    assert list(halves.merge(rest).broken_rows) == list(acc.broken_rows)


def test_calibration_matches_sklearn_calibration_curve_and_brier():
    y, pb, pc, cells = _data(800, seed=7)
    acc = _fold(y, pb, pc, cells, [("a",), ("b",), ("c",)], 128)
    cal = acc.calibration([0, 1, 2], 1, curve=True)
    frac_pos, mean_pred = calibration_curve(y, pc[:, 1], n_bins=15, strategy="uniform")
    filled = [i for i, c in enumerate(cal["reliability"]["count"]) if c]
    assert np.allclose([cal["reliability"]["accuracy"][i] for i in filled], frac_pos, atol=1e-12)
    assert np.allclose([cal["reliability"]["mean_confidence"][i] for i in filled], mean_pred, atol=1e-12)
    counts = np.array([cal["reliability"]["count"][i] for i in filled])
    assert cal["ece"] == pytest.approx(np.sum(counts / len(y) * np.abs(frac_pos - mean_pred)), abs=1e-12)
    assert cal["brier"] == pytest.approx(brier_score_loss(y, pc[:, 1]), abs=1e-12)


def test_class_slices_give_per_class_recall(tmp_path):
    df, probs, ev = _random_release(tmp_path, 8, n=450, k=3, chunk=100)
    y = df["label"].to_numpy()
    for role, proba in probs.items():
        per_class = recall_score(y, proba.argmax(1), average=None)
        for k in range(3):
            stats = ev.models[role].slices["class"][str(k)]
            assert stats["accuracy"] == pytest.approx(per_class[k], abs=1e-12)
            assert stats["share"] == pytest.approx(np.mean(y == k), abs=1e-12)
    assert ev.comparisons is not None
    comp = ev.comparisons.slices["class"]["0"]["accuracy"]
    assert comp.difference_ci.ci_low <= comp.difference <= comp.difference_ci.ci_high


@pytest.mark.parametrize("seed", range(5))
def test_bh_matches_scipy_and_holm_is_stricter(seed):
    p = np.random.default_rng(seed).uniform(0, 0.2, 12) ** 2
    ours = reject(list(p), 0.05, "bh")
    assert ours == list(false_discovery_control(p, method="bh") <= 0.05)
    holm = reject(list(p), 0.05, "holm")
    assert sum(holm) <= sum(ours)
    assert all(not h or b for h, b in zip(holm, ours))


def test_holm_by_hand():
    assert reject([0.01, 0.04, 0.03, 0.005], 0.05, "holm") == [True, False, False, True]
    assert reject([0.01, 0.02, 0.03, 0.04], 0.05, "bh") == [True, True, True, True]
