"""Row counts that sections of the evidence repeat must agree with each other.

Both models are scored on the same rows, every row is in exactly one slice of each dimension (a missing value is a
slice of its own), and calibration bins and agreement are taken over those rows. A count that disagrees with its
twin was edited by hand (a thin slice's count raised past ``min_slice_size`` would be judged instead of inconclusive)
or written by a broken producer; either way no rule may decide on it, so the evidence refuses it and ``governance
evaluate`` exits 2 naming it. Pure functions of the evidence, called from its validator.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from .schema_base import part_of

if TYPE_CHECKING:
    from .schema import Evidence, ModelEvidence
    from .schema_base import FileRef

#: the dimension the evidence adds to the sensitive ones: slices by true class
CLASS_DIMENSION = "class"
COUNTS_DIFFER = "{a} = {x} but {b} = {y}: both count the same rows"
SLICES_DO_NOT_ADD_UP = ("the slices of {dim!r} count {total} rows, more than the whole set's {whole}: no row is in two "
                        "slices of one dimension")
NOT_COVERED = ("{section} has no entry for {columns}: every feature, target and sensitive column is {what} (a column "
               "deleted from it would hide what it found)")
OTHER_FILE = ("inputs.{name}.sha256 = {x}… but {other}.sha256 = {y}…: both name the file that was evaluated (a "
              "sign-off or provenance rule reads one, the report the other)")
NO_INPUT = "inputs has no {name!r} entry: the rules that check a file's identity would have nothing to check"
#: metrics defined on any non-empty set of rows (per task): missing or null where rows were counted means edited
ALWAYS_DEFINED = {"binary_classification": "accuracy", "multiclass_classification": "accuracy", "regression": "mae"}
UNDEFINED = ("{where}.{metric} is missing or null over {count} rows: it is defined on any rows, and a slice "
             "without it would not be judged")
UNKNOWN_COLUMNS = "dimension {dim!r} joins columns that data.sensitive does not name: {columns}"


def _count(values: Mapping[str, Any] | None) -> int | None:
    n = None if values is None else values.get("count")
    return None if n is None else int(n)


def _same(a: str, x: int | None, b: str, y: int | None) -> None:
    if x is not None and y is not None and x != y:
        raise ValueError(COUNTS_DIFFER.format(a=a, x=x, b=b, y=y))


def _slice_count(model: ModelEvidence, dim: str, value: str) -> int | None:
    """``model``'s count of one slice (None: the model has no such slice)."""
    return _count(model.slices.get(dim, {}).get(value))


def _slice_counts(slices: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> Iterator[tuple[str, str, int | None]]:
    for dim, by_value in slices.items():
        for value, stats in by_value.items():
            yield dim, value, _count(stats)


def check_dimensions(evidence: Evidence) -> None:
    """Each dimension joins declared sensitive columns (or is the class dimension)."""
    declared = set(evidence.data.sensitive) | {CLASS_DIMENSION}
    for dim, columns in evidence.dimensions.items():
        if unknown := [c for c in columns if c not in declared]:
            raise ValueError(UNKNOWN_COLUMNS.format(dim=dim, columns=", ".join(unknown)))


def check_defined(evidence: Evidence) -> None:
    """The task's basic metric is there wherever rows were counted (a slice's accuracy deleted left it unjudged)."""
    if (metric := ALWAYS_DEFINED.get(evidence.task)) is None:
        return
    for role, m in evidence.models.items():
        tables = [(f"models.{role}.overall", m.overall)]
        tables += [(f"models.{role}.slices.{dim}.{value}", stats) for dim, by_value in m.slices.items()
                   for value, stats in by_value.items()]
        for where, values in tables:
            if (count := _count(values)) and values.get(metric) is None:
                raise ValueError(UNDEFINED.format(where=where, metric=metric, count=count))


def check_model_counts(evidence: Evidence) -> None:
    """Both models count the same rows overall and per slice; a dimension's slices (disjoint) count at most the whole.

    Not "exactly the whole": evidence built by hand for a rule (tests, plugins) names only the slices it is about."""
    models = evidence.models
    for role, m in models.items():
        whole = _count(m.overall)
        part_of(f"models.{role}.overall.count", whole, "data.rows", evidence.data.rows)
        for dim, by_value in m.slices.items():
            for value, stats in by_value.items():
                part_of(f"models.{role}.slices.{dim}.{value}.count", _count(stats), f"models.{role}.overall.count",
                         whole)
            if whole is not None and (total := sum(_count(s) or 0 for s in by_value.values())) > whole:
                raise ValueError(f"models.{role}.slices.{dim}: " + SLICES_DO_NOT_ADD_UP.format(
                    dim=dim, total=total, whole=whole))
    if "baseline" in models and "candidate" in models:
        base, cand = models["baseline"], models["candidate"]
        _same("models.baseline.overall.count", _count(base.overall),
              "models.candidate.overall.count", _count(cand.overall))
        for dim, value, n in _slice_counts(base.slices):
            _same(f"models.baseline.slices.{dim}.{value}.count", n, f"models.candidate.slices.{dim}.{value}.count",
                  _slice_count(cand, dim, value))


def check_section_counts(evidence: Evidence) -> None:
    """Agreement and calibration are taken over the models' rows; reliability bins add up to their count."""
    cand = evidence.models.get("candidate")
    whole = _count(cand.overall) if cand is not None else None
    agreement = evidence.agreement
    _same("agreement.rows", agreement.rows, "models.candidate.overall.count", whole)
    if cand is not None:
        for dim, value, n in _slice_counts(agreement.slices):
            _same(f"agreement.slices.{dim}.{value}.count", n, f"models.candidate.slices.{dim}.{value}.count",
                  _slice_count(cand, dim, value))
    cal = evidence.calibration
    if cal is None:
        return
    stats = [(f"calibration.models.{role}", s, whole) for role, s in cal.models.items()]
    for dim, by_value in cal.slices.items():
        for value, by_role in by_value.items():
            part = _slice_count(cand, dim, value) if cand is not None else None
            stats += [(f"calibration.slices.{dim}.{value}.{role}", s, part) for role, s in by_role.items()]
    for name, s, rows in stats:
        part_of(f"{name}.count", s.count, "the rows it is taken over", rows)
        if s.reliability is not None and sum(s.reliability.count) != s.count:
            raise ValueError(f"{name}.reliability.count adds up to {sum(s.reliability.count)}, not {name}.count = "
                             f"{s.count}")


def check_data_counts(evidence: Evidence) -> None:
    """Samples and scans of the evaluation set are of at most its rows."""
    rows = evidence.data.rows
    if evidence.robustness is not None:
        for i, level in enumerate(evidence.robustness.levels):
            part_of(f"robustness.levels.{i}.rows", level.rows, "data.rows", rows)
    if evidence.leakage is not None:
        part_of("leakage.evaluation_rows", evidence.leakage.evaluation_rows, "data.rows", rows)
    if evidence.data_quality is not None:
        part_of("data_quality.rows", evidence.data_quality.rows, "data.rows", rows)
    if (pii := evidence.pii) is not None:
        part_of("pii.rows_sampled", pii.rows_sampled, "data.rows", rows)
        for name, column in pii.columns.items():
            part_of(f"pii.columns.{name}.sampled", column.sampled, "pii.rows_sampled", pii.rows_sampled)


def check_coverage(evidence: Evidence) -> None:
    """The personal-data scan and the data-quality table cover every column the release reads."""
    data = evidence.data
    used = [*data.features, data.target, *data.sensitive]
    if (pii := evidence.pii) is not None and (
            lacking := [c for c in used if c not in pii.columns and c not in pii.not_scanned]):
        raise ValueError(NOT_COVERED.format(section="pii.columns", columns=", ".join(lacking),
                                            what="scanned or listed in pii.not_scanned"))
    if (dq := evidence.data_quality) is not None and (lacking := [c for c in used if c not in dq.columns]):
        raise ValueError(NOT_COVERED.format(section="data_quality.columns", columns=", ".join(lacking),
                                            what="profiled"))


def check_files(evidence: Evidence) -> None:
    """The input files the rules read (inputs) are the ones the measurements name (models.*.file, data.file)."""
    named: dict[str, tuple[str, FileRef]] = {role: (f"models.{role}.file", m.file)
                                             for role, m in evidence.models.items()}
    if evidence.task != "lm_eval":  # lm_eval's data are the models' own sample files
        named["data"] = ("data.file", evidence.data.file)
    for name, (other, ref) in named.items():
        if (given := evidence.inputs.get(name)) is None:
            raise ValueError(NO_INPUT.format(name=name))
        if given.sha256 != ref.sha256:
            raise ValueError(OTHER_FILE.format(name=name, x=given.sha256[:12], other=other, y=ref.sha256[:12]))


def check_row_counts(evidence: Evidence) -> None:
    """Every check of this module (the evidence validator's entry point)."""
    check_files(evidence)
    check_dimensions(evidence)
    check_defined(evidence)
    check_coverage(evidence)
    check_data_counts(evidence)
    check_model_counts(evidence)
    check_section_counts(evidence)
