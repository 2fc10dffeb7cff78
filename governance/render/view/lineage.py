"""Data and lineage: the provenance file as declared and checked, leakage, the personal-data scan, card completeness."""

from __future__ import annotations

from typing import Any

from ...evidence.schema import ROLES, Evidence
from .common import short_hash


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


def provenance(evidence: Evidence) -> dict | None:
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
            "name": name, "sha256": mdl.sha256, "sha256_short": short_hash(mdl.sha256),
            "evaluated_as": roles.get(mdl.sha256),
            "parent": mdl.parent, "parent_short": short_hash(mdl.parent) if mdl.parent else None,
            "parent_name": names.get(mdl.parent) if mdl.parent else None,
            "pruning_method": mdl.pruning.method if mdl.pruning else None,
            "pruning_settings": _settings(mdl.pruning.settings) if mdl.pruning else None,
            "quantization": (f"{mdl.quantization.method} ({mdl.quantization.bits}-bit)"
                             + (f"; {_settings(mdl.quantization.settings)}" if mdl.quantization.settings else "")
                             if mdl.quantization else None),
            "license": mdl.license, "training_code_revision": mdl.training_code_revision,
            "datasets": list(mdl.datasets),
        })
    unmatched: list[str] = [role for sha, role in roles.items() if sha not in names]
    if evaluated is None:
        unmatched.insert(0, "data")
    return {"file": prov.file.model_dump(), "datasets": datasets, "models": models, "unmatched": unmatched}


def leakage(evidence: Evidence) -> dict | None:
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


def pii(evidence: Evidence) -> dict | None:
    scan = evidence.pii
    if scan is None:
        return None
    flagged = [{"column": col, "sampled": c.sampled, "matches": {k: v for k, v in c.matches.items() if v}}
               for col, c in scan.columns.items() if any(c.matches.values())]
    return {"method": scan.method, "detectors": list(scan.detectors), "rows_sampled": scan.rows_sampled,
            "rows_total": scan.rows_total,
            "scanned": list(scan.columns), "flagged": flagged, "not_scanned": list(scan.not_scanned)}


def documentation(evidence: Evidence) -> dict | None:
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


