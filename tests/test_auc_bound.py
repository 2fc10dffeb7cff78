"""ROC AUC score tables: exact up to ``evaluation.roc_auc_exact_budget`` entries, then binned on one fixed grid with
a stated bound on the error; the result is a function of the rows alone (chunking, merge order, engine)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from builders import write_yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import roc_auc_score

from governance import metrics as M
from governance.evidence.accumulator import AUC_BINNED_WARNING, AUC_EXACT_BUDGET, Accumulator
from governance.evidence.collect import collect
from governance.manifest import EvaluationSpec, load_manifest

GROUPS = [("a",), ("b",), ("c",)]


def _data(n: int, k: int, seed: int, kind: str = "uniform") -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(labels, groups, baseline probabilities, candidate probabilities); ``kind`` shapes the scores: uniform,
    ties (rounded to 2 decimals), or extreme (confident: most mass within 1e-6 of 0 and 1, some exactly 0 or 1)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    groups = rng.integers(0, len(GROUPS), n)
    probas = []
    for _ in range(2):
        if kind == "extreme":
            logits = rng.normal(size=(n, k)) * 12.0 + 8.0 * (np.arange(k)[None, :] == y[:, None])
            p = np.exp(logits - logits.max(axis=1, keepdims=True))
            p /= p.sum(axis=1, keepdims=True)
        else:
            p = rng.dirichlet(np.ones(k), n)
            if kind == "ties":
                p = np.round(p, 2)
                p[:, -1] = np.clip(1.0 - p[:, :-1].sum(axis=1), 0.0, 1.0)
        probas.append(p)
    return y, groups, probas[0], probas[1]


def _fold(k: int, data, *, budget: int, chunk: int, order: list[int] | None = None) -> Accumulator:
    """Fold the rows in chunks of ``chunk`` into one accumulator per chunk, merged in ``order`` (default: row order)
    as a left fold; every accumulator knows the groups in the same order, so cell ids agree."""
    y, groups, pb, pc = data
    positive = 1 if k == 2 else None
    parts = []
    for start in range(0, len(y), chunk):
        acc = Accumulator(k, positive, auc_budget=budget)
        ids = acc.cell_ids(GROUPS)
        rows = slice(start, start + chunk)
        acc.update(ids[groups[rows]], y[rows], pb[rows], pc[rows], rows=np.arange(start, min(len(y), start + chunk)))
        parts.append(acc)
    out = parts[(order or list(range(len(parts))))[0]]
    for i in (order or list(range(len(parts))))[1:]:
        out = out.merge(parts[i])
    return out


def _exact(k: int, y: np.ndarray, proba: np.ndarray) -> float:
    """sklearn's exact AUC; multiclass: macro one-vs-rest as sklearn defines it, the mean of the binarised AUCs
    (computed per class, so rounded scores need not sum to 1 exactly)."""
    if k == 2:
        return float(roc_auc_score(y == 1, proba[:, 1]))
    return float(np.mean([roc_auc_score(y == c, proba[:, c]) for c in range(k)]))


def test_the_default_budget_is_the_manifest_default():
    assert EvaluationSpec().roc_auc_exact_budget == AUC_EXACT_BUDGET == 4_000_000


@settings(max_examples=15, deadline=None)
@given(k=st.sampled_from([2, 4]), n=st.integers(20, 400), seed=st.integers(0, 10_000),
       kind=st.sampled_from(["uniform", "ties", "extreme"]), chunk=st.integers(7, 200))
def test_under_the_budget_roc_auc_is_exact(k, n, seed, kind, chunk):
    data = _data(n, k, seed, kind)
    y, groups = data[0], data[1]
    acc = _fold(k, data, budget=AUC_EXACT_BUDGET, chunk=chunk)
    assert not acc.auc_binned and acc.roc_auc_binning([0, 1, 2], 0) is None
    for model, proba in ((0, data[2]), (1, data[3])):
        got = acc.metrics([0, 1, 2], model)["roc_auc"]
        if len(np.unique(y)) < k:
            continue  # a class without rows: undefined either way
        assert got == pytest.approx(_exact(k, y, proba), abs=1e-12)
        sub = groups == 0
        if len(np.unique(y[sub])) == k:
            assert acc.metrics([0], model)["roc_auc"] == pytest.approx(_exact(k, y[sub], proba[sub]), abs=1e-12)


@settings(max_examples=25, deadline=None)
@given(k=st.sampled_from([2, 3]), n=st.integers(30, 600), seed=st.integers(0, 10_000),
       kind=st.sampled_from(["uniform", "ties", "extreme"]), budget=st.integers(0, 20))
def test_over_the_budget_the_binned_auc_is_within_its_stated_bound(k, n, seed, kind, budget):
    data = _data(n, k, seed, kind)
    y = data[0]
    if len(np.unique(y)) < k:
        return
    acc = _fold(k, data, budget=budget, chunk=64)
    assert acc.auc_binned
    for model, proba in ((0, data[2]), (1, data[3])):
        binning = acc.roc_auc_binning([0, 1, 2], model)
        assert binning is not None and binning["bins"] == M.AUC_GRID_BINS and binning["budget"] == budget
        bound = binning["error_bound"]
        assert isinstance(bound, float) and 0.0 <= bound <= 0.5
        tied = any((lambda t: bool((t[1] * t[2]).any()))(M.compact_scores(proba[:, c], y == c))
                   for c in ([1] if k == 2 else range(k)))
        if tied:  # a positive and a negative with the same score share a bin: the bound cannot be 0
            assert bound > 0
        got = acc.metrics([0, 1, 2], model)["roc_auc"]
        assert got is not None
        assert abs(got - _exact(k, y, proba)) <= bound + 1e-12  # bound 0: no pair shares a bin, binned is exact


def test_the_bound_is_tight_for_one_bin_and_small_on_spread_scores():
    # every score in one bin: binned AUC is 1/2, the bound 1/2 covers an exact AUC of 1 or 0
    one_bin = M.bin_score_table(*M.compact_scores(np.array([0.30001, 0.30002, 0.30003, 0.30004]),
                                                  np.array([False, False, True, True])))
    assert len(one_bin[0]) == 1
    assert M.auc_from_score_counts(*one_bin) == 0.5 and M.auc_error_bound(*one_bin) == 0.5
    rng = np.random.default_rng(0)
    s, pos = rng.random(20_000), rng.random(20_000) < 0.5
    binned = M.bin_score_table(*M.compact_scores(s, pos))
    assert abs(M.auc_from_score_counts(*binned) - roc_auc_score(pos, s)) <= M.auc_error_bound(*binned) < 2e-3


def test_the_grid_is_monotone_and_finer_near_0_and_1():
    s = np.sort(np.concatenate([np.random.default_rng(1).random(50_000), np.geomspace(1e-12, 0.5, 2_000),
                                1.0 - np.geomspace(1e-12, 0.5, 2_000), [0.0, 0.5, 1.0]]))
    b = M.score_grid(s)
    assert b.min() == 0 and b.max() == M.AUC_GRID_BINS - 1 and (np.diff(b) >= 0).all()
    assert M.score_grid(np.array([-0.0, -1.0, 2.0, 1.0]))[:4].tolist() == [0, 0, M.AUC_GRID_BINS - 1,
                                                                           M.AUC_GRID_BINS - 1]
    # 1e-4 and 1.02e-4 (a class's negatives over 1,000 classes) are told apart, as are 1 - 1e-4 and 1 - 1.02e-4
    assert len(set(M.score_grid(np.array([1e-4, 1.02e-4, 1 - 1e-4, 1 - 1.02e-4])).tolist())) == 4


@pytest.mark.parametrize("k", [2, 4])
def test_chunking_and_merge_order_do_not_change_the_binned_tables(k):
    data = _data(900, k, seed=k, kind="ties")
    whole = _fold(k, data, budget=50, chunk=900)
    variants = [_fold(k, data, budget=50, chunk=97), _fold(k, data, budget=50, chunk=300, order=[2, 0, 1]),
                _fold(k, data, budget=50, chunk=13, order=list(range(69, -1, -1)))]
    keys, pos, neg = whole._binned()
    for acc in variants:
        assert acc.auc_binned
        got = acc._binned()
        assert np.array_equal(got[0], keys) and np.array_equal(got[1], pos) and np.array_equal(got[2], neg)
        for cells in ([0, 1, 2], [1], [0, 2]):
            for model in (0, 1):
                assert acc.metrics(cells, model)["roc_auc"] == whole.metrics(cells, model)["roc_auc"]
                assert acc.roc_auc_binning(cells, model) == whole.roc_auc_binning(cells, model)


@pytest.mark.parametrize("k", [2, 3])
def test_exact_iff_the_merged_data_has_at_most_budget_entries(k):
    """The decision is the merged data's, not a chunk's: the same rows in any chunks are exact at a budget of their
    distinct entries and binned one entry below it."""
    data = _data(500, k, seed=3, kind="ties")
    distinct = _fold(k, data, budget=10**9, chunk=500).auc_entries()
    for chunk, order in ((500, None), (37, None), (100, [4, 2, 0, 1, 3])):
        at = _fold(k, data, budget=distinct, chunk=chunk, order=order)
        below = _fold(k, data, budget=distinct - 1, chunk=chunk, order=order)
        assert not at.auc_binned and at.auc_entries() == distinct
        assert below.metrics([0, 1, 2], 0)["roc_auc"] is not None and below.auc_binned


def test_over_the_budget_the_tables_hold_at_most_tables_x_bins_entries():
    """K = 200, 50,000 rows of distinct scores: exact would be ~2 x 200 x 50,000 entries; binned is bounded by the
    grid (2 models x 200 classes x 3 cells x 4,096 bins) and by the rows, whatever their number."""
    k, n = 200, 50_000
    rng = np.random.default_rng(5)
    acc = Accumulator(k, None, auc_budget=100_000)
    ids = acc.cell_ids(GROUPS)
    for start in range(0, n, 8192):
        m = min(8192, n - start)
        y = rng.integers(0, k, m)
        pb, pc = (p / p.sum(axis=1, keepdims=True) for p in (rng.random((m, k)), rng.random((m, k))))
        acc.update(ids[rng.integers(0, 3, m)], y, pb, pc, rows=np.arange(start, start + m))
    assert acc.auc_binned
    tables = 2 * k * len(GROUPS)
    assert acc.auc_entries() <= tables * M.AUC_GRID_BINS
    assert len(acc._binned()[0]) == acc.auc_entries()
    assert all(not t for per_model in acc.scores for per_cell in per_model.values() for t in per_cell)
    binning = acc.roc_auc_binning([0, 1, 2], 0)
    assert binning is not None and binning["error_bound"] is not None and 0 < binning["error_bound"] < 0.01


def test_dense_and_sparse_binned_counts_agree_and_pickle_small():
    """Few cells keep the binned counts dense (no sort per chunk); past AUC_DENSE_SLOTS (here: 5,000 cells of a
    binary task) they are sparse. Both hold the same counts, and a pickled accumulator (the Dask engine's
    partitions) carries only the occurring slots."""
    import pickle

    from governance.evidence.accumulator import AUC_DENSE_SLOTS

    y, groups, pb, pc = _data(3000, 2, seed=11, kind="uniform")
    many = [(f"x{i}",) for i in range(5000)]
    accs = []
    for extra in ([], many):
        acc = Accumulator(2, 1, auc_budget=10)
        ids = acc.cell_ids(GROUPS + extra)[: len(GROUPS)]
        for start in range(0, 3000, 500):
            rows = slice(start, start + 500)
            acc.update(ids[groups[rows]], y[rows], pb[rows], pc[rows], rows=np.arange(start, start + 500))
        accs.append(acc)
    dense, sparse = accs
    assert dense._bin_dense is not None and sparse._bin_dense is None
    assert len(many) * 2 * M.AUC_GRID_BINS > AUC_DENSE_SLOTS
    keys, pos, neg = dense._binned()
    assert np.array_equal(keys, sparse._binned()[0]) and np.array_equal(pos, sparse._binned()[1])
    assert np.array_equal(neg, sparse._binned()[2])
    copy = pickle.loads(pickle.dumps(dense))
    assert copy._bin_dense is None and len(pickle.dumps(dense)) < 100 * len(keys) + 100_000
    for cells in ([0, 1, 2], [2]):
        for model in (0, 1):
            want = dense.metrics(cells, model)["roc_auc"]
            assert sparse.metrics(cells, model)["roc_auc"] == copy.metrics(cells, model)["roc_auc"] == want
            assert dense.roc_auc_binning(cells, model) == copy.roc_auc_binning(cells, model)


def _release(release_dir: Path, tmp_path: Path, budget: int | None, parquet: bool = False) -> Path:
    d = tmp_path / "rel"
    shutil.copytree(release_dir, d)
    manifest = yaml.safe_load((d / "release.yaml").read_text())
    if parquet:
        table = pa.Table.from_pandas(pd.read_csv(d / "eval.csv"), preserve_index=False)
        pq.write_table(table, d / "eval.parquet", row_group_size=300)
        manifest["data"]["path"] = "eval.parquet"
    manifest["evaluation"] = {"bootstrap": {"resamples": 0}, "latency": None, "robustness": None}
    if budget is not None:
        manifest["evaluation"]["roc_auc_exact_budget"] = budget
    return write_yaml(d / "release.yaml", manifest)


def test_evidence_states_the_binning_and_its_bound(release_dir, tmp_path):
    exact = collect(load_manifest(_release(release_dir, tmp_path / "exact", None)))
    binned = collect(load_manifest(_release(release_dir, tmp_path / "binned", 100)))
    assert all(m.roc_auc_binned is None for m in exact.models.values())
    assert "roc_auc_binned" not in exact.model_dump(mode="json")["models"]["baseline"]
    assert not any("ROC AUC is binned" in w for w in exact.warnings)
    for role, model in binned.models.items():
        info = model.roc_auc_binned
        assert info is not None and info.budget == 100 and info.bins == M.AUC_GRID_BINS
        assert info.error_bound is not None and info.error_bound > 0
        got, want = model.overall["roc_auc"], exact.models[role].overall["roc_auc"]
        assert isinstance(got, float) and isinstance(want, float)
        assert abs(got - want) <= info.error_bound
    warning = [w for w in binned.warnings if w.startswith(AUC_BINNED_WARNING.split("{")[0])]
    assert len(warning) == 1 and "(100 entries)" in warning[0]


def test_the_dask_engine_bins_exactly_as_the_local_one(release_dir, tmp_path):
    distributed = pytest.importorskip("distributed")
    from governance.evidence.distributed import DaskEngine

    manifest = _release(release_dir, tmp_path, 100, parquet=True)
    local = collect(load_manifest(manifest))
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster:
        engine = DaskEngine(scheduler=cluster.scheduler_address)
        remote = collect(load_manifest(manifest), engine=engine)
    assert engine.partitions == 5
    for role in ("baseline", "candidate"):
        a, b = local.models[role], remote.models[role]
        assert a.roc_auc_binned is not None and a.roc_auc_binned == b.roc_auc_binned
        assert a.overall["roc_auc"] == b.overall["roc_auc"]
        assert {d: {v: s["roc_auc"] for v, s in vs.items()} for d, vs in a.slices.items()} == \
            {d: {v: s["roc_auc"] for v, s in vs.items()} for d, vs in b.slices.items()}
