"""The evidence model's building blocks that every part of it uses (``schema.py`` re-exports them).

A module of its own so that the parts defined outside ``schema.py`` (the production sample's models) can import
them without importing ``schema.py``, which imports those parts: no import cycle, whichever module comes first.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

#: the two models every release compares
Role = Literal["baseline", "candidate"]
ROLES: tuple[Role, Role] = ("baseline", "candidate")


class _Frozen(BaseModel):
    """Every evidence model: immutable, no unknown field, and no NaN or infinity in any float (an undefined metric
    is None): a NaN compares false with every limit, so a rule reading one would pass what nobody measured."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class FileRef(_Frozen):
    path: str
    sha256: str
    bytes: int


class Interval(_Frozen):
    ci_low: float
    ci_high: float


class Comparison(_Frozen):
    """One metric for both models on the same rows, with paired intervals; difference = candidate - baseline."""

    baseline: float | None
    candidate: float | None
    difference: float | None
    baseline_ci: Interval | None = None
    candidate_ci: Interval | None = None
    difference_ci: Interval | None = None
