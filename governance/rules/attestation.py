"""Human sign-off: named roles approve this exact candidate file before it ships."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ..evidence.schema import Evidence
from ..findings import Finding, Status
from .base import PolicyDefaults, RuleBase, finding, rule


class Attestation(RuleBase):
    """Fails unless each role in ``roles`` has an approval in the manifest's ``approvals`` for the sha256 of the
    candidate file that was evaluated (re-pruning changes the hash and voids old sign-offs)."""

    kind: Literal["attestation"]
    roles: list[str] = Field(min_length=1, description="each role needs an approval of the evaluated candidate")


@rule("attestation", Attestation)
def attestation(rule: Attestation, evidence: Evidence, defaults: PolicyDefaults) -> Finding:
    candidate = evidence.inputs["candidate"].sha256
    valid = {a["role"]: a for a in evidence.approvals if a.get("candidate_sha256") == candidate}
    stale = sorted({a["role"] for a in evidence.approvals if a.get("candidate_sha256") != candidate})
    missing = [r for r in rule.roles if r not in valid]
    signed = ", ".join(f"{r} ({valid[r]['name']}, {valid[r]['date']})" for r in rule.roles if r in valid)
    details = {"approved": [valid[r] for r in rule.roles if r in valid], "missing": missing,
               "stale_roles": stale, "candidate_sha256": candidate}
    if missing:
        why = (f"; approvals by {', '.join(stale)} are for a different candidate file (re-pruned or changed since "
               f"sign-off)" if stale else "")
        return finding(rule, Status.FAIL, f"missing sign-off by {', '.join(missing)} for candidate "
                                          f"sha256 {candidate[:12]}…{why}." + (f" Signed: {signed}." if signed else ""),
                       observed=float(len(rule.roles) - len(missing)), threshold=float(len(rule.roles)), **details)
    return finding(rule, Status.PASS, f"signed off by {signed} for candidate sha256 {candidate[:12]}….",
                   observed=float(len(rule.roles)), threshold=float(len(rule.roles)), **details)
