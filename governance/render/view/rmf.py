"""NIST AI RMF, in one place: ordering of subcategory ids, the rule -> RMF reference table, the coverage grid."""

from __future__ import annotations

from ...rmf import subcategories

FUNCTIONS = ("GOVERN", "MAP", "MEASURE", "MANAGE")
NO_RMF = "(no RMF reference)"


def rmf_key(ref: str) -> tuple:
    fn, _, num = ref.partition(" ")
    order = FUNCTIONS.index(fn) if fn in FUNCTIONS else len(FUNCTIONS)
    return (order, *(int(p) if p.isdigit() else p for p in num.split(".")))


def references(findings: list[dict]) -> dict:
    """Each rule once with the RMF ids it cites (no repetition of the rule), and the wording of every cited id."""
    rmf = subcategories()
    rows = [{"rule_id": f["rule_id"], "anchor": f["anchor"], "status": f["status"],
             "refs": sorted(f["rmf"], key=rmf_key)} for f in findings]
    cited = sorted({ref for f in findings for ref in f["rmf"]}, key=rmf_key)
    return {"rows": rows,
            "cited": [{"id": ref, "text": rmf.get(ref, {}).get("text", ""),
                       "rules": [f["rule_id"] for f in findings if ref in f["rmf"]]} for ref in cited]}


def by_function(findings: list[dict]) -> list[dict]:
    """Findings grouped by RMF function (a rule citing several functions is in several groups)."""
    rmf = subcategories()
    groups = []
    for fn in (*FUNCTIONS, NO_RMF):
        if fn == NO_RMF:
            rows = [f for f in findings if not f["rmf"]]
        else:
            rows = [f for f in findings if any(ref.split()[0] == fn for ref in f["rmf"])]
        refs = sorted({ref for f in rows for ref in f["rmf"] if ref.split()[0] == fn}, key=rmf_key)
        groups.append({"function": fn, "findings": rows,
                       "subcategories": [{"id": ref, "text": rmf.get(ref, {}).get("text", "")} for ref in refs]})
    return groups


def coverage(findings: list[dict]) -> dict:
    """Which RMF subcategories the policy's rules check automatically, and which need a human attestation."""
    rmf = subcategories()
    rules_for: dict[str, list[str]] = {}
    for f in findings:
        for ref in f["rmf"]:
            rules_for.setdefault(ref, []).append(f["rule_id"])
    functions = []
    for fn in FUNCTIONS:
        rows = [{"id": sid, "text": s["text"], "rules": rules_for.get(sid, []), "automatic": sid in rules_for}
                for sid, s in sorted(rmf.items(), key=lambda kv: rmf_key(kv[0])) if s["function"] == fn]
        functions.append({"function": fn, "rows": rows, "automatic": sum(r["automatic"] for r in rows),
                          "checked": [r for r in rows if r["automatic"]],
                          "attested": [r["id"].partition(" ")[2] for r in rows if not r["automatic"]]})
    automatic = sum(g["automatic"] for g in functions)
    return {"functions": functions, "total": len(rmf), "automatic": automatic, "attestation": len(rmf) - automatic}
