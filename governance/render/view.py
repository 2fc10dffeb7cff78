"""The template context: evidence + verdict + card facts turned into plain tables, rows and charts.

Templates only format; every number and every decision about what to show is made here, once, so the
Markdown card, the HTML card and the audit report agree. The result is plain data (dicts, lists, str,
numbers and pre-rendered SVG), documented in docs/templates.md.
"""

from __future__ import annotations

import platform
import re
from importlib import metadata
from typing import Any

from markupsafe import Markup

from ..card import MISSING, CardFacts, dump_front_matter
from ..evidence.schema import ROLES, Comparison, Evidence, FileRef
from ..findings import Finding, Status, Verdict, decision_line
from ..metrics import HIGHER_IS_BETTER, METRICS
from ..rmf import subcategories
from . import charts

FUNCTIONS = ("GOVERN", "MAP", "MEASURE", "MANAGE")
NO_RMF = "(no RMF reference)"
#: metrics shown in every per-slice table, ahead of those the policy's findings name
HEADLINE = "accuracy"
#: at most this many metrics side by side in one per-slice table (A4 width)
MAX_SLICE_METRICS = 3
HF_TASK = {"binary_classification": ("tabular-classification", "Binary classification"),
           "multiclass_classification": ("tabular-classification", "Multiclass classification")}


# --- small helpers ---------------------------------------------------------------------------------
def _ci(interval: Any) -> list[float] | None:
    return None if interval is None else [interval.ci_low, interval.ci_high]


def _higher_is_better(metric: str) -> bool:
    return HIGHER_IS_BETTER.get(metric, True)


def _is_worse(metric: str, difference: float | None) -> bool:
    if difference is None:
        return False
    return difference < 0 if _higher_is_better(metric) else difference > 0


def _ordered_metrics(values: dict[str, Any]) -> list[str]:
    known = [m for m in METRICS if m in values]
    extra = [m for m in values if m not in METRICS and m not in ("count", "true_positive_rate")]
    return known + sorted(extra)


def _comparison_row(metric: str, base: float | None, cand: float | None, comp: Comparison | None) -> dict:
    diff = comp.difference if comp is not None else (None if base is None or cand is None else cand - base)
    return {
        "metric": metric,
        "direction": "higher is better" if _higher_is_better(metric) else "lower is better",
        "baseline": base,
        "candidate": cand,
        "difference": diff,
        "baseline_ci": _ci(comp.baseline_ci) if comp else None,
        "candidate_ci": _ci(comp.candidate_ci) if comp else None,
        "difference_ci": _ci(comp.difference_ci) if comp else None,
        "worse": _is_worse(metric, diff),
    }


def _library_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


# --- findings ----------------------------------------------------------------------------------------
def _margin(f: Finding) -> tuple[float | None, str]:
    """How far the observed value is from the rule's threshold, on the side the status says it is."""
    if f.observed is None or f.threshold is None:
        return None, "—"
    gap = abs(f.observed - f.threshold)
    if f.status == Status.FAIL:
        return gap, f"{gap:.4f} past the limit"
    if f.status in (Status.PASS, Status.WAIVED):
        return gap, f"{gap:.4f} inside the limit" if f.status == Status.PASS else f"{gap:.4f} from the limit"
    return gap, f"{gap:.4f}"


def finding_view(f: Finding) -> dict:
    margin, margin_text = _margin(f)
    return {
        "rule_id": f.rule_id,
        "kind": f.kind,
        "status": f.status.value,
        "severity": f.severity,
        "blocks": f.blocks,
        "rmf": list(f.rmf),
        "observed": f.observed,
        "threshold": f.threshold,
        "margin": margin,
        "margin_text": margin_text,
        "message": f.message,
        "rationale": f.rationale,
        "on_inconclusive": f.on_inconclusive,
        "decided_on": f.details.get("decided_on"),
        "details": f.details,
    }


def _by_function(findings: list[dict]) -> list[dict]:
    rmf = subcategories()
    groups = []
    for fn in (*FUNCTIONS, NO_RMF):
        if fn == NO_RMF:
            rows = [f for f in findings if not f["rmf"]]
        else:
            rows = [f for f in findings if any(ref.split()[0] == fn for ref in f["rmf"])]
        refs = sorted({ref for f in rows for ref in f["rmf"] if ref.split()[0] == fn}, key=_rmf_key)
        groups.append({
            "function": fn,
            "findings": rows,
            "subcategories": [{"id": ref, "text": rmf.get(ref, {}).get("text", "")} for ref in refs],
        })
    return groups


def _rmf_key(ref: str) -> tuple:
    fn, _, num = ref.partition(" ")
    order = FUNCTIONS.index(fn) if fn in FUNCTIONS else len(FUNCTIONS)
    return (order, *(int(p) if p.isdigit() else p for p in num.split(".")))


def _coverage(findings: list[dict]) -> dict:
    """Which RMF subcategories the policy's rules check automatically, and which need a human attestation."""
    rmf = subcategories()
    rules_for: dict[str, list[str]] = {}
    for f in findings:
        for ref in f["rmf"]:
            rules_for.setdefault(ref, []).append(f["rule_id"])
    functions = []
    for fn in FUNCTIONS:
        rows = [{"id": sid, "text": s["text"], "rules": rules_for.get(sid, []), "automatic": sid in rules_for}
                for sid, s in sorted(rmf.items(), key=lambda kv: _rmf_key(kv[0])) if s["function"] == fn]
        functions.append({"function": fn, "rows": rows, "automatic": sum(r["automatic"] for r in rows)})
    automatic = sum(g["automatic"] for g in functions)
    return {"functions": functions, "total": len(rmf), "automatic": automatic, "attestation": len(rmf) - automatic}


_WAIVER_FIELDS = {
    "approved_by": ("approved_by", "approver", "by", "owner"),
    "reason": ("reason", "why", "justification"),
    "expires": ("expires", "expiry", "expires_on", "until"),
}


_WAIVER_STATES = {"applied": "applied (the failure is waived)", "expired": "expired (ignored)",
                  "unused": "unused (nothing to waive)"}


def _waivers(verdict: Verdict) -> list[dict]:
    """Waivers as the verdict records them: a ``waivers`` list if it has one, else each finding's ``waiver``."""
    raw: list[tuple[str | None, dict]] = []
    for w in getattr(verdict, "waivers", None) or []:
        w = w.model_dump(mode="json") if hasattr(w, "model_dump") else dict(w)
        raw.append((w.get("rule_id") or w.get("rule"), w))
    if not raw:
        for f in verdict.findings:
            for key in ("waiver", "expired_waiver"):
                w = f.details.get(key)
                if isinstance(w, dict):
                    raw.append((f.rule_id, {**w, "expired": w.get("expired", key == "expired_waiver")}))
    out = []
    for rule_id, w in raw:
        row = {"rule_id": rule_id or MISSING}
        for field, keys in _WAIVER_FIELDS.items():
            row[field] = next((str(w[k]) for k in keys if w.get(k) not in (None, "")), MISSING)
        state = w.get("state")
        if state is None and w.get("expired") is not None:
            state = "expired" if w["expired"] else "applied"
        row["state"] = _WAIVER_STATES.get(state, state or "recorded")
        scope = w.get("scope")
        row["scope"] = ", ".join(map(str, scope)) if scope else "the whole rule"
        out.append(row)
    return out


# --- measurements ------------------------------------------------------------------------------------
def _report_metrics(evidence: Evidence, findings: list[Finding]) -> list[str]:
    """The headline metric plus every slice metric a finding talks about, in METRICS order."""
    slice_values = next((v for dim in evidence.models["candidate"].slices.values() for v in dim.values()), {})
    available = _ordered_metrics(slice_values or evidence.models["candidate"].overall)
    text = " ".join(f.message for f in findings)
    named = [m for m in available if re.search(rf"(?<![A-Za-z0-9_]){re.escape(m)}(?![A-Za-z0-9_])", text)]
    chosen = ([HEADLINE] if HEADLINE in available else []) + [m for m in named if m != HEADLINE]
    return (chosen or available[:1])[:MAX_SLICE_METRICS]


def _thin_slices(findings: list[Finding]) -> set[str]:
    named = {str(t["slice"]) for f in findings for t in f.details.get("thin_slices", []) or [] if isinstance(t, dict)}
    return named | {str(s) for f in findings for s in f.details.get("skipped_too_small", []) or []
                    if not isinstance(s, dict)}


def _slice_tables(evidence: Evidence, metrics: list[str], thin: set[str]) -> list[dict]:
    base, cand = evidence.models["baseline"], evidence.models["candidate"]
    comps = evidence.comparisons.slices if evidence.comparisons else {}
    tables = []
    for dim, values in cand.slices.items():
        rows = []
        for value, cvals in values.items():
            bvals = base.slices.get(dim, {}).get(value, {})
            comp = comps.get(dim, {}).get(value, {})
            rows.append({
                "value": value,
                "count": cvals.get("count"),
                "thin": f"{dim}={value}" in thin,
                "metrics": {m: _comparison_row(m, bvals.get(m), cvals.get(m), comp.get(m)) for m in metrics},
            })
        tables.append({"dimension": dim, "columns": evidence.dimensions.get(dim, [dim]), "rows": rows})
    return tables


def _fairness(evidence: Evidence) -> list[dict]:
    base, cand = evidence.models["baseline"].fairness, evidence.models["candidate"].fairness
    rows = []
    for dim, gaps in cand.items():
        for gap, c in gaps.items():
            b = base.get(dim, {}).get(gap)
            rows.append({"dimension": dim, "gap": gap, "baseline": b, "candidate": c,
                         "change": None if b is None or c is None else c - b})
    return rows


def _agreement(evidence: Evidence) -> dict:
    a = evidence.agreement
    slices = [{"dimension": dim, "value": value, **{k: v for k, v in stats.items()}}
              for dim, values in a.slices.items() for value, stats in values.items()]
    return {"rows": a.rows, "same_prediction": a.same_prediction, "fixed": a.fixed, "broken": a.broken,
            "max_abs_score_difference": a.max_abs_score_difference, "slices": slices,
            "broken_examples": list(a.broken_examples)}


def _calibration(evidence: Evidence) -> dict | None:
    cal = evidence.calibration
    if cal is None:
        return None
    models = [{"model": role, "count": s.count, "ece": s.ece, "brier": s.brier}
              for role, s in cal.models.items()]
    slices = [{"dimension": dim, "value": value,
               **{f"{role}_{k}": getattr(stats.get(role), k, None) for role in ("baseline", "candidate")
                  for k in ("ece", "brier")}}
              for dim, values in cal.slices.items() for value, stats in values.items()]
    curves = []
    for role, colour in (("baseline", charts.BASELINE), ("candidate", charts.CANDIDATE)):
        rel = cal.models[role].reliability if role in cal.models else None
        if rel is not None:
            pts = [(m, a, n) for m, a, n in zip(rel.mean_confidence, rel.accuracy, rel.count)
                   if m is not None and a is not None]
            curves.append(charts.Curve(role, colour, pts))
    chart = Markup(charts.reliability_chart(curves, cal.score)) if curves else None
    return {"bins": cal.bins, "score": cal.score, "models": models, "slices": slices, "chart": chart}


def _ratio(num: float | int | None, den: float | int | None) -> float | None:
    return None if num is None or not den else num / den


def _efficiency(evidence: Evidence) -> dict | None:
    eff = evidence.efficiency
    if eff is None:
        return None
    b, c = eff.models.get("baseline"), eff.models.get("candidate")
    fields = [("parameters", "parameters"), ("nonzero_parameters", "non-zero parameters"),
              ("sparsity", "sparsity"), ("macs_dense", "multiply-adds per row (dense)"),
              ("macs_effective", "multiply-adds per row (non-zero weights)"), ("bytes", "file size (bytes)"),
              ("bytes_gzip", "gzip size (bytes)")]
    rows = [{"quantity": label, "baseline": getattr(b, key, None), "candidate": getattr(c, key, None),
             "ratio": None if key == "sparsity" else _ratio(getattr(c, key, None), getattr(b, key, None))}
            for key, label in fields]
    latency = []
    for lb in (b.latency if b else []):
        lc = next((x for x in (c.latency if c else []) if x.batch_size == lb.batch_size), None)
        latency.append({"batch_size": lb.batch_size, "repeats": lb.repeats,
                        "baseline_median_ms": lb.median_ms, "candidate_median_ms": lc.median_ms if lc else None,
                        "baseline_p95_ms": lb.p95_ms, "candidate_p95_ms": lc.p95_ms if lc else None,
                        "speedup": eff.speedup.get(str(lb.batch_size), _ratio(lb.median_ms, lc.median_ms if lc else None))})
    short = {"non-zero parameters": "non-zero parameters", "multiply-adds per row (non-zero weights)":
             "multiply-adds (non-zero)", "gzip size (bytes)": "size (gzip)"}
    bars = [(short[r["quantity"]], r["ratio"]) for r in rows if r["ratio"] is not None and r["quantity"] in short]
    bars += [(f"median latency, batch {x['batch_size']}", 1 / x["speedup"]) for x in latency if x["speedup"]]
    return {
        "device": eff.device, "hardware": eff.hardware, "method": eff.method,
        "compression_ratio": eff.compression_ratio, "size_reduction": eff.size_reduction,
        "rows": rows, "latency": latency,
        "sparsity_scope": getattr(c, "sparsity_scope", None),
        "chart": Markup(charts.ratio_chart(bars)) if bars else None,
    }


def _robustness(evidence: Evidence) -> dict | None:
    rob = evidence.robustness
    if rob is None:
        return None
    rows = [{"perturbation": lv.perturbation, "level": lv.level, "rows": lv.rows,
             "baseline_accuracy": lv.accuracy.get("baseline"), "candidate_accuracy": lv.accuracy.get("candidate"),
             "baseline_drop": lv.drop.get("baseline"), "candidate_drop": lv.drop.get("candidate"),
             "extra_drop": lv.extra_drop} for lv in rob.levels]
    return {"seed": rob.seed, "features": list(rob.features), "rows": rows, "feature_std": dict(rob.feature_std),
            "std_source": rob.std_source, "notes": list(rob.notes), "unperturbed": dict(rob.unperturbed)}


# --- data and lineage ----------------------------------------------------------------------------------
#: characters of a sha256 shown where the full hash would not fit (the input-files table has the full ones)
SHORT_HASH = 12


def _period(period: Any) -> str | None:
    if period is None:
        return None
    start, end = period.start, period.end
    if start is not None and end is not None:
        return start.isoformat() if start == end else f"{start.isoformat()} to {end.isoformat()}"
    return f"from {start.isoformat()}" if start is not None else f"until {end.isoformat()}"


def _settings(settings: dict[str, Any]) -> str:
    return ", ".join(f"{k} = {v}" for k, v in settings.items())


def _file_check(name: str, declared: Any, prov: Any) -> dict:
    """A declared dataset's local file: declared vs measured sha256 (match True/False, None: not comparable)."""
    found = prov.files.get(name)
    measured = found.sha256 if found is not None else None
    match = None if measured is None or declared.sha256 is None else measured == declared.sha256
    if found is not None:
        state = ("matches the declared sha256" if match else "differs from the declared sha256" if match is False
                 else "hashed; no sha256 declared to compare")
    elif name in prov.unavailable:
        state = f"unavailable: {prov.unavailable[name]}"
    elif declared.path is None:
        state = "no local file (uri only): not hashed"
    else:
        state = "not hashed"
    return {"declared_sha256": declared.sha256, "measured_sha256": measured, "hash_match": match,
            "unavailable": prov.unavailable.get(name), "file_state": state}


def _provenance(evidence: Evidence) -> dict | None:
    prov = evidence.provenance
    if prov is None:
        return None
    decl = prov.declared
    evaluated = decl.evaluation_dataset(evidence.data.file.sha256)
    datasets = []
    for name, d in decl.datasets.items():
        datasets.append({
            "name": name, "role": d.role, "evaluated": evaluated is not None and evaluated[0] == name,
            "path": d.path, "uri": d.uri, "description": d.description, "source": d.source, "license": d.license,
            "collection_period": _period(d.collection_period), "consent_basis": d.consent_basis,
            "personal_data": None if d.personal_data is None else list(d.personal_data),
            **_file_check(name, d, prov),
        })
    roles = {evidence.models[r].file.sha256: r for r in ROLES if r in evidence.models}
    names = {m.sha256: n for n, m in decl.models.items()}
    models = []
    for name, mdl in decl.models.items():
        models.append({
            "name": name, "sha256": mdl.sha256, "sha256_short": mdl.sha256[:SHORT_HASH],
            "evaluated_as": roles.get(mdl.sha256),
            "parent": mdl.parent, "parent_short": mdl.parent[:SHORT_HASH] if mdl.parent else None,
            "parent_name": names.get(mdl.parent) if mdl.parent else None,
            "pruning_method": mdl.pruning.method if mdl.pruning else None,
            "pruning_settings": _settings(mdl.pruning.settings) if mdl.pruning else None,
            "license": mdl.license, "training_code_revision": mdl.training_code_revision,
            "datasets": list(mdl.datasets),
        })
    unmatched = [role for sha, role in roles.items() if sha not in names]
    if evaluated is None:
        unmatched.insert(0, "data")
    return {"file": prov.file.model_dump(), "datasets": datasets, "models": models, "unmatched": unmatched}


def _leakage(evidence: Evidence) -> dict | None:
    leak = evidence.leakage
    if leak is None:
        return None
    rows = [{"name": name, "role": s.role, "path": s.file.path if s.file else None, "rows": s.rows,
             "overlap_rows": s.overlap_rows, "overlap_share": s.overlap_share, "problem": s.problem,
             "sample_overlap_share": s.sample_overlap_share, "chance_share": s.chance_share}
            for name, s in leak.datasets.items()]
    return {"method": leak.method, "columns": list(leak.columns), "evaluation_rows": leak.evaluation_rows,
            "evaluation_distinct_rows": leak.evaluation_distinct_rows, "datasets": rows, "key": leak.key,
            "duplicated_rows": leak.duplicated_rows, "duplicated_share": leak.duplicated_share}


def _pii(evidence: Evidence) -> dict | None:
    scan = evidence.pii
    if scan is None:
        return None
    flagged = [{"column": col, "sampled": c.sampled, "matches": {k: v for k, v in c.matches.items() if v}}
               for col, c in scan.columns.items() if any(c.matches.values())]
    return {"method": scan.method, "detectors": list(scan.detectors), "rows_sampled": scan.rows_sampled,
            "rows_total": scan.rows_total,
            "scanned": list(scan.columns), "flagged": flagged, "not_scanned": list(scan.not_scanned)}


def _documentation(evidence: Evidence) -> dict | None:
    doc = evidence.documentation
    if doc is None:
        return None
    groups: dict[str, dict] = {}
    for path, filled in doc.sections.items():
        top, _, rest = path.partition(".")
        group = groups.setdefault(top, {"section": top, "filled": filled, "fields": 0, "missing": []})
        if not rest:
            group["filled"] = filled
            continue
        group["fields"] += 1
        if not filled:
            group["missing"].append(rest)
    return {"card_file": doc.card_file.model_dump() if doc.card_file else None, "sections": list(groups.values()),
            "filled": sum(doc.sections.values()), "total": len(doc.sections)}


def _slice_charts(tables: list[dict], metric: str) -> list[dict]:
    out = []
    for t in tables:
        points = [charts.Point(
            label=r["value"], baseline=r["metrics"][metric]["baseline"], candidate=r["metrics"][metric]["candidate"],
            baseline_ci=_tuple(r["metrics"][metric]["baseline_ci"]),
            candidate_ci=_tuple(r["metrics"][metric]["candidate_ci"]),
            worse=r["metrics"][metric]["worse"]) for r in t["rows"]]
        out.append({"dimension": t["dimension"], "metric": metric,
                    "svg": Markup(charts.slice_chart(points, metric))})
    return out


def _tuple(ci: list[float] | None) -> tuple[float, float] | None:
    return None if ci is None else (ci[0], ci[1])


def _sparsity(evidence: Evidence) -> dict:
    """Measured sparsity of the candidate: from the efficiency section, else from the adapter's description."""
    eff = evidence.efficiency.models.get("candidate") if evidence.efficiency else None
    if eff is not None and eff.sparsity is not None:
        return {"value": eff.sparsity, "scope": eff.sparsity_scope}
    d = evidence.models["candidate"].description
    params, nonzero = d.get("parameters"), d.get("nonzero_parameters")
    if params and nonzero is not None:
        return {"value": 1 - nonzero / params, "scope": "all parameters"}
    return {"value": None, "scope": None}


# --- Hugging Face front matter ---------------------------------------------------------------------
def front_matter(evidence: Evidence, card: CardFacts, overall: list[dict]) -> dict[str, Any]:
    """The model card's YAML front matter, in the key order huggingface_hub writes back."""
    md = card.model_details
    data: dict[str, Any] = {}
    if md.license:
        data["license"] = md.license
    if card.language:
        data["language"] = list(card.language)
    tags = ["pruned", "pruning-governance", evidence.task.replace("_", "-")] + list(card.tags)
    data["tags"] = list(dict.fromkeys(tags))
    if md.base_model:
        data["base_model"] = md.base_model
    datasets = list(dict.fromkeys([*card.training_data.datasets, *card.evaluation_data.datasets]))
    if datasets:
        data["datasets"] = datasets
    measured = [r for r in overall if r["candidate"] is not None]
    data["metrics"] = [r["metric"] for r in measured]
    task_type, task_name = HF_TASK[evidence.task]
    dataset_id = card.evaluation_data.datasets[0] if card.evaluation_data.datasets else evidence.data.file.path
    metrics = []
    for r in measured:
        metrics.append({"type": r["metric"], "value": round(float(r["candidate"]), 4),
                        "name": f"{r['metric']} (candidate, pruned)"})
        if r["baseline"] is not None:
            metrics.append({"type": r["metric"], "value": round(float(r["baseline"]), 4),
                            "name": f"{r['metric']} (baseline, before pruning)"})
    name = md.name or evidence.release.get("name", "model")
    data["model-index"] = [{
        "name": name,
        "results": [{
            "task": {"type": task_type, "name": task_name},
            "dataset": {"name": f"evaluation data ({evidence.data.file.path}, {evidence.data.rows} rows)",
                        "type": dataset_id, "split": "evaluation"},
            "metrics": metrics,
        }],
    }]
    return data


# --- the whole context -------------------------------------------------------------------------------
def build(evidence: Evidence, verdict: Verdict, card: CardFacts | None, card_file: FileRef | None) -> dict[str, Any]:
    """Everything the templates see (see docs/templates.md)."""
    facts = card or CardFacts()
    findings = [finding_view(f) for f in verdict.findings]
    metrics = _report_metrics(evidence, verdict.findings)
    base, cand = evidence.models["baseline"], evidence.models["candidate"]
    comps = evidence.comparisons.overall if evidence.comparisons else {}
    overall = [_comparison_row(m, base.overall.get(m), cand.overall.get(m), comps.get(m))
               for m in _ordered_metrics(cand.overall)]
    tables = _slice_tables(evidence, metrics, _thin_slices(verdict.findings))
    inputs = [{"role": role, **ref.model_dump()} for role, ref in evidence.inputs.items()]
    if card_file is not None and "card" not in evidence.inputs:
        inputs.append({"role": "card", **card_file.model_dump()})
    policy_file = verdict.policy.get("file") or {}
    blocking = [f for f in findings if f["blocks"]]
    fm = front_matter(evidence, facts, overall)
    release = {"name": evidence.release.get("name", MISSING), "version": evidence.release.get("version", MISSING)}
    return {
        "MISSING": MISSING,
        "release": release,
        "title": facts.model_details.name or release["name"],
        "task": evidence.task,
        "decision": verdict.decision,
        "ship": verdict.decision == "pass",
        "blocking": blocking,
        "decision_line": decision_line(verdict),
        "not_judged": [n.model_dump(mode="json") for n in verdict.not_judged],
        "findings": findings,
        "summary": {s.value: verdict.summary.get(s.value, 0) for s in Status},
        "by_function": _by_function(findings),
        "waivers": _waivers(verdict),
        "coverage": _coverage(findings),
        "overall": overall,
        "slice_metrics": metrics,
        "slices": tables,
        "slice_charts": _slice_charts(tables, metrics[0]) if metrics else [],
        "fairness": _fairness(evidence),
        "agreement": _agreement(evidence),
        "comparisons": None if evidence.comparisons is None else {
            "method": evidence.comparisons.method, "resamples": evidence.comparisons.resamples,
            "seed": evidence.comparisons.seed, "confidence": evidence.comparisons.confidence},
        "calibration": _calibration(evidence),
        "efficiency": _efficiency(evidence),
        "robustness": _robustness(evidence),
        "provenance": _provenance(evidence),
        "leakage": _leakage(evidence),
        "pii": _pii(evidence),
        "documentation": _documentation(evidence),
        "sparsity": _sparsity(evidence),
        "data": {"path": evidence.data.file.path, "sha256": evidence.data.file.sha256, "rows": evidence.data.rows,
                 "target": evidence.data.target, "sensitive": list(evidence.data.sensitive),
                 "features": list(evidence.data.features), "classes": list(evidence.data.classes),
                 "positive_label": evidence.data.positive_label},
        "dimensions": {k: list(v) for k, v in evidence.dimensions.items()},
        "inputs": inputs,
        "policy": {"name": verdict.policy.get("name", MISSING), "path": policy_file.get("path", MISSING),
                   "sha256": policy_file.get("sha256", MISSING), "bytes": policy_file.get("bytes")},
        "versions": {
            "tool": {**evidence.tool},
            "libraries": dict(evidence.libraries),
            "rendering": {"jinja2": _library_version("jinja2"), "weasyprint": _library_version("weasyprint"),
                          "python": platform.python_version()},
        },
        "dates": {"measured": evidence.created_at.strftime("%Y-%m-%d %H:%M UTC"),
                  "evaluated_on": verdict.evaluated_on.isoformat()},
        "warnings": list(evidence.warnings),
        "approvals": [dict(a) for a in getattr(evidence, "approvals", None) or []],
        "front_matter": fm,
        "front_matter_yaml": dump_front_matter(fm),
        "card_given": card is not None,
        "card": facts.model_dump(mode="json"),
        "evidence": evidence.model_dump(mode="json"),
        "verdict": verdict.model_dump(mode="json"),
    }
