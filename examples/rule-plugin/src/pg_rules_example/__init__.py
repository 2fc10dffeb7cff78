"""An example rule plugin: ``min_evaluation_rows`` fails when the release was judged on too few rows.

A rule kind is a pydantic parameter model (``RuleBase`` plus a ``kind`` literal and its parameters) and a check
function marked with ``@rule``: the same two pieces as every built-in kind in governance/rules/.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from governance.evidence.schema import Evidence
from governance.findings import Finding, Status
from governance.rules.base import PolicyDefaults, RuleBase, finding, rule


class MinEvaluationRows(RuleBase):
    """Fails when the evaluation set has fewer than ``min`` rows: a gate judged on a handful of rows proves little."""

    kind: Literal["min_evaluation_rows"]
    min: int = Field(ge=1, description="the fewest evaluation rows a release may be judged on")


@rule("min_evaluation_rows", MinEvaluationRows)
def min_evaluation_rows(rule: MinEvaluationRows, evidence: Evidence, defaults: PolicyDefaults) -> Finding:
    rows = evidence.data.rows
    if rows >= rule.min:
        return finding(rule, Status.PASS, f"judged on {rows:,} rows, at least the {rule.min:,} required",
                       observed=rows, threshold=rule.min)
    return finding(rule, Status.FAIL, f"judged on only {rows:,} rows, fewer than the {rule.min:,} required",
                   observed=rows, threshold=rule.min)
