"""governance.sarif: SARIF 2.1.0, so code-scanning views list each finding at its rule in the policy file."""

from __future__ import annotations

import json
from pathlib import Path

from .. import __version__
from ..findings import Finding, Status, Verdict

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVEL = {"block": "error", "warn": "warning", "info": "note"}
_KIND = {Status.PASS: "pass", Status.FAIL: "fail", Status.ERROR: "fail", Status.INCONCLUSIVE: "review",
         Status.WAIVED: "fail"}


def _uri(file: str) -> str:
    """Relative to the working directory (the repository root in CI) where possible, else a file URI."""
    p = Path(file)
    try:
        return p.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return p.resolve().as_uri()


def _result(f: Finding, locations: dict) -> dict:
    failed = f.status in (Status.FAIL, Status.ERROR, Status.WAIVED)
    result: dict = {
        "ruleId": f.rule_id,
        "kind": _KIND[f.status],
        "level": _LEVEL[f.severity] if failed else "none",
        "message": {"text": f"{f.status.value}: {f.message}"},
        "properties": {"status": f.status.value, "severity": f.severity, "observed": f.observed,
                       "threshold": f.threshold, "rmf": f.rmf},
    }
    where = locations.get(f.rule_id)
    if where:
        result["locations"] = [{"physicalLocation": {"artifactLocation": {"uri": _uri(str(where["file"]))},
                                                     "region": {"startLine": int(where["line"])}}}]
    if f.status == Status.WAIVED:
        waiver = f.details.get("waiver") or {}
        result["suppressions"] = [{"kind": "external", "status": "accepted",
                                   "justification": f"{waiver.get('reason', '')} (approved by "
                                                    f"{waiver.get('approved_by', '?')}, expires "
                                                    f"{waiver.get('expires', '?')})"}]
    return result


def sarif(verdict: Verdict) -> bytes:
    locations = verdict.policy.get("locations") or {}
    rules = []
    seen: set[str] = set()
    for f in verdict.findings:
        if f.rule_id in seen:
            continue
        seen.add(f.rule_id)
        rules.append({"id": f.rule_id, "name": f.kind,
                      "shortDescription": {"text": f.rationale or f.kind},
                      "properties": {"rmf": f.rmf, "severity": f.severity},
                      "defaultConfiguration": {"level": _LEVEL[f.severity]}})
    doc = {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "pruning-governance", "version": __version__,
                                "informationUri": "https://doi.org/10.6028/NIST.AI.100-1", "rules": rules}},
            "results": [_result(f, locations) for f in verdict.findings],
            "properties": {"decision": verdict.decision, "release": verdict.release},
        }],
    }
    return json.dumps(doc, indent=2).encode() + b"\n"
