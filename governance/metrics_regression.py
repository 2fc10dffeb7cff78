"""Regression metric values from mergeable sums (pure functions, no rows).

Every sum-based metric is a function of a few per-cell sums that add across chunks, partitions and cells, so a
slice's metrics, and every Poisson-bootstrap replicate's, come from summed sums (see
``governance/evidence/regression.py``). Errors are ``e = prediction - truth``. The formulas are scikit-learn's:
``mean_absolute_error``, ``root_mean_squared_error`` (sqrt of ``mean_squared_error``), ``r2_score``, except that
R^2 of a constant target (or under two rows) is *undefined*: scikit-learn's ``force_finite`` convention puts 1.0
or 0.0 there, numbers a drop rule then passed on (a target of 5.0 everywhere: "r2 did not change, 0 -> 0"); like
``r2_score(..., force_finite=False)``, which gives NaN or -inf there, no value is reported and rules on it are
inconclusive.

MAPE differs from scikit-learn on purpose: ``mean_absolute_percentage_error`` divides by ``max(|y|, eps)``, so a
row with ``y == 0`` contributes ~1e16 and drowns the mean. Here those rows are *undefined*: MAPE is the mean of
``|e| / |y|`` over the rows with ``y != 0`` (a fraction, like scikit-learn's, not a percentage) and their count is
reported as ``mape_undefined_rows``. Where no target is 0 both definitions agree.
"""

from __future__ import annotations

import numpy as np

#: the per-model sums one cell keeps, in this order (``ape``: sum of |e| / max(|y|, eps) over rows with y != 0)
SUMS = ("n", "e", "abs_e", "sq_e", "n_nonzero", "ape")
N, E, ABS_E, SQ_E, N_NONZERO, APE = range(len(SUMS))
#: the smallest |y| a percentage error divides by (sklearn's mean_absolute_percentage_error: float64's eps)
_EPS = float(np.finfo(np.float64).eps)
#: the quantiles of |e| reported, as metric name -> probability
QUANTILES = {"abs_error_p50": 0.5, "abs_error_p90": 0.9, "abs_error_p99": 0.99}
#: metric names computed from sums (intervals from replicate sums); the quantiles are not sums
SUM_METRICS = ("mae", "rmse", "mape", "r2", "mean_error")


def row_sums(y: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Per row, the values whose sums make ``SUMS``: shape (rows, len(SUMS))."""
    e = pred - y
    nonzero = y != 0
    # |y| at least float64's eps, as sklearn's mean_absolute_percentage_error divides: a target of 1e-300 would
    # make one row's percentage error infinite
    ape = np.divide(np.abs(e), np.maximum(np.abs(y), _EPS), out=np.zeros_like(e), where=nonzero)
    return np.column_stack([np.ones_like(e), e, np.abs(e), e * e, nonzero.astype(np.float64), ape])


def _div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den, NaN where den is 0 (undefined)."""
    safe = np.where(den == 0, 1.0, den)
    return np.where(den == 0, np.nan, num / safe)


def from_sums(sums: np.ndarray, ss_tot: np.ndarray) -> dict[str, np.ndarray]:
    """Sum-based metrics, vectorised: ``sums`` (..., len(SUMS)), ``ss_tot`` (...) the target's sum of squared
    deviations from its mean over the same rows. NaN where undefined (no rows; MAPE: no non-zero target;
    R^2: fewer than two rows, or a constant target)."""
    sums = np.asarray(sums, dtype=np.float64)
    ss_tot = np.asarray(ss_tot, dtype=np.float64)
    n = sums[..., N]
    sq = sums[..., SQ_E]
    out = {
        "mae": _div(sums[..., ABS_E], n),
        "rmse": np.sqrt(_div(sq, n)),
        "mape": _div(sums[..., APE], sums[..., N_NONZERO]),
        "mean_error": _div(sums[..., E], n),
    }
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = np.where(ss_tot > 0, 1.0 - sq / np.where(ss_tot > 0, ss_tot, 1.0), np.nan)
    out["r2"] = np.where(n < 2, np.nan, r2)
    return out


def point_metrics(sums: np.ndarray, ss_tot: float) -> dict[str, float | int | None]:
    """One slice's metrics from its summed ``sums`` (len(SUMS),): plain floats, None where undefined, plus
    ``count`` and ``mape_undefined_rows`` (rows with y == 0)."""
    values = from_sums(sums[None], np.array([ss_tot]))
    out: dict[str, float | int | None] = {"count": round(float(sums[N]))}
    for name in SUM_METRICS:
        v = float(values[name][0])
        out[name] = None if np.isnan(v) else v
    out["mape_undefined_rows"] = round(float(sums[N] - sums[N_NONZERO]))
    return out


def ss_tot_from_sums(n: np.ndarray, s: np.ndarray, s2: np.ndarray) -> np.ndarray:
    """Sum of squared deviations from the mean from (weighted) n, sum y and sum y^2 (replicates). What is left of
    the cancellation for a (nearly) constant target, under 1e-12 of sum y^2, is taken as 0."""
    ss = s2 - _div(s * s, n)
    return np.where(ss > 1e-12 * np.abs(s2), ss, 0.0)


def moments(y: np.ndarray) -> tuple[float, float, float]:
    """(n, mean, M2) of ``y``: the target's mergeable moments (Chan et al.), exact for a constant target."""
    n = float(len(y))
    if n == 0:
        return 0.0, 0.0, 0.0
    if np.all(y == y[0]):  # exactly constant: its own value, not a rounded mean, so R^2's denominator is exactly 0
        return n, float(y[0]), 0.0
    mean = float(np.mean(y))
    return n, mean, float(np.sum((y - mean) ** 2))


def merge_moments(a: tuple[float, float, float], b: tuple[float, float, float]) -> tuple[float, float, float]:
    """Chan's parallel update of (n, mean, M2): associative up to rounding, stable for large means."""
    na, ma, m2a = a
    nb, mb, m2b = b
    if na == 0:
        return b
    if nb == 0:
        return a
    n = na + nb
    delta = mb - ma
    return n, ma + delta * nb / n, m2a + m2b + delta * delta * na * nb / n


def exact_quantiles(abs_errors: np.ndarray) -> dict[str, float | None]:
    """The |e| quantiles by ``numpy.quantile`` (linear interpolation, numpy's default); None with no rows."""
    if len(abs_errors) == 0:
        return dict.fromkeys(QUANTILES)
    qs = np.quantile(abs_errors, list(QUANTILES.values()))
    return {name: float(q) for name, q in zip(QUANTILES, qs)}


def mae_difference(maes: list[float]) -> float | None:
    """The largest MAE difference between groups (max - min); None with fewer than two groups."""
    return float(max(maes) - min(maes)) if len(maes) >= 2 else None
