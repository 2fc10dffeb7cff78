"""Production-weighted evidence: every count metric re-weighted exactly to production's cell shares.

The evaluation evidence is kept as counts per cell (one combination of the sensitive values) x true label x
baseline prediction x candidate prediction. Post-stratification gives each evaluation row of production cell g the
weight ``production_share(g) / evaluation_share(g)``; every count metric (``bootstrap.COUNT_METRICS``) of the
weighted counts is then what the metric would be on rows distributed over the cells as production is, with each
cell's behaviour as measured on the evaluation set. Production is keyed by the sensitive columns it holds (a subset
of ``data.sensitive``), so the evaluation cells are first marginalised onto those columns.

Intervals: the same resampling as the unweighted comparisons (``bootstrap.resample_metrics``): a multinomial draw
over the merged (cell x true x baseline x candidate) counts, in the same order under the same seed, and the
production cell counts are resampled too (an independent multinomial draw of the production sample's
cell counts per replicate), since production's shares are themselves estimated from a sample. Each replicate is
re-weighted with its own shares (vectorised: one block of replicates is one matrix). A replicate in which a
production cell has lost all of its evaluation rows leaves the weighted metric undefined there (NaN, ignored by the
percentile interval), as a row bootstrap would.

Regression (:func:`build_weighted_regression`): the same weights on the per-cell sums of ``metrics_regression.SUMS``
and the target's moments, so mae, rmse, mape, r2 and mean_error are weighted exactly; intervals from the
accumulator's own Poisson replicate sums, re-weighted per replicate the same way.

Production cells the evaluation set lacks cannot be weighted: their production share is ``uncovered_share`` and the
metrics cover the other cells (their shares renormalised); rules that judge production-weighted evidence are
inconclusive while ``uncovered_share`` is above 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp
from pydantic import Field, model_validator

from .accumulator import Accumulator, SliceIndex
from .bootstrap import COUNT_METRICS, compared
from .schema_base import Comparison, Confidence, Count, NonNegative, Share, _Frozen, check_metric_values

if TYPE_CHECKING:
    from ..manifest import BootstrapSpec
    from .regression import RegressionAccumulator

__all__ = ["METHOD", "REGRESSION_METHOD", "WeightedCell", "WeightedEvidence", "build_weighted",
           "build_weighted_regression", "weighted_replicates"]

METHOD = ("post-stratification: each evaluation row weighted by production share / evaluation share of its cell "
          "(the sensitive columns present in production); paired percentile bootstrap: the evaluation counts "
          "resampled as in the unweighted comparisons (multinomial over the cell x true x baseline x candidate "
          "counts, same seed) and the production cell counts resampled too (multinomial), each replicate "
          "re-weighted with its own shares")
REGRESSION_METHOD = ("post-stratification of the per-cell sums (n, sum e, sum |e|, sum e^2, the target's moments): "
                     "each evaluation row weighted by production share / evaluation share of its cell (the sensitive "
                     "columns present in production); paired percentile intervals from the Poisson bootstrap "
                     "replicate sums of the unweighted comparisons, with the production cell counts resampled too "
                     "(multinomial), each replicate re-weighted with its own shares; the |e| quantiles are not "
                     "weighted")
#: a cell the production sample has and the evaluation set lacks (template: cells, share)
UNCOVERED_NOTE = ("{cells} production cell(s) holding {share:.2%} of the production rows have no evaluation rows: "
                  "the weighted metrics cover the other cells only")
_BLOCK_ELEMENTS = 10_000_000  # bounds memory: a block of replicates holds at most about this many numbers
_MAX_BLOCK = 100


class WeightedCell(_Frozen):
    """One production cell: its rows in both datasets and the weight each of its evaluation rows gets."""

    key: list[str]
    evaluation_rows: Count
    production_rows: Count
    weight: NonNegative | None = Field(description="production share / evaluation share (None: no evaluation rows)")


class WeightedEvidence(_Frozen):
    """Both models' count metrics (classification) or sum metrics (regression) post-stratified to the production
    sample's cell shares."""

    by: list[str] = Field(description="the sensitive columns the cells are keyed by (those present in production)")
    method: str
    resamples: Count
    seed: int
    confidence: Confidence
    cells: list[WeightedCell] = Field(description="every production cell, and every evaluation cell production lacks "
                                                  "(weight 0)")
    uncovered_share: Share = Field(description="share of the production rows in cells the evaluation set lacks: "
                                               "the weighted metrics leave them out; above 0, rules that judge them "
                                               "are inconclusive")
    uncovered_cells: list[list[str]] = Field(default_factory=list)
    overall: dict[str, Comparison] = Field(description="metric -> both models' production-weighted values, "
                                                       "difference = candidate - baseline, and paired intervals")
    notes: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _in_range(self) -> WeightedEvidence:
        for role in ("baseline", "candidate"):
            check_metric_values({m: getattr(c, role) for m, c in self.overall.items()}, f"overall ({role})")
        return self


def _weighted_metrics(index: SliceIndex, draws: np.ndarray, group: np.ndarray,
                      prod: np.ndarray) -> dict[str, np.ndarray]:
    """Count metrics of (B, combinations) evaluation ``draws`` re-weighted to (B, groups) production counts
    ``prod``: weight of a combination = prod[g] / evaluation rows of g in the same replicate. Metrics of a replicate
    in which a production cell has no evaluation rows are NaN."""
    groups = prod.shape[1]
    onehot = sp.csr_matrix((np.ones(len(group)), (np.arange(len(group)), group)), shape=(len(group), groups))
    eval_rows = np.asarray(draws @ onehot)  # (B, groups): each replicate's evaluation rows per production cell
    lost = ((eval_rows == 0) & (prod > 0)).any(axis=1)
    weight = np.divide(prod, eval_rows, out=np.zeros_like(prod, dtype=np.float64), where=eval_rows > 0)
    values = index.metrics(draws * weight[:, group])
    return {key: np.where(lost[:, None], np.nan, v) for key, v in values.items()}


def weighted_replicates(acc: Accumulator, group_of_cell: np.ndarray, production_rows: np.ndarray, covered: np.ndarray,
                        resamples: int, seed: int) -> dict[str, np.ndarray]:
    """"<role>:<metric>" -> (resamples,) production-weighted values: the evaluation counts drawn as in
    :func:`.bootstrap.resample_metrics` (same order of the combinations, same seed), the production cell counts
    from an independent stream (multinomial over the production cells, uncovered ones dropped afterwards)."""
    keys, counts = acc.combinations()
    n = int(counts.sum())
    if n == 0 or resamples == 0:
        return {}
    span = acc.k ** 3
    cell, true, base, cand = acc.decoded()
    rank = np.empty(len(acc.keys), dtype=np.int64)  # the draw order of resample_metrics: cells by key
    rank[sorted(range(len(acc.keys)), key=lambda i: acc.keys[i])] = np.arange(len(acc.keys))
    dense_key = rank[cell] * span + keys % span
    order = np.argsort(dense_key, kind="stable")
    p = counts[order] / n
    if dense_key[order[-1]] != len(acc.keys) * span - 1:
        p = np.append(p, 0.0)
    combos = len(order)
    group = group_of_cell[cell[order]]
    everything = [np.arange(combos, dtype=np.int64)]
    index = [SliceIndex(true[order], pred[order], everything, acc.k, acc.positive) for pred in (base, cand)]
    rng = np.random.default_rng(seed)
    prod_rng = np.random.default_rng([seed, 1])  # production's own stream: the evaluation draws stay as unweighted
    width = combos * 3 + 6 * max(ix.entries for ix in index)
    block = max(1, min(_MAX_BLOCK, _BLOCK_ELEMENTS // max(width, 1)))
    parts: dict[str, list[np.ndarray]] = {}
    done = 0
    while done < resamples:
        size = min(block, resamples - done)
        draws = rng.multinomial(n, p, size=size)[:, :combos].astype(np.float64)
        prod = _production_draws(production_rows, covered, size, prod_rng)
        for role, ix in zip(("baseline", "candidate"), index):
            for metric, values in _weighted_metrics(ix, draws, group, prod).items():
                if metric in COUNT_METRICS:
                    parts.setdefault(f"{role}:{metric}", []).append(values[:, 0])
        done += size
    return {key: np.concatenate(v) for key, v in parts.items()}


@dataclass(frozen=True)
class _Strata:
    """The production cells (evaluation cells marginalised onto production's columns) and both datasets' rows."""

    group_of_cell: np.ndarray  # per evaluation cell: its production cell (index into keys)
    keys: list[tuple[str, ...]]
    prod: np.ndarray  # production rows per production cell
    eval_rows: np.ndarray  # evaluation rows per production cell

    @property
    def covered(self) -> np.ndarray:
        return (self.eval_rows > 0).astype(np.float64)

    @property
    def uncovered(self) -> np.ndarray:
        return (self.prod > 0) & (self.eval_rows == 0)

    def weight(self) -> np.ndarray:
        """Per production cell: production rows / evaluation rows (0 where either is 0); the scale is irrelevant to
        every metric, which is a ratio of weighted sums."""
        return np.divide(self.prod * self.covered, self.eval_rows, out=np.zeros(len(self.keys)),
                         where=self.eval_rows > 0)


def _strata(acc_keys: Sequence[tuple[str, ...]], rows_per_cell: np.ndarray, sensitive: list[str],
            production_sensitive: list[str], production_keys: Sequence[tuple[str, ...]],
            production_rows: np.ndarray) -> _Strata:
    pos = [sensitive.index(c) for c in production_sensitive]
    keys = [tuple(k) for k in production_keys]
    index = {k: i for i, k in enumerate(keys)}
    group_of_cell = np.empty(len(acc_keys), dtype=np.int64)
    for i, key in enumerate(acc_keys):
        marginal = tuple(key[p] for p in pos)
        g = index.get(marginal)
        if g is None:
            g = index[marginal] = len(keys)
            keys.append(marginal)
        group_of_cell[i] = g
    prod = np.zeros(len(keys))
    prod[: len(production_rows)] = np.asarray(production_rows, dtype=np.float64)
    eval_rows = np.bincount(group_of_cell, weights=rows_per_cell, minlength=len(keys))
    return _Strata(group_of_cell, keys, prod, eval_rows)


def _comparisons(points: dict[str, dict[str, float | None]], draws: dict[str, np.ndarray], metrics: Sequence[str],
                 confidence: float) -> dict[str, Comparison]:
    overall: dict[str, Comparison] = {}
    for metric in metrics:
        b, c = points["baseline"][metric], points["candidate"][metric]
        if b is None and c is None:
            continue  # e.g. the binary-only rates of a multiclass task
        overall[metric] = compared(b, c, draws, metric, confidence)
    return overall


def _evidence(st: _Strata, by: list[str], method: str, spec: BootstrapSpec,
              overall: dict[str, Comparison]) -> WeightedEvidence:
    total, eval_total = float(st.prod.sum()), float(st.eval_rows.sum())
    uncovered = st.uncovered
    uncovered_share = float(st.prod[uncovered].sum() / total)
    cells = [WeightedCell(key=list(k), evaluation_rows=round(float(st.eval_rows[g])), production_rows=int(st.prod[g]),
                          weight=(float((st.prod[g] / total) / (st.eval_rows[g] / eval_total)) if st.eval_rows[g]
                                  else None))
             for g, k in enumerate(st.keys)]
    uncovered_cells = [list(st.keys[g]) for g in np.flatnonzero(uncovered)]
    notes = [UNCOVERED_NOTE.format(cells=len(uncovered_cells), share=uncovered_share)] if uncovered_cells else []
    return WeightedEvidence(by=by, method=method, resamples=spec.resamples, seed=spec.seed,
                            confidence=spec.confidence, cells=cells, uncovered_share=uncovered_share,
                            uncovered_cells=uncovered_cells, overall=overall, notes=notes)


def _production_draws(prod: np.ndarray, covered: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """(size, cells) resampled production cell counts (multinomial), uncovered cells dropped."""
    total = int(prod.sum())
    return rng.multinomial(total, prod / total, size=size).astype(np.float64) * covered


def build_weighted(acc: Accumulator | RegressionAccumulator, sensitive: list[str],
                   production_keys: list[tuple[str, ...]], production_rows: np.ndarray,
                   production_sensitive: list[str], spec: BootstrapSpec, classes: list[str] | None = None,
                   positive: int | None = None) -> WeightedEvidence | None:
    """The production-weighted comparisons, or None when production holds no sensitive column (nothing to
    stratify on) or either dataset is empty. ``production_keys``/``production_rows``: the production cells (keys over
    ``production_sensitive``, a subset of ``sensitive`` in its order) and their rows. ``acc``: the classification
    counts (``classes``/``positive`` unused: the accumulator's class indices are all the metrics need) or a
    regression accumulator (:func:`build_weighted_regression`)."""
    del classes
    if not production_sensitive or acc.rows == 0 or float(np.sum(production_rows)) == 0:
        return None
    if not isinstance(acc, Accumulator):
        return build_weighted_regression(acc, sensitive, production_keys, production_rows, production_sensitive,
                                         spec)
    combo_keys, counts = acc.combinations()
    cell, true, base, cand = acc.decoded()
    st = _strata(acc.keys, acc.cell_rows(), sensitive, production_sensitive, production_keys, production_rows)
    group = st.group_of_cell[cell]
    # the point estimate: every combination weighted by its production cell's production rows / evaluation rows
    weighted_counts = counts * st.weight()[group]
    everything = [np.arange(len(combo_keys), dtype=np.int64)]
    points: dict[str, dict[str, float | None]] = {}
    for role, pred in (("baseline", base), ("candidate", cand)):
        point = SliceIndex(true, pred, everything, acc.k, positive).metrics(weighted_counts[None])
        points[role] = {m: None if np.isnan(point[m][0, 0]) else float(point[m][0, 0]) for m in COUNT_METRICS}
    draws = weighted_replicates(acc, st.group_of_cell, st.prod, st.covered, spec.resamples, spec.seed)
    return _evidence(st, list(production_sensitive), METHOD, spec,
                     _comparisons(points, draws, COUNT_METRICS, spec.confidence))


def build_weighted_regression(acc: RegressionAccumulator, sensitive: list[str],
                              production_keys: list[tuple[str, ...]], production_rows: np.ndarray,
                              production_sensitive: list[str], spec: BootstrapSpec) -> WeightedEvidence | None:
    """The sum metrics of a regression release (mae, rmse, mape, r2, mean_error and |mean_error|) post-stratified
    to production's cell shares; intervals from the accumulator's Poisson replicate sums (the unweighted
    comparisons' own replicates), each replicate re-weighted with resampled production counts."""
    from .. import metrics_regression as R
    from .regression import _B, _C, _Y, _Y2  # the replicate columns (lazy: regression imports the production pass)

    if not production_sensitive or acc.rows == 0 or float(np.sum(production_rows)) == 0:
        return None
    st = _strata(acc.keys, acc.cell_rows(), sensitive, production_sensitive, production_keys, production_rows)
    w = st.weight()[st.group_of_cell]  # per evaluation cell
    # the target's weighted sum of squares about its weighted mean, from each cell's (n, mean, M2): exact and stable
    n, mean, m2 = (np.array([m[i] for m in acc.moments], dtype=np.float64) for i in range(3))
    wn = float(np.sum(w * n))
    mu = float(np.sum(w * n * mean) / wn) if wn else 0.0
    ss_tot = float(np.sum(w * (m2 + n * (mean - mu) ** 2)))
    points: dict[str, dict[str, float | None]] = {}
    for m, role in enumerate(("baseline", "candidate")):
        point = R.point_metrics(np.einsum("c,cj->j", w, acc.sums[:, m, :]), ss_tot)
        one = {name: None if point.get(name) is None else float(point[name] or 0.0) for name in R.SUM_METRICS}
        mean_error = one["mean_error"]
        one["abs_mean_error"] = None if mean_error is None else abs(mean_error)
        points[role] = one
    metrics = (*R.SUM_METRICS, "abs_mean_error")
    draws: dict[str, np.ndarray] = {}
    if acc.replicates:
        reps = acc.reps  # (replicates, cells, columns)
        groups = len(st.keys)
        onehot = sp.csr_matrix((np.ones(len(st.group_of_cell)), (np.arange(len(st.group_of_cell)), st.group_of_cell)),
                               shape=(len(st.group_of_cell), groups))
        eval_rows = np.asarray(reps[:, :, _B + R.N] @ onehot)  # (replicates, groups)
        prod = _production_draws(st.prod, st.covered, acc.replicates, np.random.default_rng([spec.seed, 1]))
        lost = ((eval_rows == 0) & (prod > 0)).any(axis=1)
        weight = np.divide(prod, eval_rows, out=np.zeros_like(prod), where=eval_rows > 0)[:, st.group_of_cell]
        summed = np.einsum("rc,rcj->rj", weight, reps)
        for role, start in (("baseline", _B), ("candidate", _C)):
            block = summed[:, start:start + len(R.SUMS)]
            replicate = R.from_sums(block, R.ss_tot_from_sums(block[:, R.N], summed[:, _Y], summed[:, _Y2]))
            replicate["abs_mean_error"] = np.abs(replicate["mean_error"])
            for name, v in replicate.items():
                draws[f"{role}:{name}"] = np.where(lost, np.nan, v)
    return _evidence(st, list(production_sensitive), REGRESSION_METHOD, spec,
                     _comparisons(points, draws, metrics, spec.confidence))
