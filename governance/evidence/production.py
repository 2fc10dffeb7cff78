"""The production pass: both models score a sample of production inputs, once, in chunks.

The manifest's ``production:`` block names a CSV/Parquet sample of production inputs: the evaluation data's
feature columns, the sensitive columns where known, labels optional. After the evaluation pass :func:`add_production`
streams it once and hands every chunk (features, cells, both models' scores, labels if any) to the observers:
the production feature profile (representativeness), the score accumulator (agreement on production rows and the
label-free estimate). The cells' production row counts, joined with the evaluation cells, give each slice's share
in both datasets and the weights of post-stratification (``weighting.py``). Collection records; the rules decide.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from ..data import Chunk, DataSource, file_schema, score_rows
from ..errors import InputError
from ..hashing import file_ref
from ..manifest import Release
from ..models.protocols import Rescorable
from ..progress import PRODUCTION, phase
from .accumulator import distinct_cells, intern_cells, slice_cells
from .production_agreement import ProductionScores, build_agreement, build_estimate
from .production_schema import CellShare, ProductionEvidence, SliceShare
from .profile import FeatureProfile, FeatureTypeError, not_numeric
from .representativeness import build_representativeness
from .schema import ROLES, Evidence
from .weighting import build_weighted

#: a feature the models need that the production file lacks (template: columns, file)
FEATURES_MISSING = "the production sample {file} lacks feature columns the models need: {columns}"
#: regression releases: agreement and the label-free estimate are for classifiers (evidence.production.notes)
REGRESSION_NOTE = ("agreement on production rows and the label-free estimate are measured for classification tasks; "
                   "this is a regression release")
#: no sensitive column in the production file (evidence.production.notes)
NO_SENSITIVE_NOTE = ("the production sample has none of the sensitive columns ({columns}): no slice shares and no "
                     "production weighting")


@dataclass(frozen=True)
class ProductionChunk:
    """One chunk of the production sample, scored by both models."""

    offset: int  # index of the first row in the production file
    features: pa.Table  # the feature columns, typed as for the evaluation data
    cells: np.ndarray  # int64 per row: index into ProductionPass.keys
    scores: dict[str, np.ndarray]  # role -> (rows, K) probabilities (classification) or (rows,) predictions
    labels: np.ndarray | None  # class indices (classification) or float targets (regression); None: unlabelled

    def __len__(self) -> int:
        return self.features.num_rows


class ProductionPass:
    """The production cells (combinations of the sensitive columns present in production) and their rows."""

    def __init__(self, sensitive: list[str]) -> None:
        self.sensitive = sensitive
        self.keys: list[tuple[str, ...]] = []
        self._index: dict[tuple[str, ...], int] = {}
        self.cell_rows = np.zeros(0, dtype=np.int64)
        self.rows = 0

    def cells_for(self, columns: Sequence[tuple[np.ndarray, list[str]]], rows: int) -> np.ndarray:
        keys, inverse = distinct_cells(columns, rows)
        ids = intern_cells(self._index, self.keys, keys)[inverse]
        if len(self.keys) > len(self.cell_rows):
            self.cell_rows = np.concatenate([self.cell_rows, np.zeros(len(self.keys) - len(self.cell_rows),
                                                                      dtype=np.int64)])
        self.cell_rows += np.bincount(ids, minlength=len(self.keys))
        self.rows += rows
        return ids


def project(keys: Sequence[tuple[str, ...]], rows: np.ndarray, columns: Sequence[str],
            onto: Sequence[str]) -> dict[tuple[str, ...], int]:
    """Cell rows summed onto a subset of the key's columns (``onto``, in ``columns`` order)."""
    where = [list(columns).index(c) for c in onto]
    out: dict[tuple[str, ...], int] = {}
    for key, n in zip(keys, rows.tolist()):
        sub = tuple(key[i] for i in where)
        out[sub] = out.get(sub, 0) + int(n)
    return out


def production_slices(keys: Sequence[tuple[str, ...]], sensitive: Sequence[str],
                      dimensions: dict[str, list[str]]) -> dict[str, dict[str, list[int]]]:
    """dimension -> slice value -> the production cell ids it covers, for the evidence's dimensions whose columns
    are all present in production (the ``class`` dimension needs labels: left out)."""
    present = {name: [list(sensitive).index(c) for c in cols] for name, cols in dimensions.items()
               if cols and all(c in sensitive for c in cols)}
    return slice_cells(keys, present)


def _shares(evaluation: dict[tuple[str, ...], int], production: dict[tuple[str, ...], int],
            eval_total: int, prod_total: int) -> dict[tuple[str, ...], SliceShare]:
    out = {}
    for key in sorted(set(evaluation) | set(production)):
        e, p = evaluation.get(key, 0), production.get(key, 0)
        es = e / eval_total if eval_total else None
        ps = p / prod_total if prod_total else None
        out[key] = SliceShare(evaluation_rows=e, production_rows=p, evaluation_share=es, production_share=ps,
                              share_ratio=ps / es if es and ps is not None else None)
    return out


#: production.unrecorded names a column the production file has (template: file, columns)
RECORDED = ("lists {columns}, which {file} records: remove it from production.unrecorded (a recorded column is used "
            "to weight and slice production)")


#: a model that cannot be run on other rows (precomputed predictions): production rows are not scored
NOT_RESCORABLE_NOTE = ("the {role} model's format ({format}) holds precomputed scores for the evaluation rows only: "
                       "the production sample is not scored (no agreement on production rows, no label-free estimate)")
Score = Callable[[Chunk, Path], tuple[dict[str, np.ndarray], np.ndarray | None]]


def rescore(adapter: Any, chunk: Chunk) -> np.ndarray:
    """A model's raw output on rows that are not the evaluation data's (``Rescorable``)."""
    return np.asarray(adapter.rescore(chunk.features, chunk.offset))


def add_production(release: Release, evidence: Evidence, production: ProductionInput | None, acc: Any,
                   adapters: dict, score: Score, *, classes: list[str] | None = None, positive: int | None = None,
                   progress: Any = None, eval_profile: FeatureProfile | None = None) -> Evidence:
    """``evidence`` with ``production`` filled in (unchanged without a production sample: ``open_production``
    gave None). ``score`` turns a production chunk into both models' checked scores and the labels (the task's
    own checks, from collect); ``classes`` None: a regression release (no agreement, no label-free estimate)."""
    spec = release.manifest.production
    if production is None or spec is None:
        return evidence
    m = release.manifest
    path, stream = production.path, production.stream
    sensitive = stream.spec.sensitive
    fixed = [r for r in ROLES if not isinstance(adapters[r], Rescorable)]  # precomputed scores: not re-run
    notes = [NOT_RESCORABLE_NOTE.format(role=r, format=getattr(m, r).format) for r in fixed]
    if not sensitive and m.data.sensitive:
        notes.append(NO_SENSITIVE_NOTE.format(columns=", ".join(m.data.sensitive)))
    if classes is None and not fixed:
        notes.append(REGRESSION_NOTE)
    scores = ProductionScores(len(classes), positive) if classes is not None and not fixed else None
    profile = eval_profile.empty_like() if eval_profile is not None else None
    cells = ProductionPass(sensitive)
    phase(progress, PRODUCTION, stream.total_rows)
    labelled = 0
    pieces = (piece for whole in stream.chunks()  # many classes: scored in pieces, as the evaluation pass is
              for piece in whole.pieces(score_rows(len(classes) if classes is not None else 1)))
    for chunk in pieces:
        scored, labels = score(chunk, path) if not fixed else ({}, None)
        if profile is not None:
            try:
                profile.update(chunk.features)
            except FeatureTypeError as exc:
                raise InputError(path, exc.column, not_numeric(exc, chunk.features, chunk.offset)) from None
        ids = cells.cells_for(chunk.sensitive, len(chunk))
        if scores is not None:
            scores.update(ProductionChunk(chunk.offset, chunk.features, ids, scored, labels))
        if labels is not None:
            labelled += int(np.count_nonzero(labels >= 0) if labels.dtype.kind in "iu" else np.isfinite(labels).sum())
        if progress is not None:
            progress(cells.rows)
    eval_rows = acc.cell_rows()
    shares = _shares(project(acc.keys, eval_rows, m.data.sensitive, sensitive),
                     project(cells.keys, cells.cell_rows, sensitive, sensitive), int(eval_rows.sum()), cells.rows)
    by_slice = production_slices(cells.keys, sensitive, evidence.dimensions)
    found = ProductionEvidence(
        file=file_ref(path, release.folder), rows=cells.rows, labelled=spec.target is not None,
        labelled_rows=labelled, sensitive=sensitive, missing_sensitive=[c for c in m.data.sensitive
                                                                         if c not in sensitive],
        unrecorded=list(spec.unrecorded),
        slices=_slice_shares(evidence.dimensions, acc.keys, eval_rows, m.data.sensitive, cells),
        cells=[CellShare(key=list(k), evaluation_rows=s.evaluation_rows, production_rows=s.production_rows)
               for k, s in shares.items()],
        representativeness=(build_representativeness(eval_profile, profile)
                            if eval_profile is not None and profile is not None else None),
        agreement=build_agreement(scores, by_slice) if scores is not None else None,
        estimate=build_estimate(scores, by_slice) if scores is not None else None,
        weighted=build_weighted(acc, list(m.data.sensitive), cells.keys, cells.cell_rows, sensitive,
                                m.evaluation.bootstrap, classes, positive),  # regression too (its sum metrics)
        notes=notes)
    warnings = list(evidence.warnings)
    if evidence.inputs.get("data") is not None and found.file.sha256 == evidence.inputs["data"].sha256:
        warnings.append(SAME_AS_EVALUATION)  # every production comparison is then trivially perfect
    return evidence.model_copy(update={"production": found, "inputs": {**evidence.inputs, "production": found.file},
                                       "warnings": warnings})


@dataclass(frozen=True)
class ProductionInput:
    """The production file, opened and checked once (before any model runs) and streamed after the evaluation."""

    path: Path
    stream: DataSource


#: the production sample is the evaluation file itself (same bytes)
SAME_AS_EVALUATION = ("the production sample is the evaluation data itself (same sha256): representativeness, "
                      "production weighting and agreement on production rows compare the evaluation set with itself")
#: the production labels would be a model input (template: column)
TARGET_IS_FEATURE = ("{column!r} is a feature the models take, not the production labels: name the label column, "
                     "or leave production.target out for an unlabelled sample")


def open_production(release: Release, source: DataSource) -> ProductionInput | None:
    """The production sample (None without a production block), checked before a row is read: a path outside the
    release through a link, a missing file or feature column is exit 2 here, so bad input never waits for the
    evaluation pass. The sensitive columns present key its cells; its labels, if any, are ``production.target``."""
    spec = release.manifest.production
    if spec is None:
        return None
    data = release.manifest.data
    path = release.resolve(spec.path, "production.path")
    schema = file_schema(path)
    if lacking := [c for c in source.features if c not in schema.names]:
        raise InputError(release.path, "production.path", FEATURES_MISSING.format(
            file=path.name, columns=", ".join(map(repr, lacking))))
    if spec.target is not None and spec.target in source.features:
        raise InputError(release.path, "production.target", TARGET_IS_FEATURE.format(column=spec.target))
    sensitive = [c for c in data.sensitive if c in schema.names]
    if recorded := [c for c in spec.unrecorded if c in sensitive]:
        raise InputError(release.path, "production.unrecorded", RECORDED.format(
            file=path.name, columns=", ".join(map(repr, recorded))))
    return ProductionInput(path, DataSource(path, data.model_copy(update={
        "target": spec.target, "sensitive": sensitive, "features": list(source.features), "key": None,
        "chunk_rows": spec.chunk_rows}), release.path, block="production", schema=schema))


def _slice_shares(dimensions: dict[str, list[str]], eval_keys: Sequence[tuple[str, ...]], eval_rows: np.ndarray,
                  eval_columns: list[str], cells: ProductionPass) -> dict[str, dict[str, SliceShare]]:
    """dimension -> slice -> its rows and shares in both datasets, for the dimensions whose columns are all in
    the production file."""
    out: dict[str, dict[str, SliceShare]] = {}
    for name, cols in dimensions.items():
        if not cols or any(c not in cells.sensitive for c in cols):
            continue
        by_value = _shares(project(eval_keys, eval_rows, eval_columns, cols),
                           project(cells.keys, cells.cell_rows, cells.sensitive, cols), int(eval_rows.sum()),
                           cells.rows)
        out[name] = {" & ".join(key): share for key, share in by_value.items()}
    return out
