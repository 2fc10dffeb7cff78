"""Many slices without drowning: bounded intersections, a clear error for a skipped one, short documents.

The end-to-end checks run a predictions release (no model to score) of 20,000 rows with the bootstrap off
(``resamples: 0``), so they measure slicing and rendering, not resampling.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pypdf
from builders import FAST, OVERALL_B, OVERALL_C, evidence, gate, rates, run, write_yaml

from governance.evidence.collect import OVER_BUDGET, _dimensions
from governance.findings import Status
from governance.manifest import INTERSECTION_NOT_SENSITIVE
from governance.render.view.measurements import (
    FAILING_SHOWN_PER_DIMENSION,
    SHOWN_PER_DIMENSION,
    THIN_SHOWN_PER_DIMENSION,
    slice_tables,
)
from governance.rules.slices import NOT_FORMED
from governance.rules.slices import OVER_BUDGET as RULE_OVER_BUDGET

ROWS = 20_000
MAX_PAGES = 25
MAX_HTML_BYTES = 2_000_000


def _release(d: Path, sensitive: dict[str, np.ndarray], hurt: np.ndarray, rules: list[dict],
             **evaluation) -> Path:
    """Binary predictions: the baseline is right with p=0.8 on every row; the candidate agrees except on ``hurt``
    rows, where it flips to the wrong class."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, size=ROWS)
    right = np.where(y == 1, 0.8, 0.2) + rng.uniform(-0.05, 0.05, size=ROWS)
    cand = np.where(hurt, 1.0 - right, right)
    df = pd.DataFrame({"f0": rng.normal(size=ROWS), **sensitive, "label": y})
    df.to_csv(d / "eval.csv", index=False)
    for role, p in (("baseline", right), ("candidate", cand)):
        pd.DataFrame({"p1": p}).to_parquet(d / f"{role}.parquet")
    write_yaml(d / "policy.yaml", {"name": "many slices", "rules": [{"severity": "block", **r} for r in rules]})
    return write_yaml(d / "release.yaml", {
        "name": "many-slices", "version": "1", "classes": [0, 1],
        "baseline": {"path": "baseline.parquet", "format": "predictions"},
        "candidate": {"path": "candidate.parquet", "format": "predictions"},
        "data": {"path": "eval.csv", "target": "label", "sensitive": list(sensitive), "chunk_rows": 8192},
        "policy": "policy.yaml", "evaluation": {**FAST, **evaluation}})


def _check(capsys, manifest: Path, out: Path) -> tuple[int, float]:
    start = time.perf_counter()
    code, _, err = run(capsys, "check", manifest, "--out", out, "--today", "2026-11-25")
    wall = time.perf_counter() - start
    print(f"check of {manifest.parent.name}: {wall:.1f} s")  # the wall time, for the record (pytest -s)
    assert code in (0, 1), err
    return code, wall


def _pages(pdf: Path) -> int:
    return len(pypdf.PdfReader(pdf).pages)


def test_default_forms_each_column_and_the_full_intersection_under_the_budget():
    keys = [(a, b, c) for a in "xy" for b in "pq" for c in "uvw"]  # 12 occurring cells
    dims, skipped = _dimensions(["a", "b", "c"], keys)
    assert list(dims) == ["a", "b", "c", "a & b & c"] and skipped == {}
    dims, skipped = _dimensions(["a", "b", "c"], keys, budget=11)
    assert list(dims) == ["a", "b", "c"]
    assert skipped == {"a & b & c": OVER_BUDGET.format(cells=12, budget=11)}


def test_intersections_all_none_and_listed():
    keys = [(a, b, c) for a in "xy" for b in "pq" for c in "uvw"]
    assert len(_dimensions(["a", "b", "c"], keys, "all")[0]) == 7  # 3 columns, 3 pairs, 1 triple
    assert list(_dimensions(["a", "b", "c"], keys, "none")[0]) == ["a", "b", "c"]
    dims, skipped = _dimensions(["a", "b", "c"], keys, [["b", "a"], ["b", "c"]], budget=5)
    assert list(dims) == ["a", "b", "c", "a & b"]  # named in the columns' order; b & c has 6 cells
    assert skipped == {"b & c": OVER_BUDGET.format(cells=6, budget=5)}


def test_intersection_of_a_column_that_is_not_sensitive_is_bad_input(tmp_path, capsys):
    cols = {"g": np.array(["a", "b"] * (ROWS // 2)), "r": np.array(["n", "s", "e", "w"] * (ROWS // 4))}
    manifest = _release(tmp_path, cols, np.zeros(ROWS, bool), [], intersections=[["g", "zip"]])
    code, _, err = run(capsys, "check", manifest, "--out", tmp_path / "out")
    assert code == 2
    assert INTERSECTION_NOT_SENSITIVE.format(columns="'zip'", sensitive="g, r") in err
    assert "Traceback" not in err


def _six_columns(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {f"s{i}": rng.choice(["a", "b", "c", "d"], size=ROWS) for i in range(6)}


def test_a_rule_on_a_skipped_intersection_errors_and_says_how_to_form_it(tmp_path):
    rng = np.random.default_rng(1)
    cols = _six_columns(rng)
    rules = [{"id": "PAIR", "kind": "slice_metric_drop", "metric": "accuracy", "by": ["s1", "s0"], "max_drop": 0.5},
             {"id": "ALL", "kind": "slice_metric_drop", "metric": "accuracy", "by": ["*"], "max_drop": 0.5}]
    manifest = _release(tmp_path, cols, np.zeros(ROWS, bool), rules, intersection_budget=1000)
    findings, evidence = gate(manifest, *rules)
    full = " & ".join(cols)
    cells = len(set(zip(*cols.values())))
    assert cells > 1000 and list(evidence.dimensions) == [*cols, "class"]
    assert evidence.dimensions_skipped == {full: OVER_BUDGET.format(cells=cells, budget=1000)}
    assert any(full in w for w in evidence.warnings)
    pair, every = findings
    assert pair.status == every.status == Status.ERROR and pair.blocks and every.blocks
    assert NOT_FORMED.format(name="s0 & s1", why=None, columns="s0, s1") in pair.message
    assert RULE_OVER_BUDGET.format(name=full, why=evidence.dimensions_skipped[full], columns=", ".join(cols)) \
        in every.message

    manifest = _release(tmp_path, cols, np.zeros(ROWS, bool), rules[:1], intersections=[["s0", "s1"]])
    findings, evidence = gate(manifest, rules[0])
    assert "s0 & s1" in evidence.dimensions and findings[0].status == Status.PASS


def test_two_thousand_values_of_one_column_short_documents_every_failure_listed(tmp_path, capsys):
    rng = np.random.default_rng(2)
    zips = np.array([f"z{i:04d}" for i in range(2000)])[rng.integers(0, 2000, size=ROWS)]
    planted = [f"z{i:04d}" for i in range(0, 2000, 80)]  # 25 failing slices: more than the documents show
    hurt = np.isin(zips, planted)
    rules = [{"id": "ZIP", "kind": "slice_metric_drop", "metric": "accuracy", "by": ["zip"], "max_drop": 0.3,
              "min_slice_size": 3}]
    manifest = _release(tmp_path, {"zip": zips}, hurt, rules)
    out = tmp_path / "out"
    code, wall = _check(capsys, manifest, out)
    assert code == 1
    assert _pages(out / "audit_report.pdf") < MAX_PAGES
    html = (out / "audit_report.html").read_text()
    assert len(html.encode()) < MAX_HTML_BYTES
    assert (out / "model_card.html").stat().st_size < MAX_HTML_BYTES
    card = (out / "model_card.md").read_text()
    present = [z for z in planted if (zips == z).sum() >= 3]
    assert len(present) > SHOWN_PER_DIMENSION
    for z in present:  # every failing slice is in every document
        assert f">{z}<" in html and f"| {z} |" in card
    assert ">z0001<" not in html  # a passing slice beyond the worst 20: left to evidence.json
    values, counts = np.unique(zips, return_counts=True)
    thin = int((counts < 3).sum())  # the 20 worst are failing ones; then the worst thin ones a rule skipped
    shown = len(present) + min(THIN_SHOWN_PER_DIMENSION, thin)
    note = f"{len(values) - shown:,} of {len(values):,} slices not shown"
    assert note in html and note in card
    evidence = json.loads((out / "evidence.json").read_text())
    assert len(evidence["models"]["candidate"]["slices"]["zip"]) == len(set(zips))  # evidence keeps them all
    assert wall < 60


def test_six_sensitive_columns_finish_with_a_short_pdf(tmp_path, capsys):
    rng = np.random.default_rng(3)
    cols = _six_columns(rng)
    hurt = (cols["s0"] == "a") & (cols["s1"] == "b") & (cols["s2"] == "c")
    rules = [{"id": "ALL", "kind": "slice_metric_drop", "metric": "accuracy", "by": ["*"], "max_drop": 0.3,
              "min_slice_size": 3}]
    manifest = _release(tmp_path, cols, hurt, rules)
    out = tmp_path / "out"
    code, wall = _check(capsys, manifest, out)
    assert code == 1
    full = " & ".join(cols)
    evidence = json.loads((out / "evidence.json").read_text())
    assert list(evidence["dimensions"]) == [*cols, full, "class"]  # 7 dimensions, not 2^6
    assert len(evidence["models"]["candidate"]["slices"][full]) == len(set(zip(*cols.values())))
    assert _pages(out / "audit_report.pdf") < MAX_PAGES
    assert (out / "audit_report.html").stat().st_size < MAX_HTML_BYTES
    assert "slices not shown" in (out / "audit_report.html").read_text()
    assert wall < 60


def test_few_slices_are_all_shown_in_their_order(tmp_path):
    cols = {"g": np.array(["a", "b", "c", "d"] * (ROWS // 4))}
    rules = [{"id": "G", "kind": "slice_metric_drop", "metric": "accuracy", "by": ["g"], "max_drop": 0.3}]
    manifest = _release(tmp_path, cols, np.zeros(ROWS, bool), rules)
    _, evidence = gate(manifest, *rules)
    g, _ = slice_tables(evidence, ["accuracy"], set(), set())
    assert [r["value"] for r in g["rows"]] == ["a", "b", "c", "d"] and g["hidden"] == 0


def test_thousands_of_failing_slices_are_capped_worst_first_and_counted():
    base = {"zip": {f"z{i:03d}": rates(50, 0.9) for i in range(300)}}
    cand = {"zip": {f"z{i:03d}": rates(50, 0.9 - i / 1000) for i in range(300)}}  # z299 is hurt most
    ev = evidence(OVERALL_B, OVERALL_C, base, cand)
    (t,) = slice_tables(ev, ["accuracy"], set(), {f"zip=z{i:03d}" for i in range(300)})
    assert len(t["rows"]) == FAILING_SHOWN_PER_DIMENSION and t["hidden"] == 300 - FAILING_SHOWN_PER_DIMENSION
    assert t["failing_hidden"] == 300 - FAILING_SHOWN_PER_DIMENSION
    assert [r["value"] for r in t["rows"][:3]] == ["z299", "z298", "z297"]
    (t,) = slice_tables(ev, ["accuracy"], set(), set())  # nothing failing: the worst 20 only
    assert len(t["rows"]) == SHOWN_PER_DIMENSION and t["failing_hidden"] == 0 and t["rows"][-1]["value"] == "z280"
