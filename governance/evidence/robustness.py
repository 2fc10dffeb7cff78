"""Robustness: accuracy of both models on the same rows under seeded input perturbations.

Pruned networks can lose robustness to corrupted inputs faster than they lose clean accuracy
(Liebenwein et al. 2021), so the gate measures it instead of inferring it from clean accuracy:

* **gaussian** at level ``sigma``: every perturbed feature ``j`` becomes ``x_j + sigma * std_j * z_j``,
  ``z`` standard normal. ``z`` depends only on ``(seed, row index)``: each row gets the same noise
  whatever the chunking, the same noise direction at every sigma (common random numbers, so accuracy
  against sigma is smooth) and the same noise for both models (a paired comparison).
* **fgsm** at level ``epsilon`` (torch models only): ``x_j + epsilon * std_j * sign(dL/dx_j)`` with ``L``
  the cross-entropy of the true label, each model attacked with its own gradient (white-box). Needs an
  adapter with the ``InputGradient`` capability (governance/models/protocols.py); if either model lacks it
  (scikit-learn, ONNX), FGSM levels are left out for both and ``notes`` says so.

Only the columns in ``features`` are perturbed; other columns pass through unchanged. ``perturbable_features``
chooses them: continuous numeric columns, never declared-categorical ones (``data.categorical``) nor integer
columns with few distinct values (label-encoded categories) unless declared continuous (``data.continuous``);
``unperturbed`` records each column left alone and why.
Only the first ``spec.max_rows`` rows of the data (by row index) are used.

**Feature standard deviation.** Evidence is collected in one pass, so the std cannot come from all the
rows before the first rows are perturbed. It is either given by the caller (``feature_std``) or, when
None, computed from the rows of the *first* ``update`` call that fall within ``max_rows`` (population std,
nulls ignored); ``std_source`` records which. With the default chunk size (65,536 rows) at least the default
``max_rows`` (20,000), that first call holds every perturbed row, so the std is exactly theirs and does not
depend on the chunk size; with smaller chunks it is the first chunk's. Partitions of a distributed run must
all be given the same ``feature_std`` (``merge`` refuses different ones). A column with std 0 gets no noise.

**Models that cannot be re-scored** (not ``Rescorable``: precomputed predictions) make the whole
measurement impossible: ``update`` records ``skipped`` and ``result()`` returns None.

The accumulator keeps counts only (correct predictions per level and model), so ``merge`` is a sum.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import TYPE_CHECKING, Literal

import numpy as np
import pyarrow as pa

from ..errors import InputError
from ..models.protocols import InputGradient, ModelAdapter, Rescorable
from .schema import ROLES, Robustness, RobustnessLevel, UnmeasuredLevel

if TYPE_CHECKING:
    from ..manifest import RobustnessSpec

ToProbabilities = Callable[[str, np.ndarray, int], np.ndarray]
#: Rows per noise block: the noise of row i is row ``i % BLOCK`` of a block drawn from ``(seed, i // BLOCK)``.
BLOCK = 1024


def numeric_features(table: pa.Table | pa.Schema) -> list[str]:
    """Integer and floating-point columns: the ones Gaussian noise makes sense for.

    Booleans and dictionary-encoded (categorical) columns are left out: noise on a category is meaningless.
    """
    schema = table.schema if isinstance(table, pa.Table) else table
    return [f.name for f in schema if pa.types.is_integer(f.type) or pa.types.is_floating(f.type)]


#: an integer-valued column with at most this many distinct values in the first chunk is taken as categorical
#: (label-encoded categories, counts of a few levels): Gaussian noise on a category code is meaningless
MAX_CATEGORICAL_DISTINCT = 20
DECLARED_CATEGORICAL = "declared categorical (data.categorical)"
FEW_INTEGERS = ("only {distinct} distinct integer values in the first {rows} rows, at most {limit}: taken as "
                "categorical; list it in data.continuous to perturb it")
NO_VALUES = "no values in the first {rows} rows"
NOT_NUMERIC = "not numeric ({type})"


def perturbable_features(table: pa.Table, categorical: list[str] | None = None,
                         continuous: list[str] | None = None,
                         max_distinct: int = MAX_CATEGORICAL_DISTINCT) -> tuple[list[str], dict[str, str]]:
    """Split ``table``'s columns into the continuous ones Gaussian noise is added to and the others, with why.

    A column in ``continuous`` is perturbed, one in ``categorical`` never is; any other numeric column is
    perturbed unless its values in ``table`` (the first chunk) are all integers with at most ``max_distinct``
    distinct values. Non-numeric columns (text, booleans, dictionary-encoded) are never perturbed. The caller
    checks that the declared names are numeric feature columns.
    """
    declared_cat, declared_cont = set(categorical or ()), set(continuous or ())
    numeric = set(numeric_features(table))
    perturbed: list[str] = []
    left: dict[str, str] = {}
    for field in table.schema:
        name = field.name
        if name in declared_cat:
            left[name] = DECLARED_CATEGORICAL
        elif name not in numeric:
            left[name] = NOT_NUMERIC.format(type=field.type)
        elif name in declared_cont:
            perturbed.append(name)
        else:
            values = _column(table, name)
            values = values[np.isfinite(values)]
            distinct = len(np.unique(values))
            if distinct == 0:
                left[name] = NO_VALUES.format(rows=table.num_rows)
            elif distinct <= max_distinct and bool(np.all(values == np.round(values))):
                left[name] = FEW_INTEGERS.format(distinct=distinct, rows=table.num_rows, limit=max_distinct)
            else:
                perturbed.append(name)
    return perturbed, left


def _column(table: pa.Table, name: str) -> np.ndarray:
    return np.asarray(table.column(name).to_numpy(zero_copy_only=False), dtype=np.float64)


def feature_std(table: pa.Table, columns: list[str]) -> dict[str, float]:
    """Population standard deviation of each column (nulls ignored; 0.0 for a column with no values)."""
    out = {}
    for name in columns:
        values = _column(table, name)
        values = values[~np.isnan(values)]
        out[name] = float(values.std()) if len(values) else 0.0
    return out


def gaussian_noise(seed: int, start: int, rows: int, width: int) -> np.ndarray:
    """Standard-normal noise (rows, width) for data rows ``start .. start+rows-1``, independent of chunking."""
    out = np.empty((rows, width))
    if rows == 0:
        return out
    for block in range(start // BLOCK, (start + rows - 1) // BLOCK + 1):
        z = np.random.default_rng(np.random.SeedSequence([seed % 2**63, block])).standard_normal((BLOCK, width))
        lo, hi = max(start, block * BLOCK), min(start + rows, (block + 1) * BLOCK)
        out[lo - start : hi - start] = z[lo - block * BLOCK : hi - block * BLOCK]
    return out


def _replace(table: pa.Table, columns: list[str], values: np.ndarray) -> pa.Table:
    """``table`` with ``columns`` replaced by the float64 columns of ``values`` (NaN becomes null again)."""
    for j, name in enumerate(columns):
        i = table.schema.get_field_index(name)
        table = table.set_column(i, pa.field(name, pa.float64()), pa.array(values[:, j], from_pandas=True))
    return table


class RobustnessAccumulator:
    """Counts correct predictions of both models, clean and under each perturbation, chunk by chunk."""

    def __init__(self, spec: RobustnessSpec, features: list[str], feature_std: dict[str, float] | None = None,
                 unperturbed: dict[str, str] | None = None) -> None:
        self.spec = spec
        self.features = list(features)
        self.unperturbed = dict(unperturbed or {})  # column -> why it gets no noise (reported in the evidence)
        self.feature_std = dict(feature_std) if feature_std is not None else None
        self.std_source = "given by the caller" if feature_std is not None else None
        if self.feature_std is not None and set(self.features) - set(self.feature_std):
            raise ValueError(f"feature_std lacks {sorted(set(self.features) - set(self.feature_std))}")
        self.rows = 0
        self.clean = np.zeros(2, dtype=np.int64)
        self.gaussian = np.zeros((len(spec.sigmas), 2), dtype=np.int64)
        self.fgsm = np.zeros((len(spec.fgsm_epsilons), 2), dtype=np.int64)
        self.fgsm_active: bool | None = None  # None: not decided yet (no rows seen)
        self.skipped: str | None = None
        self.notes: list[str] = []
        #: (kind, level) -> why that level was not measured (NaN or infinite scores on the perturbed copy)
        self.unmeasured: dict[tuple[Literal["gaussian", "fgsm"], float], str] = {}
        self._positive_column: dict[str, int] = {}

    # -- folding ----------------------------------------------------------------------------------
    def wants_more(self) -> bool:
        """False once the first ``max_rows`` rows have been used, or when robustness cannot be measured."""
        return self.skipped is None and self.rows < self.spec.max_rows

    def update(self, features: pa.Table, y: np.ndarray, adapters: dict[str, ModelAdapter], row_offset: int,
               to_probabilities: ToProbabilities) -> None:
        """Fold the chunk's rows whose data index is below ``max_rows``; ``y`` holds true class indices."""
        if self.skipped is not None:
            return
        models = {r: a for r, a in adapters.items() if isinstance(a, Rescorable)}
        frozen = [r for r in ROLES if r not in models]
        if frozen:
            self.skipped = (f"robustness not measured: the {' and '.join(frozen)} model"
                            f"{'s are' if len(frozen) > 1 else ' is'} precomputed predictions, which cannot be "
                            "re-scored on perturbed inputs")
            return
        take = min(features.num_rows, self.spec.max_rows - row_offset)
        if take <= 0:
            return
        table, y = features.slice(0, take), np.asarray(y)[:take]
        missing = [c for c in self.features if c not in table.column_names]
        if missing:
            raise ValueError(f"features to perturb are not in the chunk: {missing}")
        if self.feature_std is None:
            self.feature_std = feature_std(table, self.features)
            self.std_source = f"the first {take} rows used (data rows {row_offset}-{row_offset + take - 1})"
        if self.fgsm_active is None:
            self._decide_fgsm(adapters)

        def correct(role: str, t: pa.Table) -> tuple[int, np.ndarray]:
            raw = models[role].rescore(t, row_offset)
            return int(np.sum(np.argmax(to_probabilities(role, raw, row_offset), axis=1) == y)), raw

        def perturbed(role: str, kind: Literal["gaussian", "fgsm"], level: float, values: np.ndarray) -> int:
            """Correct predictions on a perturbed copy; a model that gives NaN or infinite scores there (clean
            scores were finite) leaves this level not measured, named in the notes, instead of refusing the
            release as if a data row were bad."""
            if (kind, level) in self.unmeasured:
                return 0
            try:
                return correct(role, _replace(table, self.features, values))[0]
            except InputError as exc:
                why = f"the {role} model on the copy perturbed at {kind} {level:g}: {exc.message}"
                self.unmeasured[(kind, level)] = why
                self.notes.append(f"robustness level not measured: {why}")
                return 0

        x = np.column_stack([_column(table, c) for c in self.features]) if self.features else np.empty((take, 0))
        std = np.array([self.feature_std[c] for c in self.features])
        z = gaussian_noise(self.spec.seed, row_offset, take, len(self.features))
        for m, role in enumerate(ROLES):
            clean, raw = correct(role, table)
            self.clean[m] += clean
            for i, sigma in enumerate(self.spec.sigmas):
                self.gaussian[i, m] += clean if sigma == 0 else perturbed(role, "gaussian", sigma, x + sigma * std * z)
            adapter = adapters[role]
            if self.fgsm_active and isinstance(adapter, InputGradient):  # active: both models have the capability
                try:
                    grad = self._gradient(adapter, role, table, y, row_offset, raw, to_probabilities)
                except InputError as exc:  # a valid model without an input gradient (thresholds, constants)
                    self.fgsm_active = False
                    self.notes.append(f"FGSM levels not measured: the {role} model has no input gradient "
                                      f"({exc.message})")
                    continue
                for i, eps in enumerate(self.spec.fgsm_epsilons):
                    self.fgsm[i, m] += perturbed(role, "fgsm", eps, x + eps * std * grad)
        self.rows += take

    def _decide_fgsm(self, adapters: dict[str, ModelAdapter]) -> None:
        lacking = [r for r in ROLES if not isinstance(adapters[r], InputGradient)]
        self.fgsm_active = not lacking
        if lacking and self.spec.fgsm_epsilons:
            self.notes.append(f"FGSM levels skipped: the {' and '.join(lacking)} model"
                              f"{'s expose' if len(lacking) > 1 else ' exposes'} no input gradient (FGSM needs "
                              "torch models on both sides)")

    def _gradient(self, adapter: InputGradient, role: str, table: pa.Table, y: np.ndarray, row_offset: int,
                  raw: np.ndarray, to_probabilities: ToProbabilities) -> np.ndarray:
        """sign(dL/dx) on the perturbed columns, (rows, len(features))."""
        if role not in self._positive_column:
            # A single-output model gives P(positive): ask the caller's converter which class column that is.
            probe = to_probabilities(role, np.full((1, 1), 0.75), row_offset) if raw.shape[1] == 1 else None
            self._positive_column[role] = int(np.argmin(np.abs(probe[0] - 0.75))) if probe is not None else 1
        grad = adapter.input_gradient(table, y, row_offset, positive_column=self._positive_column[role])
        index = [table.column_names.index(c) for c in self.features]
        return np.sign(np.asarray(grad)[:, index])

    # -- combining and reporting ------------------------------------------------------------------
    def merge(self, other: RobustnessAccumulator) -> RobustnessAccumulator:
        """A new accumulator holding both; they must share spec, features and (once known) feature std."""
        if other.spec != self.spec or other.features != self.features or other.unperturbed != self.unperturbed:
            raise ValueError("cannot merge robustness accumulators with different specs or features")
        if (self.feature_std is not None and other.feature_std is not None
                and self.feature_std != other.feature_std):
            raise ValueError("cannot merge robustness accumulators that perturbed with different feature std: "
                             "give every partition the same feature_std")
        if self.fgsm_active is not None and other.fgsm_active is not None and self.fgsm_active != other.fgsm_active:
            raise ValueError("cannot merge robustness accumulators that disagree on FGSM")
        out = copy.deepcopy(self)
        out.feature_std = self.feature_std if self.feature_std is not None else other.feature_std
        out.std_source = self.std_source if self.feature_std is not None else other.std_source
        out.fgsm_active = self.fgsm_active if self.fgsm_active is not None else other.fgsm_active
        out.skipped = self.skipped or other.skipped
        out.notes = list(dict.fromkeys(self.notes + other.notes))
        out.unmeasured = {**other.unmeasured, **self.unmeasured}
        out.rows = self.rows + other.rows
        out.clean = self.clean + other.clean
        out.gaussian = self.gaussian + other.gaussian
        out.fgsm = self.fgsm + other.fgsm
        out._positive_column = {**other._positive_column, **self._positive_column}
        return out

    def result(self) -> Robustness | None:
        """The measured levels, or None when robustness was skipped (see ``skipped``) or no row was used."""
        if self.skipped is not None or self.rows == 0:
            return None
        clean = self.clean / self.rows
        levels = [self._level("gaussian", s, self.gaussian[i], clean) for i, s in enumerate(self.spec.sigmas)
                  if ("gaussian", s) not in self.unmeasured]
        if self.fgsm_active:
            levels += [self._level("fgsm", e, self.fgsm[i], clean) for i, e in enumerate(self.spec.fgsm_epsilons)
                       if ("fgsm", e) not in self.unmeasured]
        return Robustness(seed=self.spec.seed, features=self.features, unperturbed=self.unperturbed, levels=levels,
                          unmeasured=[UnmeasuredLevel(perturbation=kind, level=level, why=why)
                                      for (kind, level), why in self.unmeasured.items()])

    def _level(self, kind: Literal["gaussian", "fgsm"], level: float, correct: np.ndarray, clean: np.ndarray
               ) -> RobustnessLevel:
        acc = correct / self.rows
        drop = clean - acc
        return RobustnessLevel(
            perturbation=kind,
            level=float(level),
            rows=self.rows,
            accuracy={"baseline": float(acc[0]), "candidate": float(acc[1])},
            drop={"baseline": float(drop[0]), "candidate": float(drop[1])},
            extra_drop=float(drop[1] - drop[0]),
        )
