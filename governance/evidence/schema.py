"""The evidence model: everything measured, serialised as evidence.json. It never contains a verdict."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Number = float | int | None
#: metric name -> value; `count` is the number of rows. None where a metric is undefined (e.g. AUC with one class).
MetricValues = dict[str, Number]

ROLES = ("baseline", "candidate")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class FileRef(_Frozen):
    path: str
    sha256: str
    bytes: int


class DataEvidence(_Frozen):
    file: FileRef
    rows: int
    target: str
    sensitive: list[str]
    features: list[str]
    classes: list[str] = Field(description="class labels (as text) in the models' output order")
    positive_label: str | None = Field(None, description="binary tasks: the positive class")


class ModelEvidence(_Frozen):
    format: str
    file: FileRef
    description: dict[str, Any] = Field(default_factory=dict, description="parameters, non-zeros, bytes")
    overall: MetricValues
    slices: dict[str, dict[str, MetricValues]] = Field(
        description="dimension -> slice value -> {count, metric...}; an intersection joins names with ' & '"
    )
    fairness: dict[str, dict[str, float | None]] = Field(
        default_factory=dict, description="dimension -> fairness gap over all its slices (no minimum size)"
    )


class Agreement(_Frozen):
    rows: int
    same_prediction: float | None = Field(description="share of rows where both models predict the same label")
    fixed: int = Field(description="rows the baseline got wrong and the candidate right")
    broken: int = Field(description="rows the baseline got right and the candidate wrong")
    max_abs_score_difference: float
    slices: dict[str, dict[str, dict[str, float | int | None]]] = Field(
        default_factory=dict, description="dimension -> slice -> {count, same_prediction, fixed, broken}")
    broken_examples: list[int] = Field(
        default_factory=list, description="0-based data row indices of a bounded sample of broken flips "
                                          "(compression-identified exemplars) for reviewers")


class Interval(_Frozen):
    ci_low: float
    ci_high: float


class Comparison(_Frozen):
    """One metric for both models on the same rows, with paired intervals; difference = candidate - baseline."""

    baseline: float | None
    candidate: float | None
    difference: float | None
    baseline_ci: Interval | None = None
    candidate_ci: Interval | None = None
    difference_ci: Interval | None = None


class Comparisons(_Frozen):
    method: str
    resamples: int
    seed: int
    confidence: float
    overall: dict[str, Comparison]
    slices: dict[str, dict[str, dict[str, Comparison]]] = Field(description="dimension -> slice -> metric")


class Reliability(_Frozen):
    """Reliability-curve counts over equal-width bins of the top-class (binary: positive-class) score."""

    bin_edges: list[float]
    count: list[int]
    mean_confidence: list[float | None]
    accuracy: list[float | None]


class CalibrationStats(_Frozen):
    count: int
    ece: float | None
    brier: float | None
    reliability: Reliability | None = None


class Calibration(_Frozen):
    bins: int
    score: str = Field(description="which score is binned, e.g. 'positive-class probability'")
    models: dict[Literal["baseline", "candidate"], CalibrationStats]
    slices: dict[str, dict[str, dict[str, CalibrationStats]]] = Field(
        default_factory=dict, description="dimension -> slice -> model -> stats (no reliability curve)")


class LatencyStats(_Frozen):
    batch_size: int
    repeats: int
    median_ms: float
    p95_ms: float
    rows_per_s: float


class ModelEfficiency(_Frozen):
    parameters: int | None = None
    nonzero_parameters: int | None = None
    sparsity: float | None = Field(None, description="fraction of zeros over `sparsity_scope`")
    sparsity_scope: str | None = None
    macs_dense: int | None = Field(None, description="multiply-adds per row if every weight were used")
    macs_effective: int | None = Field(None, description="multiply-adds per row over non-zero weights only")
    bytes: int
    bytes_gzip: int
    latency: list[LatencyStats] = Field(default_factory=list)


class Efficiency(_Frozen):
    device: str
    hardware: str
    method: str = Field(description="how latency was measured (warm-up, repeats, interleaving)")
    models: dict[Literal["baseline", "candidate"], ModelEfficiency]
    compression_ratio: float | None = Field(None, description="baseline gzip size / candidate gzip size")
    size_reduction: float | None = Field(None, description="1 - candidate gzip size / baseline gzip size")
    speedup: dict[str, float] = Field(default_factory=dict, description="batch size -> baseline median / candidate median")


class RobustnessLevel(_Frozen):
    perturbation: Literal["gaussian", "fgsm"]
    level: float = Field(description="gaussian: sigma in feature standard deviations; fgsm: epsilon")
    rows: int
    accuracy: dict[Literal["baseline", "candidate"], float]
    drop: dict[Literal["baseline", "candidate"], float] = Field(description="clean accuracy - perturbed accuracy")
    extra_drop: float = Field(description="candidate drop - baseline drop (positive: the candidate is more fragile)")


class Robustness(_Frozen):
    seed: int
    features: list[str] = Field(description="numeric features that were perturbed")
    levels: list[RobustnessLevel]


class Evidence(_Frozen):
    schema_version: Literal["1"] = "1"
    tool: dict[str, str]
    created_at: datetime
    libraries: dict[str, str]
    release: dict[str, str]
    task: Literal["binary_classification", "multiclass_classification"]
    inputs: dict[str, FileRef] = Field(description="every input file with its sha256")
    data: DataEvidence
    dimensions: dict[str, list[str]] = Field(description="slice dimension name -> the sensitive columns it joins")
    models: dict[Literal["baseline", "candidate"], ModelEvidence]
    agreement: Agreement
    comparisons: Comparisons | None = None
    calibration: Calibration | None = None
    efficiency: Efficiency | None = None
    robustness: Robustness | None = None
    approvals: list[dict[str, str]] = Field(default_factory=list, description="the manifest's sign-offs, as declared")
    warnings: list[str] = Field(default_factory=list)

    def dimension_for(self, columns: list[str]) -> str | None:
        """The evidence's name for the intersection of ``columns`` (order-insensitive), if measured."""
        wanted = set(columns)
        return next((name for name, cols in self.dimensions.items() if set(cols) == wanted), None)
