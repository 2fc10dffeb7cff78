"""Summaries of one gate run for a person or a program (console table, GitHub job summary, ``--json``).

Each is one class in its own module with one method, ``render(result) -> str``, so the CLI (or a user's
orchestrator) picks one from a dict; outcome -> colour/icon tables are keyed by ``Status`` and checked for
exhaustiveness at import, so a new outcome cannot be shown as a KeyError halfway through a run.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol, TypeVar

from ..findings import Status

if TYPE_CHECKING:
    from ..gate import Result

T = TypeVar("T")

#: raised at import when an outcome table misses a Status
MISSING_STATUS = "{table} has no entry for status {missing}: every Status needs one"


class SummaryRenderer(Protocol):
    """A summary of one gate run as text (ends with a newline)."""

    def render(self, result: Result) -> str: ...


def exhaustive(table: Mapping[Status, T], name: str) -> Mapping[Status, T]:
    """``table`` itself, after checking it has an entry for every ``Status``."""
    missing = [s.value for s in Status if s not in table]
    if missing:
        raise TypeError(MISSING_STATUS.format(table=name, missing=", ".join(missing)))
    return table


def split_decision(line: str) -> tuple[str, str]:
    """'PASS, but ...' -> ('PASS', ', but ...'): the decision word is styled, the rest is plain text."""
    word = "PASS" if line.startswith("PASS") else "BLOCKED"
    return word, line[len(word):]
