"""Evidence for ``task: regression``: one pass over the data into mergeable per-cell sums, quantile state and
Poisson-bootstrap replicate sums, then every slice's metrics from summed cells (never a second pass over rows).

Why this shape: MAE, RMSE, MAPE, R^2 and the mean error are functions of a handful of sums
(``metrics_regression.SUMS`` plus the target's moments), and sums add across chunks, cells and partitions, so
``RegressionAccumulator.merge`` is associative and a slice is a union of cells, exactly as for the classification
counts (``accumulator.py``). Paired intervals come from ``poisson.replicate_sums``: the weight of a row in a
replicate depends only on (global row index, replicate, seed), so intervals do not depend on chunking. The
absolute-error quantiles are exact (numpy) while the data has at most ``EXACT_QUANTILE_ROWS`` rows, else read from
KLL sketches (Apache DataSketches) whose rank error is stated in the evidence; they carry no interval.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from .. import __version__
from .. import metrics_regression as R
from ..data import Chunk, DataSource, missing_labels
from ..errors import InputError
from ..hashing import file_ref
from ..manifest import Release
from ..models.protocols import Description, EfficiencyFacts, ModelAdapter, Regressor, Rescorable, SizeFacts, WholeBatch
from ..progress import SCORING, TIMING, phase
from .accumulator import distinct_cells, intern_cells, slice_cells
from .bootstrap import compared
from .collect import SAME_FILE_WARNING, Engine, Progress, _dimensions, fold_elsewhere, library_versions, quiet
from .efficiency import measure_efficiency
from .poisson import METHOD, replicate_sums
from .production import ProductionInput, add_production, rescore
from .provenance_facts import ReleaseFacts
from .schema import (
    ROLES,
    Agreement,
    Comparison,
    Comparisons,
    DataEvidence,
    Evidence,
    ModelEvidence,
    RegressionInfo,
    Role,
)

#: rows under which the |e| quantiles are exact (two float64 per row are kept); above: KLL sketches
EXACT_QUANTILE_ROWS = 2_000_000
#: KLL accuracy parameter (DataSketches' default: ~1.65% normalized rank error at 99% confidence)
KLL_K = 200
#: a target value that is not a number (template: value, row)
TARGET_NOT_NUMERIC = "target value {value!r} at data row {row} is not a finite number: task: regression needs a " \
                     "numeric target"
#: the largest magnitude a target or prediction may have: its error squared, summed over billions of rows (and
#: weighted by the bootstrap), must stay a finite float64, or every error metric would be infinite
MAX_MAGNITUDE = 1e100
#: a target or prediction past MAX_MAGNITUDE (template: value, row / role, count, row)
TARGET_TOO_LARGE = ("target value {value!r} at data row {row} is larger in magnitude than " + f"{MAX_MAGNITUDE:g}"
                    + ": its squared error would overflow float64 (rescale the target, e.g. to thousands or millions)")
PREDICTION_TOO_LARGE = ("the {role} model returned predictions larger in magnitude than " + f"{MAX_MAGNITUDE:g}"
                        + " ({count} rows in this chunk, first at data row {row}): their squared errors would "
                          "overflow float64")
#: predictions that are not finite numbers (template: role, count, row)
PREDICTION_NOT_FINITE = "the {role} model returned NaN or infinite predictions ({count} rows in this chunk, first at " \
                        "data row {row})"
#: the model cannot give one value per row (template: role, format)
NOT_A_REGRESSOR = "format {format!r} cannot give one value per row for task: regression"
ERRORS = ("error e = prediction - truth per row; mae, rmse, mape, r2 and mean_error are computed from per-cell sums "
          "(n, sum e, sum |e|, sum e^2, the target's moments), as scikit-learn computes them")
MAPE = ("mean of |e| / |y| over rows with y != 0, as a fraction; rows with y == 0 are undefined, left out and "
        "counted (mape_undefined_rows); scikit-learn instead divides by max(|y|, eps)")
INTERVALS = ("paired intervals (baseline, candidate, candidate - baseline) for mae, rmse, mape, r2, mean_error and "
             "|mean_error| from Poisson bootstrap replicate sums, and for the abs_error quantiles from the same "
             "weights on the exact |e| (none over the exact-row or weight budget: comparisons.missing says why)")
# replicate columns: the target's sum and sum of squares, then each model's SUMS
_Y, _Y2, _B, _C = 0, 1, 2, 2 + len(R.SUMS)
_REP_COLUMNS = 2 + 2 * len(R.SUMS)


def _kll() -> Any:
    import datasketches

    return datasketches.kll_doubles_sketch(KLL_K)


class RegressionAccumulator:
    """Mergeable per-cell state of a baseline/candidate regression evaluation (cells: sensitive-value combinations,
    the finest slice, as in ``accumulator.Accumulator``)."""

    def __init__(self, *, replicates: int = 0, seed: int = 0, exact_rows: int = EXACT_QUANTILE_ROWS) -> None:
        self.replicates, self.seed, self.exact_rows = replicates, seed, exact_rows
        self.keys: list[tuple[str, ...]] = []
        self._index: dict[tuple[str, ...], int] = {}
        self.sums = np.zeros((0, 2, len(R.SUMS)))  # [cell, model, SUMS]
        self.moments: list[tuple[float, float, float]] = []  # the target's (n, mean, M2) per cell
        self.reps = np.zeros((replicates, 0, _REP_COLUMNS))  # [replicate, cell, column]
        self.exact: list[list[list[np.ndarray]]] | None = []  # [cell][model] -> |e| arrays; None: over budget
        self.exact_rows_of: list[list[np.ndarray]] = []  # [cell] -> the global row indices of those |e| arrays
        self.sketches: list[list[Any]] = []  # [cell][model] -> KLL sketch of |e|
        self.rows = 0
        self.same = 0  # rows where both models predict exactly the same value
        self.max_abs_diff = 0.0
        self.max_abs_base = 0.0  # the largest |baseline prediction|: the scale max_abs_diff is judged against

    # -- building ---------------------------------------------------------------------------------
    def cell_ids(self, keys: Sequence[tuple[str, ...]]) -> np.ndarray:
        ids = intern_cells(self._index, self.keys, keys)
        self._grow()
        return ids

    def cells_for(self, columns: Sequence[tuple[np.ndarray, list[str]]], rows: int) -> np.ndarray:
        """Each row's cell id from its dictionary-encoded sensitive columns (codes, values)."""
        keys, inverse = distinct_cells(columns, rows)
        return self.cell_ids(keys)[inverse]

    def _grow(self) -> None:
        extra = len(self.keys) - self.sums.shape[0]
        if extra <= 0:
            return
        self.sums = np.concatenate([self.sums, np.zeros((extra, 2, len(R.SUMS)))])
        self.reps = np.concatenate([self.reps, np.zeros((self.replicates, extra, _REP_COLUMNS))], axis=1)
        self.moments.extend((0.0, 0.0, 0.0) for _ in range(extra))
        if self.exact is not None:
            self.exact.extend([[], []] for _ in range(extra))
            self.exact_rows_of.extend([] for _ in range(extra))
        self.sketches.extend([_kll(), _kll()] for _ in range(extra))

    def update(self, cells: np.ndarray, y: np.ndarray, pred_base: np.ndarray, pred_cand: np.ndarray,
               first_row: int) -> None:
        """Fold one chunk of consecutive rows starting at global row ``first_row``."""
        if len(y) == 0:
            return
        n_cells = len(self.keys)
        per_model = [R.row_sums(y, p) for p in (pred_base, pred_cand)]
        for m, values in enumerate(per_model):
            for j in range(values.shape[1]):
                self.sums[:, m, j] += np.bincount(cells, weights=values[:, j], minlength=n_cells)
        order = np.argsort(cells, kind="stable")
        bounds = np.flatnonzero(np.diff(cells[order])) + 1
        for seg in np.split(order, bounds):
            cid = int(cells[seg[0]])
            self.moments[cid] = R.merge_moments(self.moments[cid], R.moments(y[seg]))
            for m in range(2):
                abs_e = per_model[m][seg, R.ABS_E]
                self.sketches[cid][m].update(abs_e)
                if self.exact is not None:
                    self.exact[cid][m].append(abs_e.copy())
            if self.exact is not None:
                self.exact_rows_of[cid].append(first_row + seg)
        self.rows += len(y)
        if self.exact is not None and self.rows > self.exact_rows:
            self.exact, self.exact_rows_of = None, []  # over budget: the sketches answer
        if self.replicates:
            columns = np.column_stack([y, y * y, per_model[0], per_model[1]])
            self.reps += replicate_sums(first_row, columns, cells, n_cells, self.replicates, self.seed)
        self.same += int(np.count_nonzero(pred_base == pred_cand))
        self.max_abs_diff = max(self.max_abs_diff, float(np.max(np.abs(pred_base - pred_cand))))
        self.max_abs_base = max(self.max_abs_base, float(np.max(np.abs(pred_base))))

    def merge(self, other: RegressionAccumulator) -> RegressionAccumulator:
        """A new accumulator holding both (associative; cells matched by key)."""
        out = RegressionAccumulator(replicates=self.replicates, seed=self.seed, exact_rows=self.exact_rows)
        for src in (self, other):
            ids = out.cell_ids(src.keys)
            np.add.at(out.sums, ids, src.sums)
            if out.replicates:
                out.reps[:, ids, :] += src.reps
            for cid, moments, sketches in zip(ids, src.moments, src.sketches):
                out.moments[cid] = R.merge_moments(out.moments[cid], moments)
                for m in range(2):
                    out.sketches[cid][m].merge(sketches[m])
            if out.exact is not None and src.exact is not None:
                for cid, arrays, rows in zip(ids, src.exact, src.exact_rows_of):
                    for m in range(2):
                        out.exact[cid][m].extend(arrays[m])
                    out.exact_rows_of[cid].extend(rows)
            else:
                out.exact, out.exact_rows_of = None, []
            out.rows += src.rows
            out.same += src.same
            out.max_abs_diff = max(out.max_abs_diff, src.max_abs_diff)
            out.max_abs_base = max(out.max_abs_base, src.max_abs_base)
        if out.exact is not None and out.rows > out.exact_rows:
            out.exact, out.exact_rows_of = None, []
        return out

    # -- reading ----------------------------------------------------------------------------------
    def metrics(self, cells: Sequence[int], model: int) -> dict[str, float | int | None]:
        """Every regression metric of ``model`` (0 baseline, 1 candidate) over the union of ``cells``."""
        cells = list(cells)
        sums = self.sums[cells, model].sum(axis=0)
        moments = (0.0, 0.0, 0.0)
        for c in cells:
            moments = R.merge_moments(moments, self.moments[c])
        out = R.point_metrics(sums, moments[2])
        out.update(self.quantiles(cells, model))
        return out

    def quantiles(self, cells: Sequence[int], model: int) -> dict[str, float | None]:
        if self.exact is not None:
            arrays = [a for c in cells for a in self.exact[c][model]]
            return R.exact_quantiles(np.concatenate(arrays) if arrays else np.zeros(0))
        sketch = _kll()
        for c in cells:
            sketch.merge(self.sketches[c][model])
        if sketch.is_empty():
            return dict.fromkeys(R.QUANTILES)
        return {name: float(v) for name, v in zip(R.QUANTILES, sketch.get_quantiles(list(R.QUANTILES.values())))}

    def replicate_metrics(self, cells: Sequence[int]) -> dict[str, np.ndarray]:
        """Per replicate: ``baseline:<metric>`` and ``candidate:<metric>`` for the sum metrics and |mean_error|."""
        s = self.reps[:, list(cells), :].sum(axis=1)  # (replicates, columns)
        out: dict[str, np.ndarray] = {}
        for role, start in (("baseline", _B), ("candidate", _C)):
            block = s[:, start:start + len(R.SUMS)]
            ss_tot = R.ss_tot_from_sums(block[:, R.N], s[:, _Y], s[:, _Y2])
            for name, values in R.from_sums(block, ss_tot).items():
                out[f"{role}:{name}"] = values
            out[f"{role}:abs_mean_error"] = np.abs(out[f"{role}:mean_error"])
        return out

    def quantile_intervals_missing(self, budget: int) -> str | None:
        """Why the |e| quantiles get no interval here (None: they do): the replicates' weights of every kept row
        (one byte per row and replicate) must fit ``budget`` bytes, and the quantiles must be exact."""
        if not self.replicates:
            return None
        if self.exact is None:
            return QUANTILES_KLL_NO_INTERVAL.format(rows=self.exact_rows)
        if self.rows * self.replicates > budget:
            return QUANTILES_OVER_BUDGET.format(rows=self.rows, replicates=self.replicates, budget=budget)
        return None

    def replicate_weights(self) -> np.ndarray:
        """(replicates, rows) Poisson weights of every row, in global row order (``poisson.weights``)."""
        from .poisson import weights

        return weights(0, self.rows, self.replicates, self.seed)

    def replicate_quantiles(self, cells: Sequence[int], w: np.ndarray) -> dict[str, np.ndarray]:
        """Per replicate: ``baseline:<quantile>`` and ``candidate:<quantile>`` of |e| over ``cells``: the replicate's
        rows repeated by their weights, then ``numpy.quantile``'s linear interpolation (computed from the sorted
        values and cumulative weights, without repeating anything). ``w``: :meth:`replicate_weights`."""
        assert self.exact is not None
        rows = np.concatenate([r for c in cells for r in self.exact_rows_of[c]] or [np.zeros(0, np.int64)])
        out: dict[str, np.ndarray] = {}
        for m, role in enumerate(ROLES):
            values = np.concatenate([a for c in cells for a in self.exact[c][m]] or [np.zeros(0)])
            order = np.argsort(values, kind="stable")
            out.update({f"{role}:{name}": q for name, q in
                        weighted_quantiles(values[order], w, rows[order], R.QUANTILES).items()})
        return out

    def cell_rows(self) -> np.ndarray:
        """Rows per cell (``keys`` order), int64: the count among each cell's sums."""
        return np.rint(self.sums[:, 0, R.N]).astype(np.int64)

    def rank_error(self) -> float:
        return 0.0 if self.exact is not None else float(_kll().normalized_rank_error(False))

    def __getstate__(self) -> dict[str, Any]:
        """Picklable for the Dask engine: the KLL sketches travel as their serialised bytes."""
        state = dict(self.__dict__)
        state["sketches"] = [[s.serialize() for s in pair] for pair in self.sketches]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        import datasketches

        state["sketches"] = [[datasketches.kll_doubles_sketch.deserialize(b) for b in pair]
                             for pair in state["sketches"]]
        self.__dict__.update(state)


#: why the |e| quantiles carry no interval (templates; evidence.comparisons.missing)
QUANTILES_KLL_NO_INTERVAL = ("over {rows:,} rows the |e| quantiles come from KLL sketches, which carry no per-row "
                             "weights: no interval")
QUANTILES_OVER_BUDGET = ("{rows:,} rows x {replicates:,} replicates of weights exceed the budget of {budget:,} bytes "
                         "(evaluation.bootstrap.replicate_budget x 8): the |e| quantiles get no interval")
QUANTILE_METHOD = ("Poisson bootstrap of the exact |e|: each replicate's quantile is numpy.quantile (linear "
                   "interpolation) of the rows repeated by their weights, the same weights as the sum metrics")
_GROUP = 64  # replicates whose cumulative weights are held at once


def weighted_quantiles(sorted_values: np.ndarray, w: np.ndarray, rows: np.ndarray,
                       quantiles: dict[str, float]) -> dict[str, np.ndarray]:
    """For each replicate r, the quantiles of the multiset holding ``sorted_values[j]`` ``w[r, rows[j]]`` times
    (numpy's linear interpolation between order statistics); NaN for a replicate that drew no row."""
    reps = w.shape[0]
    out = {name: np.full(reps, np.nan) for name in quantiles}
    if len(sorted_values) == 0:
        return out
    for r0 in range(0, reps, _GROUP):
        cum = np.cumsum(w[r0:r0 + _GROUP, rows], axis=1, dtype=np.int64)  # (group, n)
        total = cum[:, -1]
        for name, q in quantiles.items():
            h = q * (total - 1)
            lo = np.floor(h).astype(np.int64)
            hi = np.minimum(lo + 1, total - 1)
            for g in range(cum.shape[0]):
                if total[g] == 0:
                    continue
                j = np.searchsorted(cum[g], [lo[g], hi[g]], side="right")
                v_lo, v_hi = sorted_values[j[0]], sorted_values[j[1]]
                out[name][r0 + g] = v_lo + (h[g] - lo[g]) * (v_hi - v_lo)
    return out


def parse_target(target: np.ndarray, data: Path, column: str, first_row: int) -> np.ndarray:
    """The target column as float64; a value that is not a finite number is exit 2 naming file, row and column."""
    try:
        y = np.asarray(target, dtype=np.float64)
    except ValueError:
        y = None
    if y is None or not np.isfinite(y).all():
        for i, v in enumerate(target.tolist()):
            try:
                ok = np.isfinite(float(v))
            except (TypeError, ValueError):
                ok = False
            if not ok:
                raise InputError(data, column, TARGET_NOT_NUMERIC.format(value=str(v), row=first_row + i + 1))
    assert y is not None
    if (big := np.abs(y) > MAX_MAGNITUDE).any():
        i = int(np.flatnonzero(big)[0])
        raise InputError(data, column, TARGET_TOO_LARGE.format(value=float(y[i]), row=first_row + i + 1))
    return y


class _Values:
    """A regressor seen through the ``ModelAdapter`` protocol: ``predict_proba`` gives its (n, 1) values, so
    efficiency timing and the adapters' ``finish`` work unchanged."""

    classes: list | None = None

    def __init__(self, inner: Regressor, role: str, path: Path) -> None:
        self.inner, self.role, self.path = inner, role, path

    def predict_values(self, features: pa.Table, row_offset: int) -> np.ndarray:
        pred = np.asarray(self.inner.predict_values(features, row_offset), dtype=np.float64)
        bad = ~np.isfinite(pred)
        if bad.any():
            raise InputError(self.path, "predictions", PREDICTION_NOT_FINITE.format(
                role=self.role, count=int(bad.sum()), row=row_offset + int(np.flatnonzero(bad)[0]) + 1))
        if (big := np.abs(pred) > MAX_MAGNITUDE).any():
            raise InputError(self.path, "predictions", PREDICTION_TOO_LARGE.format(
                role=self.role, count=int(big.sum()), row=row_offset + int(np.flatnonzero(big)[0]) + 1))
        return pred

    def predict_proba(self, features: pa.Table, row_offset: int) -> np.ndarray:
        return self.predict_values(features, row_offset)[:, None]

    def whole_batches(self) -> contextlib.AbstractContextManager[None]:
        """``WholeBatch`` when the regressor is (torch on the CPU): timed in one pass per batch."""
        return self.inner.whole_batches() if isinstance(self.inner, WholeBatch) else contextlib.nullcontext()

    def describe(self) -> Description:
        return self.inner.describe()  # type: ignore[attr-defined]  # every adapter is a ModelAdapter

    def finish(self, n_rows: int) -> None:
        self.inner.finish(n_rows)  # type: ignore[attr-defined]


class _RescorableValues(_Values):
    """The same for formats that can be run again (timed) and state their size."""

    def rescore(self, features: pa.Table, row_offset: int) -> np.ndarray:
        return self.predict_proba(features, row_offset)

    def efficiency_facts(self, sample: pa.Table) -> SizeFacts:
        return self.inner.efficiency_facts(sample)  # type: ignore[attr-defined]  # checked when wrapped


def as_regressors(release: Release, adapters: dict[str, ModelAdapter], paths: dict[str, Path]) -> dict[str, _Values]:
    out: dict[str, _Values] = {}
    for role, adapter in adapters.items():
        if not isinstance(adapter, Regressor):
            fmt = getattr(release.manifest, role).format
            raise InputError(release.path, f"{role}.format", NOT_A_REGRESSOR.format(format=fmt))
        both = isinstance(adapter, Rescorable) and isinstance(adapter, EfficiencyFacts)
        out[role] = (_RescorableValues if both else _Values)(adapter, role, paths[role])
    return out


def fold_regression_chunk(release: Release, acc: RegressionAccumulator, chunk: Chunk, adapters: dict,
                          paths: dict[str, Path], data_path: Path) -> None:
    """Score one chunk with both regressors and fold it into ``acc`` (also a Dask worker's per-partition step)."""
    models = as_regressors(release, adapters, paths)
    y = parse_target(chunk.target, data_path, release.manifest.data.target, chunk.offset)
    preds = [models[r].predict_values(chunk.features, chunk.offset) for r in ROLES]
    acc.update(acc.cells_for(chunk.sensitive, len(chunk)), y, preds[0], preds[1], chunk.offset)


def collect_regression(release: Release, source: DataSource, facts: ReleaseFacts, adapters: dict[str, ModelAdapter],
                       paths: dict[str, Path], data_path: Path, *, device: str = "cpu",
                       progress: Progress | None = None, engine: Engine | None = None,
                       production: ProductionInput | None = None) -> Evidence:
    """The evidence of a regression release: one pass over the data (``collect.collect`` dispatches here); with an
    engine the workers fold the rows and the client reads only the first chunk (the timing sample)."""
    m = release.manifest
    ev = m.evaluation
    models = as_regressors(release, adapters, paths)
    acc = RegressionAccumulator(replicates=ev.bootstrap.resamples, seed=ev.bootstrap.seed)
    merged, chunks = None, source.chunks(facts.columns)
    if engine is not None:  # the workers fold the rows and the facts: the client reads the first chunk only
        merged, chunks = fold_elsewhere(engine, release, acc, [], None, paths, source, facts,  # type: ignore[arg-type]
                                        progress)
    else:
        phase(progress, SCORING, source.total_rows)
    sample = None
    for chunk in chunks:
        if sample is None:
            sample = chunk.features.slice(0, max(ev.latency.batch_sizes) if ev.latency else 1)
        if merged is not None:
            break
        facts.update(chunk)
        fold_regression_chunk(release, acc, chunk, adapters, paths, data_path)
        if progress is not None:
            progress(acc.rows)
    if merged is not None:
        acc = merged  # type: ignore[assignment]
    for adapter in models.values():
        adapter.finish(acc.rows)
    timed: dict[str, ModelAdapter] = dict(models)
    phase(progress, TIMING)
    quiet(engine, ev.latency)
    efficiency = measure_efficiency(timed, paths, sample if sample is not None else pa.table({}), ev.latency, device)
    evidence = build_regression_evidence(release, acc, source, paths, models, data_path)
    evidence = evidence.model_copy(update={"efficiency": efficiency, **facts.finish()})

    def score_production(chunk: Chunk, where: Path) -> tuple[dict[str, np.ndarray], np.ndarray | None]:
        preds: dict[str, np.ndarray] = {r: rescore(models[r], chunk)[:, 0] for r in ROLES}
        spec = m.production
        if spec is None or spec.target is None:
            return preds, None
        missing = missing_labels(chunk.target)  # labels not known yet: NaN
        labels = parse_target(np.where(missing, "0", chunk.target), where, spec.target, chunk.offset)
        labels[missing] = np.nan
        return preds, labels

    return add_production(release, evidence, production, acc, dict(models), score_production, progress=progress,
                          eval_profile=facts.profile)




def _compare(acc: RegressionAccumulator, cells: list[int], base: dict, cand: dict, confidence: float,
             weights: np.ndarray | None = None) -> dict[str, Comparison]:
    draws = acc.replicate_metrics(cells) if acc.replicates else {}
    if weights is not None:
        draws.update(acc.replicate_quantiles(cells, weights))
    points = {**{k: (base.get(k), cand.get(k)) for k in (*R.SUM_METRICS, *R.QUANTILES)},
              "abs_mean_error": tuple(None if v is None else abs(v) for v in (base.get("mean_error"),
                                                                               cand.get("mean_error")))}
    out: dict[str, Comparison] = {}
    for metric, (b, c) in points.items():
        out[metric] = compared(b, c, draws, metric, confidence)
    return out


def build_regression_evidence(release: Release, acc: RegressionAccumulator, source: DataSource,
                              paths: dict[str, Path], adapters: dict[str, _Values], data_path: Path) -> Evidence:
    from ..models import model_ref, model_source

    m = release.manifest
    dims, skipped = _dimensions(m.data.sensitive, acc.keys, m.evaluation.intersections,
                                m.evaluation.intersection_budget)
    groups = slice_cells(acc.keys, dims)
    everything = list(range(len(acc.keys)))
    folder = release.folder
    files = {"manifest": file_ref(release.path, folder), "data": file_ref(data_path, folder),
             **{role: model_ref(p, folder) for role, p in paths.items()}}
    models: dict[Role, ModelEvidence] = {}
    points: dict[str, dict[str, Any]] = {}
    for i, role in enumerate(ROLES):
        overall = acc.metrics(everything, i)
        slices = {d: {v: acc.metrics(cells, i) for v, cells in values.items()} for d, values in groups.items()}
        for values in slices.values():
            for stats in values.values():
                stats["share"] = (stats["count"] or 0) / acc.rows if acc.rows else None
        fairness = {d: {"mae_difference": R.mae_difference(
            [float(v) for s in values.values() if (v := s.get("mae")) is not None])} for d, values in slices.items()}
        points[role] = {"overall": overall, "slices": slices}
        models[role] = ModelEvidence(format=getattr(m, role).format, file=files[role],
                                     source=model_source(paths[role]),
                                     description=dict(adapters[role].describe()), overall=overall, slices=slices,
                                     fairness=fairness)
    spec = m.evaluation.bootstrap
    comparisons = None
    if spec.resamples:
        b, c = points["baseline"], points["candidate"]
        why_not = acc.quantile_intervals_missing(spec.replicate_budget * 8)
        w = acc.replicate_weights() if why_not is None else None
        comparisons = Comparisons(
            method=METHOD, resamples=spec.resamples, seed=spec.seed, confidence=spec.confidence,
            overall=_compare(acc, everything, b["overall"], c["overall"], spec.confidence, w),
            slices={d: {v: _compare(acc, cells, b["slices"][d][v], c["slices"][d][v], spec.confidence, w)
                        for v, cells in values.items()} for d, values in groups.items()},
            methods={name: QUANTILE_METHOD for name in R.QUANTILES} if why_not is None else {},
            missing=dict.fromkeys(R.QUANTILES, why_not) if why_not is not None else {})
    agreement = Agreement(rows=acc.rows, same_prediction=acc.same / acc.rows if acc.rows else None, fixed=0, broken=0,
                          max_abs_score_difference=acc.max_abs_diff, max_abs_baseline_score=acc.max_abs_base)
    warnings: list[str] = []
    if files["baseline"].sha256 == files["candidate"].sha256:
        warnings.append(SAME_FILE_WARNING)
    elif acc.rows and acc.max_abs_diff == 0.0:
        warnings.append("baseline and candidate gave identical predictions on every row: check the candidate is "
                        "really the pruned model")
    warnings += [f"intersection {name} not formed: {why}" for name, why in skipped.items()]
    exact = acc.exact is not None
    info = RegressionInfo(errors=ERRORS, mape=MAPE,
                          mape_undefined_rows=int(models["baseline"].overall.get("mape_undefined_rows") or 0),
                          quantile_method="exact" if exact else "kll", quantile_rank_error=acc.rank_error(),
                          quantile_exact_rows=acc.exact_rows, intervals=INTERVALS)
    return Evidence(
        tool={"name": "pruning-governance", "version": __version__},
        created_at=datetime.now(timezone.utc),
        libraries=library_versions() | _datasketches_version(),
        release={"name": m.name, "version": m.version},
        task="regression",
        inputs=files,
        data=DataEvidence(file=files["data"], rows=acc.rows, target=m.data.target, sensitive=list(m.data.sensitive),
                          features=source.features, classes=[], positive_label=None),
        dimensions={name: [m.data.sensitive[i] for i in cols] for name, cols in dims.items()},
        dimensions_skipped=skipped,
        models=models,
        agreement=agreement,
        comparisons=comparisons,
        approvals=[a.model_dump(mode="json") for a in m.approvals],
        warnings=warnings,
        regression=info,
    )


def _datasketches_version() -> dict[str, str]:
    import importlib.metadata

    try:
        return {"datasketches": importlib.metadata.version("datasketches")}
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - a dependency
        return {}
