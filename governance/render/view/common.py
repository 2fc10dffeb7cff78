"""Helpers every section of the view shares: comparison rows, metric order, the one missing-fact helper."""

from __future__ import annotations

from importlib import metadata
from typing import Any

from ...card import MISSING
from ...evidence.schema import Comparison
from ...metrics import HIGHER_IS_BETTER, METRICS
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


def is_worse(metric: str, difference: float | None) -> bool:
    if difference is None:
        return False
    return difference < 0 if higher_is_better(metric) else difference > 0


def ordered_metrics(values: dict[str, Any]) -> list[str]:
    known = [m for m in METRICS if m in values]
    extra = [m for m in values if m not in METRICS and m not in ("count", "true_positive_rate")]
    return known + sorted(extra)


def comparison_row(metric: str, base: float | None, cand: float | None, comp: Comparison | None) -> dict:
    diff = comp.difference if comp is not None else (None if base is None or cand is None else cand - base)
    return {
        "metric": metric,
        "direction": "higher is better" if higher_is_better(metric) else "lower is better",
        "baseline": base,
        "candidate": cand,
        "difference": diff,
        "baseline_ci": ci(comp.baseline_ci) if comp else None,
        "candidate_ci": ci(comp.candidate_ci) if comp else None,
        "difference_ci": ci(comp.difference_ci) if comp else None,
        "worse": is_worse(metric, diff),
    }


def library_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"
