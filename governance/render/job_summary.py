"""The GitHub Actions job summary: Markdown the CLI appends to ``$GITHUB_STEP_SUMMARY``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..findings import Status
from .summary import exhaustive, split_decision

if TYPE_CHECKING:
    from ..gate import Result

#: outcome -> icon in the status column
ICON = exhaustive({Status.PASS: "✅", Status.FAIL: "❌", Status.ERROR: "❌", Status.WAIVED: "⚠️",
                   Status.INCONCLUSIVE: "❔"}, "ICON")
#: a failed or erring warn/info rule: seen, but no red cross, because it does not block the release
NOT_BLOCKING_ICON = "⚠️"


class JobSummary:
    """Heading, decision, the block rules not judged, a table of findings and where the outputs are."""

    def render(self, result: Result) -> str:
        verdict = result.verdict
        name = f"{verdict.release.get('name', '')} {verdict.release.get('version', '')}".strip()
        word, rest = split_decision(result.decision_line)
        lines = [f"### Release gate: {name}", "", f"**{word}**{_md(rest)}", ""]
        if verdict.not_judged:  # which block rules the evidence could not decide, and what the policy made of it
            lines += [f"- {n.rule_id}: not judged ({n.status.value}; "
                      f"{'blocks' if n.blocks else 'on_inconclusive: ' + str(n.on_inconclusive)}): {_md(n.reason)}"
                      for n in verdict.not_judged] + [""]
        lines += ["| rule | status | severity | finding |", "|---|---|---|---|"]
        for f in verdict.findings:
            icon = NOT_BLOCKING_ICON if f.status in (Status.FAIL, Status.ERROR) and not f.blocks else ICON[f.status]
            lines.append(f"| {f.rule_id} | {icon} {f.status.value} | {f.severity} | {_md(f.message)} |")
        lines += ["", f"Outputs (audit report, model card, evidence): `{result.out}`", ""]
        return "\n".join(lines)


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
