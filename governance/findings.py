"""Findings and verdicts: frozen data with an outcome enum, and the exit-code table."""

from __future__ import annotations

from datetime import date
from enum import Enum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Status(str, Enum):
    PASS = "pass"
    FAIL = "fail"
    WAIVED = "waived"
    INCONCLUSIVE = "inconclusive"
    ERROR = "error"


Severity = Literal["block", "warn", "info"]


class Finding(BaseModel):
    """The result of one rule on the evidence: what was seen, against what, and a sentence for a human."""

    model_config = ConfigDict(frozen=True)
    rule_id: str
    kind: str
    status: Status
    severity: Severity
    rmf: list[str] = Field(default_factory=list)
    observed: float | None = None
    threshold: float | None = None
    message: str
    rationale: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)

    @property
    def blocks(self) -> bool:
        return self.severity == "block" and self.status in (Status.FAIL, Status.ERROR)


class Verdict(BaseModel):
    """All findings plus the gate decision. `blocked` exactly when a block-severity rule fails or errs."""

    model_config = ConfigDict(frozen=True)
    schema_version: Literal["1"] = "1"
    decision: Literal["pass", "blocked"]
    release: dict[str, str] = Field(default_factory=dict)
    policy: dict[str, Any] = Field(default_factory=dict)
    evaluated_on: date
    summary: dict[str, int] = Field(default_factory=dict)
    findings: list[Finding]
    waivers: list[dict[str, Any]] = Field(default_factory=list, description="every waiver with its state: "
                                          "applied, unused, or expired (ignored)")
    inputs: dict[str, Any] = Field(default_factory=dict, description="sha256 of evidence.json and of the "
                                   "policy, manifest, card and provenance files")

    @property
    def blocking(self) -> list[Finding]:
        return [f for f in self.findings if f.blocks]


def decide(findings: list[Finding]) -> Literal["pass", "blocked"]:
    return "blocked" if any(f.blocks for f in findings) else "pass"


class ExitCode(int, Enum):
    """The contract release pipelines script against."""

    SHIP = 0
    BLOCKED = 1
    BAD_INPUT = 2
    INTERNAL = 3


def exit_code(verdict: Verdict) -> ExitCode:
    return ExitCode.BLOCKED if verdict.decision == "blocked" else ExitCode.SHIP
