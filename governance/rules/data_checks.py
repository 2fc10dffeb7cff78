"""Data checks: leakage of evaluation rows into training or fine-tuning data, and undeclared personal data."""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import Field

from ..evidence.pii import DETECTORS, Detector
from ..evidence.schema import Evidence, Leakage, LeakageSet
from ..findings import Finding, Status
from .base import PolicyDefaults, RuleBase, finding, rule
from .provenance import NOT_DECLARED

LeakageRole = Literal["training", "fine-tuning", "validation"]


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.2%}"


#: how many standard errors above chance the matched overlap must be before it counts as identity (default)
CHANCE_Z = 3.0
CHANCE_TEMPLATE = ("{dup} of evaluation rows are duplicated within the evaluation set itself; a uniform sample of "
                   "{sample} of its rows holds {matched} of the evaluation rows, against {chance} expected by chance")
KEY_HINT = "declare the key columns (data.key) to compare by identity"


class LeakageRule(RuleBase):
    """Fails when more than ``max_overlap_share`` of the evaluation rows (or more than ``max_overlap_rows``)
    also occur in a declared dataset of the given ``roles``, and the overlap is not explained by chance.

    With key columns (manifest ``data.key`` or the provenance's ``key``) rows are compared by key: identity, so
    the limit applies exactly. Without, rows are compared by a hash over the features and the target, and two
    records with identical values are one row: overlap can be coincidence. It counts as identity when, in
    addition, the overlap with a uniform sample of the dataset as large as the evaluation set exceeds the share
    of evaluation rows duplicated within the evaluation set itself (what chance gives at that size) by more than
    ``max_overlap_share`` plus ``chance_z`` standard errors (sqrt(2 p (1 - p) / n), p the chance share, n the
    evaluation rows). With no within-set duplicates nothing is attributed to chance. A declared dataset that
    cannot be compared (no local file, missing columns), no such dataset, or no provenance file is ``error``:
    leakage not established is not a pass."""

    kind: Literal["leakage"]
    roles: list[LeakageRole] = Field(default_factory=lambda: list[LeakageRole](["training", "fine-tuning"]),
                                     min_length=1,
                                     description="which declared datasets the evaluation rows must not occur in")
    max_overlap_share: float = Field(0.0, ge=0, le=1,
                                     description="largest allowed share of evaluation rows found in any one of them")
    max_overlap_rows: int | None = Field(None, ge=0, description="also: largest allowed number of such rows")
    chance_z: float = Field(CHANCE_Z, ge=0, le=10,
                            description="no key: standard errors above the chance share before an overlap counts "
                                        "as identity (0: any excess over chance)")


def _chance(rule: LeakageRule, ls: LeakageSet, measured: Leakage) -> tuple[bool, str | None]:
    """(whether chance explains this dataset's overlap, the sentence that says so or not)."""
    if measured.key or ls.chance_share is None or ls.sample_overlap_share is None or not measured.duplicated_share:
        return False, None
    n, p = measured.evaluation_rows, ls.chance_share
    tolerance = rule.chance_z * math.sqrt(2 * p * (1 - p) / n) if n else 0.0
    explained = ls.sample_overlap_share - p <= rule.max_overlap_share + tolerance
    text = CHANCE_TEMPLATE.format(dup=_pct(measured.duplicated_share), sample=ls.sample_rows,
                                  matched=_pct(ls.sample_overlap_share), chance=_pct(p))
    return explained, text


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
    compared: list[dict[str, Any]] = []
    unavailable: list[str] = []
    failing: list[tuple[dict[str, Any], str | None]] = []
    by_chance: list[tuple[dict[str, Any], str | None]] = []
    for name, role in selected.items():
        ls = measured.datasets.get(name)
        if ls is None or ls.overlap_rows is None:
            unavailable.append(f"{role} set {name!r}: {ls.problem if ls is not None else 'not measured'}")
            continue
        explained, chance_text = _chance(rule, ls, measured)
        entry = {"dataset": name, "role": role, "rows": ls.rows, "overlap_rows": ls.overlap_rows,
                 "overlap_share": ls.overlap_share, "key": ls.key, "sample_rows": ls.sample_rows,
                 "sample_overlap_share": ls.sample_overlap_share, "chance_share": ls.chance_share,
                 "explained_by_chance": explained if chance_text else None}
        compared.append(entry)
        share = ls.overlap_share or 0.0
        over = share > rule.max_overlap_share or (rule.max_overlap_rows is not None
                                                  and ls.overlap_rows > rule.max_overlap_rows)
        if over and not explained:
            failing.append((entry, chance_text))
        elif over:
            by_chance.append((entry, chance_text))
    details: dict[str, Any] = {
        "evaluation_rows": rows, "columns": measured.columns, "key": measured.key,
        "duplicated_rows": measured.duplicated_rows, "duplicated_share": measured.duplicated_share,
        "datasets": compared, "not_compared": unavailable, "method": measured.method}
    worst = max(compared, key=lambda e: e["overlap_rows"], default=None)
    observed = worst["overlap_share"] if worst else None
    overlap_rows = worst["overlap_rows"] if worst else 0  # failing and by_chance imply a compared dataset
    limit = f"the allowed {_pct(rule.max_overlap_share)}" + (
        f" / {rule.max_overlap_rows} rows" if rule.max_overlap_rows is not None else "")
    by = f"by key ({', '.join(measured.key)})" if measured.key else "by features and target"

    def occur(e: dict) -> str:
        return (f"{e['overlap_rows']} of {rows} evaluation rows ({_pct(e['overlap_share'])}) also occur in "
                f"{e['role']} set {e['dataset']!r} ({by})")

    if failing:
        parts = [occur(e) + (f"; {text}: more than chance explains" if text else "") for e, text in failing]
        hint = "" if measured.key or any(t for _, t in failing) else (
            " No evaluation row is duplicated within the evaluation set, so such overlap is not coincidence.")
        return finding(rule, Status.FAIL, f"{'; '.join(parts)} (allowed: {limit.removeprefix('the allowed ')}).{hint} "
                                          f"Shared rows make every other measurement of this release too kind.",
                       observed=observed, threshold=rule.max_overlap_share, overlap_rows=overlap_rows,
                       **details)
    if unavailable:
        return finding(rule, Status.ERROR, f"leakage cannot be established: {'; '.join(unavailable)}",
                       observed=observed, threshold=rule.max_overlap_share, **details)
    if by_chance:
        parts = [f"{occur(e)}; {text}: overlap this size is expected by chance" for e, text in by_chance]
        rest = [e for e in compared if all(e is not b for b, _ in by_chance)]
        within = "".join(f" {e['role']} set {e['dataset']!r}: {e['overlap_rows']} rows "
                         f"({_pct(e['overlap_share'])}), within {limit}." for e in rest)
        return finding(rule, Status.PASS, f"{'; '.join(parts)} ({KEY_HINT}).{within}", observed=observed,
                       threshold=rule.max_overlap_share, overlap_rows=overlap_rows, **details)
    summary = ", ".join(f"{e['role']} set {e['dataset']!r}: {e['overlap_rows']} rows ({_pct(e['overlap_share'])})"
                        for e in compared)
    return finding(rule, Status.PASS, f"evaluation rows ({rows}) found {by} in {summary}: within {limit}.",
                   observed=observed, threshold=rule.max_overlap_share, overlap_rows=overlap_rows, **details)


#: what a policy does with a declared personal-data column used as a model feature (PiiScanRule.personal_features)
PersonalFeatures = Literal["justify", "report", "forbid"]
JUSTIFY_HINT = ("say why and on what basis in the evaluation dataset's personal_data_justification (provenance), or "
                "list them in allowed_personal_features")


class PiiScanRule(RuleBase):
    """Fails when a column of the evaluation data holds personal identifiers (e-mail, phone, US SSN, Luhn-valid
    payment card, IP address) in at least ``min_share`` of its sampled non-empty values and the provenance does
    not declare it as personal data.

    Declared personal-data columns that are model features (age in a credit model) are reported facts: the finding
    lists them with the provenance's ``personal_data_justification``. ``personal_features`` says whether their use
    must be justified (``justify``, the default: fails while the evaluation dataset gives no justification, the NIST
    AI RMF asks that such use be known and justified), is only reported (``report``), or is refused (``forbid``).
    Columns in ``allowed_personal_features`` never fail."""

    kind: Literal["pii_scan"]
    detectors: list[Detector] = Field(default_factory=lambda: list(DETECTORS), min_length=1,
                                      description="which kinds of identifier to judge (all are counted)")
    min_share: float = Field(0.05, gt=0, le=1,
                             description="a column holds an identifier when at least this share of its sampled "
                                         "non-empty values contain one")
    personal_features: PersonalFeatures = Field(
        "justify", description="declared personal-data columns used as features: justify (fail without the "
                               "provenance's personal_data_justification), report (list only), forbid (fail)")
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
    justification: str | None = None
    data_ref = evidence.inputs.get("data")
    if evidence.provenance is not None and (ev := evidence.provenance.declared.evaluation_dataset(
            data_ref.sha256 if data_ref else None)) is not None:
        declared, justification = ev[1].personal_data, ev[1].personal_data_justification
    declared_set = set(declared or [])
    flagged: dict[str, dict[str, float]] = {}
    for column, stats in scan.columns.items():
        if not stats.sampled:
            continue
        kinds: dict[str, float] = {k: stats.matches.get(k, 0) / stats.sampled for k in rule.detectors
                 if stats.matches.get(k, 0) and stats.matches.get(k, 0) / stats.sampled >= rule.min_share}
        if kinds:
            flagged[column] = kinds
    undeclared = [c for c in flagged if c not in declared_set]
    features = set(evidence.data.features)
    declared_features = [c for c in (declared or []) if c in features]
    refused = rule.personal_features == "forbid" or (rule.personal_features == "justify" and not justification)
    unjustified = [c for c in declared_features if refused and c not in rule.allowed_personal_features]
    total = scan.rows_total if scan.rows_total is not None else scan.rows_sampled
    details = {"flagged_columns": flagged, "declared_personal_data": declared, "undeclared": undeclared,
               "declared_personal_features": declared_features, "personal_data_justification": justification,
               "personal_data_features": unjustified, "rows_sampled": scan.rows_sampled, "rows_total": total,
               "method": scan.method, "min_share": rule.min_share}

    def describe(col: str) -> str:
        return f"{col} ({', '.join(f'{k} in {_pct(s)}' for k, s in flagged[col].items())} of sampled values)"

    problems = []
    if undeclared:
        where = ("the provenance declares no personal-data columns for the evaluation data" if declared is None
                 else "not declared as personal data in the provenance")
        problems.append(f"{', '.join(describe(c) for c in undeclared)}: {where}")
    if unjustified:
        why = ("the policy forbids personal-data features (list them in allowed_personal_features to allow them)"
               if rule.personal_features == "forbid" else f"their use is not justified: {JUSTIFY_HINT}")
        problems.append(f"declared personal-data column(s) {', '.join(unjustified)} are model features and {why}")
    scanned = f"{scan.rows_sampled} of {total} rows scanned ({', '.join(rule.detectors)})"
    if problems:
        return finding(rule, Status.FAIL, f"{scanned}: " + "; ".join(problems) + ".",
                       observed=len(undeclared) + len(unjustified), threshold=0, **details)
    seen = f"{len(flagged)} column(s) hold personal identifiers, all declared" if flagged else \
        "no column holds personal identifiers"
    if declared_features:
        used = f"declared personal-data features (reported): {', '.join(declared_features)}" + (
            f"; justification: {justification.strip().rstrip('.')}" if justification else "")
    else:
        used = "no declared personal-data column is a model feature"
    return finding(rule, Status.PASS, f"{scanned}: {seen}; {used}.", observed=0, threshold=0, **details)
