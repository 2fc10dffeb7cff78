"""monitoring.json: what a monitor must know about a released candidate, written by ``check`` from its evidence.

The contract holds expectations, never rows: the feature reference profile (mergeable sketches, the production
sample's when the release had one, else the evaluation set's), the expected score distribution as histogram
counts over equal-width bins of [0, 1] (the same bins as the evaluation's calibration), the expected accuracy and
agreement overall and per slice, and the candidate's calibration on the evaluation set (which decides whether a
label-free estimate is valid). A watch the evidence cannot support is left out with the reason in ``left_out``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import Field, model_validator

from ..evidence.schema import Brier, Count, Evidence, Share, _Frozen

if TYPE_CHECKING:
    from ..evidence.production_agreement import ProductionAgreement

#: the version of monitoring.json's layout
SCHEMA_VERSION: Literal["1"] = "1"

#: the watches a contract can hold (keys of ``left_out``)
WATCHES = ("feature_drift", "score_drift", "realized_performance", "estimated_performance", "agreement")

#: why a watch is left out
NO_PROFILE = "the evidence holds no feature profile (neither of the production sample nor of the evaluation set)"
NO_SCORES = "the evidence holds no score distribution of the candidate (no calibration curve)"
NOT_CLASSIFICATION = "task {task}: only classification releases have a score distribution and accuracy to watch"
NO_CALIBRATION = "the candidate's calibration was not measured: a label-free estimate cannot be validated"
SCORE_BINARY = "positive-class probability"
SCORE_MULTICLASS = "top-label confidence"


#: where an expectation was measured
Source = Literal["production", "evaluation"]


class Histogram(_Frozen):
    """Counts over bins: ``counts[i]`` rows had a score in ``[bin_edges[i], bin_edges[i + 1])`` (the last closed)."""

    bin_edges: list[float]
    counts: list[Count]

    @model_validator(mode="after")
    def _bins(self) -> Histogram:
        if len(self.bin_edges) != len(self.counts) + 1:
            raise ValueError(f"{len(self.counts)} counts need {len(self.counts) + 1} bin_edges, "
                             f"not {len(self.bin_edges)}")
        if any(b <= a for a, b in zip(self.bin_edges, self.bin_edges[1:], strict=False)):
            raise ValueError("bin_edges must increase")
        return self

    @property
    def rows(self) -> int:
        return int(sum(self.counts))

    def shares(self) -> np.ndarray:
        c = np.asarray(self.counts, dtype=np.float64)
        return c / c.sum() if c.sum() else c


class SliceExpectation(_Frozen):
    """What one slice looked like when the candidate was released."""

    rows: Count = Field(description="evaluation rows of the slice")
    accuracy: Share | None = Field(None, description="the candidate's accuracy on the slice's evaluation rows")
    agreement: Share | None = Field(None, description="share of the slice's rows where both models predicted "
                                                      "the same label")
    production_share: Share | None = Field(None, description="the slice's share of the production sample")
    scores: Histogram | None = Field(None, description="the candidate's score histogram on the slice (when the "
                                                       "evidence has one)")


class CalibrationExpectation(_Frozen):
    """The candidate's calibration on the evaluation set: a label-free estimate is only as good as this."""

    rows: Count
    bins: Count
    ece: Share | None
    brier: Brier | None


class FeatureReference(_Frozen):
    """The per-feature reference summaries (``FeatureProfile.to_json()``) the window's features are compared with."""

    source: Literal["production", "evaluation"] = Field(
        description="production: the release's production sample; evaluation: the evaluation set")
    profile: dict[str, Any]


class Expected(_Frozen):
    """One expected quantity, from the evaluation set and (when the release had a production sample) production."""

    evaluation: Share | None = None
    production: Share | None = Field(None, description="production-weighted (post-stratified to production's "
                                                       "cell shares) or estimated on the production sample")


class MonitoringContract(_Frozen):
    """The contract ``governance monitor`` judges production windows against (monitoring.json)."""

    schema_version: Literal["1"] = SCHEMA_VERSION
    release: dict[str, str] = Field(description="name and version of the release")
    candidate_sha256: str = Field(description="sha256 of the released (candidate) model file")
    task: str
    classes: list[str] = Field(description="class labels in the models' output order")
    positive_label: str | None = None
    target: str = Field(description="the label column's name in the evaluation data (the default label column)")
    features: list[str]
    sensitive: list[str]
    dimensions: dict[str, list[str]] = Field(description="slice dimension -> the sensitive columns it joins")
    score: str | None = Field(None, description="which score the histograms bin")
    score_columns: list[str] = Field(description="default names of the deployed model's score columns in a window "
                                                 "(binary: the positive-class probability; multiclass: one per "
                                                 "class, in class order)")
    baseline_score_columns: list[str] = Field(description="default names of the shadow baseline's score columns")
    reference: FeatureReference | None = None
    scores: Histogram | None = Field(None, description="the candidate's expected score distribution overall")
    scores_from: Source | None = Field(
        None, description="whose scores the histograms are: the candidate's on the production sample, else on the "
                          "evaluation set")
    accuracy: Expected = Field(default_factory=Expected)
    agreement: Expected = Field(default_factory=Expected)
    calibration: CalibrationExpectation | None = None
    slices: dict[str, dict[str, SliceExpectation]] = Field(default_factory=dict,
                                                           description="dimension -> slice -> expectations")
    left_out: dict[str, str] = Field(default_factory=dict, description="watch -> why the contract cannot support it")
    notes: list[str] = Field(default_factory=list)


def _score_names(classes: list[str], binary: bool, prefix: str) -> list[str]:
    return [prefix] if binary else [f"{prefix}_{c}" for c in classes]


def _reference(evidence: Evidence) -> FeatureReference | None:
    """The production sample's profile when there is one, else the evaluation set's (evidence/profile.py)."""
    production = evidence.production
    rep = production.representativeness if production is not None else None
    if rep is not None and rep.production_profile:
        return FeatureReference(source="production", profile=rep.production_profile)
    if evidence.feature_profile:
        return FeatureReference(source="evaluation", profile=evidence.feature_profile)
    return None


def _production_agreement(evidence: Evidence) -> ProductionAgreement | None:
    return evidence.production.agreement if evidence.production is not None else None


def _expected_scores(evidence: Evidence) -> tuple[Histogram | None, Source | None]:
    """The candidate's scores on the production sample when the release had one, else on the evaluation set."""
    agreement = _production_agreement(evidence)
    if agreement is not None and agreement.histograms.get("candidate"):
        return Histogram(bin_edges=list(agreement.bin_edges), counts=list(agreement.histograms["candidate"])), \
            "production"
    cal = evidence.calibration
    curve = cal.models["candidate"].reliability if cal is not None else None
    if curve is None:
        return None, None
    return Histogram(bin_edges=list(curve.bin_edges), counts=list(curve.count)), "evaluation"


def _slices(evidence: Evidence, scores_from: Source | None) -> dict[str, dict[str, SliceExpectation]]:
    cand = evidence.models["candidate"]
    production = evidence.production
    shares = production.slices if production is not None else {}
    agreement = _production_agreement(evidence)
    out: dict[str, dict[str, SliceExpectation]] = {}
    for dim, values in cand.slices.items():
        agree = evidence.agreement.slices.get(dim, {})
        prod = agreement.slices.get(dim, {}) if agreement is not None else {}
        row: dict[str, SliceExpectation] = {}
        for value, metrics in values.items():
            acc = metrics.get("accuracy")
            same = agree.get(value, {}).get("same_prediction")
            share = shares.get(dim, {}).get(value)
            hist = None
            if value in prod and scores_from == "production" and agreement is not None:
                counts = prod[value].histograms.get("candidate")
                hist = Histogram(bin_edges=list(agreement.bin_edges), counts=list(counts)) if counts else None
            row[value] = SliceExpectation(rows=int(metrics.get("count") or 0),
                                          accuracy=None if acc is None else float(acc),
                                          agreement=None if same is None else float(same),
                                          production_share=share.production_share if share is not None else None,
                                          scores=hist)
        out[dim] = row
    return out


def _weighted_accuracy(evidence: Evidence) -> float | None:
    """The candidate's production-weighted accuracy (post-stratified to production's cells), when measured."""
    weighted = evidence.production.weighted if evidence.production is not None else None
    comparison = weighted.overall.get("accuracy") if weighted is not None else None
    return comparison.candidate if comparison is not None else None


def build_contract(evidence: Evidence) -> MonitoringContract:
    """The monitoring contract of a gated release (pure: evidence in, contract out)."""
    classes = list(evidence.data.classes)
    binary = evidence.task == "binary_classification"
    classification = evidence.task in ("binary_classification", "multiclass_classification")
    left_out: dict[str, str] = {}
    reference = _reference(evidence)
    if reference is None:
        left_out["feature_drift"] = NO_PROFILE
    scores, scores_from = _expected_scores(evidence) if classification else (None, None)
    calibration = None
    cal = evidence.calibration
    if cal is not None and classification:
        c = cal.models["candidate"]
        calibration = CalibrationExpectation(rows=c.count, bins=cal.bins, ece=c.ece, brier=c.brier)
    if not classification:
        why = NOT_CLASSIFICATION.format(task=evidence.task)
        left_out.update({w: why for w in WATCHES if w != "feature_drift"})
    else:
        if scores is None:
            left_out["score_drift"] = NO_SCORES
        if calibration is None:
            left_out["estimated_performance"] = NO_CALIBRATION
    cand = evidence.models["candidate"]
    acc = cand.overall.get("accuracy") if classification else None
    prod_agreement = _production_agreement(evidence)
    production_agreement = prod_agreement.same_prediction if prod_agreement is not None else None
    return MonitoringContract(
        release={k: str(evidence.release.get(k, "")) for k in ("name", "version")},
        candidate_sha256=cand.file.sha256,
        task=evidence.task,
        classes=classes,
        positive_label=evidence.data.positive_label,
        target=evidence.data.target,
        features=list(evidence.data.features),
        sensitive=list(evidence.data.sensitive),
        dimensions={k: list(v) for k, v in evidence.dimensions.items()},
        score=(SCORE_BINARY if binary else SCORE_MULTICLASS) if classification else None,
        score_columns=_score_names(classes, binary, "score"),
        baseline_score_columns=_score_names(classes, binary, "baseline_score"),
        reference=reference,
        scores=scores,
        accuracy=Expected(evaluation=None if acc is None else float(acc), production=_weighted_accuracy(evidence)),
        agreement=Expected(evaluation=evidence.agreement.same_prediction, production=production_agreement),
        calibration=calibration,
        scores_from=scores_from,
        slices=_slices(evidence, scores_from) if classification else {},
        left_out=left_out,
    )


def contract_json(evidence: Evidence) -> bytes:
    """monitoring.json's bytes (indented like evidence.json, for diffs and review)."""
    return build_contract(evidence).model_dump_json(indent=2).encode() + b"\n"
