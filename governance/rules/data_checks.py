"""Data checks: leakage of evaluation rows into training or fine-tuning data, and undeclared personal data."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ..evidence.pii import DETECTORS
from ..evidence.schema import Evidence
from ..findings import Finding, Status
from .base import PolicyDefaults, RuleBase, finding, rule
from .provenance import NOT_DECLARED

LeakageRole = Literal["training", "fine-tuning", "validation"]
Detector = Literal[DETECTORS]  # type: ignore[valid-type]


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.2%}"


class LeakageRule(RuleBase):
    """Fails when more than ``max_overlap_share`` of the evaluation rows (or more than ``max_overlap_rows``)
    also occur in a declared dataset of the given ``roles`` (rows compared by a hash over the feature and
    target columns). A declared dataset that cannot be compared (no local file, missing columns), no such
    dataset, or no provenance file is ``error``: leakage not established is not a pass."""

    kind: Literal["leakage"]
    roles: list[LeakageRole] = Field(default_factory=lambda: ["training", "fine-tuning"], min_length=1,
                                     description="which declared datasets the evaluation rows must not occur in")
    max_overlap_share: float = Field(0.0, ge=0, le=1,
                                     description="largest allowed share of evaluation rows found in any one of them")
    max_overlap_rows: int | None = Field(None, ge=0, description="also: largest allowed number of such rows")


@rule("leakage", LeakageRule)
def leakage(rule: LeakageRule, evidence: Evidence, defaults: PolicyDefaults) -> Finding:
    if evidence.provenance is None:
        return finding(rule, Status.ERROR, f"{NOT_DECLARED}: leakage cannot be checked")
    selected = {n: ds.role for n, ds in evidence.provenance.declared.datasets.items() if ds.role in rule.roles}
    if not selected:
        return finding(rule, Status.ERROR, f"the provenance declares no {' or '.join(rule.roles)} dataset: leakage "
                                           f"cannot be checked")
    measured = evidence.leakage
    if measured is None:
        return finding(rule, Status.ERROR, "the evidence has no leakage measurement (collected by an older version?)")
    rows = measured.evaluation_rows
    compared, unavailable, failing = [], [], []
    for name, role in selected.items():
        ls = measured.datasets.get(name)
        if ls is None or ls.overlap_rows is None:
            unavailable.append(f"{role} set {name!r}: {ls.problem if ls is not None else 'not measured'}")
            continue
        entry = {"dataset": name, "role": role, "rows": ls.rows, "overlap_rows": ls.overlap_rows,
                 "overlap_share": ls.overlap_share}
        compared.append(entry)
        share = ls.overlap_share or 0.0
        if share > rule.max_overlap_share or (rule.max_overlap_rows is not None
                                              and ls.overlap_rows > rule.max_overlap_rows):
            failing.append(entry)
    details = {"evaluation_rows": rows, "columns": measured.columns, "datasets": compared,
               "not_compared": unavailable, "method": measured.method}
    worst = max(compared, key=lambda e: e["overlap_rows"], default=None)
    observed = worst["overlap_share"] if worst else None
    limit = f"the allowed {_pct(rule.max_overlap_share)}" + (
        f" / {rule.max_overlap_rows} rows" if rule.max_overlap_rows is not None else "")
    if failing:
        parts = [f"{e['overlap_rows']} of {rows} evaluation rows ({_pct(e['overlap_share'])}) also occur in "
                 f"{e['role']} set {e['dataset']!r}" for e in failing]
        return finding(rule, Status.FAIL, f"{'; '.join(parts)}: more than {limit}. Shared rows make every other "
                                          f"measurement of this release too kind.",
                       observed=observed, threshold=rule.max_overlap_share, overlap_rows=worst["overlap_rows"],
                       **details)
    if unavailable:
        return finding(rule, Status.ERROR, f"leakage cannot be established: {'; '.join(unavailable)}",
                       observed=observed, threshold=rule.max_overlap_share, **details)
    summary = ", ".join(f"{e['role']} set {e['dataset']!r}: {e['overlap_rows']} rows ({_pct(e['overlap_share'])})"
                        for e in compared)
    return finding(rule, Status.PASS, f"evaluation rows ({rows}) found in {summary}: within {limit}.",
                   observed=observed, threshold=rule.max_overlap_share, overlap_rows=worst["overlap_rows"] if worst
                   else 0, **details)


class PiiScanRule(RuleBase):
    """Fails when a column of the evaluation data holds personal identifiers (e-mail, phone, US SSN, Luhn-valid
    payment card, IP address) in at least ``min_share`` of its sampled non-empty values and the provenance does
    not declare it as personal data, or when a declared personal-data column is a model feature and is not
    listed in ``allowed_personal_features``."""

    kind: Literal["pii_scan"]
    detectors: list[Detector] = Field(default_factory=lambda: list(DETECTORS), min_length=1,
                                      description="which kinds of identifier to judge (all are counted)")
    min_share: float = Field(0.05, gt=0, le=1,
                             description="a column holds an identifier when at least this share of its sampled "
                                         "non-empty values contain one")
    allowed_personal_features: list[str] = Field(
        default_factory=list, description="declared personal-data columns the policy allows as model features")


@rule("pii_scan", PiiScanRule)
def pii_scan(rule: PiiScanRule, evidence: Evidence, defaults: PolicyDefaults) -> Finding:
    scan = evidence.pii
    if scan is None:
        return finding(rule, Status.ERROR, "the evidence has no personal-data scan (collected by an older version?)")
    if scan.rows_sampled == 0 or not scan.columns:
        return finding(rule, Status.INCONCLUSIVE, "no rows or columns could be scanned for personal data")
    declared: list[str] | None = None
    data_ref = evidence.inputs.get("data")
    if evidence.provenance is not None and (ev := evidence.provenance.declared.evaluation_dataset(
            data_ref.sha256 if data_ref else None)) is not None:
        declared = ev[1].personal_data
    declared_set = set(declared or [])
    flagged: dict[str, dict[str, float]] = {}
    for column, stats in scan.columns.items():
        if not stats.sampled:
            continue
        kinds = {k: stats.matches.get(k, 0) / stats.sampled for k in rule.detectors
                 if stats.matches.get(k, 0) and stats.matches.get(k, 0) / stats.sampled >= rule.min_share}
        if kinds:
            flagged[column] = kinds
    undeclared = [c for c in flagged if c not in declared_set]
    features = set(evidence.data.features)
    personal_features = [c for c in (declared or []) if c in features and c not in rule.allowed_personal_features]
    details = {"flagged_columns": flagged, "declared_personal_data": declared, "undeclared": undeclared,
               "personal_data_features": personal_features, "rows_sampled": scan.rows_sampled,
               "method": scan.method, "min_share": rule.min_share}

    def describe(col: str) -> str:
        return f"{col} ({', '.join(f'{k} in {_pct(s)}' for k, s in flagged[col].items())} of sampled values)"

    problems = []
    if undeclared:
        where = ("the provenance declares no personal-data columns for the evaluation data" if declared is None
                 else "not declared as personal data in the provenance")
        problems.append(f"{', '.join(describe(c) for c in undeclared)}: {where}")
    if personal_features:
        problems.append(f"declared personal-data column(s) {', '.join(personal_features)} are model features "
                        f"(list them in allowed_personal_features if the policy allows it)")
    if problems:
        return finding(rule, Status.FAIL, "; ".join(problems) + ".", observed=len(undeclared) + len(personal_features),
                       threshold=0, **details)
    seen = f"{len(flagged)} column(s) hold personal identifiers, all declared" if flagged else \
        "no column holds personal identifiers"
    return finding(rule, Status.PASS, f"{scan.rows_sampled} sampled rows scanned ({', '.join(rule.detectors)}): "
                                      f"{seen}; no declared personal-data column is a model feature.",
                   observed=0, threshold=0, **details)
