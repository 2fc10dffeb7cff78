"""``--json``: the decision, the blocking and not-judged rules and every finding, for scripts."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..gate import Result


class JsonSummary:
    """One JSON object (indented), stable keys: decision, exit_code, out, line, blocking, summary, not_judged,
    findings."""

    def render(self, result: Result) -> str:
        return json.dumps(summary(result), indent=2) + "\n"


def summary(result: Result) -> dict[str, Any]:
    verdict = result.verdict
    return {"decision": verdict.decision, "exit_code": int(result.exit_code), "out": str(result.out),
            "line": result.decision_line,
            "blocking": [f.rule_id for f in verdict.blocking], "summary": verdict.summary,
            "not_judged": [n.model_dump(mode="json") for n in verdict.not_judged],
            "findings": [{"rule_id": f.rule_id, "status": f.status.value, "severity": f.severity,
                          "on_inconclusive": f.on_inconclusive, "observed": f.observed, "threshold": f.threshold,
                          "message": f.message}
                         for f in verdict.findings]}
