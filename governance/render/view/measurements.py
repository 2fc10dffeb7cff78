"""The measurements section: overall and per-slice tables, drop charts, fairness, agreement, calibration,
efficiency and robustness. Which metrics and which limits a chart shows come from the findings' details
(``metric``, ``slices``, ``failing_slices``, ``thin_slices``), never from their messages."""

from __future__ import annotations

import math
from typing import Any

from markupsafe import Markup

from ...evidence.schema import Evidence
from ...findings import DetailKey, Finding
from .. import charts
from .common import comparison_row, higher_is_better, ordered_metrics

#: metrics shown in every per-slice table, ahead of those the policy's findings name
HEADLINE = "accuracy"
#: at most this many metrics side by side in one per-slice table (A4 width)
MAX_SLICE_METRICS = 3
#: rule kinds that judge each slice of a metric, so the per-slice tables show their metric
SLICE_KINDS = frozenset({"slice_metric_drop"})
#: reliability bins with fewer rows than this are left out of the chart (their accuracy is noise)
MIN_BIN_COUNT = 10
#: per dimension the documents show at most this many slices (the worst drops) plus every failing slice;
#: evidence.json keeps them all, so the audit PDF stays short whatever the slice count
SHOWN_PER_DIMENSION = 20
#: ... and at most this many failing slices per dimension (the worst), so thousands of failures stay readable
FAILING_SHOWN_PER_DIMENSION = 100
#: ... and at most this many thin slices (too few rows to judge) a rule named, the worst drops first
THIN_SHOWN_PER_DIMENSION = 20


def report_metrics(evidence: Evidence, findings: list[Finding]) -> list[str]:
    """The headline metric plus the metric of every rule that judges slices (its ``metric`` detail), in METRICS
    order; overall-only rules' metrics are in the overall table."""
    slice_values = next((v for dim in evidence.models["candidate"].slices.values() for v in dim.values()), {})
    available = ordered_metrics(slice_values or evidence.models["candidate"].overall)
    named = {f.details.get(DetailKey.METRIC) for f in findings if f.kind in SLICE_KINDS}
    chosen = ([HEADLINE] if HEADLINE in available else []) + [m for m in available if m in named and m != HEADLINE]
    return (chosen or available[:1])[:MAX_SLICE_METRICS]


def thin_slices(findings: list[Finding]) -> set[str]:
    named = {str(t["slice"]) for f in findings for t in f.details.get(DetailKey.THIN_SLICES, []) or []
             if isinstance(t, dict)}
    return named | {str(s) for f in findings for s in f.details.get(DetailKey.SKIPPED_TOO_SMALL, []) or []
                    if not isinstance(s, dict)}


def failing_slices(findings: list[Finding]) -> set[str]:
    """Every slice (``dim=value``) a rule failed: always shown, however many slices there are."""
    return {str(s) for f in findings for s in f.details.get(DetailKey.FAILING_SLICES, []) or []}


def _difference(metric: str | None, base: dict, cand: dict, comp: dict) -> float | None:
    """:func:`comparison_row`'s difference (candidate - baseline, or the interval's) without building the row."""
    if metric is None:
        return None
    c = comp.get(metric)
    if c is not None:
        return c.difference
    b, v = base.get(metric), cand.get(metric)
    return None if b is None or v is None else v - b


def _worst_first(rows: list[dict], metric: str | None) -> list[dict]:
    """Largest drop in ``metric`` first (candidate worse = positive), slices without one last, then by rows; ``rows``
    carry ``diff`` (the difference in ``metric``), ``count`` and ``value``."""
    sign = -1.0 if metric is not None and higher_is_better(metric) else 1.0

    def key(r: dict) -> tuple:
        diff = r["diff"]
        return (diff is None, -(sign * diff) if diff is not None else 0.0, -(r["count"] or 0), str(r["value"]))
    return sorted(rows, key=key)


def _shown(rows: list[dict], metric: str | None, failing: set[str], dim: str, limit: int) -> tuple[list[dict], int]:
    """All rows when they fit; else the ``limit`` worst, every failing one (up to FAILING_SHOWN_PER_DIMENSION)
    and the worst thin ones (up to THIN_SHOWN_PER_DIMENSION), worst first; and how many failing ones are left out."""
    if len(rows) <= limit:
        return rows, 0
    shown, failed, thin, left_out = [], 0, 0, 0
    for i, r in enumerate(_worst_first(rows, metric)):
        if f"{dim}={r['value']}" in failing:
            failed += 1
            if failed > FAILING_SHOWN_PER_DIMENSION:
                left_out += 1
                continue
            shown.append(r)
        elif i < limit or (r["thin"] and thin < THIN_SHOWN_PER_DIMENSION):
            thin += bool(r["thin"])
            shown.append(r)
    return shown, left_out


def slice_tables(evidence: Evidence, metrics: list[str], thin: set[str], failing: set[str] | None = None,
                 limit: int = SHOWN_PER_DIMENSION) -> list[dict]:
    """Per dimension, the slices the documents list (``shown`` of ``total``; ``hidden`` left to evidence.json).
    The slices are ranked on their difference alone and only the shown ones get a full row: a dimension of 20,000
    slices costs one sort, not 20,000 rows no document prints."""
    base, cand = evidence.models["baseline"], evidence.models["candidate"]
    comps = evidence.comparisons.slices if evidence.comparisons else {}
    agree = evidence.agreement.slices
    cal = evidence.calibration.slices if evidence.calibration else {}
    ranked_by = metrics[0] if metrics else None
    tables = []
    for dim, values in cand.slices.items():
        bdim, cdim = base.slices.get(dim, {}), comps.get(dim, {})
        keys: list[dict[str, Any]] = [
            {"value": value, "count": cvals.get("count"), "thin": f"{dim}={value}" in thin,
             "diff": _difference(ranked_by, bdim.get(value, {}), cvals, cdim.get(value, {}))}
            for value, cvals in values.items()]
        total = len(keys)
        keys, failing_hidden = _shown(keys, ranked_by, failing or set(), dim, limit)
        rows = []
        for k in keys:
            value = str(k["value"])
            bvals, cvals, comp = bdim.get(value, {}), values[value], cdim.get(value, {})
            a = agree.get(dim, {}).get(value)
            c = cal.get(dim, {}).get(value)
            rows.append({
                "value": value,
                "count": k["count"],
                "thin": k["thin"],
                "metrics": {m: comparison_row(m, bvals.get(m), cvals.get(m), comp.get(m)) for m in metrics},
                # one row per slice for every per-slice measurement, so the slices are listed once, not three times
                "same_prediction": a.get("same_prediction") if a else None,
                "broken": a.get("broken") if a else None,
                "ece_baseline": getattr(c.get("baseline"), "ece", None) if c else None,
                "ece_candidate": getattr(c.get("candidate"), "ece", None) if c else None,
            })
        tables.append({"dimension": dim, "columns": evidence.dimensions.get(dim, [dim]), "rows": rows,
                       "total": total, "hidden": total - len(rows), "limit": limit, "failing_hidden": failing_hidden,
                       "failing_limit": FAILING_SHOWN_PER_DIMENSION,
                       "ranked_by": ranked_by,
                       "has_agreement": any(r["same_prediction"] is not None for r in rows),
                       "has_calibration": any(r["ece_candidate"] is not None for r in rows)})
    return tables


def _slice_rule(findings: list[Finding], metric: str, dim: str) -> Finding | None:
    """The slice_metric_drop finding on ``metric`` that looked at dimension ``dim`` (judged or skipped it)."""
    for f in findings:
        if f.kind != "slice_metric_drop" or f.details.get(DetailKey.METRIC) != metric:
            continue
        seen = [str(s.get("slice", "")) for s in f.details.get(DetailKey.SLICES, []) or [] if isinstance(s, dict)]
        seen += [str(t.get("slice", "")) for t in f.details.get(DetailKey.THIN_SLICES, []) or [] if isinstance(t, dict)]
        seen += [str(t.get("dimension", "")) + "=" for t in f.details.get(DetailKey.SKIPPED_TOO_SMALL, []) or []
                 if isinstance(t, dict)]
        if any(s.startswith(f"{dim}=") for s in seen):
            return f
    return None


def _outcome(f: Finding | None, name: str, thin: bool) -> str:
    if thin:
        return "thin"
    if f is None:
        return "not judged"
    if name in (f.details.get(DetailKey.FAILING_SLICES) or []):
        return "fail"
    judged = {str(s.get("slice")) for s in f.details.get(DetailKey.SLICES, []) or [] if isinstance(s, dict)}
    return "pass" if name in judged else "not judged"


def slice_charts(tables: list[dict], metric: str, findings: list[Finding]) -> list[dict]:
    """Per dimension: each slice's drop (candidate worse = positive) with its interval, against the rule's limit,
    coloured by the rule's outcome for that slice (pass, fail, thin, not judged), not by the sign of the change."""
    out = []
    for t in tables:
        rule = _slice_rule(findings, metric, t["dimension"])
        limit = rule.threshold if rule is not None else None
        sign = -1.0 if higher_is_better(metric) else 1.0
        points = []
        for r in t["rows"]:
            row = r["metrics"][metric]
            d = None if row["difference"] is None else sign * row["difference"]
            ci = row["difference_ci"]
            dci = None if ci is None else tuple(sorted((sign * ci[0], sign * ci[1])))
            outcome = _outcome(rule, f"{t['dimension']}={r['value']}", r["thin"])
            points.append(charts.DropPoint(label=str(r["value"]), drop=d, ci=dci, outcome=outcome,
                                           count=r["count"]))
        out.append({"dimension": t["dimension"], "metric": metric, "limit": limit,
                    "rule_id": rule.rule_id if rule is not None else None,
                    "outcomes": [p.outcome for p in points],
                    "svg": Markup(charts.drop_chart(points, metric, limit))})
    return out


def fairness(evidence: Evidence) -> list[dict]:
    base, cand = evidence.models["baseline"].fairness, evidence.models["candidate"].fairness
    rows = []
    for dim, gaps in cand.items():
        for gap, c in gaps.items():
            b = base.get(dim, {}).get(gap)
            rows.append({"dimension": dim, "gap": gap, "baseline": b, "candidate": c,
                         "change": None if b is None or c is None else c - b})
    return rows


def agreement(evidence: Evidence) -> dict:
    a = evidence.agreement
    slices = [{"dimension": dim, "value": value, **dict(stats.items())}
              for dim, values in a.slices.items() for value, stats in values.items()]
    flips = evidence.task != "regression"  # a regression has no right or wrong label: no fixed / broken rows
    return {"rows": a.rows, "same_prediction": a.same_prediction, "fixed": a.fixed if flips else None,
            "broken": a.broken if flips else None,
            "max_abs_score_difference": a.max_abs_score_difference, "slices": slices,
            "broken_examples": list(a.broken_examples)}


#: the lm_eval dimensions shown in the paired-test table, coarse first (every task is in the evidence)
LM_EVAL_TABLE_DIMENSIONS = ("capability", "group", "task")
#: at most this many slices per dimension in the table (the largest losses): 57 MMLU subjects would be pages
PAIRED_TESTS_SHOWN = 20


def paired_tests(evidence: Evidence) -> dict | None:
    """task lm_eval: per capability, group and task, both runs' accuracy on the same documents, the flips and the
    exact McNemar p-value, sorted by how much was lost (what an LLM reviewer reads first); None otherwise."""
    lm = evidence.lm_eval
    if lm is None:
        return None

    def row(dim: str, value: str, t: Any) -> dict:
        return {"dimension": dim, "value": value, "count": t.count, "baseline": t.baseline_accuracy,
                "candidate": t.candidate_accuracy, "difference": t.difference, "fixed": t.fixed,
                "broken": t.broken, "flip_rate": t.flip_rate, "mcnemar_p": t.mcnemar_p}

    rows = [row("overall", "all documents", lm.overall)]
    hidden = 0
    for dim in LM_EVAL_TABLE_DIMENSIONS:
        values = lm.slices.get(dim, {})
        ranked = sorted((row(dim, v, t) for v, t in values.items()),
                        key=lambda r: (r["difference"] if r["difference"] is not None else 0.0))
        rows += ranked[:PAIRED_TESTS_SHOWN]  # the worst ones; every slice is in evidence.json
        hidden += max(0, len(ranked) - PAIRED_TESTS_SHOWN)
    return {"method": lm.method, "rows": rows, "hidden": hidden, "shown": PAIRED_TESTS_SHOWN,
            "task_average": dict(lm.task_average)}


def calibration(evidence: Evidence) -> dict | None:
    cal = evidence.calibration
    if cal is None:
        return None
    models = [{"model": role, "count": s.count, "ece": s.ece, "brier": s.brier}
              for role, s in cal.models.items()]
    slices = [{"dimension": dim, "value": value,
               **{f"{role}_{k}": getattr(stats.get(role), k, None) for role in ("baseline", "candidate")
                  for k in ("ece", "brier")}}
              for dim, values in cal.slices.items() for value, stats in values.items()]
    curves, hidden, bins = [], 0, []
    for role, colour in (("baseline", charts.BASELINE), ("candidate", charts.CANDIDATE)):
        rel = cal.models[role].reliability if role in cal.models else None
        if rel is None:
            continue
        pts = [(m, a, n) for m, a, n in zip(rel.mean_confidence, rel.accuracy, rel.count)
               if m is not None and a is not None]
        hidden += sum(1 for _, _, n in pts if 0 < n < MIN_BIN_COUNT)
        curves.append(charts.Curve(role, colour, [p for p in pts if p[2] >= MIN_BIN_COUNT]))
        bins.append({"model": role, "counts": list(rel.count)})
    chart = Markup(charts.reliability_chart(curves, cal.score)) if curves else None
    return {"bins": cal.bins, "score": cal.score, "models": models, "slices": slices, "chart": chart,
            "bin_counts": bins, "min_bin_count": MIN_BIN_COUNT, "hidden_bins": hidden}


def _ratio(num: float | int | None, den: float | int | None) -> float | None:
    return None if num is None or not den else num / den


def _efficiency_outcomes(findings: list[Finding]) -> dict[str, str]:
    """Quantity (``bytes_gzip``, ``nonzero_parameters``, ``latency:<batch>``) -> the efficiency rules' outcome for
    it: fail when any rule's limit on it failed, else pass; quantities no rule judges are absent."""
    out: dict[str, str] = {}
    for f in findings:
        if f.kind != "efficiency":
            continue
        for quantity, outcome in (f.details.get(DetailKey.JUDGED) or {}).items():
            out[quantity] = "fail" if outcome == "fail" or out.get(quantity) == "fail" else "pass"
    return out


def efficiency(evidence: Evidence, findings: list[Finding] | None = None) -> dict | None:
    """The efficiency tables and a chart of candidate / baseline ratios, each bar coloured by the outcome of the
    efficiency rule that judges that quantity (grey when none does): never by whether the ratio is above 1."""
    eff = evidence.efficiency
    if eff is None:
        return None
    b, c = eff.models.get("baseline"), eff.models.get("candidate")
    fields = [("parameters", "parameters"), ("nonzero_parameters", "non-zero parameters"),
              ("sparsity", "sparsity"), ("macs_dense", "multiply-adds per row (dense)"),
              ("macs_effective", "multiply-adds per row (non-zero weights)"), ("weight_bits", "bits per weight"),
              ("tree_nodes", "tree nodes"), ("tree_leaves", "tree leaves"), ("tree_depth", "tree depth (deepest)"),
              ("bytes", "file size (bytes)"), ("bytes_gzip", "gzip size (bytes)")]
    #: shown only when measured for one of the models (quantized graphs; tree models); a tree model has no weight
    #: tensors, so its weight rows are left out rather than shown as n/a (its nodes, leaves and depth are its size)
    optional: tuple[str, ...] = ("weight_bits", "tree_nodes", "tree_leaves", "tree_depth")
    if getattr(b, "tree_nodes", None) is not None or getattr(c, "tree_nodes", None) is not None:
        optional += ("parameters", "nonzero_parameters", "sparsity", "macs_dense", "macs_effective")
    scope = getattr(c, "sparsity_scope", None)
    rows = [{"quantity": label, "baseline": getattr(b, key, None), "candidate": getattr(c, key, None),
             "ratio": None if key == "sparsity" else _ratio(getattr(c, key, None), getattr(b, key, None)),
             "share": key == "sparsity",  # a fraction: printed as a percentage, no ratio
             "note": f"over {scope}" if key == "sparsity" and scope else
                     getattr(c, "weight_format", None) if key == "weight_bits" else None}
            for key, label in fields
            if key not in optional or getattr(b, key, None) is not None or getattr(c, key, None) is not None]
    latency = []
    for lb in (b.latency if b else []):
        lc = next((x for x in (c.latency if c else []) if x.batch_size == lb.batch_size), None)
        latency.append({"batch_size": lb.batch_size, "repeats": lb.repeats,
                        "baseline_median_ms": lb.median_ms, "candidate_median_ms": lc.median_ms if lc else None,
                        "baseline_p95_ms": lb.p95_ms, "candidate_p95_ms": lc.p95_ms if lc else None,
                        "speedup": eff.speedup.get(str(lb.batch_size),
                                                   _ratio(lb.median_ms, lc.median_ms if lc else None))})
    short = {"non-zero parameters": ("non-zero parameters", "nonzero_parameters"),
             "multiply-adds per row (non-zero weights)": ("multiply-adds (non-zero)", "macs_effective"),
             "gzip size (bytes)": ("size (gzip)", "bytes_gzip")}
    outcomes = _efficiency_outcomes(findings or [])
    bars: list[charts.RatioBar] = [
        charts.RatioBar(short[str(r["quantity"])][0], float(r["ratio"]),
                        outcomes.get(short[str(r["quantity"])][1], "not judged"))
        for r in rows if r["ratio"] is not None and r["quantity"] in short]
    bars += [charts.RatioBar(f"median latency, batch {x['batch_size']}", 1 / x["speedup"],
                             outcomes.get(f"latency:{x['batch_size']}", "not judged"))
             for x in latency if x["speedup"]]
    return {
        "device": eff.device, "hardware": eff.hardware, "method": eff.method,
        "compression_ratio": eff.compression_ratio, "size_reduction": eff.size_reduction,
        "rows": rows, "latency": latency, "sparsity_scope": scope,
        "chart": Markup(charts.ratio_chart(bars)) if bars else None,
    }


def robustness(evidence: Evidence) -> dict | None:
    rob = evidence.robustness
    if rob is None:
        return None
    rows = [{"perturbation": lv.perturbation, "level": lv.level, "rows": lv.rows,
             "baseline_accuracy": lv.accuracy.get("baseline"), "candidate_accuracy": lv.accuracy.get("candidate"),
             "baseline_drop": lv.drop.get("baseline"), "candidate_drop": lv.drop.get("candidate"),
             "extra_drop": lv.extra_drop, "worse": lv.extra_drop is not None and lv.extra_drop > 0}
            for lv in rob.levels]
    return {"seed": rob.seed, "features": list(rob.features), "rows": rows, "feature_std": dict(rob.feature_std),
            "std_source": rob.std_source, "notes": list(rob.notes), "unperturbed": dict(rob.unperturbed)}


def sparsity(evidence: Evidence) -> dict:
    """Measured sparsity of the candidate: from the efficiency section, else from the adapter's description."""
    eff = evidence.efficiency.models.get("candidate") if evidence.efficiency else None
    if eff is not None and eff.sparsity is not None:
        return {"value": eff.sparsity, "scope": eff.sparsity_scope}
    d = evidence.models["candidate"].description
    params, nonzero = d.get("parameters"), d.get("nonzero_parameters")
    if params and nonzero is not None:
        return {"value": 1 - nonzero / params, "scope": "all parameters"}
    return {"value": None, "scope": None}


def confidence_pct(evidence: Evidence) -> int | None:
    """The intervals' confidence as a whole percentage (95), computed here so no template does arithmetic."""
    return None if evidence.comparisons is None else round(evidence.comparisons.confidence * 100)


def comparisons(evidence: Evidence) -> dict[str, Any] | None:
    c = evidence.comparisons
    return None if c is None else {"method": c.method, "resamples": c.resamples, "seed": c.seed,
                                   "confidence": c.confidence, "confidence_pct": confidence_pct(evidence),
                                   "missing": [{"metric": k, "why": v} for k, v in sorted(c.missing.items())]}


#: at most this many rows in each production table (the worst first); every row is in evidence.json
PRODUCTION_SHOWN = 15


def _descending(value: Any) -> float:
    """Sort key, largest first; None (infinite: the slice or feature the evaluation set cannot compare) first."""
    return -(float(value) if value is not None else math.inf)


def production(evidence: Evidence) -> dict | None:
    """The production sample (``evidence.production``), worst first: slices by how much more common they are in
    production, features by effect size, the production-weighted metrics beside the evaluation ones, agreement on
    production rows, and the label-free estimate with its assumptions; None without a production sample."""
    prod = evidence.production
    if prod is None:
        return None
    shares = sorted(({"dimension": d, "value": v, "evaluation_share": s.evaluation_share,
                      "production_share": s.production_share, "ratio": s.share_ratio,
                      "evaluation_rows": s.evaluation_rows, "production_rows": s.production_rows}
                     for d, values in prod.slices.items() for v, s in values.items()),
                    key=lambda r: _descending(r["ratio"]))
    rep = prod.representativeness
    features = [] if rep is None else sorted(
        ({"feature": name, "method": f.method, "distance": f.distance, "exact": f.exact,
          "evaluation_missing": f.reference_missing_share, "production_missing": f.current_missing_share}
         for name, f in rep.features.items()),
        key=lambda r: _descending(r["distance"]))
    weighted = None
    if prod.weighted is not None:
        comps = evidence.comparisons.overall if evidence.comparisons else {}
        weighted = {"by": prod.weighted.by, "uncovered_share": prod.weighted.uncovered_share,
                    "method": prod.weighted.method,
                    "rows": [{**comparison_row(m, c.baseline, c.candidate, c),
                              "evaluation_difference": comps[m].difference if m in comps else None}
                             for m, c in prod.weighted.overall.items()]}
    agreement = None
    if prod.agreement is not None:
        a = prod.agreement
        slices = sorted(({"dimension": d, "value": v, "rows": s.rows, "same_prediction": s.same_prediction,
                          "score_js": s.score_js} for d, values in a.slices.items() for v, s in values.items()),
                        key=lambda r: r["same_prediction"] if r["same_prediction"] is not None else -1.0)
        agreement = {"rows": a.rows, "same_prediction": a.same_prediction, "flip_rate": a.flip_rate,
                     "score_js": a.score_js, "class_js": a.class_js, "slices": slices[:PRODUCTION_SHOWN],
                     "hidden": max(0, len(slices) - PRODUCTION_SHOWN)}
    estimate = None
    if prod.estimate is not None:
        estimate = {"method": prod.estimate.method, "assumptions": list(prod.estimate.assumptions),
                    "models": [{"model": role, **e.model_dump(include={"expected_accuracy", "realized_accuracy",
                                                                         "labelled_rows"})}
                               for role, e in prod.estimate.models.items()]}
    return {"file": prod.file.path, "rows": prod.rows, "labelled_rows": prod.labelled_rows,
            "sensitive": prod.sensitive, "missing_sensitive": prod.missing_sensitive,
            "shares": shares[:PRODUCTION_SHOWN], "shares_hidden": max(0, len(shares) - PRODUCTION_SHOWN),
            "features": features[:PRODUCTION_SHOWN], "features_hidden": max(0, len(features) - PRODUCTION_SHOWN),
            "weighted": weighted, "agreement": agreement, "estimate": estimate, "notes": list(prod.notes),
            "shown": PRODUCTION_SHOWN}
