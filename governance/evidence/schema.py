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
    warnings: list[str] = Field(default_factory=list)

    def dimension_for(self, columns: list[str]) -> str | None:
        """The evidence's name for the intersection of ``columns`` (order-insensitive), if measured."""
        wanted = set(columns)
        return next((name for name, cols in self.dimensions.items() if set(cols) == wanted), None)
