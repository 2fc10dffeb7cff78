"""Sparse joint counts: the same numbers as the dense (cell x K x K x K) path, draw for draw, at any K.

The oracle (tests/dense_oracle.py) is a copy of the dense accumulator and bootstrap the sparse ones replaced.
Point metrics must agree to 1e-12; the bootstrap uses the same random stream, so every resample agrees to 1e-12
too (identical intervals, not merely within Monte-Carlo error).
"""

from __future__ import annotations

import numpy as np
import pytest
from dense_oracle import DenseAccumulator
from dense_oracle import SliceRef as DenseRef
from dense_oracle import resample_metrics as dense_resample
from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score, precision_score

from governance.evidence.accumulator import Accumulator, SliceRef
from governance.evidence.bootstrap import resample_metrics

KEYS = [("a", "x"), ("b", "x"), ("a", "y"), ("c", "y")]


def _data(n: int, k: int, seed: int, noise: float = 0.6):
    """Rows over four cells (one cell left empty of rows by chance is allowed); models right most of the time."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    cells = rng.integers(0, len(KEYS), n)

    def proba(flip: float) -> np.ndarray:
        logits = rng.normal(0, noise, (n, k))
        logits[np.arange(n), y] += np.where(rng.random(n) < flip, 0.0, 2.0)
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    return y, cells, proba(0.2), proba(0.3)


def _fold(cls, k, y, cells, pb, pc, chunk=97, register=KEYS):
    acc = cls(k, 1 if k == 2 else None, roc_auc=False, examples=5, seed=1)
    acc.cell_ids(register)
    ids = acc.cell_ids(KEYS)
    for s in range(0, len(y), chunk):
        part = slice(s, s + chunk)
        acc.update(ids[cells[part]], y[part], pb[part], pc[part], rows=np.arange(len(y))[part])
    return acc


def _slices(acc, k: int, ref):
    """Overall, each cell, a union, and every class slice, by cell key (so both accumulators name the same rows)."""
    ids = [acc.keys.index(key) for key in KEYS]
    out = {"overall": ref(ids), "a": ref([ids[0], ids[2]]), "empty": ref([])}
    out.update({f"cell{i}": ref([c]) for i, c in enumerate(ids)})
    out.update({f"class{j}": ref(ids, j) for j in range(k)})
    out.update({f"a class{j}": ref([ids[0]], j) for j in range(k)})
    return out


def _close(a, b) -> None:
    assert (a is None) == (b is None), (a, b)
    if a is not None:
        assert a == pytest.approx(b, abs=1e-12)


@pytest.mark.parametrize("k,n", [(2, 700), (3, 500), (7, 900)])
def test_point_metrics_agreement_and_class_counts_equal_the_dense_path(k, n):
    y, cells, pb, pc = _data(n, k, seed=k)
    sparse, dense = _fold(Accumulator, k, y, cells, pb, pc), _fold(DenseAccumulator, k, y, cells, pb, pc)
    for (name, s), d in zip(_slices(sparse, k, SliceRef).items(), _slices(dense, k, DenseRef).values()):
        for model in (0, 1):
            got, want = sparse.metrics(s.cells, model, s.true_class), dense.metrics(d.cells, model, d.true_class)
            assert list(got) == list(want), name
            for metric in want:
                _close(got[metric], want[metric])
            assert np.array_equal(sparse.confusion(s.cells, model, s.true_class),
                                  dense.confusion(d.cells, model, d.true_class))
            if s.true_class is None:
                assert sparse.class_counts(s.cells, model) == dense.class_counts(d.cells, model)
                got_cal, want_cal = sparse.calibration(s.cells, model), dense.calibration(d.cells, model)
                assert got_cal["count"] == want_cal["count"]
                for key in ("ece", "brier"):  # multiclass Brier: computed in one pass, same value
                    _close(got_cal[key], want_cal[key])
        assert sparse.agreement(s.cells, s.true_class) == dense.agreement(d.cells, d.true_class), name
    assert sparse.agreement() == dense.agreement()
    # only the combinations that occur are kept: at most one per row, far fewer than cells x K**3
    keys, counts = sparse.combinations()
    assert counts.sum() == n and (counts > 0).all() and len(keys) == np.count_nonzero(dense.counts)


@pytest.mark.parametrize("k", [2, 3, 5])
def test_bootstrap_draws_are_the_dense_draws(k):
    y, cells, pb, pc = _data(400, k, seed=10 + k)
    # cells registered in a different order than their keys sort: the draw order must not depend on it
    register = [KEYS[2], KEYS[0], KEYS[3], KEYS[1]]
    sparse = _fold(Accumulator, k, y, cells, pb, pc, register=register)
    dense = _fold(DenseAccumulator, k, y, cells, pb, pc, register=register)
    got = resample_metrics(sparse, _slices(sparse, k, SliceRef), 230, seed=4)
    want = dense_resample(dense, _slices(dense, k, DenseRef), 230, seed=4)
    assert got.keys() == want.keys()
    for name in want:
        assert got[name].keys() == want[name].keys()
        for key in want[name]:
            np.testing.assert_allclose(got[name][key], want[name][key], rtol=0, atol=1e-12, err_msg=f"{name} {key}")


def test_bootstrap_matches_dense_when_the_last_dense_combination_occurs():
    """The dense last category (last cell, K-1, K-1, K-1) takes the multinomial's remainder; the sparse draw must
    follow the same stream whether that combination occurs or not."""
    k = 3
    y, cells, pb, pc = _data(300, k, seed=3)
    last = np.flatnonzero(cells == len(KEYS) - 1)
    y[last[:40]] = k - 1
    for p in (pb, pc):
        p[last[:40]] = np.eye(k)[k - 1] * 0.9 + 0.1 / k
    sparse, dense = _fold(Accumulator, k, y, cells, pb, pc), _fold(DenseAccumulator, k, y, cells, pb, pc)
    assert dense.counts[-1, -1, -1, -1] > 0
    got = resample_metrics(sparse, {"all": SliceRef(list(range(4)))}, 150, seed=2)["all"]
    want = dense_resample(dense, {"all": DenseRef(list(range(4)))}, 150, seed=2)["all"]
    for key in want:
        np.testing.assert_allclose(got[key], want[key], rtol=0, atol=1e-12, err_msg=key)


def test_merge_is_associative_with_sparse_counts_and_resamples_alike():
    k = 4
    y, cells, pb, pc = _data(900, k, seed=21)
    whole = _fold(Accumulator, k, y, cells, pb, pc, chunk=900)
    parts = [_fold(Accumulator, k, y[s], cells[s], pb[s], pc[s], register=KEYS[::-1] if i % 2 else KEYS)
             for i, s in enumerate((slice(0, 250), slice(250, 600), slice(600, 900)))]
    left, right = parts[0].merge(parts[1]).merge(parts[2]), parts[0].merge(parts[1].merge(parts[2]))
    for merged in (left, right):
        assert merged.agreement() == whole.agreement()
        for key in KEYS:
            assert merged.class_counts([merged.keys.index(key)], 1) == whole.class_counts([whole.keys.index(key)], 1)
        a = resample_metrics(whole, _slices(whole, k, SliceRef), 120, seed=8)
        b = resample_metrics(merged, _slices(merged, k, SliceRef), 120, seed=8)
        for name in a:
            for key in a[name]:
                np.testing.assert_allclose(b[name][key], a[name][key], rtol=0, atol=1e-12)


@pytest.mark.filterwarnings("ignore:y_pred contains classes not in y_true")
def test_a_thousand_classes_cost_only_their_occurring_combinations():
    """K = 1,000: dense counts would hold 10**9 per cell; the sparse path keeps a few thousand and still matches
    scikit-learn, for the point estimates and for every class slice of the bootstrap."""
    k, n = 1000, 5000
    y, cells, pb, pc = _data(n, k, seed=5, noise=0.3)
    acc = _fold(Accumulator, k, y, cells, pb, pc, chunk=1024)
    keys, _ = acc.combinations()
    assert len(keys) <= n
    pred = pc.argmax(axis=1)
    got = acc.metrics(list(range(4)), 1)
    assert got["accuracy"] == pytest.approx(accuracy_score(y, pred), abs=1e-12)
    assert got["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(y, pred), abs=1e-12)
    assert got["precision"] == pytest.approx(precision_score(y, pred, average="macro", zero_division=0), abs=1e-12)
    assert got["f1"] == pytest.approx(f1_score(y, pred, average="macro", zero_division=0), abs=1e-12)
    slices = {f"class{j}": SliceRef(list(range(4)), j) for j in range(k)}
    draws = resample_metrics(acc, slices, 50, seed=0)
    assert len(draws) == k and draws["class7"]["candidate:accuracy"].shape == (50,)
    for j in (0, 7, 999):  # each class slice's accuracy per resample lies between 0 and 1, mean near the point
        values = draws[f"class{j}"]["candidate:accuracy"]
        finite = values[np.isfinite(values)]
        point = acc.metrics(list(range(4)), 1, j)["accuracy"]
        assert ((finite >= 0) & (finite <= 1)).all()
        if point is not None and len(finite) > 40:
            assert abs(finite.mean() - point) < 0.35


def test_too_many_cells_for_a_64_bit_key_is_refused():
    acc = Accumulator(100_000, None, roc_auc=False)
    with pytest.raises(ValueError, match="64-bit key"):
        acc.cell_ids([(str(i),) for i in range(10_000)])
