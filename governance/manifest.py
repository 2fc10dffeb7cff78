"""The release manifest: one YAML file naming the models, the data and the policy of a release."""

from __future__ import annotations

from datetime import date as _date
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .errors import InputError
from .yamlfile import load_model_file

ModelFormat = Literal["skops", "torch", "torch-export", "onnx", "predictions", "pickle", "joblib"]
Task = Literal["binary_classification", "multiclass_classification"]
Label = int | str


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelSpec(_Strict):
    """How to load one model. Safe formats first; pickle/joblib need ``--trust-pickle``."""

    path: str
    format: ModelFormat
    trusted_types: list[str] = Field(default_factory=list, description="skops: types to trust, nothing else is")
    architecture: str | None = Field(None, description="torch: `module:callable` that builds the nn.Module")
    architecture_kwargs: dict[str, Any] = Field(default_factory=dict)
    output: Literal["logits", "probabilities"] = Field(
        "logits", description="torch formats: what the network returns (softmax/sigmoid applied to logits)"
    )
    columns: list[str] | None = Field(
        None, description="predictions: probability columns in class order (one column = P(positive))"
    )

    @model_validator(mode="after")
    def _format_fields(self) -> "ModelSpec":
        if self.format == "torch" and not self.architecture:
            raise ValueError("format 'torch' needs 'architecture: module:callable'")
        if self.architecture is not None and ":" not in self.architecture:
            raise ValueError("architecture must look like 'module:callable'")
        return self


class DataSpec(_Strict):
    path: str
    target: str
    sensitive: list[str] = Field(default_factory=list)
    features: list[str] | None = None
    chunk_rows: int = Field(65536, gt=0, description="rows read and scored at a time")

    @model_validator(mode="after")
    def _columns_disjoint(self) -> "DataSpec":
        if self.target in self.sensitive:
            raise ValueError(f"target column {self.target!r} is also listed as sensitive")
        if "class" in self.sensitive:
            raise ValueError("'class' is reserved for slicing by the true label (by: [class]); rename the column")
        if len(set(self.sensitive)) != len(self.sensitive):
            raise ValueError("sensitive columns are listed twice")
        if self.features is not None and self.target in self.features:
            raise ValueError(f"target column {self.target!r} is also listed as a feature")
        return self


class BootstrapSpec(_Strict):
    resamples: int = Field(1000, ge=0, description="paired bootstrap resamples (0: no intervals)")
    seed: int = 0
    confidence: float = Field(0.95, gt=0, lt=1)


class RobustnessSpec(_Strict):
    sigmas: list[float] = Field(default_factory=lambda: [0.1, 0.3],
                                description="Gaussian noise levels, in each numeric feature's standard deviation")
    fgsm_epsilons: list[float] = Field(default_factory=lambda: [0.05], description="torch models only")
    seed: int = 0
    max_rows: int = Field(20000, ge=1, description="rows perturbed (the first ones of the data), bounding the cost")


class LatencySpec(_Strict):
    batch_sizes: list[int] = Field(default_factory=lambda: [1, 256])
    repeats: int = Field(30, ge=3)
    warmup: int = Field(5, ge=0)


class EvaluationSpec(_Strict):
    """How evidence is measured; every field has a default, so the block is optional."""

    bootstrap: BootstrapSpec = Field(default_factory=BootstrapSpec)
    calibration_bins: int = Field(15, ge=2)
    roc_auc: bool = Field(True, description="exact ROC AUC keeps one table of distinct scores per slice cell; "
                                            "false bounds memory on very large data with continuous scores")
    robustness: RobustnessSpec | None = Field(default_factory=RobustnessSpec, description="null: skip")
    latency: LatencySpec | None = Field(default_factory=LatencySpec, description="null: skip timing")
    broken_examples: int = Field(20, ge=0, description="row indices of broken flips kept for reviewers")


class Approval(_Strict):
    """A human sign-off of one specific candidate file: re-pruning changes the hash and voids it."""

    role: str = Field(min_length=1, description="e.g. model-owner, risk-officer")
    name: str = Field(min_length=1)
    date: _date
    statement: str = Field(min_length=1)
    candidate_sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="sha256 of the candidate model file approved")


class Manifest(_Strict):
    name: str
    version: str
    task: Task = "binary_classification"
    positive_label: Label = 1
    classes: list[Label] | None = Field(
        None, description="class labels in the models' output order (default: the model's own, else [0, 1])"
    )
    baseline: ModelSpec
    candidate: ModelSpec
    data: DataSpec
    policy: str
    card: str | None = None
    provenance: str | None = None
    evaluation: EvaluationSpec = Field(default_factory=EvaluationSpec)
    approvals: list[Approval] = Field(default_factory=list, description="human sign-offs (rule kind attestation)")

    @field_validator("version", mode="before")
    @classmethod
    def _version_str(cls, v: Any) -> Any:
        return str(v) if isinstance(v, (int, float)) else v


class Release(BaseModel):
    """A loaded manifest plus where it lives, so relative paths resolve against its folder."""

    model_config = ConfigDict(frozen=True)
    path: Path
    manifest: Manifest

    @property
    def folder(self) -> Path:
        return self.path.parent

    def resolve(self, relative: str, field: str) -> Path:
        p = Path(relative)
        p = p if p.is_absolute() else self.folder / p
        if not p.exists():
            raise InputError(self.path, field, f"file not found: {p}")
        return p


def load_manifest(path: str | Path) -> Release:
    path = Path(path)
    manifest = load_model_file(path, Manifest, what="release manifest")
    return Release(path=path.resolve(), manifest=manifest)
