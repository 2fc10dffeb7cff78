"""Provenance: the declared hashes match the files actually used, the candidate derives from the evaluated
baseline, required facts are given and licences are allowed."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from ..evidence.schema import Evidence
from ..findings import Finding, Status
from ..provenance import DatasetRole, ModelProvenance
from .base import PolicyDefaults, RuleBase, finding, rule
from .efficiency import pruning_claim

DatasetField = Literal["path", "uri", "sha256", "description", "source", "license", "collection_period",
                       "collection_process", "consent_basis", "preprocessing", "personal_data"]
ModelField = Literal["sha256", "parent", "description", "source", "license", "pruning", "quantization",
                     "training_code_revision", "training_code", "datasets"]
#: model facts that only the candidate needs (the baseline need not be derived, pruned or quantized)
CANDIDATE_ONLY = ("parent", "pruning", "quantization")

#: a declared local file the evidence neither hashed nor explains (template: name, path)
NOT_HASHED = ("dataset {name!r}: {path} has no hash in the evidence (provenance.files) and no reason why "
              "(provenance.unavailable): it is not verified")
NOT_DECLARED = "provenance not declared: the release manifest names no provenance file ('provenance:')"
#: the candidate's declared quantization against the bit width read from its weights (template: name, declared,
#: measured); wider stored weights than declared is a problem
QUANTIZATION_CLAIM = "model {name!r} declares {declared}-bit quantization; its weights are stored in {measured} bits"


def _measured_bits(evidence: Evidence) -> int | None:
    eff = evidence.efficiency
    return eff.models["candidate"].weight_bits if eff is not None and "candidate" in eff.models else None


class ProvenanceRule(RuleBase):
    """Fails when the evaluated data, baseline or candidate match no dataset or model declared in the
    provenance file (by sha256: a file changed by one byte matches nothing), when the candidate's declared
    ``parent`` is not the evaluated baseline, when a local file the provenance names differs from its declared
    hash or is missing, when a declared dataset (or the evaluated models) lacks a ``require``d fact, or when a
    licence is not in ``allowed_licenses``, or when the candidate's pruning claim (a fraction in its pruning
    settings) is more than ``max_pruning_shortfall`` above the fraction of weights measured removed, or when its
    declared quantization ``bits`` are fewer than the bits its weights are stored in (ONNX: read from the graph).
    No provenance file is ``error`` (not declared)."""

    kind: Literal["provenance"]
    require: list[DatasetField] = Field(default_factory=lambda: list[DatasetField](["source", "license"]),
                                        description="facts every declared dataset must give")
    require_models: list[ModelField] = Field(
        default_factory=list, description="facts the baseline and candidate must give (parent, pruning and "
                                          "quantization: the candidate only)")
    require_roles: list[DatasetRole] = Field(default_factory=lambda: list[DatasetRole](["evaluation"]),
                                             description="dataset roles the provenance must declare")
    allowed_licenses: list[str] | None = Field(
        None, description="licences allowed for every dataset and model that declares one (case-insensitive); "
                          "None: any")

    max_pruning_shortfall: float | None = Field(
        0.05, ge=0, le=1, description="the candidate's pruning claim (settings sparsity, target_sparsity or amount, a "
                                      "fraction) may exceed the measured fraction of weights removed by at most this; "
                                      "None: the claim is not compared")

    @field_validator("allowed_licenses")
    @classmethod
    def _non_empty(cls, v: list[str] | None) -> list[str] | None:
        if v is not None and not v:
            raise ValueError("allowed_licenses is empty: no licence would be allowed (omit it to allow any)")
        return v


def _given(value: object) -> bool:
    if value is None:
        return False
    if isinstance(value, str):
        return bool(value.strip())
    if isinstance(value, list):
        return True  # an empty list is an explicit declaration (personal_data: [] = none)
    return True


def _short(sha: str | None) -> str:
    return "none" if sha is None else sha[:12]


@rule("provenance", ProvenanceRule)
def provenance(rule: ProvenanceRule, evidence: Evidence, defaults: PolicyDefaults) -> Finding:
    prov = evidence.provenance
    if prov is None:
        return finding(rule, Status.ERROR, NOT_DECLARED)
    declared = prov.declared
    problems: list[str] = []
    verified: list[str] = []

    for needed in sorted(set(rule.require_roles)):
        if not any(ds.role == needed for ds in declared.datasets.values()):
            problems.append(f"no dataset with role {needed!r} is declared")
    # the files actually evaluated, found among the declared ones by their hash
    data_ref = evidence.inputs.get("data")
    data_sha = data_ref.sha256 if data_ref else None
    match = declared.dataset_by_hash(data_sha)
    if match is None:
        hint = "; ".join(f"dataset {n!r} declares {_short(d.sha256)}…" for n, d in declared.datasets.items()
                         if d.role == "evaluation")
        problems.append(f"the evaluated data ({data_ref.path if data_ref else '?'}, sha256 {_short(data_sha)}…) "
                        f"matches no declared dataset" + (f" ({hint})" if hint else ""))
    elif match[1].role != "evaluation":
        problems.append(f"the evaluated data is dataset {match[0]!r}, declared with role {match[1].role!r}")
    else:
        verified.append(f"evaluated data = dataset {match[0]!r}")
    models: dict[str, tuple[str, ModelProvenance]] = {}
    for role in ("baseline", "candidate"):
        ref = evidence.inputs.get(role)
        found = declared.model_by_hash(ref.sha256 if ref else None)
        if found is None:
            problems.append(f"the evaluated {role} ({ref.path if ref else '?'}, sha256 "
                            f"{_short(ref.sha256 if ref else None)}…) matches no declared model")
        else:
            models[role] = found
            verified.append(f"evaluated {role} = model {found[0]!r}")
    if "candidate" in models:
        name, cand = models["candidate"]
        base_sha = evidence.inputs["baseline"].sha256 if "baseline" in evidence.inputs else None
        if cand.parent is None:
            problems.append(f"model {name!r} (the candidate) declares no parent; it must be the baseline's sha256")
        elif cand.parent != base_sha:
            problems.append(f"model {name!r} (the candidate) declares parent {_short(cand.parent)}…, not the "
                            f"evaluated baseline ({_short(base_sha)}…)")
        else:
            verified.append("candidate's parent = evaluated baseline")
        if cand.pruning is not None and rule.max_pruning_shortfall is not None:  # a claim the weights contradict
            claim = pruning_claim(name, cand.pruning.settings, evidence, rule.max_pruning_shortfall)
            if claim is not None:
                (problems if claim[0] else verified).append(claim[1])
        if cand.quantization is not None and (bits := _measured_bits(evidence)) is not None:
            declared_bits = cand.quantization.bits  # a claim the stored weights contradict
            (problems if bits > declared_bits else verified).append(
                QUANTIZATION_CLAIM.format(name=name, declared=declared_bits, measured=bits))
    # every local file the provenance names
    for name, ds in declared.datasets.items():
        if ds.path is None:
            continue
        if name in prov.unavailable:
            problems.append(f"dataset {name!r}: {prov.unavailable[name]} (its hash cannot be verified)")
        elif name in prov.files:
            actual = prov.files[name].sha256
            if ds.sha256 is None:
                problems.append(f"dataset {name!r} names {ds.path} but declares no sha256")
            elif ds.sha256 != actual:
                problems.append(f"dataset {name!r}: {ds.path} has sha256 {_short(actual)}…, not the declared "
                                f"{_short(ds.sha256)}…")
            else:
                verified.append(f"dataset {name!r} file {ds.path}")
        else:  # neither hashed nor said why not: unverified is not verified
            problems.append(NOT_HASHED.format(name=name, path=ds.path))
    # required facts and licences: every declared dataset, and the evaluated models
    for name, ds in declared.datasets.items():
        lacking = [f for f in rule.require if not _given(getattr(ds, f))]
        if lacking:
            problems.append(f"dataset {name!r} does not give {', '.join(lacking)}")
    for role, (name, model) in models.items():
        fields = [f for f in rule.require_models if role == "candidate" or f not in CANDIDATE_ONLY]
        missing = [f for f in fields if not _given(getattr(model, f))]
        if missing:
            problems.append(f"model {name!r} (the {role}) does not give {', '.join(missing)}")
    licences: dict[str, str] = {f"dataset {n!r}": ds.license for n, ds in declared.datasets.items() if ds.license}
    licences.update({f"model {n!r}": m.license for n, m in models.values() if m.license})
    if rule.allowed_licenses is not None:
        allowed = {x.strip().lower() for x in rule.allowed_licenses}
        for what, lic in licences.items():
            if lic.strip().lower() not in allowed:
                problems.append(f"{what}: licence {lic!r} is not allowed (allowed: {', '.join(rule.allowed_licenses)})")
    evaluation_dataset = match[0] if match else None
    details: dict[str, Any] = {"problems": problems, "verified": verified, "licenses": licences,
                               "models": {role: name for role, (name, _) in models.items()},
                               "evaluation_dataset": evaluation_dataset, "provenance_file": prov.file.path}
    if problems:
        shown = "; ".join(problems[:3]) + (f"; and {len(problems) - 3} more" if len(problems) > 3 else "")
        return finding(rule, Status.FAIL, f"{len(problems)} provenance problem(s): {shown}.",
                       observed=len(problems), threshold=0, **details)
    return finding(rule, Status.PASS,
                   f"provenance verified: the evaluated data, baseline and candidate are the declared "
                   f"{evaluation_dataset!r}, {models['baseline'][0]!r} and {models['candidate'][0]!r} "
                   f"(sha256 match), the candidate derives from the evaluated baseline, every local file matches "
                   f"its declared hash, required facts are given"
                   + (", every licence is allowed." if rule.allowed_licenses is not None else "."),
                   observed=0, threshold=0, **details)
