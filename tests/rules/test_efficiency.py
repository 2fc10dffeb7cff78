"""efficiency: pruning must buy something (sparsity, size, speed) measured on the declared hardware.

How efficiency is measured (sparsity, multiply-adds, latency) is in tests/test_efficiency.py."""

from __future__ import annotations

from builders import OVERALL_B, OVERALL_C, evidence, one, with_sections

from governance.evidence.schema import Efficiency, LatencyStats, ModelEfficiency
from governance.findings import Status

LAT = [LatencyStats(batch_size=1, repeats=30, median_ms=1.0, p95_ms=1.2, rows_per_s=1000.0)]
EFF = Efficiency(device="cpu", hardware="test cpu", method="interleaved",
                 models={"baseline": ModelEfficiency(bytes=1000, bytes_gzip=900, latency=LAT),
                         "candidate": ModelEfficiency(sparsity=0.5, sparsity_scope="2 weight tensors", bytes=1000,
                                                      bytes_gzip=600, latency=LAT)},
                 compression_ratio=1.5, size_reduction=1 / 3, speedup={"1": 1.0})


def test_efficiency_passes_when_sparsity_and_size_reduction_are_reached():
    ev = with_sections(evidence(OVERALL_B, OVERALL_C), efficiency=EFF)
    assert one({"kind": "efficiency", "min_sparsity": 0.4, "min_size_reduction": 0.3}, ev).status == Status.PASS


def test_efficiency_fails_without_the_speedup_or_latency_and_names_the_hardware():
    ev = with_sections(evidence(OVERALL_B, OVERALL_C), efficiency=EFF)
    f = one({"kind": "efficiency", "min_sparsity": 0.4, "min_speedup": 1.5}, ev)
    assert f.status == Status.FAIL and "speedup" in f.message and "test cpu" in f.message
    assert one({"kind": "efficiency", "max_latency_ms": 0.5}, ev).status == Status.FAIL


def test_efficiency_at_an_unmeasured_batch_size_is_an_error():
    ev = with_sections(evidence(OVERALL_B, OVERALL_C), efficiency=EFF)
    assert one({"kind": "efficiency", "min_speedup": 1.1, "batch_size": 256}, ev).status == Status.ERROR


def test_zeros_in_parameters_the_baseline_lacks_earn_no_sparsity():
    """An unused all-zero tensor of 100,000 added to the candidate raised its own sparsity from 0 to 0.99."""
    base = ModelEfficiency(parameters=1346, nonzero_parameters=1346, sparsity=0.0, bytes=1000, bytes_gzip=900,
                           latency=LAT)
    padded = ModelEfficiency(parameters=101346, nonzero_parameters=1346, sparsity=1 - 1346 / 101346,
                             sparsity_scope="7 tensors", bytes=1000, bytes_gzip=900, latency=LAT)
    half = ModelEfficiency(parameters=1346, nonzero_parameters=673, sparsity=0.5, sparsity_scope="7 tensors",
                           bytes=1000, bytes_gzip=600, latency=LAT)
    rule = {"kind": "efficiency", "min_sparsity": 0.4}
    for cand, status, observed in ((padded, Status.FAIL, 0.0), (half, Status.PASS, 0.5)):
        eff = EFF.model_copy(update={"models": {"baseline": base, "candidate": cand}})
        f = one(rule, with_sections(evidence(OVERALL_B, OVERALL_C), efficiency=eff))
        assert f.status == status and f.observed == observed, f.message
    padded_and_pruned = padded.model_copy(update={"nonzero_parameters": 600})  # 1 - 600/1346 = 0.554 is credited
    eff = EFF.model_copy(update={"models": {"baseline": base, "candidate": padded_and_pruned}})
    f = one(rule, with_sections(evidence(OVERALL_B, OVERALL_C), efficiency=eff))
    assert f.status == Status.PASS and abs(f.observed - (1 - 600 / 1346)) < 1e-12
    assert "over the baseline's 1,346 parameters" in f.message
