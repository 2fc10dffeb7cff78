"""The evidence model: everything measured, serialised as evidence.json. It never contains a verdict."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from ..provenance import Provenance
from ..ranges import Range
from .consistency import check_row_counts
from .schema_base import (
    AGREEMENT_RANGES,
    Confidence,
    Count,
    NonNegative,
    Share,
    ShareDifference,
    agrees,
    at_most,
    counts_with_shares,
    within,
)
from .schema_base import ROLES as ROLES  # re-exported: the building blocks live in schema_base (no import cycle)
from .schema_base import Comparison as Comparison
from .schema_base import FileRef as FileRef
from .schema_base import Interval as Interval
from .schema_base import Role as Role
from .schema_base import _Frozen as _Frozen
from .schema_base import check_metric_values as check_metric_values

Number = float | int | None
#: metric name -> value; `count` is the number of rows. None where a metric is undefined (e.g. AUC with one class).
MetricValues = dict[str, Number]

#: mean squared error of probability vectors: 0 to 2 (binary: 0 to 1)
Brier = Annotated[float, within(Range(0.0, 2.0))]
#: 1 - a ratio of sizes: at most 1 (below 0: the candidate is the larger)
AtMostOne = Annotated[float, within(Range(-math.inf, 1.0))]
SLICES_DIFFER = "the baseline's and the candidate's slices differ: both models are measured on the same slices"
UNDECLARED_DIMENSION = "slices of dimensions that evidence.dimensions does not declare: {dims}"
UNMEASURED_DIMENSION = "no slices of dimensions that evidence.dimensions declares: {dims}"


class DataEvidence(_Frozen):
    file: FileRef
    rows: Count
    target: str
    sensitive: list[str]
    features: list[str]
    classes: list[str] = Field(description="class labels (as text) in the models' output order")
    positive_label: str | None = Field(None, description="binary tasks: the positive class")


class ClassCounts(_Frozen):
    """One slice's one-vs-rest counts, per class in ``data.classes`` order: enough for each class's selection
    rate, TPR and FPR (multiclass fairness) without the rows."""

    true: list[Count] = Field(description="rows whose true label is the class")
    predicted: list[Count] = Field(description="rows the model predicts as the class")
    correct: list[Count] = Field(description="rows of the class predicted as it")


class ModelSource(_Frozen):
    """Where a model not kept in the release folder came from (``format: mlflow``): what it resolved to and the
    hash of every file downloaded, so the provenance rules can compare them like any other input."""

    uri: str = Field(description="the manifest's uri: models:/name/version or runs:/run_id/path")
    tracking_uri: str = Field(description="the MLflow tracking server (any user:password@ part removed)")
    registered_model: str | None = None
    version: str | None = Field(None, description="the registered model version (models:/ URIs)")
    run_id: str | None = Field(None, description="the run that logged the model")
    flavour: str = Field(description="the MLflow flavour read (sklearn, onnx)")
    serialization: str | None = Field(None, description="sklearn flavour: skops, pickle or cloudpickle")
    files: list[FileRef] = Field(description="every downloaded artifact file, paths relative to the model's root")


class AucBinning(_Frozen):
    """ROC AUC from binned score tables: the exact tables passed ``evaluation.roc_auc_exact_budget``, so every table
    (each model, class and cell) was binned on one fixed grid (``governance.metrics.AUC_GRID``)."""

    bins: Count = Field(description="bins of the fixed score grid")
    grid: str = Field(description="the grid, in words")
    budget: Count = Field(description="evaluation.roc_auc_exact_budget: the distinct entries exact tables may hold")
    entries: Count = Field(description="distinct (table, bin) entries kept, over all tables of both models")
    error_bound: Share | None = Field(
        description="|reported overall ROC AUC - exact ROC AUC| is at most this: half the share of positive-negative "
                    "pairs that fall in one bin (multiclass: the mean over the classes); None: AUC undefined")
    slices: dict[str, dict[str, Share | None]] = Field(
        default_factory=dict, description="dimension -> slice value -> the same bound for that slice's ROC AUC "
                                          "(None: undefined there, e.g. a class slice), read by the rules on roc_auc")


def _absent(value: object) -> bool:
    """Optional sections left out of evidence.json when absent (no ``regression: null``), as a field-level exclusion,
    not a wrapping serializer: that would build the whole evidence as Python objects before writing its JSON."""
    return value is None


class ModelEvidence(_Frozen):
    format: str
    file: FileRef
    source: ModelSource | None = Field(None, exclude_if=_absent,
                                       description="format mlflow: the URI, resolved version/run, file hashes")
    description: dict[str, Any] = Field(default_factory=dict, description="parameters, non-zeros, bytes")
    overall: MetricValues
    slices: dict[str, dict[str, MetricValues]] = Field(
        description="dimension -> slice value -> {count, metric...}; an intersection joins names with ' & '"
    )
    fairness: dict[str, dict[str, float | None]] = Field(
        default_factory=dict, description="dimension -> fairness gap over all its slices (no minimum size); "
                                          "multiclass: the worst class's one-vs-rest gap"
    )
    class_counts: dict[str, dict[str, ClassCounts]] = Field(
        default_factory=dict, description="multiclass only: dimension -> slice -> one-vs-rest counts per class"
    )
    roc_auc_binned: AucBinning | None = Field(
        None, exclude_if=_absent,
        description="present only when ROC AUC (overall and every slice) is binned, with the bound on the "
                    "overall value's error; absent: ROC AUC is exact (or off: evaluation.roc_auc false)")

    @model_validator(mode="after")
    def _in_range(self) -> ModelEvidence:
        check_metric_values(self.overall, "overall")
        for dim, slices in self.slices.items():
            for value, metrics in slices.items():
                check_metric_values(metrics, f"slices.{dim}.{value}")
        for dim, gaps in self.fairness.items():
            check_metric_values(gaps, f"fairness.{dim}")
        for key in DESCRIBED_COUNTS:  # the documents divide them (sparsity): "10" / "5" was an internal error
            count = self.description.get(key)
            if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 0):
                raise ValueError(f"description.{key} must be a count (a whole number >= 0), not {count!r}")
        params, nonzero = self.description.get("parameters"), self.description.get("nonzero_parameters")
        if params is not None and nonzero is not None:
            at_most("description.nonzero_parameters", nonzero, params, "description.parameters")
        return self


#: what every recorded sign-off holds (manifest.Approval)
APPROVAL_KEYS = ("role", "name", "date", "statement", "candidate_sha256")
#: the counts a model's description may carry (models/protocols.py Description)
DESCRIBED_COUNTS = ("parameters", "nonzero_parameters", "bytes")


class Agreement(_Frozen):
    rows: Count
    same_prediction: Share | None = Field(description="share of rows where both models predict the same label")
    fixed: Count = Field(description="rows the baseline got wrong and the candidate right")
    broken: Count = Field(description="rows the baseline got right and the candidate wrong")
    max_abs_score_difference: NonNegative
    max_abs_baseline_score: NonNegative | None = Field(
        None, description="task: regression: the largest |baseline prediction|, the scale distinct_models judges "
                          "the score difference against (predictions have units; probabilities do not). None for "
                          "classifiers and lm_eval, whose scores are probabilities")
    slices: dict[str, dict[str, dict[str, float | int | None]]] = Field(
        default_factory=dict, description="dimension -> slice -> {count, same_prediction, fixed, broken}")
    broken_examples: list[Count] = Field(
        default_factory=list, description="0-based data row indices of a bounded sample of broken flips "
                                          "(compression-identified exemplars) for reviewers")

    @model_validator(mode="after")
    def _in_range(self) -> Agreement:
        for dim, slices in self.slices.items():
            for value, stats in slices.items():
                check_metric_values(stats, f"slices.{dim}.{value}", AGREEMENT_RANGES)
        at_most("fixed + broken", self.fixed + self.broken, self.rows, "rows")
        return self


class Comparisons(_Frozen):
    method: str
    resamples: Count
    seed: int
    confidence: Confidence
    overall: dict[str, Comparison]
    slices: dict[str, dict[str, dict[str, Comparison]]] = Field(description="dimension -> slice -> metric")
    methods: dict[str, str] = Field(default_factory=dict, description="metric -> how its intervals were made")
    missing: dict[str, str] = Field(default_factory=dict,
                                    description="metric -> why some or all of its intervals are missing")

    @model_validator(mode="after")
    def _in_range(self) -> Comparisons:
        tables = [("overall", self.overall)] + [(f"slices.{dim}.{value}", metrics)
                                                for dim, slices in self.slices.items()
                                                for value, metrics in slices.items()]
        for where, table in tables:
            for role in ("baseline", "candidate"):
                check_metric_values({m: getattr(c, role) for m, c in table.items()}, f"{where} ({role})")
        return self


class Recovery(_Frozen):
    """How much of the baseline's score the candidate keeps, the figure compressed-model cards report (Neural Magic /
    Red Hat: candidate score / baseline score, in %): 1.0 = fully recovered, below 1 = worse."""

    definition: str = Field(description="how recovery is computed, per metric direction")
    overall: dict[str, float | None] = Field(description="metric -> recovery (None: undefined, see definition)")
    slices: dict[str, dict[str, dict[str, float | None]]] = Field(
        default_factory=dict, description="dimension -> slice -> metric -> recovery")


class Reliability(_Frozen):
    """Reliability-curve counts over equal-width bins of the top-class (binary: positive-class) score."""

    bin_edges: list[float]
    count: list[Count]
    mean_confidence: list[Share | None]
    accuracy: list[Share | None]


class CalibrationStats(_Frozen):
    count: Count
    ece: Share | None
    brier: Brier | None
    reliability: Reliability | None = None


class Calibration(_Frozen):
    bins: Count
    score: str = Field(description="which score is binned, e.g. 'positive-class probability'")
    models: dict[Role, CalibrationStats]
    slices: dict[str, dict[str, dict[str, CalibrationStats]]] = Field(
        default_factory=dict, description="dimension -> slice -> model -> stats (no reliability curve)")


class LatencyStats(_Frozen):
    batch_size: Count
    repeats: Count
    median_ms: NonNegative
    p95_ms: NonNegative
    rows_per_s: NonNegative


class ModelEfficiency(_Frozen):
    parameters: Count | None = None
    nonzero_parameters: Count | None = None
    sparsity: Share | None = Field(None, description="fraction of zeros over `sparsity_scope`")
    sparsity_scope: str | None = None
    macs_dense: Count | None = Field(None, description="multiply-adds per row if every weight were used")
    macs_effective: Count | None = Field(None, description="multiply-adds per row over non-zero weights only")
    weight_bits: Count | None = Field(None, description="bits per stored weight: the narrowest element type of the "
                                                      "weight tensors (8: int8/uint8-quantized, 32: float32); None: "
                                                      "not read for this format")
    weight_format: str | None = Field(None, description="what weight_bits was read from (element types; the "
                                                        "quantization operators of the graph)")
    tree_nodes: Count | None = Field(None, description="trees and tree ensembles: nodes over all trees (what "
                                                     "pruning a tree removes); None: not a tree model")
    tree_leaves: Count | None = Field(None, description="trees: leaves over all trees")
    tree_depth: Count | None = Field(None, description="trees: the depth of the deepest tree")
    bytes: Count
    bytes_gzip: Count
    latency: list[LatencyStats] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> ModelEfficiency:
        if self.parameters is not None and self.nonzero_parameters is not None:
            at_most("nonzero_parameters", self.nonzero_parameters, self.parameters, "parameters")
        return self


class Efficiency(_Frozen):
    device: str
    hardware: str
    method: str = Field(description="how latency was measured (warm-up, repeats, interleaving)")
    models: dict[Role, ModelEfficiency]
    compression_ratio: NonNegative | None = Field(None, description="baseline gzip size / candidate gzip size")
    size_reduction: AtMostOne | None = Field(None, description="1 - candidate gzip size / baseline gzip size")
    speedup: dict[str, NonNegative] = Field(default_factory=dict,
                                            description="batch size -> baseline median / candidate median")

    @model_validator(mode="after")
    def _sizes(self) -> Efficiency:
        """The size figures the rules read repeat the two gzip sizes: all three come from one measurement."""
        base, cand = (self.models[r].bytes_gzip if r in self.models else None for r in ROLES)
        if base and cand:
            agrees("compression_ratio", self.compression_ratio, base / cand, "baseline / candidate bytes_gzip")
            agrees("size_reduction", self.size_reduction, 1.0 - cand / base, "1 - candidate / baseline bytes_gzip")
        return self


class RobustnessLevel(_Frozen):
    perturbation: Literal["gaussian", "fgsm"]
    level: NonNegative = Field(description="gaussian: sigma in feature standard deviations; fgsm: epsilon")
    rows: Count
    accuracy: dict[Role, Share]
    drop: dict[Role, ShareDifference] = Field(description="clean accuracy - perturbed accuracy")
    extra_drop: float = Field(description="candidate drop - baseline drop (positive: the candidate is more fragile)")

    @model_validator(mode="after")
    def _extra(self) -> RobustnessLevel:
        if set(self.drop) == set(ROLES):
            agrees("extra_drop", self.extra_drop, self.drop["candidate"] - self.drop["baseline"],
                   "drop.candidate - drop.baseline")
        return self


class UnmeasuredLevel(_Frozen):
    """A perturbation level the models could not be scored at."""

    perturbation: Literal["gaussian", "fgsm"]
    level: NonNegative
    why: str


class Robustness(_Frozen):
    seed: int
    features: list[str] = Field(description="the continuous features that were perturbed")
    unperturbed: dict[str, str] = Field(
        default_factory=dict, description="feature -> why it was left alone (declared categorical, few integer "
                                          "values, not numeric)")
    levels: list[RobustnessLevel]
    feature_std: dict[str, NonNegative] = Field(default_factory=dict, description="the std each sigma is in units of")
    std_source: str | None = Field(None, description="which rows the feature std was computed from")
    notes: list[str] = Field(default_factory=list, description="e.g. why FGSM was skipped")
    unmeasured: list[UnmeasuredLevel] = Field(
        default_factory=list, description="the levels with no result (NaN or infinite scores on the perturbed "
                                          "copy) and why: a rule on one errs")


class ProvenanceEvidence(_Frozen):
    """The provenance file as declared, and the files it names as found at collection."""

    file: FileRef = Field(description="the provenance file itself")
    declared: Provenance
    files: dict[str, FileRef] = Field(default_factory=dict,
                                      description="dataset name -> the local file its `path` names, hashed")
    unavailable: dict[str, str] = Field(default_factory=dict,
                                        description="dataset name -> why its local file could not be hashed")


class LeakageSet(_Frozen):
    role: str
    file: FileRef | None = None
    rows: Count | None = Field(None, description="rows in this dataset")
    overlap_rows: Count | None = Field(None, description="evaluation rows whose row hash occurs in this dataset")
    overlap_share: Share | None = Field(None, description="overlap_rows / evaluation rows")
    problem: str | None = Field(None, description="why it could not be compared (no local file, missing columns)")
    key: list[str] | None = Field(None, description="its key columns compared with the evaluation data's key "
                                                    "(None: rows compared on features and target)")
    sample_rows: Count | None = Field(None, description="no key: expected size of the uniform sample of its rows "
                                                      "compared at the evaluation set's size (evaluation rows - 1)")
    sample_overlap_rows: Count | None = Field(None, description="no key: evaluation rows whose hash occurs in that "
                                                              "sample")
    sample_overlap_share: Share | None = Field(None, description="no key: sample_overlap_rows / evaluation rows")
    chance_share: Share | None = Field(None, description="no key: share of evaluation rows expected in a sample "
                                                         "of that size by coincidence alone (estimated from the "
                                                         "evaluation set's own duplicates)")


class Leakage(_Frozen):
    """Evaluation rows that also occur in the training, fine-tuning or validation data the provenance names."""

    method: str
    columns: list[str] = Field(description="the columns hashed: the features, then the target (with a key: the "
                                           "key columns)")
    evaluation_rows: Count
    evaluation_distinct_rows: Count
    datasets: dict[str, LeakageSet] = Field(default_factory=dict, description="dataset name -> overlap")
    key: list[str] | None = Field(None, description="the evaluation data's key columns (data.key or provenance "
                                                    "key): rows compared by identity; None: by content")
    duplicated_rows: Count | None = Field(None, description="evaluation rows whose hash occurs more than once in the "
                                                          "evaluation set")
    duplicated_share: Share | None = Field(None, description="duplicated_rows / evaluation rows: the overlap "
                                                             "expected by chance with as many independent rows")

    @model_validator(mode="after")
    def _shares(self) -> Leakage:
        """The shares the leakage rule judges are counts over the evaluation rows: both are stored, so both agree."""
        at_most("evaluation_distinct_rows", self.evaluation_distinct_rows, self.evaluation_rows, "evaluation_rows")
        counts_with_shares([("duplicated_rows", self.duplicated_rows, self.duplicated_share)] + [
            (f"datasets.{name}.{kind}_rows", rows, share) for name, ls in self.datasets.items()
            for kind, rows, share in (("overlap", ls.overlap_rows, ls.overlap_share),
                                      ("sample_overlap", ls.sample_overlap_rows, ls.sample_overlap_share))],
            self.evaluation_rows, "evaluation_rows")
        return self


class PiiColumn(_Frozen):
    sampled: Count = Field(description="non-null values examined")
    matches: dict[str, Count] = Field(description="detector -> sampled values in which it found a match")


class PiiScan(_Frozen):
    """A uniform sample of the evaluation data (drawn over the whole file) scanned for personal data. Counts only:
    no value is kept."""

    method: str
    detectors: list[str]
    rows_sampled: Count
    columns: dict[str, PiiColumn]
    rows_scanned: Count | None = Field(None, description="rows in the sample scanned (= rows_sampled)")
    rows_total: Count | None = Field(None, description="rows in the evaluation data the sample was drawn from")
    not_scanned: list[str] = Field(default_factory=list, description="columns of types that cannot hold them "
                                                                     "(floating point, boolean, dates)")


class ColumnQuality(_Frozen):
    """One column of the evaluation data (governance/evidence/quality.py says how each count is made)."""

    role: Literal["feature", "target", "sensitive"]
    missing: Count = Field(description="null values (floating point: also NaN; CSV text: also pyarrow's null markers)")
    missing_share: Share | None = Field(description="missing / rows")
    distinct: Count = Field(description="distinct non-missing values, counted up to a cap (see distinct_at_least)")
    distinct_at_least: bool = Field(False, description="the cap was reached: at least `distinct` distinct values")
    constant: bool = Field(description="exactly one distinct non-missing value")


class DataQuality(_Frozen):
    """The evaluation set itself: missing values, constant columns, duplicate rows, class balance (measured in the
    scoring pass's one read of the file; counts only, no value is kept)."""

    rows: Count
    columns: dict[str, ColumnQuality] = Field(description="feature, target and sensitive columns")
    duplicate_rows: Count = Field(description="rows identical (features and target) to an earlier row: pandas' "
                                            "duplicated().sum(); an estimate when duplicate_exact is false")
    duplicate_share: Share | None = Field(description="duplicate_rows / rows")
    duplicate_exact: bool = Field(True, description="false: estimated from a hash-value sample of the distinct rows")
    duplicate_columns: list[str] = Field(description="the columns a row is compared on")
    duplicate_method: str
    class_balance: dict[str, Share] | None = Field(None, description="classification: share of rows per class "
                                                                     "(None: regression, or too many labels)")
    training_dataset: str | None = Field(None, description="the provenance's training dataset whose declared "
                                                           "class_balance is compared")
    training_class_balance: dict[str, Share] | None = Field(None, description="its declared class_balance")
    class_balance_distance: Share | None = Field(None, description="total variation distance between class_balance "
                                                                   "and training_class_balance (0: equal, 1: "
                                                                   "disjoint)")
    notes: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _shares(self) -> DataQuality:
        """The shares the data_quality rule judges are counts over the rows: both are stored, so both agree."""
        counts_with_shares([("duplicate", self.duplicate_rows, self.duplicate_share)] + [
            (f"columns.{name}.missing", c.missing, c.missing_share) for name, c in self.columns.items()],
            self.rows, "rows")
        return self


class Documentation(_Frozen):
    card_file: FileRef | None = Field(description="the model-card facts file (card.yaml), None when not given")
    sections: dict[str, bool] = Field(description="card section (dotted path, e.g. intended_use.out_of_scope_uses)"
                                                  " -> whether it is filled")


class RegressionInfo(_Frozen):
    """task: regression: how its metrics were measured (the metrics themselves are in models.*.overall / slices)."""

    errors: str = Field(description="what an error is (prediction - truth) and which metrics are sums of it")
    mape: str = Field(description="how MAPE treats rows whose target is 0")
    mape_undefined_rows: Count = Field(description="rows whose target is 0 (left out of MAPE)")
    quantile_method: Literal["exact", "kll"] = Field(
        description="exact: numpy.quantile (linear) over every row; kll: Apache DataSketches KLL sketches")
    quantile_rank_error: Share = Field(description="bound on the quantiles' normalized rank error (0 when exact; "
                                                   "KLL: with 99% confidence)")
    quantile_exact_rows: Count = Field(description="row budget under which the quantiles are exact")
    intervals: str = Field(description="which metrics carry paired intervals, and how")


class PairedTest(_Frozen):
    """One slice of an lm_eval release: both runs' accuracy on the same documents, the flips between them and an
    exact McNemar test of the discordant pairs (broken vs fixed)."""

    count: Count
    baseline_accuracy: Share | None
    candidate_accuracy: Share | None
    difference: ShareDifference | None = Field(description="candidate - baseline")
    fixed: Count = Field(description="documents the baseline got wrong and the candidate right")
    broken: Count = Field(description="documents the baseline got right and the candidate wrong")
    fixed_rate: Share | None = Field(description="fixed / count")
    broken_rate: Share | None = Field(description="broken / count")
    flip_rate: Share | None = Field(description="(fixed + broken) / count")
    mcnemar_p: Share | None = Field(description="two-sided exact McNemar p-value: binomial test of broken among "
                                                "fixed + broken at 1/2 (1.0 without discordant pairs)")

    @model_validator(mode="after")
    def _consistent(self) -> PairedTest:
        """The difference and the rates the lm_eval rules judge repeat the accuracies and counts: all agree."""
        at_most("fixed + broken", self.fixed + self.broken, self.count, "documents")
        if self.baseline_accuracy is not None and self.candidate_accuracy is not None:
            agrees("difference", self.difference, self.candidate_accuracy - self.baseline_accuracy,
                   "candidate_accuracy - baseline_accuracy")
        if self.count:
            for name, value, flips, formula in (
                    ("fixed_rate", self.fixed_rate, self.fixed, "fixed / count"),
                    ("broken_rate", self.broken_rate, self.broken, "broken / count"),
                    ("flip_rate", self.flip_rate, self.fixed + self.broken, "(fixed + broken) / count")):
                agrees(name, value, flips / self.count, formula)
        return self


class LmEvalTask(_Frozen):
    metric: str = Field(description="the per-sample 0/1 metric judged (acc, acc_norm, exact_match, ...)")
    filter: str | None = Field(None, description="the harness filter whose lines were judged (strict-match, none, "
                                                 "...); null: the files name none")
    multiple_choice: bool = Field(description="the choices' log-likelihoods were logged (calibration measured)")
    samples: Count
    group: str
    capability: str
    files: dict[str, FileRef] = Field(description="role -> its samples file")
    max_abs_score_difference: Share | None = Field(
        None, description="the largest change of a document's top-choice probability (multiple choice), 1 where a "
                          "document's correctness changed; null for a generation task none of whose documents "
                          "changed (its answers are not compared) and in evidence from older versions")


class LmEval(_Frozen):
    """task: lm_eval: how the two lm-evaluation-harness runs were joined and compared."""

    method: str
    tasks: dict[str, LmEvalTask]
    task_average: dict[str, Share] = Field(description="role -> unweighted mean of the per-task accuracies (the "
                                                       "average leaderboards report; overall is per document)")
    overall: PairedTest
    slices: dict[str, dict[str, PairedTest]] = Field(description="dimension (task, group, capability) -> slice")
    broken_examples: list[dict[str, str | int]] = Field(
        default_factory=list, description="a bounded sample of broken documents: {task, doc_id}")


from .production_schema import ProductionEvidence  # noqa: E402  (its parts import schema_base, not this module)


class Evidence(_Frozen):
    schema_version: Literal["1"] = "1"
    tool: dict[str, str]
    created_at: datetime
    libraries: dict[str, str]
    release: dict[str, str]
    task: Literal["binary_classification", "multiclass_classification", "regression", "lm_eval"]
    inputs: dict[str, FileRef] = Field(description="every input file with its sha256")
    data: DataEvidence
    feature_profile: dict[str, Any] | None = Field(
        None, description="the evaluation set's feature profile (governance/evidence/profile.py FeatureProfile."
                          "to_json: per feature counts, moments, KLL sketches, exact values of small sets): the "
                          "reference for representativeness and the monitor (None: lm_eval)")
    dimensions: dict[str, list[str]] = Field(description="slice dimension name -> the sensitive columns it joins")
    dimensions_skipped: dict[str, str] = Field(
        default_factory=dict, description="intersection asked for but not formed -> why (e.g. over the cell budget)")
    models: dict[Role, ModelEvidence]
    agreement: Agreement
    comparisons: Comparisons | None = None
    recovery: Recovery | None = Field(None, description="candidate / baseline per metric (None: older evidence)")
    calibration: Calibration | None = None
    efficiency: Efficiency | None = None
    robustness: Robustness | None = None
    provenance: ProvenanceEvidence | None = Field(None, description="None: the manifest names no provenance file")
    leakage: Leakage | None = None
    pii: PiiScan | None = None
    data_quality: DataQuality | None = Field(None, description="the evaluation set's missing values, constant "
                                                               "columns, duplicates and class balance (None: not "
                                                               "measured, e.g. lm_eval)")
    documentation: Documentation | None = None
    approvals: list[dict[str, str]] = Field(default_factory=list, description="the manifest's sign-offs, as declared")
    warnings: list[str] = Field(default_factory=list)

    @field_validator("approvals")
    @classmethod
    def _whole_sign_offs(cls, v: list[dict[str, str]]) -> list[dict[str, str]]:
        """Every sign-off as the manifest's Approval requires it (one without a role was a KeyError in the rule)."""
        for i, approval in enumerate(v):
            if lacking := [k for k in APPROVAL_KEYS if not str(approval.get(k) or "").strip()]:
                raise ValueError(f"approvals[{i}] lacks {', '.join(lacking)}")
        return v
    regression: RegressionInfo | None = Field(None, exclude_if=_absent,
                                              description="task: regression only (omitted otherwise)")
    lm_eval: LmEval | None = Field(None, exclude_if=_absent,
                                   description="task: lm_eval only (omitted otherwise): per-task metric, "
                                               "McNemar tests and flips per slice")
    production: ProductionEvidence | None = Field(
        None, exclude_if=_absent,
        description="the production sample (manifest production:) only, omitted otherwise: slice shares, "
                    "representativeness, agreement on production rows, label-free estimate, weighting")

    @model_validator(mode="after")
    def _same_slices(self) -> Evidence:
        """Both models measured on the same slices of declared dimensions (a file that says otherwise was edited or
        broken, and a rule would read a slice one model lacks)."""
        slices = {role: {dim: set(values) for dim, values in m.slices.items()} for role, m in self.models.items()}
        if "baseline" in slices and "candidate" in slices and slices["baseline"] != slices["candidate"]:
            raise ValueError(SLICES_DIFFER)
        for role, dims in slices.items():
            if unknown := sorted(set(dims) - set(self.dimensions)):
                raise ValueError(f"models.{role}.slices: " + UNDECLARED_DIMENSION.format(dims=", ".join(unknown)))
            if absent := sorted(set(self.dimensions) - set(dims)):
                raise ValueError(f"models.{role}.slices: " + UNMEASURED_DIMENSION.format(dims=", ".join(absent)))
        return self

    @model_validator(mode="after")
    def _counts_agree(self) -> Evidence:
        """Sections that count the same rows agree (governance/evidence/consistency.py)."""
        check_row_counts(self)
        return self

    def dimension_for(self, columns: list[str]) -> str | None:
        """The evidence's name for the intersection of ``columns`` (order-insensitive), if measured."""
        wanted = set(columns)
        return next((name for name, cols in self.dimensions.items() if set(cols) == wanted), None)
