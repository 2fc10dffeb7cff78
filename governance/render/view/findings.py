"""Page 1 and the findings section: the decision, margins, every rule once, waivers."""

from __future__ import annotations

from typing import Any

from ...findings import DetailKey, Finding, Status, Verdict
from .common import missing

#: rule kinds whose observed value and limit are measurements, so a margin means something; the others
#: (sign-offs, documentation, provenance, personal data) count problems, and "1.0000 past the limit" would not
NUMERIC_KINDS = frozenset({"metric_drop", "metric_floor", "metric_ceiling", "slice_metric_drop", "fairness_gap",
                           "agreement", "calibration", "robustness_drop", "efficiency", "leakage",
                           "distinct_models", "group_drop"})
NO_MARGIN = "—"
VERDICT_WORD = {"pass": "SHIP", "blocked": "BLOCKED"}


def margin(f: Finding) -> tuple[float | None, str]:
    """How far the observed value is from the rule's threshold, on the side the status says it is."""
    if f.kind not in NUMERIC_KINDS or f.observed is None or f.threshold is None:
        return None, NO_MARGIN
    gap = abs(f.observed - f.threshold)
    if f.status == Status.FAIL:
        return gap, f"{gap:.4f} past the limit"
    if f.status == Status.PASS:
        return gap, f"{gap:.4f} inside the limit"
    if f.status == Status.WAIVED:
        return gap, f"{gap:.4f} from the limit"
    return gap, f"{gap:.4f}"


def finding_view(f: Finding) -> dict:
    gap, margin_text = margin(f)
    return {
        "rule_id": f.rule_id,
        "kind": f.kind,
        "status": f.status.value,
        "severity": f.severity,
        "blocks": f.blocks,
        "rmf": list(f.rmf),
        "observed": f.observed,
        "threshold": f.threshold,
        "margin": gap,
        "margin_text": margin_text,
        "numeric": f.kind in NUMERIC_KINDS,
        "message": f.message,
        "rationale": f.rationale,
        "on_inconclusive": f.on_inconclusive,
        "decided_on": f.details.get(DetailKey.DECIDED_ON),
        "details": f.details,
        "anchor": "rule-" + "".join(c if c.isalnum() else "-" for c in f.rule_id),
    }


def headline(verdict: Verdict, findings: list[dict], blocking: list[dict]) -> dict[str, Any]:
    """The decision box: one word, then who blocks (with margins) or what passed; never "BLOCKED: decision blocked"."""
    summary = {s.value: verdict.summary.get(s.value, 0) for s in Status}
    if verdict.decision == "pass":
        parts = [f"{summary['pass']} of {len(findings)} rules passed"]
        if summary["fail"]:
            parts.append(f"{summary['fail']} non-blocking rule{'s' if summary['fail'] > 1 else ''} failed")
        if summary["inconclusive"]:
            parts.append(f"{summary['inconclusive']} inconclusive (too little data: not a pass)")
        if summary["waived"]:
            parts.append(f"{summary['waived']} waived")
        text = "No block-severity rule failed: the candidate may ship. " + "; ".join(parts) + "."
    else:
        named = ", ".join(f["rule_id"] + (f" ({f['margin_text']})" if f["margin"] is not None else f" ({f['status']})")
                          for f in blocking)
        text = f"Blocked by {len(blocking)} rule{'s' if len(blocking) > 1 else ''}: {named}."
    return {"word": VERDICT_WORD.get(verdict.decision, verdict.decision.upper()), "text": text}


_WAIVER_FIELDS = {
    "approved_by": ("approved_by", "approver", "by", "owner"),
    "reason": ("reason", "why", "justification"),
    "expires": ("expires", "expiry", "expires_on", "until"),
}

_WAIVER_STATES = {"applied": "applied (the failure is waived)", "expired": "expired (ignored)",
                  "unused": "unused (nothing to waive)"}


def waivers(verdict: Verdict) -> list[dict]:
    """Waivers as the verdict records them: a ``waivers`` list if it has one, else each finding's ``waiver``."""
    raw: list[tuple[str | None, dict]] = []
    for w in getattr(verdict, "waivers", None) or []:
        w = w.model_dump(mode="json") if hasattr(w, "model_dump") else dict(w)
        raw.append((w.get("rule_id") or w.get("rule"), w))
    if not raw:
        for f in verdict.findings:
            for key in ("waiver", "expired_waiver"):
                w = f.details.get(key)
                if isinstance(w, dict):
                    raw.append((f.rule_id, {**w, "expired": w.get("expired", key == "expired_waiver")}))
    out = []
    for rule_id, w in raw:
        row = {"rule_id": missing(rule_id)}
        for field, keys in _WAIVER_FIELDS.items():
            row[field] = missing(next((str(w[k]) for k in keys if w.get(k) not in (None, "")), None))
        state: str | None = w.get("state")
        if state is None and w.get("expired") is not None:
            state = "expired" if w["expired"] else "applied"
        row["state"] = _WAIVER_STATES.get(state or "", state or "recorded")
        scope = w.get("scope")
        row["scope"] = ", ".join(map(str, scope)) if scope else "the whole rule"
        out.append(row)
    return out
