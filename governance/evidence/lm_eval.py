"""Evidence for task lm_eval: two lm-evaluation-harness runs (baseline, pruned candidate) on the same documents.

Each document is a row whose true label is 1 ("correct") and whose "prediction" per model is its 0/1 per-sample
metric, in the cell (task, group, capability). So the existing accumulator gives accuracy per slice, the paired
multinomial bootstrap gives the drop's interval, and flips (fixed/broken) come from the same counts; the exact
McNemar test reads the discordant counts. Calibration is the top choice's softmax probability over the choices'
log-likelihoods against ``acc`` (multiple-choice tasks only), binned like the classifier ECE.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import numpy as np
from scipy.special import bdtr

from .. import __version__
from ..hashing import file_ref
from ..manifest import LM_EVAL_DIMENSIONS, Release
from ..models.lm_eval import FILTER_CHOSEN, TaskPair, declared_filter, excluded_tasks, load_pairs
from .accumulator import Accumulator, SliceRef
from .bootstrap import COUNT_METHOD, interval, resample_metrics
from .provenance_facts import collect_documentation, collect_provenance
from .schema import (
    ROLES,
    Agreement,
    Calibration,
    CalibrationStats,
    Comparison,
    Comparisons,
    DataEvidence,
    Evidence,
    FileRef,
    Interval,
    LmEval,
    LmEvalTask,
    ModelEvidence,
    PairedTest,
)

MCNEMAR = ("exact McNemar test: two-sided binomial test of the broken documents among the "
           "discordant ones (broken + fixed) at 1/2; per-document correctness is each task's 0/1 metric")
CALIBRATION_SCORE = "top choice's softmax probability over the choices' log-likelihoods (multiple-choice tasks)"
#: a run's samples, hashed as one input: the sha256 of its sha256sum-style listing (template: none)
LISTING = "{sha256}  {path}\n"
#: evidence.warnings for tasks the manifest leaves out (template: tasks)
EXCLUDED = "tasks not judged (lm_eval.exclude): {tasks}"
_METRICS_KEPT = ("count", "accuracy")  # per-document correctness has one metric; the rest would mislead


def mcnemar_p(broken: int, fixed: int) -> float:
    """Two-sided exact McNemar p-value from the discordant counts (1.0 when there are none): twice the binomial
    tail P(X <= min) at 1/2, which is scipy.stats.binomtest's two-sided p for a symmetric null (tests check both
    and statsmodels' mcnemar(exact=True)); scipy.special avoids importing scipy.stats (seconds) on every run."""
    n = broken + fixed
    return 1.0 if n == 0 else float(min(1.0, 2.0 * bdtr(min(broken, fixed), n, 0.5)))


def run_ref(pairs: list[TaskPair], role: int, name: str) -> FileRef:
    """One run as one input: the sha256 of the listing of its files' sha256s, and their total size."""
    listing = "".join(LISTING.format(sha256=p.files[role].sha256, path=p.files[role].path) for p in pairs)
    import hashlib

    return FileRef(path=name, sha256=hashlib.sha256(listing.encode()).hexdigest(),
                   bytes=sum(p.files[role].bytes for p in pairs))


def _paired(count: int, base_correct: int, cand_correct: int, fixed: int, broken: int) -> PairedTest:
    def rate(x: int) -> float | None:
        return x / count if count else None

    b, c = rate(base_correct), rate(cand_correct)
    return PairedTest(count=count, baseline_accuracy=b, candidate_accuracy=c,
                      difference=None if b is None or c is None else c - b, fixed=fixed, broken=broken,
                      fixed_rate=rate(fixed), broken_rate=rate(broken), flip_rate=rate(fixed + broken),
                      mcnemar_p=mcnemar_p(broken, fixed))


class _Bins:
    """Calibration sums per cell and model: (count, confidence sum, hit sum, squared error sum) per bin."""

    def __init__(self, cells: int, bins: int) -> None:
        self.edges = np.linspace(0.0, 1.0, bins + 1)
        self.sums = np.zeros((cells, 2, 3, bins))
        self.brier = np.zeros((cells, 2))

    def add(self, cell: int, model: int, conf: np.ndarray, hit: np.ndarray) -> None:
        b = len(self.edges) - 1
        binid = np.searchsorted(self.edges[1:-1], conf)  # the binning of sklearn's calibration_curve
        for j, w in enumerate((None, conf, hit.astype(np.float64))):
            self.sums[cell, model, j] += np.bincount(binid, weights=w, minlength=b)
        self.brier[cell, model] += float(np.sum((conf - hit) ** 2))

    def stats(self, cells: list[int], model: int, curve: bool = False) -> CalibrationStats:
        count, conf_sum, hit_sum = self.sums[cells, model].sum(axis=0)
        n = int(count.sum())
        if n == 0:
            return CalibrationStats(count=0, ece=None, brier=None)
        filled = count > 0
        conf = np.divide(conf_sum, count, out=np.zeros_like(conf_sum), where=filled)
        acc = np.divide(hit_sum, count, out=np.zeros_like(hit_sum), where=filled)
        ece = float(np.sum(count[filled] / n * np.abs(acc[filled] - conf[filled])))
        reliability: dict[str, Any] | None = None
        if curve:
            reliability = {"bin_edges": [float(e) for e in self.edges], "count": [int(c) for c in count],
                           "mean_confidence": [float(c) if f else None for c, f in zip(conf, filled)],
                           "accuracy": [float(a) if f else None for a, f in zip(acc, filled)]}
        return CalibrationStats(count=n, ece=ece, brier=float(self.brier[cells, model].sum() / n),
                                reliability=reliability)  # type: ignore[arg-type]


def collect_lm_eval(release: Release) -> Evidence:
    """The evidence of an lm_eval release: both runs read, joined and measured (no models run)."""
    m = release.manifest
    ev = m.evaluation
    provenance = collect_provenance(release)
    documentation = collect_documentation(release)
    pairs = load_pairs(release)
    acc = Accumulator(2, 1, roc_auc=False, bins=ev.calibration_bins, examples=ev.broken_examples,
                      seed=ev.bootstrap.seed)
    bins = _Bins(len(pairs), ev.calibration_bins)
    offsets, offset = [], 0
    for p in pairs:
        ids = acc.cell_ids([(p.task, p.group, p.capability)])
        n = len(p.doc_id)
        probs = []
        for correct in p.correct:
            proba = np.empty((n, 2))
            proba[:, 1] = correct
            proba[:, 0] = 1 - proba[:, 1]
            probs.append(proba)
        acc.update(np.full(n, ids[0], dtype=np.int64), np.ones(n, dtype=np.int64), probs[0], probs[1],
                   rows=offset + np.arange(n))
        if p.confidence is not None and p.hit is not None:
            for model in (0, 1):
                bins.add(int(ids[0]), model, p.confidence[model], p.hit[model])
        offsets.append(offset)
        offset += n
    refs: dict[str, dict[str, SliceRef]] = {}
    for d, dim in enumerate(LM_EVAL_DIMENSIONS):
        groups: dict[str, list[int]] = {}
        for cid, key in enumerate(acc.keys):
            groups.setdefault(key[d], []).append(cid)
        refs[dim] = {v: SliceRef(cells) for v, cells in sorted(groups.items())}
    everything = list(range(len(acc.keys)))
    total = acc.rows
    folder = release.folder
    files = {"manifest": file_ref(release.path, folder), "baseline": run_ref(pairs, 0, m.baseline.path),
             "candidate": run_ref(pairs, 1, m.candidate.path)}
    models: dict[str, ModelEvidence] = {}
    points: dict[str, dict[str, Any]] = {}
    for i, role in enumerate(ROLES):
        slices = {d: {v: _kept(s, total) for v, s in acc.metrics_many(values, i).items()} for d, values in refs.items()}
        overall = {k: v for k, v in _kept(acc.metrics(everything, i), total).items() if k != "share"}
        points[role] = {"overall": overall, "slices": slices}
        models[role] = ModelEvidence(format="lm-eval-samples", file=files[role],
                                     description={"samples": total, "tasks": len(pairs)}, overall=overall,
                                     slices=slices)
    agree = acc.agreement()
    confidences = [np.abs(p.confidence[0] - p.confidence[1]) for p in pairs if p.confidence is not None]
    agreement = Agreement(
        rows=int(agree["count"] or 0), same_prediction=agree["same_prediction"], fixed=int(agree["fixed"] or 0),
        broken=int(agree["broken"] or 0),
        # the largest change of a document's top-choice probability; 1 where a document's correctness changed
        max_abs_score_difference=max(float(max((float(c.max()) for c in confidences if len(c)), default=0.0)),
                                     1.0 if agree["fixed"] or agree["broken"] else 0.0),
        slices={d: {v: acc.agreement(r.cells) for v, r in values.items()} for d, values in refs.items()},
        broken_examples=[int(r) for r in acc.broken_rows])
    calibration = None
    if bins.sums[:, :, 0].sum():
        calibration = Calibration(
            bins=ev.calibration_bins, score=CALIBRATION_SCORE,
            models={r: bins.stats(everything, i, curve=True) for i, r in enumerate(ROLES)},
            slices={d: {v: {r: bins.stats(ref.cells, i) for i, r in enumerate(ROLES)} for v, ref in values.items()}
                    for d, values in refs.items()})
    warnings = [EXCLUDED.format(tasks=", ".join(excluded))] if (excluded := excluded_tasks(release)) else []
    spec = m.lm_eval
    warnings += [FILTER_CHOSEN.format(task=p.task, count=len(p.filters), filter=p.filter,
                                      filters=", ".join(p.filters)) for p in pairs
                 if len(p.filters) > 1 and (spec is None or declared_filter(p.task, spec) is None)]
    if files["baseline"].sha256 == files["candidate"].sha256:
        warnings.append("baseline and candidate are the same samples files: this gate compares a run with itself")
    elif agreement.fixed == agreement.broken == 0 and agreement.max_abs_score_difference == 0.0:
        warnings.append("baseline and candidate scored every document identically: check the candidate run is "
                        "really the pruned model's")
    return Evidence(
        tool={"name": "pruning-governance", "version": __version__},
        created_at=datetime.now(timezone.utc),
        libraries=_libraries(),
        release={"name": m.name, "version": m.version},
        task="lm_eval",
        inputs=files,
        data=DataEvidence(file=files["baseline"], rows=total, target="correct (each task's 0/1 per-sample metric)",
                          sensitive=list(LM_EVAL_DIMENSIONS), features=[], classes=["0", "1"], positive_label="1"),
        dimensions={d: [d] for d in LM_EVAL_DIMENSIONS},
        models=models,  # type: ignore[arg-type]
        agreement=agreement,
        comparisons=_comparisons(acc, refs, points, m) if ev.bootstrap.resamples else None,
        calibration=calibration,
        provenance=provenance,
        documentation=documentation,
        approvals=[a.model_dump(mode="json") for a in m.approvals],
        warnings=warnings,
        lm_eval=_lm_eval(acc, refs, pairs, offsets),
    )


def _kept(stats: dict[str, Any], total: int) -> dict[str, Any]:
    out = {k: stats.get(k) for k in _METRICS_KEPT}
    out["share"] = (out["count"] or 0) / total if total else None
    return out


def _libraries() -> dict[str, str]:
    from .collect import library_versions

    return library_versions()


def _comparisons(acc: Accumulator, refs: dict[str, dict[str, SliceRef]], points: dict[str, dict[str, Any]],
                 m: Any) -> Comparisons:
    """Paired bootstrap intervals of accuracy, overall and per slice (the classifier path's method)."""
    spec = m.evaluation.bootstrap
    named = {"\0overall": SliceRef(list(range(len(acc.keys))))}
    named.update({f"{d}\0{v}": ref for d, values in refs.items() for v, ref in values.items()})
    draws = resample_metrics(acc, named, spec.resamples, spec.seed)

    def compare(key: str, base: dict[str, Any], cand: dict[str, Any]) -> dict[str, Comparison]:
        b, c = base.get("accuracy"), cand.get("accuracy")
        cis: dict[str, Interval | None] = {}
        if key in draws:
            vb, vc = draws[key]["baseline:accuracy"], draws[key]["candidate:accuracy"]
            for label, values in (("baseline_ci", vb), ("candidate_ci", vc), ("difference_ci", vc - vb)):
                ci = interval(values, spec.confidence)
                cis[label] = Interval(ci_low=ci[0], ci_high=ci[1]) if ci else None
        return {"accuracy": Comparison(baseline=b, candidate=c, difference=None if b is None or c is None else c - b,
                                       **cis)}

    return Comparisons(
        method=COUNT_METHOD, resamples=spec.resamples, seed=spec.seed, confidence=spec.confidence,
        overall=compare("\0overall", points["baseline"]["overall"], points["candidate"]["overall"]),
        slices={d: {v: compare(f"{d}\0{v}", points["baseline"]["slices"][d][v], points["candidate"]["slices"][d][v])
                    for v in values} for d, values in refs.items()})


def _test(acc: Accumulator, cells: list[int]) -> PairedTest:
    base = acc.confusion(cells, 0)
    cand = acc.confusion(cells, 1)
    a = acc.agreement(cells)
    return _paired(int(base[1].sum()), int(base[1, 1]), int(cand[1, 1]), int(a["fixed"] or 0), int(a["broken"] or 0))


def _task_difference(pair: TaskPair) -> float | None:
    """One task's largest score change (see LmEvalTask.max_abs_score_difference): a copy of the baseline's file for
    one task must show even when the other tasks differ."""
    changed = bool(np.any(pair.correct[0] != pair.correct[1]))
    if pair.confidence is None:
        return 1.0 if changed else None
    moved = float(np.abs(pair.confidence[0] - pair.confidence[1]).max()) if len(pair.doc_id) else 0.0
    return max(moved, 1.0 if changed else 0.0)


def _lm_eval(acc: Accumulator, refs: dict[str, dict[str, SliceRef]], pairs: list[TaskPair],
             offsets: list[int]) -> LmEval:
    tasks = {p.task: LmEvalTask(metric=p.metric, filter=p.filter, multiple_choice=p.confidence is not None,
                                samples=len(p.doc_id),
                                group=p.group, capability=p.capability,
                                files={"baseline": p.files[0], "candidate": p.files[1]},
                                max_abs_score_difference=_task_difference(p)) for p in pairs}
    scored = [p for p in pairs if len(p.doc_id)]
    average: dict[str, float] = {role: float(np.mean([p.correct[i].mean() for p in scored])) if scored else 0.0
                                 for i, role in enumerate(ROLES)}
    starts = np.asarray(offsets, dtype=np.int64)
    examples: list[dict[str, str | int]] = []
    for row in acc.broken_rows:
        t = int(np.searchsorted(starts, row, side="right") - 1)
        examples.append({"task": pairs[t].task, "doc_id": int(pairs[t].doc_id[int(row) - offsets[t]])})
    return LmEval(method=MCNEMAR, tasks=tasks, task_average=average,
                  overall=_test(acc, list(range(len(acc.keys)))),
                  slices={d: {v: _test(acc, r.cells) for v, r in values.items()} for d, values in refs.items()},
                  broken_examples=examples)
