"""The console summary of ``governance check``/``evaluate``: a table of findings and the decision line."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, NoReturn

from ..findings import Status
from .summary import exhaustive, split_decision

if TYPE_CHECKING:
    from rich.console import Console

    from ..gate import Result

#: outcome -> rich colour of its status cell
COLOUR = exhaustive({Status.PASS: "green", Status.FAIL: "red", Status.ERROR: "red", Status.WAIVED: "yellow",
                     Status.INCONCLUSIVE: "yellow"}, "COLOUR")
#: a failed or erring rule that does not block (warn/info severity): not shown as red
NOT_BLOCKING_COLOUR = "yellow"
COLUMNS = ("rule", "status", "severity", "observed", "threshold", "finding")
#: a CI log (stdout not a terminal) gets a findings list this wide, words never split, instead of the table
LOG_WIDTH = 120


class ConsoleSummary:
    """The findings table (unless ``quiet``) and one decision line, as ``console`` would print them."""

    def __init__(self, *, quiet: bool = False, console: Console | None = None) -> None:
        self.quiet = quiet
        self.console = console

    def render(self, result: Result) -> str:
        from rich.console import Console
        from rich.markup import escape
        from rich.table import Table

        console = self.console or Console(highlight=False)
        verdict = result.verdict
        if not console.is_terminal:  # a CI log: a list that reads at 120 columns, then the same decision line
            head = "" if self.quiet else findings_list(result)
            return head + result.decision_line + f"  (outputs in {result.out})\n"
        with console.capture() as captured:
            if not self.quiet:
                table = Table(title=f"{verdict.release.get('name', '')} {verdict.release.get('version', '')}".strip())
                for col in COLUMNS:
                    table.add_column(col, overflow="fold")
                for f in verdict.findings:
                    quiet_fail = f.status in (Status.FAIL, Status.ERROR) and not f.blocks
                    colour = NOT_BLOCKING_COLOUR if quiet_fail else COLOUR[f.status]
                    table.add_row(f.rule_id, f"[{colour}]{f.status.value}[/]", f.severity,
                                  "" if f.observed is None else f"{f.observed:.4f}",
                                  "" if f.threshold is None else f"{f.threshold:.4f}", f.message)
                console.print(table)
            word, rest = split_decision(result.decision_line)
            # one line, never wrapped, so scripts can grep it; finding text may hold '[' (intervals): escaped
            where = escape(str(result.out))
            console.print(f"[{_style(verdict.decision)}]{word}[/]{escape(rest)}  (outputs in {where})", soft_wrap=True)
        return captured.get()


def findings_list(result: Result, width: int = LOG_WIDTH) -> str:
    """One line per rule (id, status, severity, observed vs threshold), its finding indented below, wrapped at
    ``width`` without splitting a word: what a CI log shows instead of a table folded to 80 columns."""
    import textwrap

    verdict = result.verdict
    title = f"{verdict.release.get('name', '')} {verdict.release.get('version', '')}".strip()
    lines = [title] if title else []
    for f in verdict.findings:
        numbers = ""
        if f.observed is not None or f.threshold is not None:
            observed = "n/a" if f.observed is None else f"{f.observed:.4f}"
            threshold = "n/a" if f.threshold is None else f"{f.threshold:.4f}"
            numbers = f"  observed {observed}, threshold {threshold}"
        blocks = "" if f.status == Status.PASS else ("  BLOCKS" if f.blocks else "  does not block")
        lines.append(f"{f.rule_id}  {f.status.value.upper()}  [{f.severity}]{numbers}{blocks}")
        lines += textwrap.wrap(f.message, width=width, initial_indent="    ", subsequent_indent="    ",
                               break_long_words=False, break_on_hyphens=False)
    return "\n".join(lines) + "\n\n"


def _style(decision: Literal["pass", "blocked"]) -> str:
    match decision:
        case "pass":
            return "bold green"
        case "blocked":
            return "bold red"
        case _:
            _unreachable(decision)


def _unreachable(value: NoReturn) -> NoReturn:
    """``typing.assert_never`` (3.11+) for 3.10: mypy reports a decision the match above does not handle."""
    raise AssertionError(f"unhandled decision: {value!r}")
