"""Data quality of the evaluation set: missing values, constant columns, duplicate rows and class balance.

A gate is only as good as the rows it measures on: an evaluation set that is half empty in one feature, holds one
value in another, repeats its rows or has a class balance unlike the training data's makes every other finding of
the release less trustworthy. The counts are collected by governance/evidence/quality.py."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from ..evidence.schema import DataQuality, Evidence
from ..findings import Finding, Status
from .base import PolicyDefaults, RuleBase, finding, rule

NO_EVIDENCE = ("the evidence has no data-quality measurement (an lm_eval release, or evidence collected by an older "
               "version): the evaluation set's quality is not established")
UNKNOWN_COLUMNS = "columns {columns} are not feature, target or sensitive columns of the evaluation data"
NO_BALANCE = "the class balance is not measured ({why})"
NO_TRAINING_BALANCE = ("no training class balance is known: declare it in the provenance as class_balance "
                       "({{label: share}}, summing to 1) on the training dataset{named}, e.g. datasets.train."
                       "class_balance: {{'0': 0.7, '1': 0.3}}")


#: columns with missing values listed in the details (the worst first; evidence.json has every column)
TOP_MISSING = 50
#: column names a sentence lists before "and N more" (the details hold them all)
SHOWN = 10


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.2%}"


def _names(columns: list[str]) -> str:
    more = f" and {len(columns) - SHOWN} more" if len(columns) > SHOWN else ""
    return ", ".join(columns[:SHOWN]) + more


class DataQualityRule(RuleBase):
    """Fails when the evaluation set is poorly built: a column's missing-value share above ``max_missing_share``
    (the worst of ``columns``, default every feature, target and sensitive column), a constant column (one
    distinct value wherever it has one) not listed in ``allow_constant``, more than ``max_duplicate_share`` of the
    rows repeating an earlier row (features and target), the rarest class below ``min_class_share`` (a class the
    models know but the evaluation set lacks counts as 0), or the class balance farther than
    ``max_class_balance_distance`` (total variation distance) from the training set's as declared in the
    provenance (``class_balance`` on the training dataset). Inconclusive without the measurement (lm_eval), and for
    a class limit without a class balance (regression) or a distance limit without a declared training balance."""

    kind: Literal["data_quality"]
    max_missing_share: float = Field(0.05, ge=0, le=1,
                                     description="largest allowed share of missing values in any judged column")
    columns: list[str] | None = Field(None, min_length=1,
                                      description="the columns judged for missing values (default: every feature, "
                                                  "target and sensitive column)")
    allow_constant: list[str] = Field(default_factory=list,
                                      description="columns allowed to be constant (any other constant column fails)")
    max_duplicate_share: float = Field(0.01, ge=0, le=1,
                                       description="largest allowed share of rows that repeat an earlier row")
    min_class_share: float | None = Field(None, ge=0, le=1,
                                          description="smallest allowed share of the rarest class (classification)")
    max_class_balance_distance: float | None = Field(
        None, ge=0, le=1, description="largest allowed total variation distance between the evaluation set's "
                                      "class balance and the training set's declared class_balance")


def _missing(rule: DataQualityRule, dq: DataQuality) -> tuple[str | None, float, list[str]]:
    """(worst judged column, its missing share, every judged column over the limit, worst first)."""
    judged = rule.columns if rule.columns is not None else list(dq.columns)
    shares = {c: dq.columns[c].missing_share or 0.0 for c in judged}
    order = sorted(shares, key=lambda c: (-shares[c], c))
    worst = order[0] if order else None
    return worst, shares[worst] if worst else 0.0, [c for c in order if shares[c] > rule.max_missing_share]


@rule("data_quality", DataQualityRule)
def data_quality(rule: DataQualityRule, evidence: Evidence, defaults: PolicyDefaults) -> Finding:
    dq = evidence.data_quality
    if dq is None:
        return finding(rule, Status.INCONCLUSIVE, NO_EVIDENCE)
    if unknown := [c for c in rule.columns or [] if c not in dq.columns]:
        return finding(rule, Status.ERROR, UNKNOWN_COLUMNS.format(columns=", ".join(map(repr, unknown))),
                       known_columns=list(dq.columns))
    problems: list[str] = []
    undecided: list[str] = []
    worst, worst_share, over = _missing(rule, dq)
    worst_missing = sorted((c for c, q in dq.columns.items() if q.missing),
                           key=lambda c: (-(dq.columns[c].missing_share or 0.0), c))
    if over:
        more = f" ({len(over) - 1} more column(s) over the limit: {_names(over[1:])})" if len(over) > 1 else ""
        problems.append(f"column {worst!r} is {_pct(worst_share)} missing ({dq.columns[over[0]].missing} of "
                        f"{dq.rows} rows; allowed {_pct(rule.max_missing_share)}){more}")
    constant = [c for c, q in dq.columns.items() if q.constant and c not in rule.allow_constant]
    if constant:
        problems.append(f"constant column(s) {_names(constant)}: one value in every row that has one (list them "
                        f"in allow_constant if that is intended)")
    dup_share = dq.duplicate_share or 0.0
    estimated = "" if dq.duplicate_exact else ", estimated"
    if dup_share > rule.max_duplicate_share:
        problems.append(f"{dq.duplicate_rows} of {dq.rows} rows ({_pct(dup_share)}{estimated}) repeat an earlier row "
                        f"on the features and target (allowed {_pct(rule.max_duplicate_share)})")
    balance: dict[str, float] | None = None
    if dq.class_balance is not None:
        balance = {**dict.fromkeys(evidence.data.classes, 0.0), **dq.class_balance}
    why = "a regression target" if evidence.task == "regression" else "; ".join(dq.notes) or "no labels"
    rarest = min(balance, key=lambda k: (balance[k], k)) if balance else None
    if rule.min_class_share is not None:
        if balance is None or rarest is None:
            undecided.append(NO_BALANCE.format(why=why) + ": min_class_share cannot be judged")
        elif balance[rarest] < rule.min_class_share:
            problems.append(f"the rarest class {rarest!r} is {_pct(balance[rarest])} of the rows (allowed at least "
                            f"{_pct(rule.min_class_share)})")
    distance = dq.class_balance_distance
    if rule.max_class_balance_distance is not None:
        if balance is None:
            undecided.append(NO_BALANCE.format(why=why) + ": max_class_balance_distance cannot be judged")
        elif distance is None:
            training = [n for n, d in (evidence.provenance.declared.datasets.items() if evidence.provenance else [])
                        if d.role == "training"]
            named = f" ({', '.join(map(repr, training))})" if training else ""
            undecided.append(NO_TRAINING_BALANCE.format(named=named))
        elif distance > rule.max_class_balance_distance:
            problems.append(f"the class balance is {distance:.4f} (total variation distance) from training set "
                            f"{dq.training_dataset!r}'s declared balance (allowed {rule.max_class_balance_distance})")
    details: dict[str, Any] = {
        "rows": dq.rows, "worst_column": worst, "worst_missing_share": worst_share, "columns_over_limit": over,
        "missing_shares": {c: dq.columns[c].missing_share for c in worst_missing[:TOP_MISSING]},
        "constant_columns": [c for c, q in dq.columns.items() if q.constant], "allow_constant": rule.allow_constant,
        "duplicate_rows": dq.duplicate_rows, "duplicate_share": dq.duplicate_share,
        "duplicate_exact": dq.duplicate_exact, "duplicate_method": dq.duplicate_method,
        "class_balance": dq.class_balance, "rarest_class": rarest,
        "rarest_class_share": balance[rarest] if balance and rarest is not None else None,
        "training_dataset": dq.training_dataset, "training_class_balance": dq.training_class_balance,
        "class_balance_distance": distance, "problems": problems, "not_judged": undecided}
    head = f"evaluation set of {dq.rows} rows"
    if problems:
        return finding(rule, Status.FAIL, f"{head}: {'; '.join(problems)}.", observed=worst_share,
                       threshold=rule.max_missing_share, **details)
    allowed = details["constant_columns"]
    summary = (f"worst missing column {worst!r} at {_pct(worst_share)} (allowed {_pct(rule.max_missing_share)}), "
               f"{'constant columns allowed: ' + _names(allowed) if allowed else 'no constant column'}, "
               f"{_pct(dup_share)} duplicate rows"
               f"{estimated} (allowed {_pct(rule.max_duplicate_share)})")
    if balance and rarest is not None:
        summary += f", rarest class {rarest!r} at {_pct(balance[rarest])}"
    if distance is not None:
        summary += f", class balance {distance:.4f} from the training set's"
    if undecided:
        return finding(rule, Status.INCONCLUSIVE, f"{head}: {summary}; but {'; '.join(undecided)}.",
                       observed=worst_share, threshold=rule.max_missing_share, **details)
    return finding(rule, Status.PASS, f"{head}: {summary}.", observed=worst_share, threshold=rule.max_missing_share,
                   **details)
