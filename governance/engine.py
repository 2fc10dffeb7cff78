"""The policy engine: a pure function of policy, evidence and today's date. No I/O, no models."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import date

from .evidence.schema import Evidence
from .findings import DetailKey, Finding, Status, Verdict, decide
from .policy import Policy, Waiver
from .rules import KINDS, plugin_kinds, rule_kind
from .rules.base import finding
from .rules.regression import task_problem
from .rules.slices import MissingDimension, NoSensitiveColumns
from .rules.stats import NoInterval


def check_rule(rule, evidence: Evidence, policy: Policy, today: date | None = None) -> Finding:
    """Run one rule and record its stance on an inconclusive result, so the decision and every renderer see it."""
    stance = rule.on_inconclusive or policy.defaults.on_inconclusive
    return _run_rule(rule, evidence, policy, today).model_copy(update={"on_inconclusive": stance})


def _run_rule(rule, evidence: Evidence, policy: Policy, today: date | None) -> Finding:
    """A rule that cannot be applied fails closed as ``error`` rather than vanishing."""
    if (why := task_problem(rule, evidence.task)) is not None:  # e.g. calibration on a regression release
        return finding(rule, Status.ERROR, f"cannot apply rule: {why}")
    try:
        kind = rule_kind(rule.kind)  # a dated kind (attestation) also gets the evaluation date
        return kind.check(rule, evidence, policy.defaults, **({"today": today} if kind.dated and today else {}))
    except NoSensitiveColumns as exc:
        return finding(rule, Status.INCONCLUSIVE, f"not judged: {exc}")
    except (MissingDimension, NoInterval) as exc:
        return finding(rule, Status.ERROR, f"cannot apply rule: {exc}")
    except (LookupError, TypeError, ValueError, ZeroDivisionError) as exc:
        return finding(rule, Status.ERROR, f"cannot apply rule: {exc.__class__.__name__}: {exc}")
    except Exception as exc:  # third-party code: whatever a plugin raises is an error finding, not a crash
        if rule.kind in KINDS:
            raise
        return finding(rule, Status.ERROR, PLUGIN_RAISED.format(kind=rule.kind, error=f"{exc.__class__.__name__}: "
                                                                                        f"{exc}"))


#: a plugin's check that raised (template: kind, error): the rule fails closed
PLUGIN_RAISED = "cannot apply rule: the {kind} plugin's check raised {error}"


def _covers(waiver: Waiver, f: Finding) -> bool:
    """A scoped waiver covers a failure only if every failing slice is in its scope."""
    if waiver.scope is None:
        return True
    failing = f.failing_slices
    return bool(failing) and set(failing) <= set(waiver.scope)


def apply_waivers(findings: list[Finding], waivers: Sequence[Waiver], today: date) -> tuple[list[Finding], list[dict]]:
    """Waive failing (or erring) findings under active waivers; expired ones are ignored and reported."""
    states: list[dict] = []
    out = []
    by_rule: dict[str, list[tuple[int, Waiver]]] = {}
    for i, w in enumerate(waivers):
        by_rule.setdefault(w.rule, []).append((i, w))
        states.append({**w.model_dump(mode="json"), "state": "expired" if w.expires < today else "unused"})
    for f in findings:
        if f.status in (Status.FAIL, Status.ERROR) or f.blocks:  # f.blocks: inconclusive under the block stance
            for i, w in by_rule.get(f.rule_id, []):
                if w.expires >= today and _covers(w, f):
                    states[i]["state"] = "applied"
                    note = (f"waived by {w.approved_by} until {w.expires.isoformat()} ({w.reason}); "
                            f"without the waiver: {f.status.value}: ")
                    f = f.model_copy(update={"status": Status.WAIVED, "message": note + f.message,
                                             "details": {**f.details, DetailKey.WAIVED_STATUS: f.status.value,
                                                         DetailKey.WAIVER: states[i]}})
                    break
        out.append(f)
    for i, w in enumerate(waivers):
        if states[i]["state"] == "expired":
            target = next((j for j, f in enumerate(out) if f.rule_id == w.rule), None)
            if target is not None and out[target].status != Status.WAIVED:
                f = out[target]
                out[target] = f.model_copy(update={"details": {**f.details, DetailKey.EXPIRED_WAIVER: states[i]}})
    return out, states


def _plugins_used(policy: Policy) -> dict:
    """``{"plugins": [{kind, distribution, version}]}`` for the plugin kinds the policy uses (none: empty)."""
    installed = plugin_kinds()
    used = sorted({r.kind for r in policy.rules if r.kind in installed})
    return {"plugins": [installed[k].record() for k in used]} if used else {}


def evaluate(policy: Policy, evidence: Evidence, today: date, waivers: Sequence[Waiver] = ()) -> Verdict:
    """The gate decision: findings for every rule, then waivers, then ``blocked`` iff a block rule fails, errs,
    or is inconclusive under the ``block`` stance; ``not_judged`` lists every undecided block rule."""
    findings = [check_rule(r, evidence, policy, today) for r in policy.rules]
    findings, waiver_states = apply_waivers(findings, [*policy.waivers, *waivers], today)
    counts = Counter(f.status.value for f in findings)
    return Verdict(
        decision=decide(findings),
        release=dict(evidence.release),
        policy={"name": policy.name, **_plugins_used(policy)},
        evaluated_on=today,
        summary={s.value: counts.get(s.value, 0) for s in Status},
        findings=findings,
        waivers=waiver_states,
    )


def compatibility_problems(policy: Policy, evidence_sensitive: list[str],
                           task: str | None = None) -> list[tuple[int, str, str]]:
    """Rules that cannot apply to this release: (rule index, field, message). Checked before any model runs."""
    problems = []
    for i, r in enumerate(policy.rules):
        if task is not None and (why := task_problem(r, task)) is not None:
            problems.append((i, "metric" if hasattr(r, "metric") else "kind", why))
            continue
        by = getattr(r, "by", None) or []
        if "class" in by and len(by) > 1:
            problems.append((i, "by", "'class' (slicing by the true label) cannot be combined with other columns"))
        for col in by:
            if col not in evidence_sensitive and col not in ("class", "*"):
                known = ", ".join(evidence_sensitive) or "none"
                problems.append((i, "by", f"column {col!r} is not a sensitive column of the release "
                                          f"(sensitive: {known})"))
    return problems
