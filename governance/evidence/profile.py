"""Mergeable per-column summaries of a table's feature columns, and the distances between two of them.

A :class:`FeatureProfile` folds chunks of a table into bounded state per feature column, so one pass over a file
of any size (or a month of production logs) summarises it, and two profiles of disjoint rows merge into the
profile of their union:

- every column: rows and missing values (null, or NaN in a floating-point column);
- a numeric column: exact count, mean and M2 (Chan's parallel merge), min and max, and the values themselves
  while the column holds at most ``exact_limit`` of them (a small set gets exact distances, and a deterministic
  profile); beyond, an Apache DataSketches KLL sketch of them instead (distances with a stated error bound);
- dates, times and decimals are numeric (their integer count of units), text, booleans and dictionary-encoded
  columns categorical (:func:`categorical_features` decides for numeric ones);
- a categorical column: each value's count, at most ``max_categories`` distinct values; the rest are counted
  together under :data:`OVERFLOW` (``overflow_values`` says how many distinct values went there).

Distances are effect sizes, not p-values (p-values flag everything at large sample sizes), with Evidently's
defaults above 1,000 reference rows: the Wasserstein-1 distance divided by the reference's standard deviation
for a numeric column, the Jensen-Shannon distance of the value shares (natural-log base, scipy's default) for a
categorical one. Missing values are left out of both and reported as each side's missing share.

``to_json`` is the form kept in the evidence (``evidence.feature_profile``, the production sample's in
``evidence.production.representativeness``) and read back by ``governance monitor`` with ``from_json``.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Collection, Sequence
from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..metrics_regression import merge_moments, moments
from . import schema as _schema  # noqa: F401  # first: the evidence schema imports FeatureDistance from below
from .representativeness import FeatureDistance
from .robustness import MAX_CATEGORICAL_DISTINCT

#: a numeric column keeps its values (for exact distances) while it has at most this many
EXACT_LIMIT = 20_000
#: the values held over all numeric columns together: a wide table holds fewer per column (never under
#: ``EXACT_FLOOR``), so evidence.json and monitoring.json stay a few MB whatever the number of features
EXACT_BUDGET = 1_000_000
EXACT_FLOOR = 1_000
#: a categorical column counts at most this many distinct values; the rest share one bucket
MAX_CATEGORIES = 10_000
#: the bucket the values beyond ``max_categories`` are counted under
OVERFLOW = "(other values)"
#: KLL accuracy parameter: rank error about 0.7% at 99% confidence, about 10 kB per sketched column
KLL_K = 400
FORMAT = "feature-profile/1"

NORMED_WASSERSTEIN: Final = "normed_wasserstein"
JENSEN_SHANNON: Final = "jensen_shannon"
NO_VALUES = "no values on the {side} side (all {rows} rows missing)"
CONSTANT_REFERENCE = ("the reference is constant ({value:g}) and the current values differ: the normed "
                      "Wasserstein distance is infinite")
NOT_A_PROFILE = "not a feature profile ({problem})"
OTHER_FEATURES = "profiles of different features cannot be merged or compared: {a} vs {b}"


class _Numeric:
    """One numeric column's mergeable state: its values while at most ``exact_limit``, then a KLL sketch of them.

    Exactly one of ``exact`` and ``sketch`` is held, so a small set's profile is deterministic (KLL compaction
    is randomised: two sketches of the same values can differ in their bytes)."""

    kind = "numeric"

    def __init__(self, exact_limit: int) -> None:
        self.exact_limit = exact_limit
        self.rows = self.missing = 0
        self.moments: tuple[float, float, float] = (0.0, 0.0, 0.0)
        self.min = math.inf
        self.max = -math.inf
        self.exact: list[np.ndarray] | None = []
        self.sketch: Any = None

    @property
    def count(self) -> int:
        return int(self.moments[0])

    def update(self, values: np.ndarray) -> None:
        present = values[np.isfinite(values)]
        self.rows += len(values)
        self.missing += len(values) - len(present)
        if len(present) == 0:
            return
        self.moments = merge_moments(self.moments, moments(present))
        self.min = min(self.min, float(present.min()))
        self.max = max(self.max, float(present.max()))
        if self.exact is not None:
            self.exact.append(present.copy())
            self._bound()
        else:
            self.sketch.update(present)

    def _bound(self) -> None:
        """Over the exact limit: the values go into a sketch and are dropped."""
        if self.exact is not None and self.count > self.exact_limit:
            self.sketch = self.as_sketch()
            self.exact = None

    def as_sketch(self) -> Any:
        """A KLL sketch of the values (a new one while they are held)."""
        import datasketches

        if self.exact is None:
            return self.sketch
        sketch = datasketches.kll_doubles_sketch(KLL_K)
        for part in self.exact:
            sketch.update(part)
        return sketch

    def merge(self, other: _Numeric) -> _Numeric:
        import datasketches

        out = _Numeric(self.exact_limit)
        for src in (self, other):
            out.rows += src.rows
            out.missing += src.missing
            out.moments = merge_moments(out.moments, src.moments)
            out.min, out.max = min(out.min, src.min), max(out.max, src.max)
        if self.exact is not None and other.exact is not None:
            out.exact = [*self.exact, *other.exact]
            out._bound()
        else:
            out.exact = None
            out.sketch = datasketches.kll_doubles_sketch(KLL_K)
            for src in (self, other):
                out.sketch.merge(src.as_sketch())
        return out

    def __getstate__(self) -> dict[str, Any]:
        """Picklable for the Dask engine (a profile folded on a worker travels): the KLL sketch as its bytes."""
        state = dict(self.__dict__)
        state["sketch"] = None if self.sketch is None else self.sketch.serialize()
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        import datasketches

        if state["sketch"] is not None:
            state["sketch"] = datasketches.kll_doubles_sketch.deserialize(state["sketch"])
        self.__dict__.update(state)

    def values(self) -> np.ndarray | None:
        """Every value, sorted (None once over the exact limit): whatever the chunking or a JSON round trip, the
        same array, so distances and moments agree to the last bit."""
        if self.exact is None:
            return None
        return np.sort(np.concatenate(self.exact)) if self.exact else np.zeros(0)

    def exact_moments(self) -> tuple[float, float, float]:
        """(n, mean, M2): from the values themselves while held, so a small set's profile does not depend on how
        it was chunked (the merged moments differ in the last bits), else the merged ones."""
        values = self.values()
        return moments(values) if values is not None else self.moments

    def std(self) -> float:
        n, _, m2 = self.exact_moments()
        return math.sqrt(max(m2, 0.0) / n) if n else 0.0

    def weighted(self) -> tuple[np.ndarray, np.ndarray]:
        """The values with unit weights while held, else the KLL sketch's retained items with their weights."""
        values = self.values()
        if values is not None:
            return values, np.ones(len(values))
        pairs = np.array(list(self.sketch), dtype=np.float64).reshape(-1, 2)
        return pairs[:, 0], pairs[:, 1]

    def rank_error(self) -> float:
        return 0.0 if self.exact is not None else float(self.sketch.normalized_rank_error(False))

    def to_json(self) -> dict[str, Any]:
        values = self.values()
        n, mean, m2 = self.exact_moments()
        return {"kind": self.kind, "rows": self.rows, "missing": self.missing, "count": int(n),
                "mean": mean if n else None, "m2": m2 if n else None,
                "min": self.min if n else None, "max": self.max if n else None,
                **_packed(values),
                "kll": None if self.sketch is None else _b64(self.sketch.serialize())}

    @classmethod
    def from_json(cls, data: dict[str, Any], exact_limit: int) -> _Numeric:
        import datasketches

        out = cls(exact_limit)
        out.rows, out.missing = int(data["rows"]), int(data["missing"])
        n = int(data["count"])
        if n:
            out.moments = (float(n), float(data["mean"]), float(data["m2"]))
            out.min, out.max = float(data["min"]), float(data["max"])
        values, kll = data["values"], data["kll"]
        if (values is None) == (kll is None):
            raise ValueError(NOT_A_PROFILE.format(problem="a numeric column holds either values or a sketch"))
        if values is not None:
            out.exact = [_unpacked(values, data.get("counts"))]
            if len(out.exact[0]) != n:
                raise ValueError(NOT_A_PROFILE.format(problem=f"{len(out.exact[0])} values for a count of {n}"))
        else:
            out.exact = None
            out.sketch = datasketches.kll_doubles_sketch.deserialize(_unb64(kll))
        return out


def _packed(values: np.ndarray | None) -> dict[str, str | None]:
    """The held values for JSON: the distinct values (sorted) and how often each occurs, when that is shorter (an
    integer or rounded column: ages, counts, prices), else every value, sorted; lossless either way."""
    if values is None:
        return {"values": None}
    distinct, counts = np.unique(values, return_counts=True)
    if 2 * len(distinct) <= len(values):
        return {"values": _b64(distinct.astype("<f8").tobytes()), "counts": _b64(counts.astype("<i8").tobytes())}
    return {"values": _b64(np.sort(values).astype("<f8").tobytes())}


def _unpacked(values: str, counts: str | None) -> np.ndarray:
    out = np.frombuffer(_unb64(values), dtype="<f8").astype(np.float64)
    if counts is None:
        return out
    repeat = np.frombuffer(_unb64(counts), dtype="<i8")
    if len(repeat) != len(out) or (repeat < 1).any():
        raise ValueError(NOT_A_PROFILE.format(problem="counts do not match the distinct values"))
    return np.repeat(out, repeat)


class _Categorical:
    """One categorical column's mergeable state: bounded value counts."""

    kind = "categorical"

    def __init__(self, max_categories: int) -> None:
        self.max_categories = max_categories
        self.rows = self.missing = 0
        self.counts: dict[str, int] = {}
        self.overflow = 0  # rows whose value is not among ``counts``
        self.overflow_values = 0  # distinct values folded into the overflow bucket (a lower bound after merges)

    def update(self, column: pa.ChunkedArray | pa.Array) -> None:
        self.rows += len(column)
        if pa.types.is_dictionary(column.type):
            column = column.cast(column.type.value_type)
        if pa.types.is_floating(column.type):  # NaN is missing too
            column = pc.if_else(pc.is_nan(column), pa.scalar(None, column.type), column)
        self.missing += column.null_count
        counted = pc.value_counts(column)
        for value, count in zip(counted.field("values").to_pylist(), counted.field("counts").to_pylist()):
            if value is None:
                continue
            self._add(_category(value), int(count))
        self._bound()

    def _add(self, key: str, count: int) -> None:
        self.counts[key] = self.counts.get(key, 0) + count

    def _bound(self) -> None:
        """Keep the ``max_categories`` most frequent values (ties: by name), fold the rest into the overflow."""
        if len(self.counts) <= self.max_categories:
            return
        ranked = sorted(self.counts.items(), key=lambda kv: (-kv[1], kv[0]))
        kept, folded = ranked[:self.max_categories], ranked[self.max_categories:]
        self.counts = dict(kept)
        self.overflow += sum(c for _, c in folded)
        self.overflow_values += len(folded)

    def merge(self, other: _Categorical) -> _Categorical:
        out = _Categorical(self.max_categories)
        for src in (self, other):
            out.rows += src.rows
            out.missing += src.missing
            out.overflow += src.overflow
            out.overflow_values += src.overflow_values
            for key, count in src.counts.items():
                out._add(key, count)
        out._bound()
        return out

    def shares(self) -> dict[str, int]:
        """Counts per category, the overflow bucket as one more when used."""
        return self.counts | ({OVERFLOW: self.overflow} if self.overflow else {})

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "rows": self.rows, "missing": self.missing, "counts": dict(self.counts),
                "overflow": self.overflow, "overflow_values": self.overflow_values}

    @classmethod
    def from_json(cls, data: dict[str, Any], max_categories: int) -> _Categorical:
        out = cls(max_categories)
        out.rows, out.missing = int(data["rows"]), int(data["missing"])
        out.counts = {str(k): int(v) for k, v in data["counts"].items()}
        out.overflow, out.overflow_values = int(data["overflow"]), int(data["overflow_values"])
        return out


def _category(value: Any) -> str:
    """A category's name: text as is, an integral float as the integer (a code read as 1.0 on one side and 1 on
    the other is one category), others as Python prints them."""
    if isinstance(value, str):
        return value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


class FeatureTypeError(ValueError):
    """A column profiled as numeric holds another type (text, booleans): the callers name the file it came from,
    since a production file or a monitoring window whose column is text where the evaluation data's was numbers is
    bad input, not a bug."""

    def __init__(self, column: str, type_: pa.DataType) -> None:
        super().__init__(f"column {column!r} is {type_}, not numeric: profile it as categorical")
        self.column, self.type = column, type_


#: the message an input file gets for a FeatureTypeError (template: type, where)
FEATURE_NOT_NUMERIC = ("holds {type} values where the evaluation data's column is numeric{where}: write the numbers "
                       "as numbers (the same type the release was evaluated on)")


def not_numeric(exc: FeatureTypeError, table: pa.Table, offset: int) -> str:
    """FEATURE_NOT_NUMERIC for the chunk that raised it, naming the first text value that is not a number (data rows
    count from 1 after ``offset`` earlier rows). Runs only on the error path, so a Python loop is fine."""
    where = ""
    if pa.types.is_string(exc.type) or pa.types.is_large_string(exc.type):
        for i, value in enumerate(table.column(exc.column).to_pylist()):
            if value is None:
                continue
            try:
                float(value)
            except ValueError:
                where = f" (data row {offset + i + 1}: {value[:40]!r} is not a number)"
                break
    return FEATURE_NOT_NUMERIC.format(type=exc.type, where=where)


def _numeric_type(t: pa.DataType) -> bool:
    return pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t) or pa.types.is_temporal(t)


def _as_float(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """A numeric column as float64 with NaN for a null (temporal values as their integer count of units)."""
    if pa.types.is_temporal(column.type):
        column = column.cast(pa.int64()) if not pa.types.is_date32(column.type) and not pa.types.is_time32(
            column.type) else column.cast(pa.int32())
    elif pa.types.is_decimal(column.type):
        column = column.cast(pa.float64())
    return np.asarray(column.to_numpy(zero_copy_only=False), dtype=np.float64)


class FeatureProfile:
    """Mergeable summary of ``features`` (bounded memory per column); ``categorical`` names the columns counted
    by value (:func:`categorical_features` decides, once, for both sides of a comparison)."""

    def __init__(self, features: list[str], categorical: Collection[str] = (), *, exact_limit: int | None = None,
                 max_categories: int = MAX_CATEGORIES) -> None:
        if unknown := [c for c in categorical if c not in features]:
            raise ValueError(f"categorical columns that are not features: {', '.join(unknown)}")
        self.features = list(features)
        self.categorical = [c for c in self.features if c in set(categorical)]
        if exact_limit is None:  # EXACT_LIMIT per numeric column, within EXACT_BUDGET over all of them
            numeric = max(1, len(self.features) - len(self.categorical))
            exact_limit = max(EXACT_FLOOR, min(EXACT_LIMIT, EXACT_BUDGET // numeric))
        self.exact_limit, self.max_categories = exact_limit, max_categories
        self.rows = 0
        cats = set(self.categorical)
        self.columns: dict[str, _Numeric | _Categorical] = {
            c: _Categorical(max_categories) if c in cats else _Numeric(exact_limit) for c in self.features}

    def empty_like(self) -> FeatureProfile:
        """An empty profile of the same features, split the same way (the other side of a comparison)."""
        return FeatureProfile(self.features, self.categorical, exact_limit=self.exact_limit,
                              max_categories=self.max_categories)

    def update(self, table: pa.Table) -> None:
        """Fold one chunk: ``table`` must hold every feature column (others are ignored)."""
        missing = [c for c in self.features if c not in table.column_names]
        if missing:
            raise ValueError(f"the table lacks feature columns: {', '.join(missing)}")
        for name, state in self.columns.items():
            column = table.column(name)
            if isinstance(state, _Categorical):
                state.update(column)
            elif pa.types.is_null(column.type):  # no value at all (a CSV column left blank): every row missing
                state.update(np.full(len(column), np.nan))
            elif not _numeric_type(column.type):
                raise FeatureTypeError(name, column.type)
            else:
                state.update(_as_float(column))
        self.rows += table.num_rows

    def merge(self, other: FeatureProfile) -> FeatureProfile:
        """The profile of both tables' rows (associative; exact while within the limits: counts, moments, min/max
        and the held values do not depend on how the rows were split; past ``exact_limit`` the KLL sketches merge
        within the sketch's rank error, so quantiles may differ with the split, never by more than that)."""
        self._same(other)
        out = self.empty_like()
        out.rows = self.rows + other.rows
        out.columns = {c: self.columns[c].merge(other.columns[c]) for c in self.features}  # type: ignore[arg-type]
        return out

    def _same(self, other: FeatureProfile) -> None:
        if self.features != other.features or self.categorical != other.categorical:
            raise ValueError(OTHER_FEATURES.format(a=self._split(), b=other._split()))

    def _split(self) -> str:
        return ", ".join(f"{c}{' (categorical)' if c in self.categorical else ''}" for c in self.features)

    def to_json(self) -> dict[str, Any]:
        """JSON-safe: sketches and exact values as base64 (little-endian float64 for the values)."""
        return {"format": FORMAT, "rows": self.rows, "features": list(self.features),
                "categorical": list(self.categorical), "exact_limit": self.exact_limit,
                "max_categories": self.max_categories, "kll_k": KLL_K,
                "columns": {c: s.to_json() for c, s in self.columns.items()}}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FeatureProfile:
        """The profile :meth:`to_json` wrote; ValueError names what is wrong with anything else."""
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ValueError(NOT_A_PROFILE.format(problem=f"format is not {FORMAT!r}"))
        try:
            out = cls(list(data["features"]), list(data["categorical"]), exact_limit=int(data["exact_limit"]),
                      max_categories=int(data["max_categories"]))
            out.rows = int(data["rows"])
            columns = data["columns"]
            for name in out.features:
                col = columns[name]
                kind = "categorical" if name in out.categorical else "numeric"
                if col.get("kind") != kind:
                    raise ValueError(NOT_A_PROFILE.format(problem=f"column {name!r} is not {kind}"))
                out.columns[name] = (_Categorical.from_json(col, out.max_categories) if kind == "categorical"
                                     else _Numeric.from_json(col, out.exact_limit))
        except (KeyError, TypeError, AttributeError, ValueError, RuntimeError) as exc:  # base64, sketch bytes
            if isinstance(exc, ValueError) and str(exc).startswith("not a feature profile"):
                raise
            raise ValueError(NOT_A_PROFILE.format(problem=f"{type(exc).__name__}: {exc}")) from None
        return out

    def summary(self) -> dict[str, dict[str, Any]]:
        """A compact, readable view per column (no sketches): for reports."""
        out: dict[str, dict[str, Any]] = {}
        for name, s in self.columns.items():
            base: dict[str, Any] = {"rows": s.rows, "missing": s.missing}
            if isinstance(s, _Numeric):
                n, mean, _ = s.exact_moments()
                base |= {"mean": mean if n else None, "std": s.std() if n else None,
                         "min": s.min if n else None, "max": s.max if n else None}
            else:
                base |= {"categories": len(s.counts), "overflow": s.overflow}
            out[name] = base
        return out


def categorical_features(table: pa.Table, declared: Sequence[str], continuous: Sequence[str]) -> list[str]:
    """The feature columns of ``table`` (the first chunk) counted by value rather than measured as numbers.

    The robustness notion (``robustness.perturbable_features``): a declared one (``data.categorical``), any
    non-numeric column (text, booleans, dictionary-encoded), and an integer-valued numeric column with at most
    ``MAX_CATEGORICAL_DISTINCT`` distinct values unless declared continuous. A numeric column with no values in
    the chunk stays numeric. Dates and times are numeric here (a distance along time).
    """
    declared_set, continuous_set = set(declared), set(continuous)
    out: list[str] = []
    for field in table.schema:
        name, t = field.name, field.type
        if name in declared_set or not _numeric_type(t):
            out.append(name)
        elif name in continuous_set or not (pa.types.is_integer(t) or pa.types.is_floating(t)):
            continue
        else:
            values = _as_float(table.column(name))
            values = values[np.isfinite(values)]
            distinct = np.unique(values)
            if 0 < len(distinct) <= MAX_CATEGORICAL_DISTINCT and bool(np.all(distinct == np.round(distinct))):
                out.append(name)
    return out


def feature_distances(reference: FeatureProfile, current: FeatureProfile) -> dict[str, FeatureDistance]:
    """Per feature, how far ``current`` is from ``reference`` (see the module docstring)."""
    reference._same(current)
    out: dict[str, FeatureDistance] = {}
    for name in reference.features:
        ref, cur = reference.columns[name], current.columns[name]
        if isinstance(ref, _Numeric) and isinstance(cur, _Numeric):
            out[name] = _numeric_distance(ref, cur)
        elif isinstance(ref, _Categorical) and isinstance(cur, _Categorical):
            out[name] = _categorical_distance(ref, cur)
    return out


def _share(missing: int, rows: int) -> float | None:
    return missing / rows if rows else None


def _common(ref: _Numeric | _Categorical, cur: _Numeric | _Categorical) -> dict[str, Any]:
    return {"reference_rows": ref.rows, "current_rows": cur.rows,
            "reference_missing_share": _share(ref.missing, ref.rows),
            "current_missing_share": _share(cur.missing, cur.rows)}


def _no_values(ref: _Numeric | _Categorical, cur: _Numeric | _Categorical) -> str | None:
    for side, s in (("reference", ref), ("current", cur)):
        if s.rows - s.missing == 0:
            return NO_VALUES.format(side=side, rows=s.rows)
    return None


def _numeric_distance(ref: _Numeric, cur: _Numeric) -> FeatureDistance:
    """W1(ref, cur) / std(ref), with scipy: on every value when both sides hold them, else on what each side has
    (its values, or its KLL sketch's retained items with their weights).

    Error bound from sketches: W1 is the integral over x of |F_ref(x) - F_cur(x)|; a sketch's CDF is within its
    rank error e of the true one (99% confidence) and both are 0 below the minimum and 1 above the maximum, so
    the computed W1 is within the sum over the sketched sides of e * (max - min) of the exact one (divided by
    std(ref), the exact standard deviation from the merged moments, as the distance is)."""
    common = _common(ref, cur)
    if (why := _no_values(ref, cur)) is not None:
        both_empty = ref.count == 0 and cur.count == 0
        return FeatureDistance(method=NORMED_WASSERSTEIN, distance=0.0 if both_empty else None, exact=True,
                               note=why, **common)
    from scipy.stats import wasserstein_distance

    a, b = ref.values(), cur.values()
    exact = a is not None and b is not None
    if a is not None and b is not None:
        w, std, bound = float(wasserstein_distance(a, b)), float(np.std(a)), 0.0
    else:
        (u, uw), (v, vw) = ref.weighted(), cur.weighted()
        w = float(wasserstein_distance(u, v, uw, vw))
        std = ref.std()
        bound = sum(s.rank_error() * (s.max - s.min) for s in (ref, cur))
    if std == 0.0:
        if w == 0.0 and bound == 0.0:
            return FeatureDistance(method=NORMED_WASSERSTEIN, distance=0.0, exact=exact, **common)
        return FeatureDistance(method=NORMED_WASSERSTEIN, distance=None, exact=exact,
                               note=CONSTANT_REFERENCE.format(value=ref.min), **common)
    return FeatureDistance(method=NORMED_WASSERSTEIN, distance=w / std, exact=exact, error_bound=bound / std,
                           **common)


def _categorical_distance(ref: _Categorical, cur: _Categorical) -> FeatureDistance:
    """Jensen-Shannon distance (scipy, natural log) of the category shares over the union of categories.

    Not exact when either side used the overflow bucket: its values are not told apart (nor matched between the
    sides); the bound is then the distance's maximum, sqrt(ln 2)."""
    from scipy.spatial.distance import jensenshannon

    common = _common(ref, cur)
    if (why := _no_values(ref, cur)) is not None:
        both_empty = ref.rows == ref.missing and cur.rows == cur.missing
        return FeatureDistance(method=JENSEN_SHANNON, distance=0.0 if both_empty else None, exact=True,
                               note=why, **common)
    p_counts, q_counts = ref.shares(), cur.shares()
    keys = sorted(set(p_counts) | set(q_counts))
    p = np.array([p_counts.get(k, 0) for k in keys], dtype=np.float64)
    q = np.array([q_counts.get(k, 0) for k in keys], dtype=np.float64)
    distance = float(jensenshannon(p / p.sum(), q / q.sum()))
    exact = not (ref.overflow or cur.overflow)
    return FeatureDistance(method=JENSEN_SHANNON, distance=distance, exact=exact,
                           error_bound=0.0 if exact else math.sqrt(math.log(2)), **common)
