"""Identity: a "pruned" candidate that is the baseline itself (the same file, or the same scores on every row)
saves nothing and changes nothing, so every comparison in the report is trivially perfect. It must not ship
as a pruned model."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from ..evidence.schema import Evidence
from ..findings import Finding, Status
from .base import PolicyDefaults, RuleBase, finding, rule

SAME_FILE = ("baseline and candidate are the same file (sha256 {sha}…): the candidate is the baseline, not a pruned "
             "model, and every comparison in this report compares a model with itself")
SAME_SCORES = ("baseline and candidate gave identical scores on every one of the {rows} rows{within}: the candidate "
               "behaves exactly as the baseline, so it is the baseline under another name (re-saved, converted or "
               "copied) rather than a pruned model")
WITHIN_TOLERANCE = " (largest difference {diff:g}, within score_tolerance {tolerance:g}{scaled})"
#: regression: the tolerance is relative to the predictions' magnitude, so a regressor in dollars or in millions is
#: judged alike (an absolute 1e-6 counted a float32 copy of a regressor predicting ~1e6 as a distinct model)
SCALED = " x the largest |baseline prediction| {scale:g} = {effective:g}"
NO_SCALE = ("the evidence records no magnitude of the baseline's predictions (agreement.max_abs_baseline_score, "
            "written by an older version or by hand), so whether a largest difference of {diff:g} is a re-saved "
            "copy or a pruned model was not judged: collect the evidence again")
DISTINCT = ("baseline and candidate are different files and their scores differ (largest difference {diff:g} on "
            "{rows} rows)")
IDENTICAL_ALLOWED = ("baseline and candidate are different files with identical scores on all {rows} rows (largest "
                     "difference {diff:g}), which this rule allows (allow_identical_scores)")
#: lm_eval: a run assembled from the pruned model's files for some tasks and the baseline's for others (the tasks
#: it lost most on, say) differs overall, so the whole-run check alone passed it
COPIED_TASKS = ("{count} of {total} tasks have the baseline's results in the candidate run (the same samples file, or "
                "every document's score within {tolerance:g} and none changed): {tasks}. A copy of the baseline's run "
                "stands in for the pruned model's there, so those tasks were not evaluated on the candidate")
SHOWN_TASKS = 10
NO_ROWS = "no evaluation row was scored: whether the candidate differs from the baseline was not judged"
#: the default score_tolerance: the baseline converted to ONNX or float32, or nudged by 1e-12, is still the baseline
#: (1.4e-7 apart on every row passed with a tolerance of 0); real pruning moves scores by far more. For a regressor
#: it is relative: float32 keeps about 7 significant digits whatever the units
DEFAULT_TOLERANCE = 1e-6


class DistinctModels(RuleBase):
    """Fails when the candidate is the baseline: the same file (equal sha256), or, unless
    ``allow_identical_scores``, scores within ``score_tolerance`` of the baseline's on every row (for a regressor,
    within ``score_tolerance`` times the largest baseline prediction's magnitude). For an lm_eval release it also
    fails when any one task's candidate results are the baseline's (the same samples file, or every document's
    top-choice probability within ``score_tolerance``), since a run patched with the baseline's files for the tasks
    that regressed still differs overall."""

    kind: Literal["distinct_models"]
    allow_identical_scores: bool = Field(
        False, description="true: only an identical file fails (e.g. a release that re-packages the same weights "
                           "on purpose)")
    score_tolerance: float = Field(
        DEFAULT_TOLERANCE, ge=0, le=1,
        description="scores whose largest absolute difference on every row is at most this count as identical "
                    "(default 1e-6: a float32 conversion of the baseline moves probabilities by ~1e-7; 0: only "
                    "bit-identical scores). For a regressor it is relative: the largest difference is compared "
                    "with this times the largest |baseline prediction|, so the units do not matter")


@rule("distinct_models", DistinctModels)
def distinct_models(rule: DistinctModels, evidence: Evidence, defaults: PolicyDefaults) -> Finding:
    base, cand = evidence.inputs.get("baseline"), evidence.inputs.get("candidate")
    agreement = evidence.agreement
    diff, rows = agreement.max_abs_score_difference, agreement.rows
    details: dict[str, Any] = {"baseline_sha256": base.sha256 if base else None,
                               "candidate_sha256": cand.sha256 if cand else None,
                               "max_abs_score_difference": diff, "rows": rows}
    if base is not None and cand is not None and base.sha256 == cand.sha256:
        return finding(rule, Status.FAIL, SAME_FILE.format(sha=base.sha256[:12]) + ".", observed=diff,
                       threshold=rule.score_tolerance, same_file=True, **details)
    if rows == 0:
        return finding(rule, Status.INCONCLUSIVE, NO_ROWS, same_file=False, **details)
    tolerance, scaled = rule.score_tolerance, ""
    if evidence.task == "regression":
        scale = agreement.max_abs_baseline_score
        if scale is None:
            return finding(rule, Status.INCONCLUSIVE, NO_SCALE.format(diff=diff), same_file=False, **details)
        tolerance = rule.score_tolerance * scale
        scaled = SCALED.format(scale=scale, effective=tolerance)
        details.update(max_abs_baseline_score=scale, tolerance=tolerance)
    if not rule.allow_identical_scores and diff <= tolerance:
        within = WITHIN_TOLERANCE.format(diff=diff, tolerance=rule.score_tolerance, scaled=scaled) if diff else ""
        return finding(rule, Status.FAIL, SAME_SCORES.format(rows=rows, within=within) + ".", observed=diff,
                       threshold=tolerance, same_file=False, **details)
    if evidence.lm_eval is not None and not rule.allow_identical_scores and (copied := _copied_tasks(evidence,
                                                                                                   tolerance)):
        shown = ", ".join(copied[:SHOWN_TASKS]) + (f" and {len(copied) - SHOWN_TASKS} more"
                                                    if len(copied) > SHOWN_TASKS else "")
        return finding(rule, Status.FAIL, COPIED_TASKS.format(count=len(copied), total=len(evidence.lm_eval.tasks),
                                                              tasks=shown, tolerance=tolerance) + ".",
                       observed=len(copied), threshold=0, same_file=False, copied_tasks=copied, **details)
    message = (DISTINCT.format(diff=diff, rows=rows) if diff > tolerance
               else IDENTICAL_ALLOWED.format(diff=diff, rows=rows))
    return finding(rule, Status.PASS, message + ".", observed=diff, threshold=tolerance, same_file=False, **details)


def _copied_tasks(evidence: Evidence, tolerance: float) -> list[str]:
    """lm_eval: the tasks whose candidate samples file is the baseline's (equal sha256), or whose every document's
    top-choice probability is within ``tolerance`` of the baseline's with no correctness changed."""
    assert evidence.lm_eval is not None
    out = []
    for name, task in sorted(evidence.lm_eval.tasks.items()):
        base, cand = task.files.get("baseline"), task.files.get("candidate")
        same_file = base is not None and cand is not None and base.sha256 == cand.sha256
        diff = task.max_abs_score_difference
        if same_file or (diff is not None and task.samples and diff <= tolerance):
            out.append(name)
    return out
