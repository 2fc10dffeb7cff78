"""The template context: evidence + verdict + card facts turned into plain tables, rows and charts.

Templates only format; every number and every decision about what to show is made here, once, so the
Markdown card, the HTML card and the audit report agree. The result is plain data (dicts, lists, str,
numbers and pre-rendered SVG), documented in docs/templates.md. One module per document section:
``findings`` (page 1, every rule, waivers), ``rmf`` (references and coverage), ``measurements``,
``lineage`` (data and lineage), ``frontmatter`` (the Hugging Face metadata); ``common`` holds shared helpers.
"""

from __future__ import annotations

import platform
from typing import Any

from ...card import MISSING, CardFacts, dump_front_matter
from ...evidence.schema import Evidence, FileRef
from ...findings import Status, Verdict, decision_line
from . import lineage, measurements, rmf
from .common import comparison_row, library_version, ordered_metrics
from .findings import NUMERIC_KINDS, finding_view, headline, waivers
from .frontmatter import HF_TASK, front_matter
from .rmf import FUNCTIONS, NO_RMF

__all__ = ["FUNCTIONS", "HF_TASK", "NO_RMF", "NUMERIC_KINDS", "build", "finding_view", "front_matter"]

#: the audit report's table of contents: (anchor, title), in document order
SECTIONS = (("decision", "Decision"), ("rules", "Every rule of the policy"), ("measurements", "Measurements"),
            ("rmf", "NIST AI RMF references"), ("coverage", "NIST AI RMF coverage"), ("waivers", "Waivers"),
            ("signoffs", "Sign-offs"), ("model", "The model"), ("lineage", "Data and lineage"),
            ("provenance", "Provenance"))


def build(evidence: Evidence, verdict: Verdict, card: CardFacts | None, card_file: FileRef | None) -> dict[str, Any]:
    """Everything the templates see (see docs/templates.md)."""
    facts = card or CardFacts()
    findings = [finding_view(f) for f in verdict.findings]
    metrics = measurements.report_metrics(evidence, verdict.findings)
    base, cand = evidence.models["baseline"], evidence.models["candidate"]
    comps = evidence.comparisons.overall if evidence.comparisons else {}
    recovered = evidence.recovery.overall if evidence.recovery else {}  # candidate / baseline (evidence/recovery.py)
    overall = [{**comparison_row(m, base.overall.get(m), cand.overall.get(m), comps.get(m)),
                "recovery": recovered.get(m)} for m in ordered_metrics(cand.overall)]
    tables = measurements.slice_tables(evidence, metrics, measurements.thin_slices(verdict.findings),
                                       measurements.failing_slices(verdict.findings))
    inputs = [{"role": role, **ref.model_dump()} for role, ref in evidence.inputs.items()]
    if card_file is not None and "card" not in evidence.inputs:
        inputs.append({"role": "card", **card_file.model_dump()})
    policy_file = verdict.policy.get("file") or {}
    blocking = [f for f in findings if f["blocks"]]
    fm = front_matter(evidence, facts, overall)
    release = {"name": evidence.release.get("name", MISSING), "version": evidence.release.get("version", MISSING)}
    return {
        "MISSING": MISSING,
        "release": release,
        "title": facts.model_details.name or release["name"],
        "task": evidence.task,
        "decision": verdict.decision,
        "ship": verdict.decision == "pass",
        "headline": headline(verdict, findings, blocking),
        "blocking": blocking,
        "decision_line": decision_line(verdict),
        "not_judged": [n.model_dump(mode="json") for n in verdict.not_judged],
        "findings": findings,
        "summary": {s.value: verdict.summary.get(s.value, 0) for s in Status},
        "by_function": rmf.by_function(findings),
        "rmf_references": rmf.references(findings),
        "waivers": waivers(verdict),
        "coverage": rmf.coverage(findings),
        "sections": [{"anchor": a, "title": t} for a, t in SECTIONS],
        "overall": overall,
        "slice_metrics": metrics,
        "slices": tables,
        "slice_charts": measurements.slice_charts(tables, metrics[0], verdict.findings) if metrics else [],
        "fairness": measurements.fairness(evidence),
        "agreement": measurements.agreement(evidence),
        "paired_tests": measurements.paired_tests(evidence),
        "production": measurements.production(evidence),
        "comparisons": measurements.comparisons(evidence),
        "calibration": measurements.calibration(evidence),
        "efficiency": measurements.efficiency(evidence, verdict.findings),
        "robustness": measurements.robustness(evidence),
        "provenance": lineage.provenance(evidence),
        "leakage": lineage.leakage(evidence),
        "pii": lineage.pii(evidence),
        "documentation": lineage.documentation(evidence),
        "sparsity": measurements.sparsity(evidence),
        "data": {"path": evidence.data.file.path, "sha256": evidence.data.file.sha256, "rows": evidence.data.rows,
                 "target": evidence.data.target, "sensitive": list(evidence.data.sensitive),
                 "features": list(evidence.data.features), "classes": list(evidence.data.classes),
                 "positive_label": evidence.data.positive_label},
        "dimensions": {k: list(v) for k, v in evidence.dimensions.items()},
        "dimensions_skipped": dict(evidence.dimensions_skipped),
        "inputs": inputs,
        "policy": {"name": verdict.policy.get("name", MISSING), "path": policy_file.get("path", MISSING),
                   "sha256": policy_file.get("sha256", MISSING), "bytes": policy_file.get("bytes")},
        "versions": {
            "tool": {**evidence.tool},
            "libraries": dict(evidence.libraries),
            "rendering": {"jinja2": library_version("jinja2"), "weasyprint": library_version("weasyprint"),
                          "python": platform.python_version()},
        },
        "dates": {"measured": evidence.created_at.strftime("%Y-%m-%d %H:%M UTC"),
                  "evaluated_on": verdict.evaluated_on.isoformat()},
        "warnings": list(evidence.warnings),
        "approvals": [dict(a) for a in getattr(evidence, "approvals", None) or []],
        "front_matter": fm,
        "front_matter_yaml": dump_front_matter(fm),
        "card_given": card is not None,
        "card": facts.model_dump(mode="json"),
        "evidence": evidence.model_dump(mode="json"),
        "verdict": verdict.model_dump(mode="json"),
    }
