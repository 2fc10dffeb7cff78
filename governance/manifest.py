"""The release manifest: one YAML file naming the models, the data and the policy of a release."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from .iso_date import IsoDate
from .yamlfile import InputModel, load_model_file, version_text

ModelFormat = Literal["skops", "torch", "torch-export", "onnx", "predictions", "pickle", "joblib",
                      "lm-eval-samples", "mlflow"]
Task = Literal["binary_classification", "multiclass_classification", "lm_eval", "regression"]
#: classification-only manifest fields in a regression release (template: field)
NOT_FOR_REGRESSION = "{field} is for classification tasks; task: regression predicts a number (remove {field})"
Label = int | str


#: torch ``architecture``: a module path in the release's folder and a class (governance/models/torch_architecture.py)
_ARCHITECTURE = re.compile(r"^[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*:[A-Za-z_]\w*$")
#: ``format: mlflow`` model URIs (governance/models/mlflow_model.py)
MLFLOW_URI = re.compile(r"^(?:models:/(?P<name>[^/\s@]+)/(?P<version>[1-9]\d*)"
                        r"|runs:/(?P<run_id>[0-9a-zA-Z]+)/(?P<artifact>\S+))$")
#: a malformed ``uri:`` (template: uri)
BAD_MLFLOW_URI = ("{uri!r} is not an MLflow model URI: use models:/<registered name>/<version> (e.g. models:/credit/3) "
                  "or runs:/<run id>/<artifact path> (e.g. runs:/0a1b2c/model)")
#: ``uri:`` / ``path:`` on the wrong format
MLFLOW_NEEDS_URI = "format 'mlflow' needs 'uri: models:/<name>/<version>' (or runs:/<run id>/<path>), not a path"
NEEDS_PATH = "format {format!r} needs 'path:' (a file in the release's folder); uri: is for format 'mlflow'"


class _Strict(InputModel):
    pass


class ModelSpec(_Strict):
    """How to load one model. Safe formats first; pickle/joblib need ``--trust-pickle``."""

    path: str = Field("", description="the model file, relative to the manifest (every format but mlflow)")
    format: ModelFormat
    uri: str | None = Field(None, description="mlflow: models:/<name>/<version> or runs:/<run id>/<artifact path>")
    tracking_uri: str | None = Field(
        None, description="mlflow: the tracking server (default: the MLFLOW_TRACKING_URI environment variable)")
    trusted_types: list[str] = Field(default_factory=list, description="skops: types to trust, nothing else is")
    architecture: str | None = Field(
        None, description="torch: `module:Class`, a torch.nn.Module subclass in a .py file in the release's folder "
                          "(`arch:Net` is arch.py next to the manifest, `models.arch:Net` is models/arch.py)")
    architecture_kwargs: dict[str, Any] = Field(default_factory=dict)
    output: Literal["logits", "probabilities"] = Field(
        "logits", description="torch formats: what the network returns (softmax/sigmoid applied to logits)"
    )
    columns: list[str] | None = Field(
        None, description="predictions: probability columns in class order (one column = P(positive))"
    )

    @model_validator(mode="after")
    def _format_fields(self) -> ModelSpec:
        if self.format == "mlflow":
            if self.path or not self.uri:
                raise ValueError(MLFLOW_NEEDS_URI)
            if not MLFLOW_URI.match(self.uri):
                raise ValueError(BAD_MLFLOW_URI.format(uri=self.uri))
        elif not self.path or self.uri is not None or self.tracking_uri is not None:
            raise ValueError(NEEDS_PATH.format(format=self.format))
        if self.format == "torch" and not self.architecture:
            raise ValueError("format 'torch' needs 'architecture: module:Class' (an nn.Module subclass in a .py "
                             "file in the release's folder)")
        if self.architecture is not None and not _ARCHITECTURE.match(self.architecture):
            raise ValueError(f"architecture must look like 'module:Class' (a class in a .py file in the release's "
                             f"folder, e.g. 'arch:Net'), got {self.architecture!r}")
        return self


class DataSpec(_Strict):
    path: str
    target: str
    sensitive: list[str] = Field(default_factory=list)
    features: list[str] | None = None
    key: list[str] | None = Field(
        None, min_length=1, description="columns that identify a record (e.g. [customer_id]): leakage compares "
                                        "rows by this key (identity), not by content; never model features")
    categorical: list[str] = Field(
        default_factory=list, description="feature columns holding categories (e.g. label-encoded codes): never "
                                          "given robustness noise")
    continuous: list[str] = Field(
        default_factory=list, description="numeric feature columns always given robustness noise, even integer ones "
                                          "with few distinct values (otherwise taken as categorical)")
    chunk_rows: int = Field(65536, gt=0, le=10_000_000,
                            description="rows read and scored at a time (at most 10,000,000)")

    @model_validator(mode="after")
    def _columns_disjoint(self) -> DataSpec:
        if self.target in self.sensitive:
            raise ValueError(f"target column {self.target!r} is also listed as sensitive")
        if "class" in self.sensitive:
            raise ValueError("'class' is reserved for slicing by the true label (by: [class]); rename the column")
        if len(set(self.sensitive)) != len(self.sensitive):
            raise ValueError("sensitive columns are listed twice")
        if self.features is not None and self.target in self.features:
            raise ValueError(f"target column {self.target!r} is also listed as a feature")
        for name in ("categorical", "continuous"):
            listed = getattr(self, name)
            if len(set(listed)) != len(listed):
                raise ValueError(f"data.{name} lists a column twice")
            if self.target in listed:
                raise ValueError(f"target column {self.target!r} is listed in data.{name}: only features are "
                                 f"perturbed")
            if self.features is not None and (unknown := [c for c in listed if c not in self.features]):
                raise ValueError(f"data.{name} names columns that are not features: {', '.join(unknown)}")
        if both := sorted(set(self.categorical) & set(self.continuous)):
            raise ValueError(f"columns listed in both data.categorical and data.continuous: {', '.join(both)}")
        if self.key is not None:
            if len(set(self.key)) != len(self.key):
                raise ValueError("key columns are listed twice")
            if clash := [c for c in self.key if c == self.target or c in (self.features or [])]:
                raise ValueError(KEY_IS_MODEL_INPUT.format(column=clash[0]))
        return self


class ProductionSpec(_Strict):
    """A sample of production inputs (``docs/production.md``): the evaluation data's feature columns, the sensitive
    columns where known, labels optional. Both models score it; nothing in it is a label unless ``target`` says so."""

    path: str = Field(description="CSV or Parquet file, relative to the manifest")
    target: str | None = Field(None, description="optional label column, when some production labels are known")
    chunk_rows: int = Field(65536, gt=0, le=10_000_000,
                            description="rows read and scored at a time (at most 10,000,000)")
    unrecorded: list[str] = Field(
        default_factory=list,
        description="sensitive columns production does not record (not logged, for privacy): the production rules "
                    "judge without them. A sensitive column the production file lacks and this does not list leaves "
                    "the production-weighted drop, representativeness and production agreement inconclusive, since "
                    "a shift in it would go unseen")


#: task lm_eval has no feature rows to compare with production (template: none)
PRODUCTION_NOT_FOR_LM_EVAL = ("production is for models that score feature rows; task lm_eval compares two "
                              "lm-evaluation-harness runs: remove the production block")


class BootstrapSpec(_Strict):
    resamples: int = Field(1000, ge=0, le=100_000,
                           description="paired bootstrap resamples (0: no intervals; at most 100,000)")
    seed: int = 0
    confidence: float = Field(0.95, gt=0, lt=1)
    replicate_budget: int = Field(
        1 << 24, ge=0, le=1 << 28,
        description="the most float64 numbers the Poisson-bootstrap state of log loss, and of ROC AUC, may each hold "
                    "(replicates x cells x 3, resp. x classes x 4 x 256 bins); over it, slices' intervals are left out "
                    "(then the overall one too) and evidence.comparisons.missing says why; at most 2**28 (2 GiB)")
    score_intervals: Literal["auto", "always", "never"] = Field(
        "auto", description="classification's log-loss and ROC AUC intervals (a Poisson bootstrap: resamples weights "
                            "per row, the costliest part of collection): auto computes them only when a rule of the "
                            "policy reads them (slice_metric_drop on those metrics, decide_on: bound, a plugin kind), "
                            "always, or never; evidence.comparisons.missing says why one is absent")


class RobustnessSpec(_Strict):
    sigmas: list[Annotated[float, Field(ge=0, le=100, allow_inf_nan=False)]] = Field(
        default_factory=lambda: [0.1, 0.3], max_length=20,
        description="Gaussian noise levels, in each numeric feature's standard deviation (each in [0, 100], at most "
                    "20; 0 is a clean control)")
    fgsm_epsilons: list[Annotated[float, Field(ge=0, le=100, allow_inf_nan=False)]] = Field(
        default_factory=lambda: [0.05], max_length=20, description="torch models only (each in [0, 100], at most 20)")
    seed: int = 0
    max_rows: int = Field(20000, ge=1, le=10_000_000,
                          description="rows perturbed (the first ones of the data), bounding the cost "
                                      "(at most 10,000,000)")


class LatencySpec(_Strict):
    batch_sizes: list[Annotated[int, Field(ge=1, le=100_000)]] = Field(
        default_factory=lambda: [1, 256], max_length=10, description="each in [1, 100000], at most 10 sizes")
    repeats: int = Field(30, ge=3, le=10_000, description="timed runs per batch size, in [3, 10000]")
    warmup: int = Field(5, ge=0, le=1_000, description="untimed runs first, at most 1000")


class EvaluationSpec(_Strict):
    """How evidence is measured; every field has a default, so the block is optional."""

    bootstrap: BootstrapSpec = Field(default_factory=BootstrapSpec)
    calibration_bins: int = Field(15, ge=2, le=1000, description="equal-width score bins for the ECE, in [2, 1000]")
    roc_auc: bool = Field(True, description="ROC AUC keeps one table of scores per model, class and slice cell "
                                            "(exact up to roc_auc_exact_budget, then binned); false: no ROC AUC")
    roc_auc_exact_budget: int = Field(
        4_000_000, ge=0, le=1_000_000_000,
        description="distinct (score, table) entries the exact ROC AUC tables may hold over all tables (about 24 bytes "
                    "each); past it every table is binned on a fixed grid of 4,096 scores and evidence states the "
                    "bound on the AUC's error (models.*.roc_auc_binned); 0: always binned")
    robustness: RobustnessSpec | None = Field(default_factory=RobustnessSpec, description="null: skip")
    latency: LatencySpec | None = Field(default_factory=LatencySpec, description="null: skip timing")
    broken_examples: int = Field(20, ge=0, le=10_000,
                                 description="row indices of broken flips kept for reviewers (at most 10,000)")
    intersections: Literal["default", "all", "none"] | list[Annotated[list[str], Field(min_length=2)]] = Field(
        "default", description="which intersections of sensitive columns to slice by, besides each column: default "
                               "(the full one), all (every combination), none, or a list such as [[group, region]]")
    intersection_budget: int = Field(
        5000, ge=1, le=10_000_000, description="an intersection with more occurring cells (value combinations) than "
                                               "this is not formed; evidence.dimensions_skipped says which and why")


#: what stands in for a person in templates and examples (``governance init`` writes "<your name>"): a sign-off
#: by one of these is refused, so paperwork copied without being filled in never counts (compared lower-case)
PLACEHOLDER_NAMES = frozenset({
    "name", "your name", "your name (your team)", "full name", "first last", "firstname lastname", "john doe",
    "jane doe", "someone", "somebody", "anonymous", "unknown", "nobody", "me", "user", "reviewer", "approver",
    "owner", "test", "example", "n/a", "na", "none", "null", "nil", "tbd", "todo", "fixme", "xxx", "changeme",
})
#: words that mark a name as not filled in wherever they appear in it ("TODO: name", "Name (TBD)")
#: a key column that is also the target or a feature (template: format with column)
KEY_IS_MODEL_INPUT = ("key column {column!r} is also the target or a feature: a key identifies a record, it is not a "
                      "model input")
#: an evaluation.intersections entry naming a column that is not sensitive (template: columns, sensitive)
INTERSECTION_NOT_SENSITIVE = ("evaluation.intersections names {columns}, not among data.sensitive ({sensitive}): an "
                              "intersection joins sensitive columns")
PLACEHOLDER_WORDS = frozenset({"todo", "tbd", "fixme", "xxx", "placeholder", "changeme"})
APPROVAL_BLANK = "{field} is blank: a sign-off needs who signed, in which role, and what they state"
APPROVAL_PLACEHOLDER_NAME = ("{name} is a placeholder, not a person: write the name of the person who reviewed the "
                             "audit report and approves this candidate file (e.g. \"Dana Whitfield (credit risk)\")")
APPROVAL_NOT_SHA256 = ("{value} is not a sha256: write the sha256 of the candidate file that was reviewed and "
                       "approved (`sha256sum` of the file, or the audit report's table of inputs)")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


#: letters that render as nothing (Hangul fillers, the blank braille pattern): a "name" of them looks blank
_BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")


def visible(text: str) -> str:
    """``text`` as a reader sees it: NFKC, with what renders as nothing (format and control characters such as
    zero-width spaces and soft hyphens, separators, filler letters) dropped or read as a space, spaces collapsed."""
    out = []
    for c in unicodedata.normalize("NFKC", text):
        cat = unicodedata.category(c)
        if cat == "Cf" or c in _BLANK_LETTERS:
            continue
        out.append(" " if cat[0] in "CZ" else c)
    return " ".join("".join(out).split())


def placeholder_name(name: str) -> bool:
    """True for a name that is no person's: blank (or only invisible characters), a template marker (<...>, [...],
    {{...}}) or a stock stand-in."""
    text = visible(name).lower()
    if not any(c.isalpha() for c in text) or any(c in text for c in "<>[]{}"):
        return True
    if text.strip("\"'()., ") in PLACEHOLDER_NAMES or text.startswith(("your ", "insert ", "enter ")):
        return True
    return bool(set(re.findall(r"[a-z]+", text)) & PLACEHOLDER_WORDS)


class Approval(_Strict):
    """A human sign-off of one specific candidate file: re-pruning changes the hash and voids it.

    A placeholder name or a blank field is refused here (exit 2); a date after the evaluation date is judged by
    the attestation rule, which alone knows that date (the sign-off then does not count)."""

    role: str = Field(min_length=1, description="e.g. model-owner, risk-officer")
    name: str = Field(min_length=1, description="the person who signed: a real name, never a placeholder")
    date: IsoDate = Field(description="the day of the sign-off; one after the evaluation date (--today) does not count")
    statement: str = Field(min_length=1)
    candidate_sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="sha256 of the candidate model file approved")

    @field_validator("role", "name", "statement")
    @classmethod
    def _filled_in(cls, v: str, info: ValidationInfo) -> str:
        if not visible(v):
            raise PydanticCustomError("blank", APPROVAL_BLANK, {"field": info.field_name})
        if info.field_name == "name" and placeholder_name(v):
            raise PydanticCustomError("placeholder_name", APPROVAL_PLACEHOLDER_NAME, {"name": repr(v)})
        return v

    @field_validator("candidate_sha256", mode="before")
    @classmethod
    def _sha256(cls, v: Any) -> Any:
        if isinstance(v, str) and _SHA256.match(v.strip().lower()):
            return v.strip().lower()  # `sha256sum` prints lower case; some tools print upper case
        raise PydanticCustomError("not_sha256", APPROVAL_NOT_SHA256, {"value": repr(v)})


#: the slice dimensions of task lm_eval (evidence.data.sensitive): the harness task, its group, the capability
LM_EVAL_DIMENSIONS = ["task", "group", "capability"]
#: task lm_eval takes its data from the samples files (template: none)
LM_EVAL_NO_DATA = "task lm_eval reads its data from the samples files: remove the data block"
#: any other task needs data
DATA_REQUIRED = "data is required (the evaluation data: path, target, sensitive columns)"
#: lm-eval-samples runs belong to task lm_eval (template: role)
LM_EVAL_FORMAT_NEEDS_TASK = "{role}.format is lm-eval-samples: set task: lm_eval"
#: task lm_eval compares two lm-eval-samples runs (template: role)
LM_EVAL_TASK_NEEDS_FORMAT = "task lm_eval compares two lm-evaluation-harness runs: set {role}.format: lm-eval-samples"


class LmEvalSpec(_Strict):
    """Task lm_eval: which per-sample metric is judged per task, and the harness groups and capability groups the
    tasks belong to (task-name patterns, fnmatch style: ``mmlu_*``). Defaults in governance/models/lm_eval.py."""

    metric: dict[str, str] = Field(
        default_factory=dict, description="task pattern -> per-sample metric judged (e.g. {hellaswag: acc_norm}); "
                                          "default: acc, else exact_match, else the task's only 0/1 metric")
    filter: dict[str, str] = Field(
        default_factory=dict, description="task pattern -> the harness filter judged, for tasks logged under several "
                                          "(e.g. {gsm8k: flexible-extract}); default: the filter of the baseline "
                                          "file's first line (the task's first filter)")
    groups: dict[str, list[str]] = Field(
        default_factory=dict, description="harness group -> task patterns, besides MMLU's (mmlu_stem, "
                                          "mmlu_humanities, mmlu_social_sciences, mmlu_other), built in")
    exclude: list[str] = Field(
        default_factory=list, description="task patterns not judged (e.g. [wikitext]: perplexity has no 0/1 "
                                          "per-sample metric); recorded in the evidence")
    capabilities: dict[str, list[str]] | None = Field(
        None, description="capability group -> task patterns (e.g. knowledge: [mmlu_*, arc_*]); default: the "
                          "built-in map of common tasks to knowledge, reasoning, reading, safety; a task in none "
                          "is 'unassigned'")


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
    data: DataSpec = Field(None, validate_default=True,  # required unless lm_eval (the validator below)
                           description="the evaluation data; required, except for task lm_eval (none: the samples "
                                       "files are the data, sliced by task, group and capability)")
    lm_eval: LmEvalSpec | None = Field(None, description="task lm_eval: metric per task, groups, capabilities")
    production: ProductionSpec | None = Field(
        None, description="a sample of production inputs: representativeness, agreement on production rows, "
                          "production-weighted metrics (docs/production.md)")
    policy: str
    card: str | None = None
    provenance: str | None = None
    evaluation: EvaluationSpec = Field(default_factory=EvaluationSpec)
    approvals: list[Approval] = Field(default_factory=list, description="human sign-offs (rule kind attestation)")

    @field_validator("version", mode="before")
    @classmethod
    def _version_str(cls, v: Any) -> Any:
        return version_text(v)

    @field_validator("data", mode="before")
    @classmethod
    def _lm_eval_data(cls, v: Any, info: ValidationInfo) -> Any:
        """Task lm_eval has no data file: its slices are the samples' task, group and capability."""
        if info.data.get("task") == "lm_eval":
            if v is not None:
                raise ValueError(LM_EVAL_NO_DATA)
            base = info.data.get("baseline")
            return {"path": base.path if isinstance(base, ModelSpec) else "", "target": "correct",
                    "sensitive": LM_EVAL_DIMENSIONS}
        if v is None:
            raise PydanticCustomError("missing", DATA_REQUIRED)
        return v

    @model_validator(mode="after")
    def _lm_eval_formats(self) -> Manifest:
        for role in ("baseline", "candidate"):
            samples = getattr(self, role).format == "lm-eval-samples"
            if samples and self.task != "lm_eval":
                raise ValueError(LM_EVAL_FORMAT_NEEDS_TASK.format(role=role))
            if self.task == "lm_eval" and not samples:
                raise ValueError(LM_EVAL_TASK_NEEDS_FORMAT.format(role=role))
        return self

    @model_validator(mode="after")
    def _production_has_rows(self) -> Manifest:
        if self.production is not None and self.task == "lm_eval":
            raise ValueError(PRODUCTION_NOT_FOR_LM_EVAL)
        if self.production is not None and self.production.target in self.data.sensitive:
            raise ValueError(f"production.target {self.production.target!r} is a sensitive column")
        if self.production is not None and (odd := [c for c in self.production.unrecorded
                                                    if c not in self.data.sensitive]):
            raise ValueError(f"production.unrecorded names {', '.join(map(repr, odd))}, not among data.sensitive "
                             f"({', '.join(self.data.sensitive) or 'none'})")
        return self

    @model_validator(mode="after")
    def _regression_has_no_classes(self) -> Manifest:
        """A regression release names no classes or positive label: a leftover one is a copied classification
        manifest, refused rather than silently ignored."""
        if self.task == "regression":
            for name in ("classes", "positive_label"):
                if name in self.model_fields_set:
                    raise ValueError(NOT_FOR_REGRESSION.format(field=name))
        return self

    @model_validator(mode="after")
    def _intersections_of_sensitive(self) -> Manifest:
        """Each listed intersection joins two or more distinct sensitive columns, or it could never be formed."""
        if isinstance(self.evaluation.intersections, list):
            for cols in self.evaluation.intersections:
                if unknown := [c for c in cols if c not in self.data.sensitive]:
                    raise ValueError(INTERSECTION_NOT_SENSITIVE.format(
                        columns=", ".join(map(repr, unknown)), sensitive=", ".join(self.data.sensitive) or "none"))
                if len(set(cols)) != len(cols):
                    raise ValueError(f"evaluation.intersections lists a column twice in {cols}")
        return self


class Release(BaseModel):
    """A loaded manifest plus where it lives, so relative paths resolve against its folder."""

    model_config = ConfigDict(frozen=True)
    path: Path
    manifest: Manifest

    @property
    def folder(self) -> Path:
        return self.path.parent

    def resolve(self, relative: str, field: str, kind: str = "file") -> Path:
        """A path the manifest names, checked before anything reads it: a regular, readable file whose symlinks
        stay inside the release folder (``hashing.check_input_file``); anything else is exit 2."""
        from .hashing import check_input_file

        p = Path(relative)
        p = p if p.is_absolute() else self.folder / p
        return check_input_file(p, named_in=self.path, field=field, root=self.folder, kind=kind)


def load_manifest(path: str | Path) -> Release:
    path = Path(path)
    manifest = load_model_file(path, Manifest, what="release manifest")
    return Release(path=path.resolve(), manifest=manifest)
