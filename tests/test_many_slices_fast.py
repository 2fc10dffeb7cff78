"""The many-slice evidence is vectorised over the slices (accumulator.py, "many slices at once"): every number must
equal, to the last bit, what the one-slice methods give slice by slice (the oracle; they are checked against
scikit-learn and fairlearn in test_metrics.py and test_multiclass_fairness.py)."""

from __future__ import annotations

import numpy as np
import pytest
from dense_oracle import with_score_metrics

from governance.evidence.accumulator import Accumulator
from governance.evidence.collect import _dimensions, slice_refs


def _accumulator(k: int, seed: int, rows: int = 2000, ties: bool = False,
                 auc_budget: int | None = None) -> tuple[Accumulator, list[str]]:
    """Three sensitive columns (one of many values, so slices of 1 to dozens of cells), scores with ties if asked;
    ``auc_budget``: the exact ROC AUC tables' budget (small: binned)."""
    rng = np.random.default_rng(seed)
    acc = Accumulator(k, 1 if k == 2 else None, bins=15,
                      **({"auc_budget": auc_budget} if auc_budget is not None else {}))
    cols = [rng.choice([f"z{i}" for i in range(120)], rows), rng.choice(list("abc"), rows),
            rng.choice(list("pq"), rows)]
    keys = list(zip(*cols))
    y = rng.integers(0, k, rows)
    for start in range(0, rows, 700):  # several chunks, so cells' score tables are merged
        part = slice(start, start + 700)
        n = len(y[part])
        probs = []
        for _ in range(2):
            p = rng.dirichlet(np.ones(k), n)
            if ties:
                p = np.round(p, 1)
                p[:, -1] = 1.0 - p[:, :-1].sum(axis=1)
                p = np.clip(p, 0, 1)
                p /= p.sum(axis=1, keepdims=True)
            probs.append(p)
        acc.update(acc.cell_ids(keys[part]), y[part], probs[0], probs[1], rows=np.arange(start, start + n))
    return acc, ["zip", "g", "r"]


def _one_slice(acc: Accumulator, labels: dict, cells: list[int], model: int, true_class: int | None) -> dict:
    """The oracle: one slice's label metrics plus log loss from its cells' sums and ROC AUC from its tables merged
    by ``metrics.merge_score_counts``, as the accumulator computed them slice by slice before the vectorising."""
    tables = acc._auc_tables(cells, model) if acc.roc_auc and true_class is None else None
    return with_score_metrics(labels, acc.neg_log[cells, model], true_class, tables, acc.positive)


def _refs(acc: Accumulator, sensitive: list[str], k: int) -> dict:
    dims, _ = _dimensions(sensitive, acc.keys, "all", budget=100_000)
    return slice_refs(acc, sensitive, [str(c) for c in range(k)], dims)


@pytest.mark.parametrize(("k", "ties"), [(2, False), (2, True), (4, False), (3, True)])
def test_vectorised_slices_equal_the_one_slice_methods(k, ties):
    acc, sensitive = _accumulator(k, seed=k + 10 * ties, ties=ties)
    refs = _refs(acc, sensitive, k)
    assert any(len(r.cells) > 100 for values in refs.values() for r in values.values())  # long sums too
    for model in (0, 1):
        for dim, values in refs.items():
            many = acc.metrics_many(values, model)
            labels = acc.label_metrics(values, model)
            for v, ref in values.items():
                one = _one_slice(acc, labels[v], list(ref.cells), model, ref.true_class)
                assert many[v] == one and list(many[v]) == list(one), (dim, v)
            whole = [r for r in values.values() if r.true_class is None]
            assert acc.calibrations(whole, model) == [acc.calibration(r.cells, model) for r in whole]
            assert acc.class_counts_many(whole, model) == [acc.class_counts(r.cells, model) for r in whole]
    for values in refs.values():
        assert acc.agreements(list(values.values())) == [acc.agreement(r.cells, r.true_class)
                                                         for r in values.values()]


@pytest.mark.parametrize("store", ["dense", "sparse"])
@pytest.mark.parametrize("k", [2, 3])
def test_binned_slice_aucs_and_bounds_equal_the_one_slice_methods(k, store, monkeypatch):
    """Past the exact budget every slice's AUC and error bound come from the binned tables of all slices at once:
    the numbers the one-slice methods give (the merged binned table of each slice), to the bit."""
    from governance.evidence import accumulator as A

    if store == "sparse":
        monkeypatch.setattr(A, "AUC_DENSE_SLOTS", 0)
    acc, sensitive = _accumulator(k, seed=20 + k, ties=True, auc_budget=50)  # ties: pairs sharing a bin
    assert acc.auc_binned and (acc._bin_dense is None) == (store == "sparse")
    refs = _refs(acc, sensitive, k)
    seen = []
    for model in (0, 1):
        for dim, values in refs.items():
            whole = [r for r in values.values() if r.true_class is None]
            aucs, bounds = acc.aucs(whole, model), acc.auc_error_bounds(whole, model)
            tables = [acc._auc_tables(r.cells, model) for r in whole]
            assert aucs == [acc._tables_auc(t) for t in tables], dim
            assert bounds == [acc._tables_bound(t) for t in tables], dim
            seen += [b for b in bounds if b is not None]
    assert any(b > 0 for b in seen) and any(b == 0 for b in seen)  # bins shared and not: both sums exercised


@pytest.mark.parametrize("budget", [None, 10], ids=["exact", "binned"])
def test_slice_aucs_read_between_folds_are_those_of_the_rows_so_far(budget):
    """The slices' AUCs come from a cache of the ranked tables: a fold (new rows, new cells) or a merge must never
    leave a read on the tables of before."""
    extra = {"auc_budget": budget} if budget is not None else {}
    rng = np.random.default_rng(3)
    parts = []
    for n, groups in ((600, "ab"), (400, "ab"), (500, "abc")):  # the same cells again, then a new cell
        keys = [(g,) for g in rng.choice(list(groups), n)]
        y = rng.integers(0, 2, n)
        p = rng.dirichlet(np.ones(2), (2, n))
        parts.append((keys, y, p))

    def fresh(upto: int) -> Accumulator:
        acc = Accumulator(2, 1, **extra)
        for keys, y, p in parts[:upto]:
            acc.update(acc.cell_ids(keys), y, p[0], p[1])
        return acc

    def aucs(acc: Accumulator) -> dict:
        return {d: {v: m["roc_auc"] for v, m in acc.metrics_many(values, 1).items()}
                for d, values in _refs(acc, ["g"], 2).items()}

    acc = fresh(1)
    assert acc.auc_binned == (budget is not None)
    first = aucs(acc)
    assert first == aucs(fresh(1))
    before = first
    for upto in (2, 3):
        keys, y, p = parts[upto - 1]
        acc.update(acc.cell_ids(keys), y, p[0], p[1])
        now = aucs(acc)
        assert now == aucs(fresh(upto)) and now["g"] != before["g"], upto
        before = now
    other = fresh(1)
    aucs(other)  # cached on both sides before the merge
    assert aucs(other.merge(acc)) == aucs(fresh(3).merge(fresh(1)))


@pytest.mark.parametrize("budget", [None, 50], ids=["exact", "binned"])
def test_slice_aucs_past_the_int64_budget_take_the_float_formula(monkeypatch, budget):
    """Over EXACT_PAIRS (2**62 doubled pairs in a batch: billions of rows) the slices' AUCs (and binned bounds) come
    from float sums on each slice's merged table: the same values, to rounding."""
    from governance.evidence import accumulator as A

    acc, sensitive = _accumulator(2, seed=4, ties=True, auc_budget=budget)
    refs = _refs(acc, sensitive, 2)
    exact = {d: acc.metrics_many(values, 0) for d, values in refs.items()}
    bounds = {d: acc.auc_error_bounds(list(values.values()), 0) for d, values in refs.items()}
    monkeypatch.setattr(A, "EXACT_PAIRS", 0)
    for d, values in refs.items():
        for v, m in acc.metrics_many(values, 0).items():
            want = exact[d][v]["roc_auc"]
            assert (m["roc_auc"] is None) == (want is None), (d, v)
            if want is not None:
                assert m["roc_auc"] == pytest.approx(want, abs=1e-12), (d, v)
        got = acc.auc_error_bounds(list(values.values()), 0)
        assert len(got) == len(bounds[d]) == (len(values) if budget is not None else 0)
        assert all((g is None) == (b is None) and (g is None or g == pytest.approx(b, abs=1e-15))
                   for g, b in zip(got, bounds[d])), d


def test_a_slice_without_rows_of_a_class_has_no_auc():
    acc = Accumulator(2, 1)
    ids = acc.cell_ids([("a",), ("b",)])
    y = np.array([1, 1, 0, 1])
    p = np.array([[0.2, 0.8], [0.4, 0.6], [0.3, 0.7], [0.1, 0.9]])
    acc.update(ids[[0, 0, 1, 1]], y, p, p)
    refs = _refs(acc, ["g"], 2)["g"]
    # cell a has positives only; in b the positive scores higher
    assert [m["roc_auc"] for m in acc.metrics_many(refs, 0).values()] == [None, 1.0]


@pytest.mark.parametrize("offset", [0, 2**15 - 50, 2**15, 2**40], ids=["16-bit ids", "to 2**15", "past 2**15",
                                                                       "past 2**40"])
def test_per_cell_score_tables_from_one_sort_equal_one_unique_per_cell(offset):
    """Cell ids under 2**15 take the quicksort + radix order, others np.lexsort: both give the same tables."""
    from governance import metrics as M
    from governance.evidence.accumulator import compact_by_cell

    rng = np.random.default_rng(5)
    cells = rng.integers(0, 50, 2000) + offset
    scores = np.round(rng.random(2000), 2)  # ties within and across cells
    is_pos = rng.random(2000) < 0.3
    ids, tables = compact_by_cell(cells, scores, is_pos)
    assert ids.tolist() == sorted(set(cells.tolist()))
    for cid, (s, p, q) in zip(ids.tolist(), tables):
        es, ep, eq = M.compact_scores(scores[cells == cid], is_pos[cells == cid])
        assert np.array_equal(s, es) and np.array_equal(p, ep) and np.array_equal(q, eq)
        assert p.dtype == ep.dtype == np.int64 and s.dtype == es.dtype
    with pytest.raises(ValueError, match="NaN"):
        compact_by_cell(cells[:2], np.array([0.5, np.nan]), is_pos[:2])


def test_the_bom_and_evidence_json_are_the_bytes_the_standard_library_would_write():
    """Both are written by pydantic-core (no Python-object round trip): same bytes as before, non-ASCII included."""
    import json

    from governance.render import RenderContext
    from governance.render.bom import bom_json, build_bom
    from governance.render.jsonfiles import evidence_json
    from governance.render.sample import sample_evidence, sample_verdict

    ev = sample_evidence(3)
    ev = ev.model_copy(update={"release": {"name": "modèle «élagué»\u2028", "version": "1"}})
    ctx = RenderContext(ev, sample_verdict(ev))
    assert bom_json(ctx) == json.dumps(build_bom(ctx), indent=2, ensure_ascii=False).encode() + b"\n"
    written = evidence_json(ev)
    assert evidence_json(ev) is written  # the gate hashes it, then writes it: serialised once
    assert json.loads(written) == json.loads(ev.model_dump_json())
    assert "regression" not in json.loads(written) and "source" not in json.loads(written)["models"]["baseline"]
