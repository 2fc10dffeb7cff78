"""Representativeness: is the evaluation set like the production sample the model will serve?

Judges ``evidence.production``: per-feature effect sizes (``representativeness``) and each slice's share in both
datasets (``slices``). Effect sizes, not p-values: at production sample sizes a test flags every column. Without a
production sample the rule is ``inconclusive``: a check that could not look never passes.
"""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import Field, model_validator

from ..evidence.representativeness import distance_key
from ..evidence.schema import Evidence
from ..findings import Finding, Status
from .base import PolicyDefaults, RuleBase, finding, fmt, require_one_limit, rule
from .production import listed, undeclared_missing

#: the manifest has no production block
NO_PRODUCTION_SAMPLE = ("no production sample in this release (add a production: block to the release manifest): "
                        "representativeness not judged")
#: the production pass measured no feature distances (template: why)
NOT_MEASURED = "feature distances were not measured on the production sample ({why}): not judged"
#: too few production rows (template: rows, minimum)
TOO_FEW_ROWS = "only {rows} production rows (minimum {minimum}): representativeness not judged"
#: a rule names a feature the evidence has no distance for (template: feature, known)
UNKNOWN_FEATURE = "no distance for feature {feature!r} (features measured: {known}): not judged"
#: a rule names a dimension the production evidence has no slice shares for (template: dimension, known, missing)
NO_SLICES = ("no slice shares for dimension {dimension!r} (dimensions with shares: {known}; sensitive columns the "
             "production sample lacks: {missing}): not judged")


class RepresentativenessRule(RuleBase):
    """Fails when the evaluation set does not look like the production sample: the worst feature's distance
    exceeds ``max_feature_distance``, the share of features at or above ``drift_threshold`` exceeds
    ``max_drifted_share`` (Evidently's dataset drift), or a slice's production share is more than
    ``max_share_ratio`` times its evaluation share (a slice production has and the evaluation set lacks: an
    infinite ratio), or a feature's missing share differs between the two by more than
    ``max_missing_difference`` (the distances leave missing values out, so a production input blank in most rows
    would otherwise look like the evaluation set's). Distances: normed Wasserstein (numeric), Jensen-Shannon
    (categorical). ``inconclusive`` without a production sample or below ``min_production_rows``."""

    kind: Literal["representativeness"]
    max_feature_distance: float | None = Field(0.1, description="the worst feature's distance at most this (null: "
                                                                "not limited)")
    drift_threshold: float = Field(0.1, description="a feature at or above this distance counts as drifted "
                                                    "(Evidently's default for both distances)")
    max_drifted_share: float | None = Field(0.5, description="share of drifted features at most this (null: not "
                                                             "limited)")
    max_share_ratio: float | None = Field(2.0, description="every slice's production share at most this many times "
                                                           "its evaluation share (null: not limited)")
    max_missing_difference: float | None = Field(
        0.1, ge=0, le=1, description="every feature's missing share in production and in the evaluation set at "
                                     "most this far apart (a share difference: 0.1 is ten points; null: not "
                                     "checked)")
    min_production_rows: int = Field(1000, ge=1, description="fewer production rows: inconclusive")
    features: list[str] | None = Field(None, description="judge these features (default: every feature)")
    dimensions: list[str] | None = Field(None, description="judge the slice shares of these dimensions (default: "
                                                           "every dimension with shares in evidence.production."
                                                           "slices)")

    @model_validator(mode="after")
    def _a_limit(self) -> RepresentativenessRule:
        require_one_limit(self, "max_feature_distance", "max_drifted_share", "max_share_ratio")
        return self


def _ratio(share: Any) -> float:
    """A slice's production/evaluation share ratio; infinite when the evaluation set has none of it."""
    if share.share_ratio is not None:
        return float(share.share_ratio)
    return math.inf if share.production_rows > 0 else 0.0


def _shown(x: float | None) -> str:
    return "infinite" if x is None or x == math.inf else fmt(x)


@rule("representativeness", RepresentativenessRule)
def representativeness(rule: RepresentativenessRule, evidence: Evidence, defaults: PolicyDefaults) -> Finding:
    prod = evidence.production
    if prod is None:
        return finding(rule, Status.INCONCLUSIVE, NO_PRODUCTION_SAMPLE)
    rep = prod.representativeness
    if rep is None:
        return finding(rule, Status.INCONCLUSIVE, NOT_MEASURED.format(
            why="; ".join(prod.notes) or "not recorded in the evidence"))
    if prod.rows < rule.min_production_rows:
        return finding(rule, Status.INCONCLUSIVE, TOO_FEW_ROWS.format(rows=prod.rows,
                                                                      minimum=rule.min_production_rows),
                       rows=prod.rows)
    names = rule.features if rule.features is not None else list(rep.features)
    for name in names:
        if name not in rep.features:
            return finding(rule, Status.INCONCLUSIVE, UNKNOWN_FEATURE.format(
                feature=name, known=", ".join(rep.features) or "none"))
    if rule.dimensions is None and (why := undeclared_missing(prod, "representativeness")):
        return finding(rule, Status.INCONCLUSIVE, why, undeclared_missing=prod.undeclared_missing)
    dims = rule.dimensions if rule.dimensions is not None else list(prod.slices)
    for dim in dims:
        if dim not in prod.slices:
            return finding(rule, Status.INCONCLUSIVE, NO_SLICES.format(
                dimension=dim, known=", ".join(prod.slices) or "none",
                missing=", ".join(prod.missing_sensitive) or "none"))

    distances = {n: rep.features[n] for n in names}
    worst = max(distances, key=lambda n: distance_key(distances[n]), default=None)
    worst_distance = distances[worst].distance if worst is not None else None
    drifted = sorted((n for n, d in distances.items() if distance_key(d) >= rule.drift_threshold),
                     key=lambda n: -distance_key(distances[n]))
    drifted_share = len(drifted) / len(distances) if distances else 0.0
    ratios = [(dim, value, _ratio(s), s) for dim in dims for value, s in prod.slices[dim].items()]
    worst_slice = max(ratios, key=lambda r: r[2], default=None)

    problems: list[str] = []
    if rule.max_feature_distance is not None and worst is not None \
            and distance_key(distances[worst]) > rule.max_feature_distance:
        problems.append(f"feature {worst!r} at distance {_shown(worst_distance)} > {fmt(rule.max_feature_distance)}"
                        + (f" ({distances[worst].note})" if distances[worst].note else ""))
    if rule.max_drifted_share is not None and drifted_share > rule.max_drifted_share:
        problems.append(f"{len(drifted)} of {len(distances)} features drifted (distance >= "
                        f"{fmt(rule.drift_threshold)}): share {fmt(drifted_share)} > {fmt(rule.max_drifted_share)}")
    if rule.max_share_ratio is not None and worst_slice is not None and worst_slice[2] > rule.max_share_ratio:
        dim, value, ratio, s = worst_slice
        problems.append(f"slice {dim}={value} is {_shown(ratio)} times as common in production "
                        f"({s.production_rows} of {prod.rows} rows, share {fmt(s.production_share)}) as in the "
                        f"evaluation set ({s.evaluation_rows} rows, share {fmt(s.evaluation_share)}): over "
                        f"{fmt(rule.max_share_ratio)}")

    limit = rule.max_missing_difference
    gap = {n: abs(c) for n, d in distances.items() if (c := d.missing_share_change) is not None}
    unlike = sorted((n for n in gap if limit is not None and gap[n] > limit), key=lambda n: (-gap[n], n))
    if unlike and limit is not None:
        problems.append(f"missing values differ by more than {limit * 100:g} points: "
                        + ", ".join(f"{n!r} {distances[n].current_missing_share:.0%} in production vs "
                                    f"{distances[n].reference_missing_share:.0%} evaluated" for n in unlike))

    lacking = ", ".join(prod.missing_sensitive)
    slice_note = "" if dims else f"; no slice shares ({'production lacks ' + lacking if lacking else 'no slices'})"
    head = (f"on {prod.rows} production rows, the worst of {len(distances)} features is {worst!r} at distance "
            f"{_shown(worst_distance)} ({distances[worst].method if worst else 'n/a'}), {len(drifted)} drifted "
            f"(>= {fmt(rule.drift_threshold)})"
            + (f", largest slice share ratio {_shown(worst_slice[2])} ({worst_slice[0]}={worst_slice[1]})"
               if worst_slice is not None else "") + slice_note)
    inexact = [n for n, d in distances.items() if not d.exact]
    details: dict[str, Any] = {
        "rows": prod.rows, "worst_feature": worst, "worst_distance": worst_distance,
        "drifted_features": drifted, "drifted_share": drifted_share, "drift_threshold": rule.drift_threshold,
        "distances": {n: d.distance for n, d in distances.items()},
        "inexact_features": {n: distances[n].error_bound for n in inexact},
        "worst_slice": None if worst_slice is None else {
            "dimension": worst_slice[0], "value": worst_slice[1],
            "share_ratio": None if worst_slice[2] == math.inf else worst_slice[2],
            "evaluation_rows": worst_slice[3].evaluation_rows, "production_rows": worst_slice[3].production_rows},
        "dimensions": dims, "problems": problems,
        "missing_difference": {n: gap[n] for n in unlike},
    }
    status = Status.FAIL if problems else Status.PASS
    message = f"{head}: {listed(problems)}." if problems else f"{head}: within limits."
    return finding(rule, status, message, observed=worst_distance, threshold=rule.max_feature_distance, **details)
