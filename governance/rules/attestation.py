"""Human sign-off: named roles approve this exact candidate file before it ships.

A sign-off counts only if it is for the sha256 of the candidate that was evaluated (re-pruning changes the hash and
voids it), is dated on or before the evaluation date (``--today``: a sign-off from the future was not given when the
decision was made) and names a person. The manifest already refuses placeholder names at load time; the rule checks
again because ``governance evaluate`` re-decides on a saved (possibly hand-edited) evidence.json.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import Field

from ..evidence.schema import Evidence
from ..findings import Finding, Status
from ..manifest import placeholder_name
from .base import PolicyDefaults, RuleBase, finding, rule

#: why one declared sign-off does not count (templates: format with ``today``)
OTHER_CANDIDATE = "is for a different candidate file (re-pruned or changed since sign-off)"
FUTURE_DATED = "is dated {date}, after the evaluation date {today}: a sign-off counts from its date on"
NOT_A_DATE = "has no readable date ({date!r})"
NOT_A_PERSON = "names no person ({name!r}): fill in the name of who approved it"


class Attestation(RuleBase):
    """Fails unless each role in ``roles`` has an approval in the manifest's ``approvals`` for the sha256 of the
    candidate file that was evaluated, dated no later than the evaluation date, by a named person (re-pruning
    changes the hash and voids old sign-offs; a sign-off dated in the future does not count)."""

    kind: Literal["attestation"]
    roles: list[str] = Field(min_length=1, description="each role needs an approval of the evaluated candidate")


def _why_not(approval: dict, candidate: str, today: date) -> str | None:
    """None if this sign-off counts, else the reason it does not."""
    if approval.get("candidate_sha256") != candidate:
        return OTHER_CANDIDATE
    name = str(approval.get("name") or "")
    if placeholder_name(name):
        return NOT_A_PERSON.format(name=name)
    try:
        signed = date.fromisoformat(str(approval.get("date")))
    except ValueError:
        return NOT_A_DATE.format(date=approval.get("date"))
    if signed > today:
        return FUTURE_DATED.format(date=signed.isoformat(), today=today.isoformat())
    return None


@rule("attestation", Attestation, dated=True)
def attestation(rule: Attestation, evidence: Evidence, defaults: PolicyDefaults, today: date | None = None) -> Finding:
    """``today`` is the evaluation date the engine passes; without it, the day the evidence was collected."""
    today = today or evidence.created_at.date()
    candidate = evidence.inputs["candidate"].sha256
    valid: dict[str, dict] = {}
    refused: list[dict] = []
    for a in evidence.approvals:
        why = _why_not(a, candidate, today)
        if why is None:
            valid.setdefault(a["role"], a)
        else:
            refused.append({"role": a.get("role"), "name": a.get("name"), "date": a.get("date"), "reason": why})
    missing = [r for r in rule.roles if r not in valid]
    stale = sorted({str(x["role"]) for x in refused if x["reason"] == OTHER_CANDIDATE})
    signed = ", ".join(f"{r} ({valid[r]['name']}, {valid[r]['date']})" for r in rule.roles if r in valid)
    details = {"approved": [valid[r] for r in rule.roles if r in valid], "missing": missing, "stale_roles": stale,
               "not_counted": refused, "candidate_sha256": candidate, "evaluated_on": today.isoformat()}
    if missing:
        reasons = [f"the sign-off by {x['role']} ({x['name']}) {x['reason']}" for x in refused if x["role"] in missing]
        why = f"; {'; '.join(reasons)}" if reasons else ""
        return finding(rule, Status.FAIL, f"missing sign-off by {', '.join(missing)} for candidate "
                                          f"sha256 {candidate[:12]}…{why}." + (f" Signed: {signed}." if signed else ""),
                       observed=float(len(rule.roles) - len(missing)), threshold=float(len(rule.roles)), **details)
    return finding(rule, Status.PASS, f"signed off by {signed} for candidate sha256 {candidate[:12]}….",
                   observed=float(len(rule.roles)), threshold=float(len(rule.roles)), **details)
