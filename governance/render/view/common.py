"""Helpers every section of the view shares: comparison rows, metric order, the one missing-fact helper."""

from __future__ import annotations

from importlib import metadata
from typing import Any

from ...card import MISSING
from ...evidence.schema import Comparison
from ...metrics import BY_MAGNITUDE, HIGHER_IS_BETTER, METRICS, REGRESSION_METRICS, worsening
from ..templating import SHORT_HASH, short_hash

__all__ = ["MISSING", "SHORT_HASH", "ci", "comparison_row", "higher_is_better", "is_worse", "library_version",
           "missing", "ordered_metrics", "short_hash"]


def missing(value: Any) -> Any:
    """The one way a missing fact is shown: the value, or ``[More Information Needed]`` (Hugging Face's wording)."""
    return MISSING if value is None or value == "" or value == [] or value == {} else value


def ci(interval: Any) -> list[float] | None:
    return None if interval is None else [interval.ci_low, interval.ci_high]


def higher_is_better(metric: str) -> bool:
    return HIGHER_IS_BETTER.get(metric, True)


#: metrics with no better direction: the share of rows predicted positive is a fact about the model's use, not a
#: quality (a fairness gap judges it across groups), so tables never call a change in it better or worse
NO_DIRECTION = frozenset({"selection_rate"})


def is_worse(metric: str, difference: float | None, base: float | None = None, cand: float | None = None) -> bool:
    if metric in BY_MAGNITUDE and base is not None and cand is not None:  # |mean_error| grew
        return worsening(metric, base, cand) > 0
    if difference is None or metric in NO_DIRECTION:
        return False
    return difference < 0 if higher_is_better(metric) else difference > 0


#: slice values that are counts, not metrics (regression: rows left out of MAPE, in the evidence)
NOT_METRICS = ("count", "true_positive_rate", "mape_undefined_rows")


def ordered_metrics(values: dict[str, Any]) -> list[str]:
    order = (*METRICS, *REGRESSION_METRICS)
    known = [m for m in order if m in values]
    extra = [m for m in values if m not in order and m not in NOT_METRICS]
    return known + sorted(extra)


def comparison_row(metric: str, base: float | None, cand: float | None, comp: Comparison | None) -> dict:
    diff = comp.difference if comp is not None else (None if base is None or cand is None else cand - base)
    return {
        "metric": metric,
        "direction": ("smaller magnitude is better" if metric in BY_MAGNITUDE else
                      "no better direction" if metric in NO_DIRECTION else
                      "higher is better" if higher_is_better(metric) else "lower is better"),
        "baseline": base,
        "candidate": cand,
        "difference": diff,
        "baseline_ci": ci(comp.baseline_ci) if comp else None,
        "candidate_ci": ci(comp.candidate_ci) if comp else None,
        "difference_ci": ci(comp.difference_ci) if comp else None,
        "worse": is_worse(metric, diff, base, cand),
    }


def library_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"
