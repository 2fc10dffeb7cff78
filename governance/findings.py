"""Findings and verdicts: frozen data with an outcome enum, and the exit-code table."""

from __future__ import annotations

from datetime import date
from enum import Enum
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Status(str, Enum):
    PASS = "pass"
    FAIL = "fail"
    WAIVED = "waived"
    INCONCLUSIVE = "inconclusive"
    ERROR = "error"


Severity = Literal["block", "warn", "info"]
#: what an ``inconclusive`` finding means for the decision: block the release, warn (reported as not judged,
#: does not block), or pass (explicitly accepted, still listed). Only ``block``-severity rules can block.
OnInconclusive = Literal["block", "warn", "pass"]
#: the most not-judged rules the one-line decision names before "and N more"
NOT_JUDGED_SHOWN = 5
#: a not-judged rule's reason is cut to this many characters in the one-line decision (in full in verdict.json)
REASON_CHARS = 90


class DetailKey:
    """``Finding.details`` keys that code other than the rule writing them reads (engine, renderers). Reading
    through these names (or the ``Finding`` accessors below) keeps a renamed key from silently reading as
    missing; the JSON keys are these strings, unchanged."""

    METRIC: Final = "metric"  # the rule's metric (every rule with a ``metric`` parameter)
    DECIDED_ON: Final = "decided_on"  # "point" or "bound"
    SLICES: Final = "slices"  # slice_metric_drop: one dict per judged slice
    FAILING_SLICES: Final = "failing_slices"  # slice_metric_drop: the names of the failing slices
    THIN_SLICES: Final = "thin_slices"  # slices under the minimum size, named with their values
    SKIPPED_TOO_SMALL: Final = "skipped_too_small"
    WAIVED_STATUS: Final = "waived_status"  # engine: the status a waiver replaced
    WAIVER: Final = "waiver"  # engine: the applied waiver with its state
    EXPIRED_WAIVER: Final = "expired_waiver"  # engine: an expired waiver for this rule (ignored)
    JUDGED: Final = "judged"  # efficiency: quantity (bytes_gzip, nonzero_parameters, latency:<batch>) -> pass/fail


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
    on_inconclusive: OnInconclusive | None = Field(
        None, description="the rule's effective stance on an inconclusive result (its own, else the policy "
                          "default), recorded by the engine; null in verdicts from older versions (never blocks)")

    @property
    def failing_slices(self) -> list[str]:
        """The slices a slice rule failed in (empty for other kinds)."""
        return [str(s) for s in self.details.get(DetailKey.FAILING_SLICES) or []]

    @property
    def waived_status(self) -> str | None:
        """The status a waiver replaced (``None`` unless waived)."""
        value = self.details.get(DetailKey.WAIVED_STATUS)
        return None if value is None else str(value)

    @property
    def waiver(self) -> dict[str, Any]:
        """The applied waiver (approved_by, reason, expires, state), or ``{}`` when none applied."""
        value = self.details.get(DetailKey.WAIVER)
        return value if isinstance(value, dict) else {}

    @property
    def blocks(self) -> bool:
        """A block rule blocks when it fails, errs, or is inconclusive under the ``block`` stance."""
        if self.severity != "block":
            return False
        return self.status in (Status.FAIL, Status.ERROR) or (
            self.status == Status.INCONCLUSIVE and self.on_inconclusive == "block")

    @property
    def not_judged(self) -> bool:
        """A block rule the evidence could not decide: inconclusive or error (also when a waiver covers it)."""
        undecided = (Status.INCONCLUSIVE.value, Status.ERROR.value)
        return self.severity == "block" and (
            self.status.value in undecided
            or (self.status == Status.WAIVED and self.waived_status in undecided))


class NotJudged(BaseModel):
    """One block rule the evidence could not decide, and what the policy made of that."""

    model_config = ConfigDict(frozen=True)
    rule_id: str
    status: Status = Field(description="inconclusive, error, or waived (a waiver covered the undecided rule)")
    on_inconclusive: OnInconclusive | None = Field(description="the rule's stance (an error blocks regardless)")
    blocks: bool = Field(description="whether this rule blocks the release")
    reason: str = Field(description="the finding's message: why it could not be judged")


def not_judged(findings: list[Finding]) -> list[NotJudged]:
    return [NotJudged(rule_id=f.rule_id, status=f.status, on_inconclusive=f.on_inconclusive, blocks=f.blocks,
                      reason=f.message) for f in findings if f.not_judged]


#: a saved verdict whose decision is not its findings' (template: decision, given)
DECISION_DISAGREES = "decision {decision!r} is not what its findings give ({given!r}): the file was edited"


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
    not_judged: list[NotJudged] = Field(default_factory=list, description="every block rule whose finding is "
                                        "inconclusive or error (derived from the findings)")

    @model_validator(mode="after")
    def _decision_follows(self) -> Verdict:
        """The decision is what the findings give: a verdict.json edited to 'pass' over a blocking finding would
        render as a PASS report and a green job."""
        if self.decision != (given := decide(self.findings)):
            raise ValueError(DECISION_DISAGREES.format(decision=self.decision, given=given))
        return self

    @model_validator(mode="after")
    def _derive_not_judged(self) -> Verdict:
        # derived, never trusted from input: the list always matches the findings (frozen, hence __setattr__)
        object.__setattr__(self, "not_judged", not_judged(self.findings))
        return self

    @property
    def blocking(self) -> list[Finding]:
        return [f for f in self.findings if f.blocks]


def decide(findings: list[Finding]) -> Literal["pass", "blocked"]:
    return "blocked" if any(f.blocks for f in findings) else "pass"


def _short(text: str, limit: int = REASON_CHARS) -> str:
    text = " ".join(text.split()).rstrip(".")
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0].rstrip(",;:") + " …"


def _rules_word(n: int) -> str:
    return f"{n} block rule{'s' if n != 1 else ''}"


def not_judged_clause(verdict: Verdict, *, verb: bool = True) -> str:
    """'2 block rules were not judged: FAIR-001 (reason), ...' (without 'were' when ``verb`` is false),
    or '' when every block rule was judged."""
    items = verdict.not_judged
    if not items:
        return ""
    shown = [f"{n.rule_id} ({_short(n.reason)})" for n in items[:NOT_JUDGED_SHOWN]]
    more = f" and {len(items) - NOT_JUDGED_SHOWN} more" if len(items) > NOT_JUDGED_SHOWN else ""
    were = ("were " if len(items) != 1 else "was ") if verb else ""
    return f"{_rules_word(len(items))} {were}not judged: {', '.join(shown)}{more}"


def decision_line(verdict: Verdict) -> str:
    """The one-line decision every output states: PASS / BLOCKED, and which block rules were not judged."""
    if verdict.decision == "pass":
        clause = not_judged_clause(verdict)
        return f"PASS, but {clause}" if clause else "PASS: the candidate may ship"
    head = f"BLOCKED by {', '.join(f.rule_id for f in verdict.blocking)}"
    clause = not_judged_clause(verdict, verb=False)
    return f"{head}; {clause}" if clause else head


class ExitCode(int, Enum):
    """The contract release pipelines script against."""

    SHIP = 0
    BLOCKED = 1
    BAD_INPUT = 2
    INTERNAL = 3


def exit_code(verdict: Verdict) -> ExitCode:
    return ExitCode.BLOCKED if verdict.decision == "blocked" else ExitCode.SHIP
