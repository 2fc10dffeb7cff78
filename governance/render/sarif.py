"""governance.sarif: SARIF 2.1.0, so code-scanning views list each finding at its rule in the policy file."""

from __future__ import annotations

import json
from pathlib import Path

from .. import __version__
from ..findings import Finding, Status, Verdict

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVEL = {"block": "error", "warn": "warning", "info": "note"}
#: an inconclusive finding's level follows the rule's stance, never above its severity's level
_STANCE_LEVEL = {"block": "error", "warn": "warning", "pass": "none"}
_ORDER = ("none", "note", "warning", "error")
_KIND = {Status.PASS: "pass", Status.FAIL: "fail", Status.ERROR: "fail", Status.INCONCLUSIVE: "review",
         Status.WAIVED: "fail"}


def _uri(file: str) -> str:
    """Relative to the working directory (the repository root in CI) where possible, else a file URI."""
    p = Path(file)
    try:
        return p.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return p.resolve().as_uri()


def _inconclusive_level(f: Finding) -> str:
    stance = _STANCE_LEVEL.get(f.on_inconclusive or "pass", "none")
    return min(stance, _LEVEL[f.severity], key=_ORDER.index)


def _result(f: Finding, locations: dict) -> dict:
    failed = f.status in (Status.FAIL, Status.ERROR, Status.WAIVED)
    level = _LEVEL[f.severity] if failed else _inconclusive_level(f) if f.status == Status.INCONCLUSIVE else "none"
    # SARIF: a level other than "none" needs kind "fail"; an accepted (or non-blocking) not-judged stays "review"
    kind = "fail" if f.status == Status.INCONCLUSIVE and level != "none" else _KIND[f.status]
    text = f"not judged (on_inconclusive: {f.on_inconclusive}): {f.message}" if f.status == Status.INCONCLUSIVE \
        else f"{f.status.value}: {f.message}"
    result: dict = {
        "ruleId": f.rule_id,
        "kind": kind,
        "level": level,
        "message": {"text": text},
        "properties": {"status": f.status.value, "severity": f.severity, "observed": f.observed,
                       "threshold": f.threshold, "rmf": f.rmf, "on_inconclusive": f.on_inconclusive,
                       "not_judged": f.not_judged, "blocks": f.blocks},
    }
    where = locations.get(f.rule_id)
    if where:
        result["locations"] = [{"physicalLocation": {"artifactLocation": {"uri": _uri(str(where["file"]))},
                                                     "region": {"startLine": int(where["line"])}}}]
    if f.status == Status.WAIVED:
        waiver = f.waiver
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
            "properties": {"decision": verdict.decision, "release": verdict.release,
                           "not_judged": [n.model_dump(mode="json") for n in verdict.not_judged]},
        }],
    }
    return json.dumps(doc, indent=2).encode() + b"\n"
