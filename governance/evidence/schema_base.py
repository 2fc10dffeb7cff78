"""The evidence model's building blocks that every part of it uses (``schema.py`` re-exports them).

A module of its own so that the parts defined outside ``schema.py`` (the production sample's models) can import
them without importing ``schema.py``, which imports those parts: no import cycle, whichever module comes first.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from ..ranges import METRIC_RANGES, Range

#: the two models every release compares
Role = Literal["baseline", "candidate"]
ROLES: tuple[Role, Role] = ("baseline", "candidate")


#: the rounding a computed value may carry past its range or past a sum it repeats (sums of float64 shares)
RANGE_SLACK = 1e-9
VALUE_OUT_OF_RANGE = "{value!r} is outside the values it can take {interval}"
INCONSISTENT = "{name} = {value!r} is not {formula} = {expected!r} (values the measurement gives together)"


def within(interval: Range) -> AfterValidator:
    """A field's validator: the value is None or within ``interval`` (closed, give or take RANGE_SLACK; an open end
    is exclusive). A value outside was never measured: a file edited by hand or a broken producer, and a rule must
    not decide on it (an ECE of -0.5 passes every calibration limit)."""
    def check(value: float | None) -> float | None:
        if value is not None and not interval.holds(value, RANGE_SLACK):
            raise ValueError(VALUE_OUT_OF_RANGE.format(value=value, interval=interval))
        return value
    return AfterValidator(check)


def agrees(name: str, value: float | None, expected: float | None, formula: str) -> None:
    """Refuse a stored value that a measurement gives together with others (a difference, a share of counts) and
    that does not equal what they give: one of them was edited."""
    if value is None or expected is None:
        return
    if not math.isclose(value, expected, rel_tol=1e-9, abs_tol=RANGE_SLACK):
        raise ValueError(INCONSISTENT.format(name=name, value=value, formula=formula, expected=expected))


MORE_THAN = "{part} = {value} is more than the {limit} {unit}"


def at_most(part: str, value: float, limit: float, unit: str) -> None:
    """Refuse a count of some of the rows (parameters, documents) that is more than all of them."""
    if value > limit:
        raise ValueError(MORE_THAN.format(part=part, value=value, limit=limit, unit=unit))


MORE_THAN_THE_WHOLE = "{part} = {x} is more than {whole} = {y}"


def part_of(part: str, x: float | None, whole: str, y: float | None) -> None:
    """Refuse a count of a subset (``part``) that is more than the count it is a subset of (``whole``, named too:
    both are stored fields); None on either side is left to the field's own check."""
    if x is not None and y is not None and x > y:
        raise ValueError(MORE_THAN_THE_WHOLE.format(part=part, x=x, whole=whole, y=y))


def counts_with_shares(pairs: Iterable[tuple[str, int | None, float | None]], whole: int, unit: str) -> None:
    """Counts of some of ``whole`` rows stored beside their shares (``name``, ``name_share``): each count is at most
    the whole and each share is the count over it. A rule reads the share: an edited one must not pass alone."""
    for name, count, share in pairs:
        if count is None:
            continue
        at_most(name, count, whole, unit)
        if whole:
            agrees(f"{name.removesuffix('_rows')}_share", share, count / whole, f"{name} / {unit}")


#: the values a measured metric can take are ``ranges.METRIC_RANGES`` (a point value, not an interval: a binned AUC's
#: centred replicates may pass 1). A value outside, like a NaN, comes from a file edited by hand or a broken
#: producer, and a rule must never decide on it: the evidence refuses it (``governance evaluate`` exits 2 naming it).
#: keys of a metric table that count rows
COUNT_KEYS = ("count", "mape_undefined_rows", "fixed", "broken")
#: the values of an agreement slice (``Agreement.slices``) besides its counts
AGREEMENT_RANGES = {"same_prediction": Range(0.0, 1.0)}
OUT_OF_RANGE = "{name} = {value!r} is outside the values it can take {interval}"
NOT_A_COUNT = "{name} = {value!r} is not a count of rows (a whole number, at least 0)"


def check_metric_values(values: Mapping[str, Any], where: str,
                        ranges: Mapping[str, Range] = METRIC_RANGES) -> None:
    """Refuse a metric table (``where`` names it in the error) with a count that is not a whole number >= 0 or a
    value outside :data:`METRIC_RANGES`; names it does not know are left alone (they are finite: the schema
    refuses NaN and infinity everywhere)."""
    for name, value in values.items():
        if value is None:
            continue
        if name in COUNT_KEYS:
            if value < 0 or float(value) != math.floor(value):
                raise ValueError(f"{where}: " + NOT_A_COUNT.format(name=name, value=value))
        elif (allowed := ranges.get(name)) and not allowed.holds(value, RANGE_SLACK):
            raise ValueError(f"{where}: " + OUT_OF_RANGE.format(name=name, value=value, interval=allowed))


#: a number of rows, files, bytes, parameters, resamples...
Count = Annotated[int, Field(ge=0)]
#: a share of rows, a rate, an accuracy, a probability, a p-value
Share = Annotated[float, within(Range(0.0, 1.0))]
#: a size, a time, a distance, an error
NonNegative = Annotated[float, within(Range(0.0, math.inf))]
#: the difference of two shares (a change in accuracy)
ShareDifference = Annotated[float, within(Range(-1.0, 1.0))]
#: a confidence level of an interval
Confidence = Annotated[float, within(Range(0.0, 1.0, low_open=True, high_open=True))]


class _Frozen(BaseModel):
    """Every evidence model: immutable, no unknown field, and no NaN or infinity in any float (an undefined metric
    is None): a NaN compares false with every limit, so a rule reading one would pass what nobody measured."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class FileRef(_Frozen):
    path: str
    sha256: str
    bytes: Count


class Interval(_Frozen):
    ci_low: float
    ci_high: float

    @model_validator(mode="after")
    def _ordered(self) -> Interval:
        if self.ci_low > self.ci_high + RANGE_SLACK:
            raise ValueError(f"ci_low = {self.ci_low!r} is above ci_high = {self.ci_high!r}")
        return self


class Comparison(_Frozen):
    """One metric for both models on the same rows, with paired intervals; difference = candidate - baseline."""

    baseline: float | None
    candidate: float | None
    difference: float | None
    baseline_ci: Interval | None = None
    candidate_ci: Interval | None = None
    difference_ci: Interval | None = None

    @model_validator(mode="after")
    def _difference(self) -> Comparison:
        if self.baseline is not None and self.candidate is not None:
            agrees("difference", self.difference, self.candidate - self.baseline, "candidate - baseline")
        elif self.difference is not None:
            raise ValueError(f"difference = {self.difference!r} without both models' values")
        return self
