"""The policy reference, generated from the rules' pydantic models so the docs cannot drift from the code."""

from __future__ import annotations

import inspect
from typing import Any

import yaml
from pydantic.fields import FieldInfo

from .rules import KINDS
from .rules.base import PolicyDefaults, RuleBase

COMMON = set(RuleBase.model_fields)

#: one runnable example per rule kind (a test validates each and requires one for every kind)
EXAMPLES: dict[str, dict[str, Any]] = {
    "metric_drop": {"id": "PERF-001", "kind": "metric_drop", "metric": "accuracy", "max_drop": 0.01,
                    "decide_on": "bound", "severity": "block", "rmf": ["MEASURE 2.3"],
                    "rationale": "Pruning may cost at most one point of accuracy, even at the pessimistic end."},
    "metric_floor": {"id": "PERF-002", "kind": "metric_floor", "metric": "recall", "min": 0.7},
    "metric_ceiling": {"id": "PERF-003", "kind": "metric_ceiling", "metric": "false_positive_rate", "max": 0.1},
    "slice_metric_drop": {"id": "SLICE-001", "kind": "slice_metric_drop", "metric": "accuracy", "by": ["*"],
                          "max_drop": 0.03, "min_slice_size": 50, "multiple_comparisons": "holm"},
    "fairness_gap": {"id": "FAIR-001", "kind": "fairness_gap", "metric": "equalized_odds_difference",
                     "by": ["group"], "max": 0.1, "max_increase": 0.02, "severity": "warn"},
    "agreement": {"id": "AGREE-001", "kind": "agreement", "min": 0.95, "by": ["class"], "min_per_slice": 0.9},
    "calibration": {"id": "CAL-001", "kind": "calibration", "max_ece": 0.05, "max_ece_increase": 0.01},
    "robustness_drop": {"id": "ROB-001", "kind": "robustness_drop", "perturbation": "gaussian", "level": 0.3,
                        "max_extra_drop": 0.02},
    "efficiency": {"id": "EFF-001", "kind": "efficiency", "min_size_reduction": 0.3, "min_speedup": 1.2,
                   "batch_size": 256},
    "distinct_models": {"id": "EFF-002", "kind": "distinct_models", "rmf": ["MEASURE 2.3", "MEASURE 2.12"]},
    "attestation": {"id": "SIGN-001", "kind": "attestation", "roles": ["model-owner", "risk-officer"]},
    "provenance": {"id": "PROV-001", "kind": "provenance", "require": ["source", "license", "consent_basis"],
                   "require_models": ["training_code_revision", "pruning"],
                   "allowed_licenses": ["CC0-1.0", "CC-BY-4.0", "Apache-2.0"], "rmf": ["MAP 4.1", "GOVERN 6.1"]},
    "leakage": {"id": "DATA-001", "kind": "leakage", "roles": ["training", "fine-tuning"], "max_overlap_share": 0.0,
                "rmf": ["MAP 2.3", "MEASURE 2.5"]},
    "pii_scan": {"id": "DATA-002", "kind": "pii_scan", "min_share": 0.05, "rmf": ["MEASURE 2.10", "MAP 4.1"]},
    "data_quality": {"id": "DATA-003", "kind": "data_quality", "max_missing_share": 0.05,
                     "allow_constant": ["country"], "max_duplicate_share": 0.01, "min_class_share": 0.05,
                     "max_class_balance_distance": 0.1, "severity": "warn", "rmf": ["MEASURE 2.1", "MAP 2.3"]},
    "documentation": {"id": "DOC-001", "kind": "documentation",
                      "required_sections": ["primary_uses", "out_of_scope_uses", "limitations",
                                            "ethical_considerations"], "rmf": ["MAP 1.1", "MAP 2.2"]},
    "group_drop": {"id": "LLM-KNOW-001", "kind": "group_drop", "by": ["capability"],
                   "slices": ["knowledge"], "max_drop": 0.02, "min_slice_size": 200,
                   "rmf": ["MEASURE 2.3", "MEASURE 2.5"]},
    "production_agreement": {"id": "PROD-001", "kind": "production_agreement", "min_agreement": 0.95,
                             "max_flip_rate": 0.05, "max_score_js": 0.1, "dimensions": ["group"],
                             "min_slice_rows": 100, "rmf": ["MEASURE 2.3"]},
    "label_free_performance": {"id": "PROD-002", "kind": "label_free_performance", "max_drop": 0.03,
                               "max_ece": 0.05, "dimensions": ["group"], "rmf": ["MEASURE 2.4"]},
    "representativeness": {"id": "REP-001", "kind": "representativeness", "max_feature_distance": 0.1,
                           "drift_threshold": 0.1, "max_drifted_share": 0.5, "max_share_ratio": 2.0,
                           "min_production_rows": 1000, "severity": "block", "rmf": ["MAP 2.3", "MEASURE 2.5"],
                           "rationale": "The evaluation set must look like production, or its verdict does not "
                                        "carry over to the traffic the model will serve."},
}


def _type(field: FieldInfo) -> str:
    text = str(field.annotation).replace("typing.", "")
    for noise in ("<class '", "'>"):
        text = text.replace(noise, "")
    return text


def _default(field: FieldInfo) -> str:
    if field.is_required():
        return "required"
    if field.default_factory is not None:
        return f"`{field.get_default(call_default_factory=True)!r}`"  # our factories take no arguments
    return f"`{field.default!r}`"


def _table(fields: dict[str, FieldInfo], skip: set[str]) -> list[str]:
    rows = ["| key | type | default | meaning |", "|---|---|---|---|"]
    for name, f in fields.items():
        if name in skip:
            continue
        desc = (f.description or "").replace("|", "\\|")
        rows.append(f"| `{name}` | `{_type(f)}` | {_default(f)} | {desc} |")
    return rows


def policy_reference() -> str:
    out: list[Any] = [
        "# Policy reference",
        "",
        "Generated from the code by `governance policy reference` (a test fails if this file is stale).",
        "",
        "## Keys every rule has",
        "",
        *_table(RuleBase.model_fields, set()),
        "",
        "`kind` selects one of the rule kinds below. Unknown keys, unknown kinds and impossible values are",
        "bad input (exit 2), naming the policy file, the rule and the key.",
        "",
        "## `defaults`",
        "",
        *_table(PolicyDefaults.model_fields, set()),
        "",
    ]
    for kind, spec in KINDS.items():
        doc = inspect.getdoc(spec.params) or ""
        example = EXAMPLES.get(kind)
        out += [f"## `{kind}` ({spec.family} rules)", "", doc, "",
                *_table(spec.params.model_fields, COMMON | {"kind"}), ""]
        if example:
            out += ["```yaml", yaml.safe_dump([example], sort_keys=False, width=110).rstrip(), "```", ""]
    out += _monitor_kinds()
    return "\n".join(out).rstrip() + "\n"


def _monitor_kinds() -> list[str]:
    """The kinds of a monitor policy (``governance monitor``, docs/monitoring.md): judged per production window."""
    from .rules.monitor import EXAMPLES as MONITOR_EXAMPLES
    from .rules.monitor import MONITOR_KINDS

    out = ["# Monitor rule kinds", "",
           "A monitor policy (`governance monitor --policy`, default `builtin:monitor`) holds only these kinds; "
           "each judges", "one window of production logs against the release's monitoring.json "
           "([monitoring.md](monitoring.md)).", ""]
    for kind, spec in MONITOR_KINDS.items():
        out += [f"## `{kind}` (monitor rules)", "", inspect.getdoc(spec.params) or "", "",
                *_table(spec.params.model_fields, COMMON | {"kind"}), "",
                "```yaml", yaml.safe_dump([MONITOR_EXAMPLES[kind]], sort_keys=False, width=110).rstrip(), "```", ""]
    return out
