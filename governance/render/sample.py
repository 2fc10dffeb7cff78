"""A synthetic evidence + verdict with every optional section filled, for template previews, tests and
the render benchmark (``benchmarks/render_report.py``). Numbers are made up but consistent."""

from __future__ import annotations

import hashlib
from datetime import date, datetime, timezone

import numpy as np

from ..evidence.schema import (
    ROLES,
    Agreement,
    Calibration,
    CalibrationStats,
    Comparison,
    Comparisons,
    DataEvidence,
    Efficiency,
    Evidence,
    FileRef,
    Interval,
    LatencyStats,
    ModelEfficiency,
    ModelEvidence,
    Reliability,
    Robustness,
    RobustnessLevel,
    Role,
)
from ..findings import Finding, Status, Verdict, decide

METRICS = ("accuracy", "balanced_accuracy", "recall", "roc_auc", "log_loss")


def _ref(path: str, seed: int) -> FileRef:
    return FileRef(path=path, sha256=f"{seed:02x}" * 32, bytes=1000 + seed)


def _comparison(b: float, c: float, half: float) -> Comparison:
    return Comparison(baseline=b, candidate=c, difference=c - b,
                      baseline_ci=Interval(ci_low=b - half, ci_high=b + half),
                      candidate_ci=Interval(ci_low=c - half, ci_high=c + half),
                      difference_ci=Interval(ci_low=c - b - half / 2, ci_high=c - b + half / 2))


def sample_evidence(slices: int = 50, seed: int = 0) -> Evidence:
    """Evidence for a binary task with one dimension of ``slices`` slices and every optional section."""
    rng = np.random.default_rng(seed)
    names = [f"segment-{i:02d}" for i in range(slices)]
    counts = rng.integers(20, 2000, size=slices)
    rows = int(counts.sum())

    def values(acc: float) -> dict[str, float]:
        return {"accuracy": acc, "balanced_accuracy": acc - 0.05, "recall": min(acc + 0.05, 1.0),
                "roc_auc": min(acc + 0.03, 1.0), "log_loss": 1.2 - acc}

    base_acc = rng.uniform(0.75, 0.9, size=slices)
    cand_acc = base_acc - rng.normal(0.005, 0.01, size=slices)
    models: dict[Role, ModelEvidence] = {}
    overall: dict[Role, dict[str, float]] = {}
    comp_slices: dict[str, dict[str, Comparison]] = {}
    for role, acc in zip(ROLES, (base_acc, cand_acc)):
        overall_acc = float(np.average(acc, weights=counts))
        overall[role] = values(overall_acc)
        models[role] = ModelEvidence(
            format="skops", file=_ref(f"{role}.skops", 1 if role == "baseline" else 2),
            description={"parameters": 20000, "nonzero_parameters": 20000 if role == "baseline" else 9000},
            overall={"count": rows, **values(overall_acc)},
            slices={"segment": {n: {"count": int(c), **values(float(a))} for n, c, a in zip(names, counts, acc)}},
            fairness={"segment": {"demographic_parity_difference": 0.1 + 0.02 * (role == "candidate"),
                                  "equalized_odds_difference": 0.12 + 0.03 * (role == "candidate")}},
        )
    for n, c, b, a in zip(names, counts, base_acc, cand_acc):
        half = float(1.96 * np.sqrt(b * (1 - b) / c))
        comp_slices[n] = {m: _comparison(values(float(b))[m], values(float(a))[m], half) for m in METRICS}
    ob, oc = overall["baseline"], overall["candidate"]
    bins = 10
    edges = [i / bins for i in range(bins + 1)]

    def reliability(shift: float) -> Reliability:
        mids = [(i + 0.5) / bins for i in range(bins)]
        counts = [rows // bins] * (bins - 1) + [rows - rows // bins * (bins - 1)]  # the bins hold every row
        return Reliability(bin_edges=edges, count=counts, mean_confidence=list(mids),
                           accuracy=[min(max(m + shift * np.sin(6 * m), 0.0), 1.0) for m in mids])

    latency = {role: [LatencyStats(batch_size=b, repeats=30, median_ms=ms, p95_ms=ms * 1.2, rows_per_s=b / ms * 1000)
                      for b, ms in ((1, 0.2 if role == "baseline" else 0.15),
                                    (256, 2.0 if role == "baseline" else 1.1))]
               for role in ("baseline", "candidate")}
    return Evidence(
        tool={"name": "pruning-governance", "version": "0.0.0-sample"},
        created_at=datetime(2025, 1, 2, 3, 4, 5, tzinfo=timezone.utc),
        libraries={"numpy": np.__version__},
        release={"name": "sample-model", "version": "1.0.0-pruned"},
        task="binary_classification",
        inputs={"manifest": _ref("release.yaml", 3), "data": _ref("eval.parquet", 4),
                "baseline": _ref("baseline.skops", 1), "candidate": _ref("candidate.skops", 2)},
        data=DataEvidence(file=_ref("eval.parquet", 4), rows=rows, target="label", sensitive=["segment"],
                          features=["x0", "x1"], classes=["0", "1"], positive_label="1"),
        dimensions={"segment": ["segment"]},
        models=models,
        agreement=Agreement(rows=rows, same_prediction=0.97, fixed=40, broken=55, max_abs_score_difference=0.3,
                            slices={"segment": {n: {"count": int(c), "same_prediction": 0.97, "fixed": 1, "broken": 2}
                                                for n, c in zip(names, counts)}},
                            broken_examples=[3, 17, 42]),
        comparisons=Comparisons(method="paired percentile bootstrap", resamples=1000, seed=0, confidence=0.95,
                                overall={m: _comparison(ob[m], oc[m], 0.01) for m in METRICS},
                                slices={"segment": comp_slices}),
        calibration=Calibration(bins=bins, score="positive-class probability", models={
            "baseline": CalibrationStats(count=rows, ece=0.03, brier=0.12, reliability=reliability(0.03)),
            "candidate": CalibrationStats(count=rows, ece=0.05, brier=0.13, reliability=reliability(0.06))},
            slices={"segment": {n: {"baseline": CalibrationStats(count=int(c), ece=0.03, brier=0.12),
                                    "candidate": CalibrationStats(count=int(c), ece=0.04, brier=0.125)}
                                for n, c in zip(names, counts)}}),
        efficiency=Efficiency(device="cpu", hardware="sample CPU", method="median of 30 interleaved repeats",
                              models={"baseline": ModelEfficiency(parameters=20000, nonzero_parameters=20000,
                                                                  sparsity=0.0, sparsity_scope="Linear weights",
                                                                  macs_dense=20000, macs_effective=20000, bytes=80000,
                                                                  bytes_gzip=74000, latency=latency["baseline"]),
                                      "candidate": ModelEfficiency(parameters=20000, nonzero_parameters=9000,
                                                                   sparsity=0.55, sparsity_scope="Linear weights",
                                                                   macs_dense=20000, macs_effective=9000, bytes=80000,
                                                                   bytes_gzip=41000, latency=latency["candidate"])},
                              compression_ratio=74000 / 41000, size_reduction=1 - 41000 / 74000,
                              speedup={"1": 0.2 / 0.15, "256": 2.0 / 1.1}),
        robustness=Robustness(seed=0, features=["x0", "x1"], levels=[
            RobustnessLevel(perturbation="gaussian", level=0.1, rows=rows,
                            accuracy={"baseline": 0.8, "candidate": 0.79},
                            drop={"baseline": 0.02, "candidate": 0.03}, extra_drop=0.01),
            RobustnessLevel(perturbation="gaussian", level=0.3, rows=rows,
                            accuracy={"baseline": 0.74, "candidate": 0.7},
                            drop={"baseline": 0.08, "candidate": 0.12}, extra_drop=0.04)]),
    )


def _accuracy(evidence: Evidence, role: Role) -> float:
    value = evidence.models[role].overall.get("accuracy")
    if value is None:
        raise ValueError(f"the {role}'s accuracy is undefined: not sample evidence")
    return float(value)


def sample_verdict(evidence: Evidence, *, blocked: bool = False) -> Verdict:
    drop = _accuracy(evidence, "baseline") - _accuracy(evidence, "candidate")
    limit = drop / 2 if blocked else drop + 0.01
    findings = [
        Finding(rule_id="PERF-001", kind="metric_drop", status=Status.FAIL if blocked else Status.PASS,
                severity="block", rmf=["MEASURE 2.3"], observed=drop, threshold=limit,
                message=f"accuracy worsened by {drop:.4f}, {'more than' if blocked else 'within'} the allowed "
                        f"{limit:.4f} (absolute; higher is better).",
                rationale="Pruning may cost at most a small, stated amount of accuracy.",
                details={"decided_on": "point"}),
        Finding(rule_id="FAIR-001", kind="slice_metric_drop", status=Status.PASS, severity="block",
                rmf=["MEASURE 2.11", "MANAGE 1.3"], observed=0.02, threshold=0.03,
                message="worst slice segment=segment-07: accuracy worsened by 0.0200, within the allowed 0.0300.",
                details={"skipped_too_small": ["segment=segment-01"], "decided_on": "point"}),
        Finding(rule_id="DOC-001", kind="documentation", status=Status.INCONCLUSIVE, severity="warn", rmf=[],
                message="no card facts to check."),
    ]
    from .jsonfiles import evidence_json

    return Verdict(decision=decide(findings), release=dict(evidence.release),
                   policy={"name": "sample-policy", "file": _ref("policy.yaml", 5).model_dump()},
                   evaluated_on=date(2025, 1, 3),
                   summary={s.value: sum(f.status == s for f in findings) for s in Status}, findings=findings,
                   inputs={"evidence.json": hashlib.sha256(evidence_json(evidence)).hexdigest()})
