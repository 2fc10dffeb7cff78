"""slice_metric_drop: no slice of the sensitive columns may lose more than ``max_drop``; thin slices are named,
not judged; with many slices, multiple-comparison corrections keep noise from blocking."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from builders import OVERALL_B, OVERALL_C, evidence, one, random_release, rates

from governance.evidence.collect import collect
from governance.findings import Status
from governance.manifest import load_manifest

SLICES_B = {"g": {"a": rates(500, 0.90), "b": rates(300, 0.88), "c": rates(20, 0.95)}}
SLICES_C = {"g": {"a": rates(500, 0.89), "b": rates(300, 0.83), "c": rates(20, 0.50)}}


def test_slice_drop_fails_on_the_worst_judged_slice_and_skips_small_ones():
    f = one({"kind": "slice_metric_drop", "metric": "accuracy", "by": ["g"], "max_drop": 0.03},
            evidence(OVERALL_B, OVERALL_C, SLICES_B, SLICES_C))
    assert f.status == Status.FAIL
    assert f.details["worst_slice"] == "g=b" and f.observed == pytest.approx(0.05)
    assert f.details["slices_tested"] == 2 and [s["slice"] for s in f.details["skipped_too_small"]] == ["c"]
    assert "g=b" in f.message and "below the minimum size" in f.message


def test_slice_drop_passes_when_every_judged_slice_is_within_the_limit():
    # the thin slice c is not judged; it must not be badly hurt either (see tests/test_not_judged.py)
    unhurt = {"g": {**SLICES_C["g"], "c": rates(20, 0.93)}}
    f = one({"kind": "slice_metric_drop", "metric": "accuracy", "by": ["g"], "max_drop": 0.06},
            evidence(OVERALL_B, OVERALL_C, SLICES_B, unhurt))
    assert f.status == Status.PASS


def test_slice_drop_with_every_slice_too_small_is_inconclusive_never_pass():
    f = one({"kind": "slice_metric_drop", "metric": "accuracy", "by": ["g"], "max_drop": 0.5, "min_slice_size": 1000},
            evidence(OVERALL_B, OVERALL_C, SLICES_B, SLICES_C))
    assert f.status == Status.INCONCLUSIVE


def test_slice_rule_on_a_dimension_missing_from_evidence_is_an_error_that_blocks():
    f = one({"kind": "slice_metric_drop", "metric": "accuracy", "by": ["zip"], "max_drop": 0.5},
            evidence(OVERALL_B, OVERALL_C, SLICES_B, SLICES_C))
    assert f.status == Status.ERROR and f.blocks


def test_multiple_comparisons_turn_a_fail_on_noise_into_a_pass(noise_evidence):
    rule = {"kind": "slice_metric_drop", "metric": "accuracy", "by": ["sex", "race"], "max_drop": 0.0,
            "min_slice_size": 30}
    plain = one(rule, noise_evidence)
    assert plain.status == Status.FAIL and plain.details["slices_tested"] == 14
    for method in ("holm", "bh"):
        corrected = one({**rule, "multiple_comparisons": method}, noise_evidence)
        assert corrected.status == Status.PASS, corrected.message
        assert f"{method}-corrected" in corrected.message and "14 slice(s) tested" in corrected.message
        assert all(0 <= s["p_value"] <= 1 for s in corrected.details["slices"])


def test_multiple_comparisons_still_fail_a_real_drop(tmp_path):
    df, _, _ = random_release(tmp_path, 21, n=1600)
    y = df["label"].to_numpy()  # the baseline is right on every row, the candidate is noise: ~50 points lost
    pd.DataFrame({"p0": np.where(y == 0, 0.9, 0.1), "p1": np.where(y == 1, 0.9, 0.1)}).to_parquet(
        tmp_path / "baseline.parquet")
    dropped = collect(load_manifest(tmp_path / "release.yaml"))
    rule = {"kind": "slice_metric_drop", "metric": "accuracy", "by": ["sex"], "max_drop": 0.2,
            "multiple_comparisons": "holm"}
    assert one(rule, dropped).status == Status.FAIL
    # the release's confidence sets the test's alpha (1 - confidence): at 0.999999 no drop would be significant
    lax = dropped.model_copy(update={"comparisons": dropped.comparisons.model_copy(update={"confidence": 0.999999})})
    f = one(rule, lax)
    assert f.status == Status.ERROR and f.blocks and "fails nothing" in f.message, f.message
    # uncorrected, a higher confidence only widens the interval a bound rule decides on: still judged
    assert one({**rule, "multiple_comparisons": "none", "decide_on": "bound"}, lax).status == Status.FAIL
