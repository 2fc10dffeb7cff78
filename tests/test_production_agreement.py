"""Agreement on production rows: the per-cell sums give exactly what a direct numpy/scipy computation gives on the
rows (agreement, flip rate, score histograms, Jensen-Shannon distances), merge like one pass, and a real release
with a production sample records them for both real models."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import skops.io as sio
from builders import FEATURES, make_frame, make_release
from scipy.spatial.distance import jensenshannon

from governance.evidence.collect import collect
from governance.evidence.production import ProductionChunk
from governance.evidence.production_agreement import (
    BAD_SCORES,
    MERGE_MISMATCH,
    ProductionScores,
    build_agreement,
    build_estimate,
)
from governance.manifest import load_manifest

BINS = 20
EDGES = np.linspace(0, 1, BINS + 1)


def _rows(seed: int, n: int, k: int):
    """Both models' probabilities on ``n`` random rows (the candidate a noisy copy of the baseline) and 4 cells
    whose ids first appear one after another (cells grow as new keys appear)."""
    rng = np.random.default_rng(seed)
    base = rng.dirichlet(np.ones(k), size=n)
    cand = base * rng.uniform(0.5, 1.5, size=(n, k))
    cand /= cand.sum(axis=1, keepdims=True)
    cells = np.minimum(rng.integers(0, 4, size=n), np.arange(n) // 50)  # cell c first appears at row >= 50 c
    labels = rng.integers(0, k, size=n)
    return cells, base, cand, labels


def _chunks(cells, base, cand, labels, size: int):
    for lo in range(0, len(cells), size):
        sl = slice(lo, lo + size)
        n = len(cells[sl])
        scores = {"baseline": base[sl], "candidate": cand[sl]}
        yield ProductionChunk(lo, pa.table({"f": np.zeros(n)}), cells[sl], scores,
                              None if labels is None else labels[sl])


def _observe(k, positive, chunks) -> ProductionScores:
    obs = ProductionScores(k, positive, bins=BINS)
    for chunk in chunks:
        obs.update(chunk)
    return obs


def _oracle(mask, base, cand, positive):
    """Agreement, flip rate, both histograms and the JS distances straight from the rows."""
    pb, pc = base[mask].argmax(axis=1), cand[mask].argmax(axis=1)
    if positive is not None:
        sb, sc = base[mask][:, positive], cand[mask][:, positive]
    else:
        sb, sc = base[mask].max(axis=1), cand[mask].max(axis=1)
    hb, hc = np.histogram(sb, EDGES)[0], np.histogram(sc, EDGES)[0]
    k = base.shape[1]
    return {"rows": int(mask.sum()), "same": float(np.mean(pb == pc)), "flip": float(np.mean(pb != pc)),
            "hist_b": hb.tolist(), "hist_c": hc.tolist(), "js": float(jensenshannon(hb, hc)),
            "class_js": float(jensenshannon(np.bincount(pb, minlength=k), np.bincount(pc, minlength=k)))}


@pytest.mark.parametrize("k, positive", [(2, 1), (2, 0), (3, None)])
def test_agreement_flip_rate_and_js_equal_a_direct_computation(k, positive):
    cells, base, cand, _ = _rows(7, 3000, k)
    obs = _observe(k, positive, _chunks(cells, base, cand, None, 97))
    slices = {"g": {"low": [0, 1], "high": [2, 3]}, "cell": {str(i): [i] for i in range(4)}}
    a = build_agreement(obs, slices)
    want = _oracle(np.ones(len(cells), bool), base, cand, positive)
    assert a.rows == want["rows"] and a.bins == BINS and a.bin_edges == pytest.approx(EDGES.tolist())
    assert a.same_prediction == pytest.approx(want["same"], abs=1e-15)
    assert a.flip_rate == pytest.approx(want["flip"], abs=1e-12)
    assert a.histograms["baseline"] == want["hist_b"] and a.histograms["candidate"] == want["hist_c"]
    assert a.score_js == pytest.approx(want["js"], rel=1e-12)
    assert a.score == ("positive-class probability" if positive is not None else "top-label confidence")
    assert (a.class_js is None) == (positive is not None)
    if positive is None:
        assert a.class_js == pytest.approx(want["class_js"], rel=1e-12)
    for dim, values in slices.items():
        for value, ids in values.items():
            s, w = a.slices[dim][value], _oracle(np.isin(cells, ids), base, cand, positive)
            assert s.rows == w["rows"] and s.histograms["candidate"] == w["hist_c"]
            assert s.same_prediction == pytest.approx(w["same"], abs=1e-15)
            assert s.score_js == pytest.approx(w["js"], rel=1e-12)
    assert 0 < a.score_js < 0.5 and 0.5 < a.same_prediction < 1  # the random data is neither identical nor opposite


def test_merge_of_two_halves_equals_one_pass_and_cells_grow():
    cells, base, cand, labels = _rows(11, 2000, 2)
    whole = _observe(2, 1, _chunks(cells, base, cand, labels, 128))
    first = _observe(2, 1, _chunks(cells[:120], base[:120], cand[:120], labels[:120], 128))
    second = _observe(2, 1, (ProductionChunk(c.offset + 120, c.features, c.cells, c.scores, c.labels)
                             for c in _chunks(cells[120:], base[120:], cand[120:], labels[120:], 128)))
    assert first.cells < second.cells == 4  # the first half never saw the last cells
    merged = first.merge(second)
    slices = {"g": {"low": [0, 1], "high": [2, 3]}}
    assert build_agreement(merged, slices) == build_agreement(whole, slices)
    for name in ("pairs", "hist", "labelled", "correct", "realized"):
        assert np.array_equal(getattr(merged, name), getattr(whole, name)), name
    for name in ("confidence", "expected"):
        assert np.allclose(getattr(merged, name), getattr(whole, name), rtol=1e-12), name
    est_m, est_w = build_estimate(merged, slices), build_estimate(whole, slices)
    assert est_m.models["candidate"].expected_accuracy == pytest.approx(est_w.models["candidate"].expected_accuracy)
    assert second.merge(first).summed()["pairs"].tolist() == whole.summed()["pairs"].tolist()


def test_merging_observers_of_different_classes_and_bad_scores_are_refused():
    with pytest.raises(ValueError, match=MERGE_MISMATCH.format(what="k", mine=2, theirs=3)):
        ProductionScores(2, 1).merge(ProductionScores(3, None))
    cells, base, cand, _ = _rows(3, 10, 3)
    chunk = next(_chunks(cells, base, cand[:, :2], None, 10))
    with pytest.raises(ValueError, match=BAD_SCORES.format(role="candidate", shape=(10, 2), rows=10, k=3)
                       .replace("(", r"\(").replace(")", r"\)")):
        ProductionScores(3, None).update(chunk)


def test_a_release_with_a_production_sample_records_both_real_models_agreement(release_dir, tmp_path):
    manifest = make_release(release_dir, tmp_path, candidate={"path": "harsh.skops", "format": "skops"})
    d = manifest.parent
    prod = make_frame(900, 41).drop(columns=["label", "region"])
    prod.loc[prod.index[:300], "group"] = "c"  # production has plenty of group c
    prod.to_parquet(d / "production.parquet", index=False)
    manifest = make_release(release_dir, tmp_path, production={"path": "production.parquet", "chunk_rows": 200})
    ev = collect(load_manifest(manifest))
    a = ev.production.agreement
    assert a is not None and ev.production.estimate is not None
    probs = {role: sio.load(d / name).predict_proba(prod[FEATURES])
             for role, name in (("baseline", "baseline.skops"), ("candidate", "harsh.skops"))}
    want = _oracle(np.ones(len(prod), bool), probs["baseline"], probs["candidate"], 1)
    assert a.rows == 900 and a.same_prediction == pytest.approx(want["same"], abs=1e-12)
    assert a.histograms["candidate"] == want["hist_c"]
    assert a.score_js == pytest.approx(want["js"], rel=1e-9)
    for value in ("a", "b", "c"):
        w = _oracle((prod["group"] == value).to_numpy(), probs["baseline"], probs["candidate"], 1)
        s = a.slices["group"][value]
        assert s.rows == w["rows"] and s.same_prediction == pytest.approx(w["same"], abs=1e-12)
    assert set(a.slices) == {"group"}  # region is not in the production file: no slices for it
    assert a.same_prediction < 0.97  # the harsh candidate really changes predictions
    expected = np.mean(probs["candidate"].max(axis=1))
    assert ev.production.estimate.models["candidate"].expected_accuracy == pytest.approx(expected, rel=1e-9)
    assert pd.Series(prod["group"]).eq("c").sum() >= 300
