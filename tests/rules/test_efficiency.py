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
