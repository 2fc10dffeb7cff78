"""governance.sarif: SARIF 2.1.0 for code scanning: each failing, erring, waived or not-judged rule is a result
located at its rule in the repository's policy file (an inherited pack rule at the ``extends:`` line that pulled
it in), with a fingerprint that stays the same across runs; passing rules are listed in the run's invocation,
not as results, so they never show up as alerts. Locations are relative to the repository root: no machine path.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import PurePosixPath

from .. import __version__
from ..findings import Finding, Status, Verdict

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVEL = {"block": "error", "warn": "warning", "info": "note"}
#: an inconclusive finding's level follows the rule's stance, never above its severity's level
_STANCE_LEVEL = {"block": "error", "warn": "warning", "pass": "none"}
_ORDER = ("none", "note", "warning", "error")
_KIND = {Status.PASS: "pass", Status.FAIL: "fail", Status.ERROR: "fail", Status.INCONCLUSIVE: "review",
         Status.WAIVED: "fail"}


def _uri(file: str) -> str | None:
    """The repository-relative path recorded in the verdict; an absolute one (a verdict from an older version)
    is never published: no location rather than a path on the build machine."""
    p = PurePosixPath(file.replace("\\", "/"))
    return None if p.is_absolute() or ".." in p.parts or ":" in file else p.as_posix()


def fingerprint(release: dict, f: Finding) -> str:
    """Stable across runs and versions of one release's model: the release name, the rule and its kind (and the
    failing slices, so a different slice failing is a new alert)."""
    key = "\x1f".join([str(release.get("name", "")), f.rule_id, f.kind, *sorted(f.failing_slices)])
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def reported(f: Finding) -> bool:
    """Results are what needs a look: failures, errors, waivers, and not-judged rules whose stance is not pass."""
    if f.status == Status.PASS:
        return False
    return f.status != Status.INCONCLUSIVE or _inconclusive_level(f) != "none"


def _inconclusive_level(f: Finding) -> str:
    stance = _STANCE_LEVEL.get(f.on_inconclusive or "pass", "none")
    return min(stance, _LEVEL[f.severity], key=_ORDER.index)


def _result(f: Finding, locations: dict, release: dict) -> dict:
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
    result["partialFingerprints"] = {"governanceFinding/v1": fingerprint(release, f)}
    where = locations.get(f.rule_id)
    uri = _uri(str(where["file"])) if where else None
    if where and uri:
        result["locations"] = [{"physicalLocation": {"artifactLocation": {"uri": uri},
                                                     "region": {"startLine": int(where["line"])}}}]
        if where.get("inherited_from"):
            result["properties"]["inherited_from"] = where["inherited_from"]
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
            "results": [_result(f, locations, verdict.release) for f in verdict.findings if reported(f)],
            "invocations": [{"executionSuccessful": True,
                             "properties": {
                                 "passed": [f.rule_id for f in verdict.findings if f.status == Status.PASS],
                                 "not_judged_accepted": [f.rule_id for f in verdict.findings
                                                         if f.status == Status.INCONCLUSIVE and not reported(f)]}}],
            "properties": {"decision": verdict.decision, "release": verdict.release,
                           "not_judged": [n.model_dump(mode="json") for n in verdict.not_judged]},
        }],
    }
    return json.dumps(doc, indent=2).encode() + b"\n"
