"""One window of production logs, read in chunks and folded into a small mergeable summary.

A window is a CSV or Parquet file: the release's feature columns, the deployed model's score column(s),
optionally sensitive columns, a delayed label column and a shadow baseline's score columns. It is streamed with
pyarrow ``chunk_rows`` rows at a time; each chunk becomes ``Counts`` (score-bin counts, labelled and correct rows,
the sum of top-label confidence, shadow agreement) overall and per slice, plus the feature profile's sketches,
and chunks merge by addition, so a window of any length costs what its summary costs.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field, model_validator

from ..data import MISSING, csv_batches, csv_nulls, csv_schema, open_parquet, parquet_schema
from ..errors import InputError
from ..evidence.profile import FeatureProfile, FeatureTypeError, not_numeric
from ..evidence.schema import FileRef, _Frozen
from ..evidence.schema_base import RANGE_SLACK, Count, NonNegative, part_of
from ..hashing import check_input_file, file_ref
from .contract import MonitoringContract

#: rows read at a time
CHUNK_ROWS = 65_536
#: a window's profile keeps at most this many values per numeric column (beyond: the KLL sketch), so each window's
#: summary in the state file stays small whatever the window's length
WINDOW_EXACT_LIMIT = 2_000

MISSING_COLUMN = "column {column!r} not found in {file} (columns: {columns})"
WRONG_SCORE_COUNT = "{task} needs {need} score column(s) ({what}), got {got}"
BAD_SCORE = "data row {row}: score {value!r} is not a probability in [0, 1]"
MISSING_SCORE = "data row {row}: the score is missing (every row the deployed model served has one)"
UNKNOWN_LABEL = "data row {row}: label {value!r} is not a class of the release (classes: {classes})"
NO_ROWS = "the window has no rows"
UNSUPPORTED = "unsupported window format: use .csv or .parquet"
CLASSIFICATION = ("binary_classification", "multiclass_classification")


class Counts(_Frozen):
    """Sums over a set of window rows; two ``Counts`` of disjoint rows merge by adding every field."""

    rows: Count = 0
    scores: list[Count] = Field(default_factory=list, description="rows per score bin (the contract's bins)")
    labelled: Count = Field(0, description="rows with a label")
    correct: Count = Field(0, description="labelled rows the deployed model predicted right")
    confidence: NonNegative = Field(0.0, description="sum of the deployed model's top-label confidence")
    shadow: Count = Field(0, description="rows with shadow baseline scores")
    agree: Count = Field(0, description="shadow rows where the deployed model and the baseline predict the same label")

    @model_validator(mode="after")
    def _nested(self) -> Counts:
        """Each count is of a subset of the one before it (a state file edited to 9 correct of 5 labelled rows would
        read as an accuracy of 1.8 and pass every floor)."""
        for part, whole, a, b in (("correct", "labelled", self.correct, self.labelled),
                                  ("labelled", "rows", self.labelled, self.rows),
                                  ("agree", "shadow", self.agree, self.shadow),
                                  ("shadow", "rows", self.shadow, self.rows),
                                  ("sum of scores", "rows", sum(self.scores), self.rows)):
            part_of(part, a, whole, b)
        if self.confidence > self.rows + RANGE_SLACK * max(1, self.rows):
            raise ValueError(f"confidence = {self.confidence!r} is more than one per row ({self.rows} rows)")
        return self

    def merge(self, other: Counts) -> Counts:
        scores = (list(np.add(self.scores, other.scores).astype(int).tolist()) if self.scores and other.scores
                  else list(self.scores or other.scores))
        return Counts(rows=self.rows + other.rows, scores=scores, labelled=self.labelled + other.labelled,
                      correct=self.correct + other.correct, confidence=self.confidence + other.confidence,
                      shadow=self.shadow + other.shadow, agree=self.agree + other.agree)

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.labelled if self.labelled else None

    @property
    def estimated_accuracy(self) -> float | None:
        return self.confidence / self.rows if self.rows else None

    @property
    def agreement(self) -> float | None:
        return self.agree / self.shadow if self.shadow else None


class WindowSummary(_Frozen):
    """Everything the monitor keeps of one window: its file's hash, counts overall and per slice, the profile."""

    name: str = Field(description="the window file's name")
    file: FileRef
    overall: Counts
    slices: dict[str, dict[str, Counts]] = Field(default_factory=dict, description="dimension -> slice -> counts")
    profile: dict[str, Any] | None = Field(None, description="the window's feature profile (FeatureProfile.to_json)")
    sensitive: list[str] = Field(default_factory=list, description="the sensitive columns the window holds")

    @model_validator(mode="after")
    def _slices_partition(self) -> WindowSummary:
        """Every row is in exactly one slice of each dimension (a missing value is its own slice), so each
        dimension's counts add up to the overall ones; a state edited to disagree is refused, not judged."""
        for dim, by_value in self.slices.items():
            for name in ("rows", "labelled", "correct", "shadow", "agree"):
                total, whole = sum(getattr(c, name) for c in by_value.values()), getattr(self.overall, name)
                if total != whole:
                    raise ValueError(f"the slices of {dim!r} count {total} {name}, the window {whole}")
        return self


@dataclass(frozen=True)
class WindowColumns:
    """Which columns of a window hold what (None: the contract's defaults, used when present)."""

    scores: tuple[str, ...] | None = None
    baseline_scores: tuple[str, ...] | None = None
    label: str | None = None
    chunk_rows: int = CHUNK_ROWS


def _format(path: Path) -> str:
    from ..data import data_format

    return data_format(path, UNSUPPORTED)


@dataclass(frozen=True)
class _Plan:
    """The columns one window is read with, checked against the file's header before a row is read."""

    scores: list[str]
    baseline: list[str]
    label: str | None
    sensitive: list[str]
    dimensions: dict[str, list[str]]

    @property
    def columns(self) -> list[str]:
        return [*self.scores, *self.baseline, *([self.label] if self.label else []), *self.sensitive]


def _plan(contract: MonitoringContract, names: list[str], path: Path, cols: WindowColumns) -> _Plan:
    def need(column: str, field: str) -> None:
        if column not in names:
            raise InputError(path, field, MISSING_COLUMN.format(column=column, file=path.name,
                                                               columns=", ".join(names)))

    for f in contract.features:
        need(f, f"features.{f}")
    sensitive = [c for c in contract.sensitive if c in names]
    dims = {d: c for d, c in contract.dimensions.items() if all(x in sensitive for x in c)}
    if contract.task not in CLASSIFICATION:  # regression, lm_eval: the features are all a window is judged on
        return _Plan([], [], None, sensitive, dims)
    scores = list(cols.scores) if cols.scores else list(contract.score_columns)
    k = 1 if contract.task == "binary_classification" else len(contract.classes)
    if len(scores) != k:
        what = "the positive-class probability" if k == 1 else "one probability per class, in class order"
        raise InputError(path, "--score-column", WRONG_SCORE_COUNT.format(task=contract.task, need=k, what=what,
                                                                          got=len(scores)))
    for s in scores:
        need(s, "--score-column")
    if cols.baseline_scores:
        baseline = list(cols.baseline_scores)
        if len(baseline) != k:
            raise InputError(path, "--baseline-score-column", WRONG_SCORE_COUNT.format(
                task=contract.task, need=k, what="the shadow baseline's, like the deployed model's", got=len(baseline)))
        for s in baseline:
            need(s, "--baseline-score-column")
    else:
        baseline = [c for c in contract.baseline_score_columns if c in names]
        baseline = baseline if len(baseline) == k else []
    if cols.label is not None:
        need(cols.label, "--label-column")
        label: str | None = cols.label
    else:
        label = contract.target if contract.target in names else None
    return _Plan(scores, baseline, label, sensitive, dims)


def _batches(path: Path, kind: str, columns: list[str], chunk_rows: int,
             numeric: Collection[str] = ()) -> Iterator[pa.RecordBatch]:
    """The window's ``columns`` in batches; in a CSV, integers as float64, and a column whose first block is all
    blank as float64 when it is ``numeric`` (a feature or score), else text, since pyarrow would type it null and
    refuse the first value after ("CSV conversion error to null")."""
    if kind == "parquet":
        yield from open_parquet(path).iter_batches(batch_size=chunk_rows, columns=columns)
        return
    schema = csv_schema(path)

    def typed(c: str) -> pa.DataType:
        t = schema.field(c).type
        if pa.types.is_null(t):
            return pa.float64() if c in numeric else pa.string()
        return pa.float64() if pa.types.is_integer(t) else t

    yield from csv_batches(path, columns, {c: typed(c) for c in columns})


def _header(path: Path, kind: str) -> list[str]:
    try:
        schema = parquet_schema(path) if kind == "parquet" else csv_schema(path)
    except (pa.ArrowException, OSError) as exc:
        first = (str(exc).strip().splitlines() or [exc.__class__.__name__])[0]
        raise InputError(path, None, f"cannot read data: {first}") from None
    return list(schema.names)


def _probabilities(batch: pa.RecordBatch, columns: list[str], path: Path, offset: int) -> np.ndarray:
    """(rows, K) probabilities from the score columns (binary: K = 1, the positive class), checked."""
    out = np.empty((batch.num_rows, len(columns)), dtype=np.float64)
    for j, c in enumerate(columns):
        col = batch.column(c)
        if col.null_count:
            row = int(np.flatnonzero(pc.is_null(col).to_numpy(zero_copy_only=False))[0])
            raise InputError(path, c, MISSING_SCORE.format(row=offset + row + 1))
        try:
            values = pc.cast(col, pa.float64()).to_numpy(zero_copy_only=False)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            raise InputError(path, c, BAD_SCORE.format(row=offset + 1, value=col[0].as_py())) from None
        bad = ~np.isfinite(values) | (values < 0.0) | (values > 1.0)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise InputError(path, c, BAD_SCORE.format(row=offset + row + 1, value=float(values[row])))
        out[:, j] = values
    return out


def _predicted(proba: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(predicted class index, top-label confidence, the histogram score) for binary (K = 1) or multiclass."""
    if proba.shape[1] == 1:
        p = proba[:, 0]
        pred = (p > 0.5).astype(np.int64)  # argmax of [1 - p, p]: a tie goes to the first class, like numpy's
        return pred, np.maximum(p, 1.0 - p), p
    pred = np.argmax(proba, axis=1)
    top = proba[np.arange(len(proba)), pred]
    return pred, top, top


def _text(col: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A column as text, integral floats written as integers (a label 1.0 read from Parquet is class "1")."""
    if pa.types.is_floating(col.type):
        col = pc.if_else(pc.is_nan(col), pa.scalar(None, col.type), col)
        values = col.to_numpy(zero_copy_only=False)
        present = values[~np.isnan(values)]
        if np.array_equal(present, np.round(present)):
            col = pc.cast(col, pa.int64())
    text = pc.fill_null(pc.cast(col, pa.string()), MISSING)
    return np.asarray(text.to_numpy(zero_copy_only=False), dtype=object)


def _labels(batch: pa.RecordBatch, label: str, classes: list[str], path: Path, offset: int) -> np.ndarray:
    """Class index per row, -1 where no label has arrived (null)."""
    col = batch.column(label)
    if pa.types.is_floating(col.type):
        col = pc.if_else(pc.is_nan(col), pa.scalar(None, col.type), col)
    present = ~pc.is_null(col).to_numpy(zero_copy_only=False)
    text = _text(col)
    out = np.full(len(text), -1, dtype=np.int64)
    if not present.any():
        return out
    index = {c: i for i, c in enumerate(classes)}
    values, inverse = np.unique(text[present].astype(str), return_inverse=True)
    mapped = np.array([index.get(v, -2) for v in values], dtype=np.int64)[inverse]
    if (mapped == -2).any():
        row = int(np.flatnonzero(present)[np.flatnonzero(mapped == -2)[0]])
        raise InputError(path, label, UNKNOWN_LABEL.format(row=offset + row + 1, value=text[row],
                                                           classes=", ".join(classes)))
    out[present] = mapped
    return out


def _counts(mask: np.ndarray | None, edges: np.ndarray, score: np.ndarray, conf: np.ndarray, pred: np.ndarray,
            labels: np.ndarray | None, base_pred: np.ndarray | None) -> Counts:
    sel = slice(None) if mask is None else mask
    s, c, p = score[sel], conf[sel], pred[sel]
    hist = np.bincount(np.searchsorted(edges[1:-1], s), minlength=len(edges) - 1)  # calibration's binning
    labelled = correct = 0
    if labels is not None:
        y = labels[sel]
        known = y >= 0
        labelled, correct = int(known.sum()), int((p[known] == y[known]).sum())
    shadow = agree = 0
    if base_pred is not None:
        shadow, agree = len(p), int((p == base_pred[sel]).sum())
    return Counts(rows=len(s), scores=[int(x) for x in hist], labelled=labelled, correct=correct,
                  confidence=float(c.sum()), shadow=shadow, agree=agree)


def _batch_counts(mask: np.ndarray | None, rows: int, edges: np.ndarray, scored: tuple | None) -> Counts:
    """The counts of a batch's rows under ``mask`` (None: all): with scores, :func:`_counts`; without, rows only."""
    if scored is None:
        return Counts(rows=rows if mask is None else int(mask.sum()), scores=[0] * (len(edges) - 1))
    return _counts(mask, edges, *scored)


def reference_profile(contract: MonitoringContract) -> FeatureProfile | None:
    """The contract's reference profile (``load_contract`` has checked that it parses)."""
    return FeatureProfile.from_json(contract.reference.profile) if contract.reference is not None else None


def window_profile(contract: MonitoringContract) -> FeatureProfile | None:
    """An empty profile of the reference's features, split the same way, with the window's smaller exact limit."""
    ref = reference_profile(contract)
    if ref is None:
        return None
    return FeatureProfile(ref.features, ref.categorical, exact_limit=WINDOW_EXACT_LIMIT,
                          max_categories=ref.max_categories)


def summarize(path: Path, contract: MonitoringContract, cols: WindowColumns | None = None) -> WindowSummary:
    """Stream one window file and fold it into its summary (InputError naming the file and column on bad data)."""
    cols = cols or WindowColumns()
    check_input_file(path, named_in=None, field="--window", root=None, kind="window file")
    kind = _format(path)
    plan = _plan(contract, _header(path, kind), path, cols)
    edges = np.asarray(contract.scores.bin_edges if contract.scores is not None else np.linspace(0, 1, 11))
    overall = Counts()
    slices: dict[str, dict[str, Counts]] = {d: {} for d in plan.dimensions}
    profile = window_profile(contract)
    offset = 0
    try:
        columns = list(dict.fromkeys([*contract.features, *plan.columns]))
        numeric = {*plan.scores, *plan.baseline}
        if profile is not None:
            numeric.update(c for c in profile.features if c not in profile.categorical)
        for batch in _batches(path, kind, columns, cols.chunk_rows, numeric):
            if batch.num_rows == 0:
                continue
            text = {c: _text(batch.column(c) if kind == "parquet" else csv_nulls(batch.column(c)))
                    for c in plan.sensitive}
            scored = None  # no scores to watch (regression, lm_eval): rows, slice sizes and the profile only
            if plan.scores:
                pred, conf, score = _predicted(_probabilities(batch, plan.scores, path, offset))
                labels = _labels(batch, plan.label, contract.classes, path, offset) if plan.label else None
                base_pred = (_predicted(_probabilities(batch, plan.baseline, path, offset))[0] if plan.baseline
                             else None)
                scored = (score, conf, pred, labels, base_pred)
            overall = overall.merge(_batch_counts(None, batch.num_rows, edges, scored))
            for dim, columns in plan.dimensions.items():
                keys = text[columns[0]] if len(columns) == 1 else np.array(
                    [" & ".join(v) for v in zip(*(text[c] for c in columns))], dtype=object)
                for value in sorted(set(keys.tolist())):
                    one = _batch_counts(keys == value, batch.num_rows, edges, scored)
                    slices[dim][value] = slices[dim][value].merge(one) if value in slices[dim] else one
            if profile is not None:
                table = pa.Table.from_batches([batch]).select(profile.features)
                try:
                    profile.update(table)
                except FeatureTypeError as exc:
                    raise InputError(path, exc.column, not_numeric(exc, table, offset)) from None
            offset += batch.num_rows
    except pa.ArrowException as exc:
        first = (str(exc).strip().splitlines() or [exc.__class__.__name__])[0]
        raise InputError(path, None, f"cannot read data: {first}") from None
    if offset == 0:
        raise InputError(path, None, NO_ROWS)
    return WindowSummary(name=path.name, file=file_ref(path, shown=path.name), overall=overall,
                         slices={d: dict(sorted(v.items())) for d, v in slices.items()},
                         profile=profile.to_json() if profile is not None else None, sensitive=plan.sensitive)
