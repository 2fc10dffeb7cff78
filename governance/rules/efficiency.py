"""Efficiency: the savings that justified pruning, as measured, never as claimed."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from ..evidence.schema import Evidence, ModelEfficiency
from ..findings import DetailKey, Finding, Status
from .base import PolicyDefaults, RuleBase, finding, fmt, rule


class EfficiencyRule(RuleBase):
    """Fails when the measured savings fall short: sparsity, gzip-compressed size reduction, speedup or latency
    at ``batch_size`` (baseline and candidate timed interleaved on the same machine). A candidate larger than the
    baseline fails ``min_size_reduction`` saying by how much. Precomputed predictions (no model file to measure)
    are ``inconclusive``."""

    kind: Literal["efficiency"]
    min_sparsity: float | None = Field(None, ge=0, le=1, description="candidate's fraction of zero parameters")
    min_size_reduction: float | None = Field(None, le=1, description="1 - candidate/baseline gzip-compressed size "
                                                                    "(negative: the candidate is larger)")
    min_speedup: float | None = Field(None, gt=0, description="baseline median latency / candidate median latency")
    max_latency_ms: float | None = Field(None, gt=0, description="candidate median latency at batch_size")
    batch_size: int = Field(1, ge=1, description="the measured batch size that speed and latency refer to")

    @model_validator(mode="after")
    def _a_limit(self) -> EfficiencyRule:
        if all(v is None for v in (self.min_sparsity, self.min_size_reduction, self.min_speedup, self.max_latency_ms)):
            raise ValueError("give at least one of min_sparsity, min_size_reduction, min_speedup, max_latency_ms")
        return self


#: precomputed predictions are score files, not models: their sizes say nothing about what pruning saved
PREDICTIONS = ("the {roles} {verb} precomputed predictions (format predictions): the files measured are score "
               "tables, not models, so what pruning saved was not measured")
LARGER = "the candidate is {pct} larger than the baseline (gzip {cand:,} vs {base:,} bytes): pruning saved nothing"
NO_SMALLER = "the candidate is no smaller than the baseline (gzip {cand:,} vs {base:,} bytes): pruning saved nothing"


def _percent(x: float) -> str:
    """0.19 -> '19%', 0.004 -> '0.4%': enough digits that a small change is never shown as 0%."""
    return f"{x:.0%}" if abs(x) >= 0.01 else f"{x:.1%}"


#: the candidate holds more parameters than the baseline (template: cand, base, scope)
PADDED = ("sparsity over the baseline's {base:,} parameters (the candidate has {cand:,}: zeros in parameters the "
          "baseline lacks save nothing; {scope})")


def judged_sparsity(base: ModelEfficiency, cand: ModelEfficiency) -> tuple[float | None, str]:
    """The candidate's sparsity, and what it is called, never more than 1 - its non-zeros over the baseline's
    parameters: an unused all-zero tensor added to the candidate raised its own sparsity from 0 to 0.99."""
    what = f"sparsity ({cand.sparsity_scope or 'scope not stated'})"
    if (cand.sparsity is None or cand.parameters is None or cand.nonzero_parameters is None or not base.parameters
            or cand.parameters <= base.parameters):
        return cand.sparsity, what
    against = max(0.0, 1.0 - cand.nonzero_parameters / base.parameters)
    if against >= cand.sparsity:
        return cand.sparsity, what
    return against, PADDED.format(scope=cand.sparsity_scope or "scope not stated", base=base.parameters,
                                  cand=cand.parameters)


@rule("efficiency", EfficiencyRule)
def efficiency(rule: EfficiencyRule, evidence: Evidence, defaults: PolicyDefaults) -> Finding:
    eff = evidence.efficiency
    if eff is None:
        return finding(rule, Status.ERROR, "efficiency was not measured in this evidence")
    frozen = [r for r in ("baseline", "candidate") if r in evidence.models
              and evidence.models[r].format == "predictions"]
    if frozen:
        return finding(rule, Status.INCONCLUSIVE, PREDICTIONS.format(
            roles=" and ".join(frozen) + (" models" if len(frozen) > 1 else " model"),
            verb="are" if len(frozen) > 1 else "is"))
    cand, base = eff.models["candidate"], eff.models["baseline"]
    # (what, observed, limit, higher is better, the quantity judged: bytes_gzip, nonzero_parameters, latency:<batch>)
    checks: list[tuple[str, float | None, float, bool, str]] = []
    if rule.min_sparsity is not None:
        sparsity, what = judged_sparsity(base, cand)
        checks.append((what, sparsity, rule.min_sparsity, True, "nonzero_parameters"))
    if rule.min_size_reduction is not None:
        checks.append(("compressed size reduction", eff.size_reduction, rule.min_size_reduction, True, "bytes_gzip"))
    latency = f"latency:{rule.batch_size}"
    if rule.min_speedup is not None:
        checks.append((f"measured speedup at batch {rule.batch_size}", eff.speedup.get(str(rule.batch_size)),
                       rule.min_speedup, True, latency))
    if rule.max_latency_ms is not None:
        lat = next((t.median_ms for t in cand.latency if t.batch_size == rule.batch_size), None)
        checks.append((f"median latency at batch {rule.batch_size} (ms)", lat, rule.max_latency_ms, False, latency))
    missing = [what for what, value, *_ in checks if value is None]
    if missing:
        return finding(rule, Status.ERROR, f"not measured: {', '.join(missing)}")
    measured = [(w, v, lim, hib) for w, v, lim, hib, _ in checks if v is not None]  # all of them (none missing)
    failed = [(w, v, lim, hib) for w, v, lim, hib in measured if (v < lim if hib else v > lim)]
    judged: dict[str, str] = {}  # quantity -> pass | fail (fail wins when two limits judge one quantity)
    for _what, v, lim, hib, quantity in checks:
        bad = v is not None and (v < lim if hib else v > lim)
        judged[quantity] = "fail" if bad or judged.get(quantity) == "fail" else "pass"
    parts = [f"{w} {fmt(v)} ({'>=' if hib else '<='} {fmt(lim)} required)" for w, v, lim, hib in measured]
    msg = "; ".join(parts) + f" on {eff.hardware}."
    first = (failed or measured)[0]
    size = {"bytes_gzip_baseline": base.bytes_gzip, "bytes_gzip_candidate": cand.bytes_gzip,
            "size_reduction": eff.size_reduction, DetailKey.JUDGED: judged}
    if failed:
        head = "efficiency below target"
        if rule.min_size_reduction is not None and eff.size_reduction is not None and eff.size_reduction <= 0:
            template = LARGER if eff.size_reduction < 0 else NO_SMALLER
            head = template.format(pct=_percent(-eff.size_reduction), cand=cand.bytes_gzip, base=base.bytes_gzip)
        return finding(rule, Status.FAIL, f"{head}: {msg}", observed=first[1], threshold=first[2],
                       failed=[w for w, *_ in failed], **size)
    return finding(rule, Status.PASS, f"efficiency as required: {msg}", observed=first[1], threshold=first[2], **size)


# --- a pruning claim against the measured weights (used by the provenance rule: a contradicted claim is false
# paperwork) ---------------------------------------------------------------------------------------------------
#: pruning ``settings`` keys that state the fraction of the model removed, the most specific first
CLAIM_KEYS = ("sparsity", "target_sparsity", "amount")
CLAIM_CONTRADICTED = ("model {name!r} (the candidate) claims pruning {key}: {claim:g}, but the evaluated candidate has "
                      "{measured}: {removed:.1%} of the baseline's weights removed, more than {tolerance:g} short of "
                      "the claim (if only part of the model was pruned, state the whole model's fraction as "
                      "settings.sparsity)")
CLAIM_MATCHES = "the candidate's pruning claim ({key}: {claim:g}) matches the measured {removed:.1%} removed"


def measured_removed(evidence: Evidence) -> tuple[float, str] | None:
    """The fraction of the baseline's weights the candidate no longer has, and how it was measured, or None when the
    models' weights were not counted (trees, precomputed predictions).

    The larger of the candidate's sparsity (zeros: unstructured pruning) and 1 - its non-zero parameters over the
    baseline's (weights cut out: structured pruning), so either kind of pruning is credited."""
    eff = evidence.efficiency
    if eff is None:
        return None
    base, cand = eff.models["baseline"], eff.models["candidate"]
    measured: list[float] = []
    parts: list[str] = []
    if cand.sparsity is not None:
        measured.append(cand.sparsity)
        parts.append(f"sparsity {cand.sparsity:.1%} ({cand.sparsity_scope or 'scope not stated'})")
    if cand.nonzero_parameters is not None and base.nonzero_parameters:
        measured.append(1.0 - cand.nonzero_parameters / base.nonzero_parameters)
        parts.append(f"{cand.nonzero_parameters:,} non-zero parameters against the baseline's "
                     f"{base.nonzero_parameters:,}")
    if not measured:
        return None
    return max(measured), " and ".join(parts)


def pruning_claim(name: str, settings: dict, evidence: Evidence, tolerance: float) -> tuple[bool, str] | None:
    """(contradicted, sentence) for the first fraction in ``settings`` (``CLAIM_KEYS``), or None when there is no
    fractional claim (e.g. ``ccp_alpha``) or nothing measured to hold it against."""
    claim = next(((k, settings[k]) for k in CLAIM_KEYS if isinstance(settings.get(k), float)
                  and 0.0 < settings[k] <= 1.0), None)  # an int amount is a count of weights in torch: not a fraction
    found = measured_removed(evidence) if claim is not None else None
    if claim is None or found is None:
        return None
    (key, value), (removed, measured) = claim, found
    if removed < value - tolerance:
        return True, CLAIM_CONTRADICTED.format(name=name, key=key, claim=value, measured=measured, removed=removed,
                                               tolerance=tolerance)
    return False, CLAIM_MATCHES.format(key=key, claim=value, removed=removed)
