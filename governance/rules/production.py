"""Production rows: does the candidate behave like the baseline there, and what accuracy do its scores promise?

Both judge ``evidence.production`` (the manifest's ``production:`` sample). Without it, or where a part was not
measured (regression releases), they are ``inconclusive`` and say why: a check that could not look never passes.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from ..evidence.production_agreement import AgreementStats, LabelFreeEstimate, ModelEstimate, ProductionAgreement
from ..evidence.production_schema import ProductionEvidence
from ..evidence.schema import Evidence
from ..findings import Finding, Status
from .base import PolicyDefaults, RuleBase, finding, fmt, rule

#: the manifest has no production block
NO_PRODUCTION = ("no production sample in this release (add a production: block to the release manifest): "
                 "{what} not judged")
#: the production pass did not measure this part (template: what, why)
NOT_MEASURED = "{what} was not measured on the production sample ({why}): not judged"
#: a rule names a dimension the production evidence has no slices for (template: dimension, known, missing)
NO_SLICES = ("no production slices for dimension {dimension!r} (production slices: {known}; sensitive columns the "
             "production sample lacks: {missing}): not judged")
#: the production file lacks a sensitive column the manifest does not declare unrecorded (template: columns, what)
UNDECLARED_MISSING = ("the production sample lacks sensitive column(s) {columns}, which production.unrecorded does "
                      "not list: a shift of production in them would go unseen, so {what} was not judged (list them "
                      "under production.unrecorded when production does not record them, or name the dimensions to "
                      "judge)")
#: too few production rows overall (template: rows, minimum)
TOO_FEW_ROWS = "only {rows} production rows (minimum {minimum}): not judged"
#: the label-free estimate's precondition (template: ece, limit)
NOT_CALIBRATED = ("the candidate is not calibrated enough for a confidence-based estimate (ECE {ece} > {limit} on "
                  "the evaluation set): label-free performance not judged")
#: the finding's sentence ends with the estimate's assumptions, in short (template: floor); details hold them in full
ASSUMES = (" Assumes (CBPE): calibrated probabilities, no shift into input regions the evaluation set lacks, no "
           "concept drift, enough rows; it cannot go below {floor}.")
#: the candidate's calibration on the evaluation set is unknown (template: why)
CALIBRATION_UNKNOWN = ("the candidate's calibration on the evaluation set is unknown ({why}), so a confidence-based "
                       "estimate cannot be trusted: label-free performance not judged")


def _production(evidence: Evidence, what: str) -> tuple[ProductionEvidence | None, str | None]:
    prod = evidence.production
    return (prod, None) if prod is not None else (None, NO_PRODUCTION.format(what=what))


def undeclared_missing(prod: ProductionEvidence, what: str) -> str | None:
    """Why a rule that weights or slices production by every sensitive column is not judged: one is missing from
    the production file without production.unrecorded saying so (None: judge)."""
    lacking = prod.undeclared_missing
    return UNDECLARED_MISSING.format(columns=", ".join(map(repr, lacking)), what=what) if lacking else None


def _why_missing(prod: ProductionEvidence) -> str:
    return "; ".join(prod.notes) or "not recorded in the evidence"


def _dimensions(wanted: list[str] | None, measured: dict, prod: ProductionEvidence) -> tuple[list[str], str | None]:
    """The dimensions to judge per slice, or why one asked for is not there."""
    if wanted is None:
        return list(measured), None
    for dim in wanted:
        if dim not in measured:
            return [], NO_SLICES.format(dimension=dim, known=", ".join(measured) or "none",
                                        missing=", ".join(prod.missing_sensitive) or "none")
    return list(wanted), None


class ProductionAgreementRule(RuleBase):
    """Fails when, on the production sample's rows, the two models predict the same class on fewer than
    ``min_agreement`` of them, their flip rate exceeds ``max_flip_rate``, or the Jensen-Shannon distance between
    their score histograms exceeds ``max_score_js``: overall and in every slice of ``dimensions`` with at least
    ``min_slice_rows`` production rows. No labels needed: both models score the same rows."""

    kind: Literal["production_agreement"]
    min_agreement: float = Field(ge=0, le=1, description="share of production rows where both models predict the "
                                                         "same class")
    max_flip_rate: float | None = Field(None, ge=0, le=1, description="share of production rows whose predicted "
                                                                      "class pruning changed, at most this")
    max_score_js: float | None = Field(0.1, ge=0, le=1, description="Jensen-Shannon distance (natural log) between "
                                                                    "the models' score histograms, at most this "
                                                                    "(null: not limited)")
    dimensions: list[str] | None = Field(None, description="judge the slices of these dimensions (evidence."
                                                           "production.agreement.slices; default: every one)")
    min_slice_rows: int | None = Field(None, ge=1, description="slices with fewer production rows are reported, not "
                                                               "judged (default: defaults.min_slice_size)")


#: problems named in a finding's sentence; the rest are counted (all are in details.problems)
LISTED = 4


def listed(problems: list[str]) -> str:
    """The first ``LISTED`` problems, then how many more: a sentence stays readable with hundreds of slices."""
    more = len(problems) - LISTED
    return "; ".join(problems[:LISTED]) + (f"; and {more} more (details.problems)" if more > 0 else "")


def _agreement_problems(rule: ProductionAgreementRule, s: AgreementStats) -> list[str]:
    out = []
    if s.same_prediction is not None and s.same_prediction < rule.min_agreement:
        out.append(f"agreement {fmt(s.same_prediction)} < {fmt(rule.min_agreement)}")
    if rule.max_flip_rate is not None and s.flip_rate is not None and s.flip_rate > rule.max_flip_rate:
        out.append(f"flip rate {fmt(s.flip_rate)} > {fmt(rule.max_flip_rate)}")
    if rule.max_score_js is not None and s.score_js is not None and s.score_js > rule.max_score_js:
        out.append(f"score JS distance {fmt(s.score_js)} > {fmt(rule.max_score_js)}")
    return out


@rule("production_agreement", ProductionAgreementRule)
def production_agreement(rule: ProductionAgreementRule, evidence: Evidence, defaults: PolicyDefaults) -> Finding:
    prod, why = _production(evidence, "agreement on production rows")
    if prod is None:
        return finding(rule, Status.INCONCLUSIVE, str(why))
    a: ProductionAgreement | None = prod.agreement
    if a is None:
        return finding(rule, Status.INCONCLUSIVE, NOT_MEASURED.format(what="agreement", why=_why_missing(prod)))
    minimum = rule.min_slice_rows or defaults.min_slice_size
    if a.rows < minimum or a.same_prediction is None:
        return finding(rule, Status.INCONCLUSIVE, TOO_FEW_ROWS.format(rows=a.rows, minimum=minimum), rows=a.rows)
    dims, missing = _dimensions(rule.dimensions, a.slices, prod)
    if missing:
        return finding(rule, Status.INCONCLUSIVE, missing, rows=a.rows)
    if rule.dimensions is None and (why := undeclared_missing(prod, "agreement by slice")):
        return finding(rule, Status.INCONCLUSIVE, why, rows=a.rows, undeclared_missing=prod.undeclared_missing)
    problems = [f"overall: {p}" for p in _agreement_problems(rule, a)]
    judged, thin, thin_problems = 0, [], []
    for dim in dims:
        for value, s in a.slices[dim].items():
            name = f"{dim}={value}"
            found = _agreement_problems(rule, s)
            if s.rows >= minimum:
                judged += 1
                problems += [f"slice {name} (n={s.rows}): {p}" for p in found]
            else:
                thin.append({"slice": name, "rows": s.rows, "same_prediction": s.same_prediction,
                             "score_js": s.score_js})
                thin_problems += [f"thin slice {name} (n={s.rows}, under {minimum}): {p}" for p in found]
    head = (f"on {a.rows} production rows the models agree on {fmt(a.same_prediction)} (flip rate "
            f"{fmt(a.flip_rate)}), score JS distance {fmt(a.score_js)}" + (f", {judged} slices judged" if dims else ""))
    details = {"rows": a.rows, "flip_rate": a.flip_rate, "score_js": a.score_js, "class_js": a.class_js,
               "slices_tested": judged, "thin_slices": thin, "problems": problems + thin_problems}
    if problems:
        return finding(rule, Status.FAIL, f"{head}: {listed(problems)}.", observed=a.same_prediction,
                       threshold=rule.min_agreement, **details)
    if thin_problems:  # a thin slice over a limit is named and leaves the rule undecided, never passed
        return finding(rule, Status.INCONCLUSIVE, f"{head}; within limits where judged, but {listed(thin_problems)}"
                                                  f" (not judged).", observed=a.same_prediction,
                       threshold=rule.min_agreement, **details)
    return finding(rule, Status.PASS, f"{head}: within limits.", observed=a.same_prediction,
                   threshold=rule.min_agreement, **details)


class LabelFreePerformance(RuleBase):
    """Fails when the candidate's confidence-based accuracy estimate on the production sample (NannyML's CBPE
    idea: mean top-label confidence) is more than ``max_drop`` below its measured accuracy on the evaluation set,
    or below ``min_accuracy``: overall and in every slice of ``dimensions`` with at least ``min_slice_rows``
    production rows. Valid only for calibrated scores: a candidate whose ECE on the evaluation set exceeds
    ``max_ece`` (or is unknown) makes the rule inconclusive. The finding lists the estimate's assumptions."""

    kind: Literal["label_free_performance"]
    max_drop: float | None = Field(None, ge=0, le=1, description="estimated production accuracy at most this far "
                                                                 "below the candidate's evaluation accuracy")
    min_accuracy: float | None = Field(None, ge=0, le=1, description="estimated production accuracy at least this")
    max_ece: float = Field(0.05, ge=0, le=1, description="precondition: the candidate's expected calibration error "
                                                         "on the evaluation set at most this")
    dimensions: list[str] | None = Field(None, description="also judge the slices of these dimensions (evidence."
                                                           "production.estimate.slices)")
    min_slice_rows: int | None = Field(None, ge=1, description="slices with fewer production rows are reported, not "
                                                               "judged (default: defaults.min_slice_size)")

    @model_validator(mode="after")
    def _a_limit(self) -> LabelFreePerformance:
        if self.max_drop is None and self.min_accuracy is None:
            raise ValueError("give max_drop and/or min_accuracy")
        return self


def _estimate_problems(rule: LabelFreePerformance, est: ModelEstimate, reference: float | None) -> list[str]:
    out: list[str] = []
    e = est.expected_accuracy
    if e is None:
        return out
    if rule.max_drop is not None and reference is not None and reference - e > rule.max_drop:
        out.append(f"estimated accuracy {fmt(e)} is {fmt(reference - e)} below the evaluation accuracy "
                   f"{fmt(reference)} (max drop {fmt(rule.max_drop)})")
    if rule.min_accuracy is not None and e < rule.min_accuracy:
        out.append(f"estimated accuracy {fmt(e)} < {fmt(rule.min_accuracy)}")
    return out


def _number(x: object) -> float | None:
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) else None


@rule("label_free_performance", LabelFreePerformance)
def label_free_performance(rule: LabelFreePerformance, evidence: Evidence, defaults: PolicyDefaults) -> Finding:
    prod, why = _production(evidence, "label-free performance")
    if prod is None:
        return finding(rule, Status.INCONCLUSIVE, str(why))
    est: LabelFreeEstimate | None = prod.estimate
    if est is None:
        return finding(rule, Status.INCONCLUSIVE, NOT_MEASURED.format(what="the label-free estimate",
                                                                      why=_why_missing(prod)))
    cal = evidence.calibration
    ece = cal.models["candidate"].ece if cal is not None and "candidate" in cal.models else None
    assumptions: dict[str, Any] = {"assumptions": est.assumptions, "method": est.method}
    if cal is None or ece is None:
        reason = "calibration was not measured" if cal is None else "too few rows for an ECE"
        return finding(rule, Status.INCONCLUSIVE, CALIBRATION_UNKNOWN.format(why=reason), **assumptions)
    if ece > rule.max_ece:
        return finding(rule, Status.INCONCLUSIVE, NOT_CALIBRATED.format(ece=fmt(ece), limit=fmt(rule.max_ece)),
                       observed=ece, threshold=rule.max_ece, ece=ece, **assumptions)
    cand = est.models["candidate"]
    minimum = rule.min_slice_rows or defaults.min_slice_size
    if cand.rows < minimum or cand.expected_accuracy is None:
        return finding(rule, Status.INCONCLUSIVE, TOO_FEW_ROWS.format(rows=cand.rows, minimum=minimum),
                       rows=cand.rows, **assumptions)
    dims, missing = _dimensions(rule.dimensions or [], est.slices, prod)
    if missing:
        return finding(rule, Status.INCONCLUSIVE, missing, **assumptions)
    measured = evidence.models["candidate"]
    reference = _number(measured.overall.get("accuracy"))
    problems = [f"overall: {p}" for p in _estimate_problems(rule, cand, reference)]
    judged, thin = 0, []
    for dim in dims:
        for value, models in est.slices[dim].items():
            s, name = models["candidate"], f"{dim}={value}"
            if s.rows < minimum:
                thin.append({"slice": name, "rows": s.rows, "expected_accuracy": s.expected_accuracy})
                continue
            judged += 1
            ref = _number(measured.slices.get(dim, {}).get(value, {}).get("accuracy"))
            problems += [f"slice {name} (n={s.rows}): {p}" for p in _estimate_problems(rule, s, ref)]
    drop = None if reference is None else reference - cand.expected_accuracy
    head = (f"estimated candidate accuracy on {cand.rows} production rows: {fmt(cand.expected_accuracy)} (evaluation "
            f"set: {fmt(reference)}; ECE {fmt(ece)} <= {fmt(rule.max_ece)})")
    if cand.realized_accuracy is not None:
        head += f"; realized on {cand.labelled_rows} labelled rows: {fmt(cand.realized_accuracy)}"
    if dims:
        head += f"; {judged} slices judged"
    floor = 0.5 if evidence.task == "binary_classification" else None
    details: dict[str, Any] = {
        "expected_accuracy": cand.expected_accuracy, "evaluation_accuracy": reference, "drop": drop, "ece": ece,
        "realized_accuracy": cand.realized_accuracy, "labelled_rows": cand.labelled_rows,
        "baseline_expected_accuracy": est.models["baseline"].expected_accuracy, "slices_tested": judged,
        "thin_slices": thin, **assumptions}
    if floor is not None and rule.min_accuracy is not None and rule.min_accuracy <= floor:
        details["note"] = (f"min_accuracy {fmt(rule.min_accuracy)} is at or below {fmt(floor)}, the lowest accuracy "
                           f"this estimate can report for a binary classifier")
    tail = ASSUMES.format(floor="0.5" if floor is not None else "1/K")
    observed, threshold = (drop, rule.max_drop) if rule.max_drop is not None else (cand.expected_accuracy,
                                                                                   rule.min_accuracy)
    if problems:
        return finding(rule, Status.FAIL, f"{head}: {listed(problems)}.{tail}", observed=observed,
                       threshold=threshold, **details)
    if reference is None and rule.min_accuracy is None:
        return finding(rule, Status.INCONCLUSIVE, f"{head}: the candidate's evaluation accuracy is unknown, so the "
                                                  f"drop is not judged.{tail}", **details)
    return finding(rule, Status.PASS, f"{head}: within limits.{tail}", observed=observed, threshold=threshold,
                   **details)
