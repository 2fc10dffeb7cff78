"""``governance policy explain``: a policy's rules grouped by RMF function, and what no rule covers, as text.

Kept out of the CLI (which only parses and maps exit codes) so a notebook can print the same explanation,
and grouped with the report's RMF view through ``view.rmf`` (one ordering of functions, one "no reference").
"""

from __future__ import annotations

import json

from ..policy import Policy
from ..rmf import subcategories
from .view.rmf import FUNCTIONS, NO_RMF

#: rule fields shown by their own label, not among the rule's parameters
_SHOWN_APART = ("id", "kind", "severity", "rmf", "rationale", "on_inconclusive")


def explain(policy: Policy) -> str:
    """Each rule under every RMF function it cites, with the cited subcategories' wording, then the coverage."""
    rmf = subcategories()
    functions: dict[str, list] = {}
    for r in policy.rules:
        for fn in sorted({ref.split()[0] for ref in r.rmf}) or [NO_RMF]:
            functions.setdefault(fn, []).append(r)
    lines = [f"policy {policy.name}: {len(policy.rules)} rules"]
    for fn in (*FUNCTIONS, NO_RMF):
        if fn not in functions:
            continue
        lines += ["", fn]
        for r in functions[fn]:
            params = {k: v for k, v in r.model_dump().items() if k not in _SHOWN_APART and v not in (None, [], {})}
            stance = r.on_inconclusive or policy.defaults.on_inconclusive  # what "not judged" means for it
            lines.append(f"  {r.id} [{r.severity}; inconclusive: {stance}] {r.kind} {json.dumps(params)}")
            lines += [f"    {ref}: {rmf[ref]['text']}" for ref in r.rmf if ref.startswith(fn)]
    covered = {ref for r in policy.rules for ref in r.rmf}
    left = [ref for ref in rmf if ref not in covered]
    lines += ["", f"covered by rules: {len(covered)} of {len(rmf)} RMF subcategories; left to human attestation: "
                  f"{len(left)}"]
    for fn in FUNCTIONS:
        ids = [ref.split()[1] for ref in left if ref.startswith(fn + " ")]
        if ids:
            lines.append(f"  {fn}: {', '.join(ids)}")
    return "\n".join(lines) + "\n"
