"""The policy: a YAML file of rules, each a discriminated union member chosen by its ``kind``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    Field,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from .errors import InputError
from .iso_date import IsoDate
from .manifest import placeholder_name, visible
from .rules import KINDS, PolicyDefaults, RuleBase, limits, plugin_kinds
from .rules.agreement import AgreementRule
from .rules.attestation import Attestation
from .rules.calibration import CalibrationRule
from .rules.data_checks import LeakageRule, PiiScanRule
from .rules.documentation import DocumentationRule
from .rules.efficiency import EfficiencyRule
from .rules.fairness import FairnessGap
from .rules.groups import GroupDrop
from .rules.identity import DistinctModels
from .rules.monitor import MONITOR_KINDS
from .rules.performance import MetricCeiling, MetricDrop, MetricFloor, SliceMetricDrop
from .rules.production import LabelFreePerformance, ProductionAgreementRule
from .rules.provenance import ProvenanceRule
from .rules.quality import DataQualityRule
from .rules.representativeness import RepresentativenessRule
from .rules.robustness import RobustnessDrop
from .yamlfile import InputModel, format_loc, line_of, read_yaml, suggest, validation_error

#: one member per rule kind, in the registry's order (governance/rules/__init__.py), written out so that editors and
#: type checkers see each rule's fields; tests/test_release_files.py fails when it and ``KINDS`` disagree
Rule = Annotated[
    MetricDrop | MetricFloor | MetricCeiling | SliceMetricDrop | FairnessGap | AgreementRule | CalibrationRule
    | RobustnessDrop | EfficiencyRule | DistinctModels | Attestation | ProvenanceRule | LeakageRule | PiiScanRule
    | DocumentationRule | GroupDrop | DataQualityRule | ProductionAgreementRule | LabelFreePerformance
    | RepresentativenessRule,
    Field(discriminator="kind"),
]


def _plugin_or_builtin(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    """A rule of an installed plugin kind is validated by the plugin's own parameter model; any other by ``Rule``."""
    kind = value.get("kind") if isinstance(value, dict) else getattr(value, "kind", None)
    if isinstance(kind, str) and kind not in KINDS and kind in plugin_kinds():
        params = plugin_kinds()[kind].kind.params
        return value if isinstance(value, params) else params.model_validate(value)
    return handler(value)


#: a policy's rule: a built-in kind, or a plugin kind (governance/rules/plugins.py)
PolicyRule = Annotated[Rule, WrapValidator(_plugin_or_builtin)]

#: ``extends:`` may chain this many policy files (a pack, a team policy, a release policy is three)
MAX_EXTENDS_DEPTH = 8
EXTENDS_TOO_DEEP = f"policies extend each other more than {MAX_EXTENDS_DEPTH} levels deep"
WAIVER_NO_APPROVER = "a waiver needs a named approver: write who approved the exception (e.g. \"Dana Roe (risk)\")"
DUPLICATE_RULE_ID = "rule id {id!r} is used twice"
WAIVER_NO_REASON = "a waiver needs a reason: write why the exception is acceptable and until when"
#: a waiver's expiry given as a number (template: value)
WAIVER_NOT_A_DATE = "expires must be a date (YYYY-MM-DD), not the number {value}"
#: stand-ins for a person or a reason, compared lower-case after trimming; text in <...> is a template marker too
WAIVER_PLACEHOLDERS = frozenset({"todo", "tbd", "fixme", "xxx", "n/a", "na", "none", "null", "-", "?", "name",
                                 "your name", "reason", "your reason", "approver", "someone", "unknown"})
_LIMITS_DEFERRED = "limits_deferred"


#: a rule without a kind, or one no built-in or installed rule has (template: kind); the nearest kind follows
MISSING_KIND = "missing 'kind'"
UNKNOWN_KIND = "unknown rule kind {kind!r}"
#: after UNKNOWN_KIND for a kind of the monitor (rules/monitor.py): a monitor policy given to a release command
MONITOR_KIND_HINT = (": a monitor rule kind, judged on windows of production logs by `governance monitor --policy`, "
                     "not on a release")
#: after UNKNOWN_KIND when no kind is close: it may come from a plugin that is not installed
PLUGIN_HINT = (": neither a built-in kind nor one of an installed rule plugin (entry points "
               "'pruning_governance.rules'); install the package that provides it, or see the known kinds with "
               "`governance policy reference`")

def _filled_in(text: str) -> bool:
    """False for blank text, a template marker such as ``<name>`` and the stock placeholders above."""
    norm = visible(text).lower().strip("\"'.:")
    return bool(norm) and norm not in WAIVER_PLACEHOLDERS and not (norm.startswith("<") and norm.endswith(">"))


def unique_ids(rules: list[Any]) -> list[Any]:
    """The rules, unchanged, or a ValueError naming the first id used twice (a release or a monitor policy)."""
    seen: set[str] = set()
    for r in rules:
        if r.id in seen:
            raise ValueError(DUPLICATE_RULE_ID.format(id=r.id))
        seen.add(r.id)
    return rules


class Waiver(InputModel):
    """A signed-off exception for one rule, visible in every output, that stops working on ``expires``."""

    rule: str = Field(description="the rule ID it waives")
    reason: str = Field(json_schema_extra={"minLength": 1}, description="why the exception is acceptable")
    approved_by: str = Field(json_schema_extra={"minLength": 1}, description="who approved it: a named person")
    expires: IsoDate = Field(description="last day the waiver applies (YYYY-MM-DD)")
    scope: list[str] | None = Field(None, description="slices it covers, e.g. ['group=C']; a failure in any "
                                                      "other slice is not waived")

    @field_validator("approved_by")
    @classmethod
    def _named_approver(cls, v: str) -> str:
        if not _filled_in(v) or placeholder_name(v):  # the same test as a sign-off's name
            raise PydanticCustomError("waiver_approver", WAIVER_NO_APPROVER)
        return v

    @field_validator("reason")
    @classmethod
    def _real_reason(cls, v: str) -> str:
        if not _filled_in(v):
            raise PydanticCustomError("waiver_reason", WAIVER_NO_REASON)
        return v

    @field_validator("scope", mode="before")
    @classmethod
    def _one_or_many(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v

    @field_validator("expires", mode="before")
    @classmethod
    def _a_date(cls, v: Any) -> Any:
        """A number is not a date (pydantic would read 1780272000 as seconds since 1970)."""
        if isinstance(v, (int, float)):
            raise PydanticCustomError("waiver_date", WAIVER_NOT_A_DATE, {"value": v})
        return v


class WaiverFile(InputModel):
    waivers: list[Waiver]


class Policy(InputModel):
    name: str
    description: str | None = None
    extends: str | None = Field(None, description="a policy file (relative to this one) or builtin:NAME whose "
                                                  "rules this one inherits; rules with the same id replace them")
    disable: list[str] = Field(default_factory=list, description="inherited rule IDs to drop")
    defaults: PolicyDefaults = Field(default_factory=PolicyDefaults)
    rules: list[PolicyRule] = Field(min_length=1)
    waivers: list[Waiver] = Field(default_factory=list)

    @model_validator(mode="after")
    def _waivers_name_rules(self) -> Policy:
        ids = {r.id for r in self.rules}
        for w in self.waivers:
            if w.rule not in ids:
                raise ValueError(f"waiver for unknown rule {w.rule!r} (rules: {', '.join(sorted(ids))})")
        return self

    @model_validator(mode="after")
    def _thresholds_in_range(self, info: ValidationInfo) -> Policy:
        if info.context and info.context.get(_LIMITS_DEFERRED):
            return self  # parse_policy checks them itself, to name the rule, the field and the line
        for rule in self.rules:
            for _, message in limits.problems(rule):
                raise ValueError(f"rule {rule.id}: {message}")
        return self

    @field_validator("rules")
    @classmethod
    def _unique_ids(cls, rules: list[RuleBase]) -> list[RuleBase]:
        return unique_ids(rules)


def _unknown_kind(path: Path, data: dict, node: Any = None) -> InputError | None:
    """Name an unknown or missing rule kind plainly, listing the known ones."""
    rules = data.get("rules")
    if not isinstance(rules, list):
        return None
    for i, r in enumerate(rules):
        if not isinstance(r, dict):
            return InputError(path, f"rules[{i}]", "each rule must be a mapping with id, kind and parameters")
        kind = r.get("kind")
        if not isinstance(kind, str) or (kind not in KINDS and kind not in plugin_kinds()):
            what = MISSING_KIND if kind is None else UNKNOWN_KIND.format(kind=kind)
            known = [*KINDS, *plugin_kinds()]
            hint = suggest(kind, known) if isinstance(kind, str) else ""
            if isinstance(kind, str) and kind in MONITOR_KINDS:  # a monitor policy given to check / evaluate
                hint = MONITOR_KIND_HINT
            if not hint:
                hint = (PLUGIN_HINT if isinstance(kind, str) else "") + f" (known kinds: {', '.join(sorted(known))})"
            line = line_of(node, ("rules", i, "kind")) if node is not None else None
            field = format_loc(("rules", i, "kind"), data)
            return InputError(path, f"{field} (line {line})" if line else field,
                              what + hint)
    return None


def parse_policy(data: Any, path: Path, node: Any = None) -> Policy:
    """Validate a policy mapping; every threshold must lie in its range (governance/rules/limits.py)."""
    if not isinstance(data, dict):
        raise InputError(path, None, f"expected a YAML mapping for a policy, found {type(data).__name__}")
    if (err := _unknown_kind(path, data, node)) is not None:
        raise err
    _check_limits(path, data, node, data["rules"] if isinstance(data.get("rules"), list) else [])
    try:
        policy = Policy.model_validate(data, context={_LIMITS_DEFERRED: True})
    except ValidationError as exc:
        raise validation_error(path, exc, data, node, Policy) from None
    _check_limits(path, data, node, policy.rules)  # values pydantic converted (a quoted "nan") are checked here
    return policy


def _check_limits(path: Path, data: dict, node: Any, rules: list) -> None:
    for i, rule in enumerate(rules):
        for name, message in limits.problems(rule) if isinstance(rule, (dict, BaseModel)) else []:
            field = format_loc(("rules", i, name), data)
            line = line_of(node, ("rules", i, name)) if node is not None else None
            raise InputError(path, f"{field} (line {line})" if line else field, message)


def resolve_policy_ref(ref: str, base: Path | None, referrer: Path | None, field: str = "policy") -> Path:
    """A policy path (relative to ``base``) or ``builtin:NAME`` (a pack shipped with the tool)."""
    from .packaged import builtin_policies

    if ref.startswith("builtin:"):
        name = ref.split(":", 1)[1]
        packs = builtin_policies()
        if name not in packs:
            raise InputError(referrer, field, f"no built-in policy {name!r} (available: {', '.join(packs)})")
        return packs[name]
    path = Path(ref)
    if base is not None and not path.is_absolute():
        path = base / path
    if not path.exists():
        raise InputError(referrer, field, f"policy file not found: {path}")
    if base is not None:  # named in a file: a symlink there may not lead out of its folder (as for every input)
        from .hashing import check_input_file

        check_input_file(path, named_in=referrer, field=field, root=base, kind="policy")
    return path


def _merged(path: Path, data: dict, chain: tuple[Path, ...]) -> dict:
    """Resolve ``extends``: the parent's rules, replaced by id and extended by this file's, minus ``disable``."""
    ref = data.get("extends")
    if ref is None:
        return data
    if not isinstance(ref, str) or not ref.strip():
        raise InputError(path, "extends", "must be a policy path or builtin:NAME")
    if len(chain) >= MAX_EXTENDS_DEPTH:
        raise InputError(path, "extends", EXTENDS_TOO_DEEP)
    parent_path = resolve_policy_ref(ref, path.parent, path, "extends")
    if parent_path.resolve() in chain:
        raise InputError(path, "extends", f"policies extend each other in a loop: {parent_path}")
    parent_data, _ = read_yaml(parent_path)
    if not isinstance(parent_data, dict):
        raise InputError(parent_path, None, "expected a YAML mapping for a policy")
    parent = _merged(parent_path, parent_data, chain + (parent_path.resolve(),))
    for name in ("rules", "disable", "waivers"):
        if not isinstance(data.get(name) or [], list) or not isinstance(parent.get(name) or [], list):
            where = path if not isinstance(data.get(name) or [], list) else parent_path
            raise InputError(where, name, "must be a list")
    own: dict[str, dict] = {}
    for i, r in enumerate(data.get("rules") or []):  # what the merge would drop or collapse is refused here
        if not isinstance(r, dict):
            raise InputError(path, f"rules[{i}]", f"expected a mapping (one rule), found {type(r).__name__}")
        if str(r.get("id")) in own:
            raise InputError(path, f"rules[{i}] ({r.get('id')}).id", DUPLICATE_RULE_ID.format(id=r.get("id")))
        own[str(r.get("id"))] = r
    disabled = {str(d) for d in data.get("disable") or []}
    unknown = disabled - {str(r.get("id")) for r in parent.get("rules") or [] if isinstance(r, dict)}
    if unknown:
        raise InputError(path, "disable", f"no inherited rule {min(unknown)!r} to disable")
    rules = [own.pop(str(r.get("id")), r) if isinstance(r, dict) else r for r in parent.get("rules") or []
             if not (isinstance(r, dict) and str(r.get("id")) in disabled)]
    rules += list(own.values())
    for where, d in ((path, data), (parent_path, parent)):
        if not isinstance(d.get("defaults") or {}, dict):
            raise InputError(where, "defaults", "must be a mapping")
    merged = {**{k: v for k, v in parent.items() if k not in ("waivers",)}, **data, "rules": rules,
              "defaults": {**(parent.get("defaults") or {}), **(data.get("defaults") or {})},
              "waivers": [*(parent.get("waivers") or []), *(data.get("waivers") or [])]}
    merged.pop("extends", None)
    merged.pop("disable", None)
    return merged


def load_policy(path: str | Path) -> Policy:
    path = Path(path)
    data, node = read_yaml(path)
    if isinstance(data, dict) and data.get("extends") is not None:
        return parse_policy(_merged(path, data, (path.resolve(),)), path)  # line numbers refer to one file only
    return parse_policy(data, path, node)


def rule_locations(path: Path, chain: tuple[Path, ...] = ()) -> dict[str, dict[str, object]]:
    """Rule id -> {file, line, via} where the rule is written (following ``extends``), for SARIF and reviewers.

    ``via`` lists, for a rule inherited through ``extends``, each ``{file, line, extends}`` of the ``extends:``
    lines it came through, nearest file first: a rule from a pack outside the repository is shown at the line
    of the repository's policy that pulled it in (``repository_locations``)."""
    import yaml

    data, node = read_yaml(path)
    out: dict[str, dict[str, object]] = {}
    if not isinstance(data, dict) or not isinstance(node, yaml.MappingNode):
        return out
    if isinstance(data.get("extends"), str) and path.resolve() not in chain:
        key = next((k for k, _ in node.value if getattr(k, "value", None) == "extends"), None)
        hop = {"file": str(path), "line": key.start_mark.line + 1 if key is not None else 1,
               "extends": data["extends"]}
        try:
            parent = resolve_policy_ref(data["extends"], path.parent, path, "extends")
            for rid, where in rule_locations(parent, chain + (path.resolve(),)).items():
                via = where.get("via")
                out[rid] = {**where, "via": [hop, *(via if isinstance(via, list) else [])]}
        except InputError:
            pass
    rules = next((v for k, v in node.value if getattr(k, "value", None) == "rules"), None)
    if isinstance(rules, yaml.SequenceNode):
        for item, raw in zip(rules.value, data.get("rules") or []):
            if isinstance(raw, dict) and "id" in raw:
                out[str(raw["id"])] = {"file": str(path), "line": item.start_mark.line + 1}
    return out


def repository_root(start: Path) -> Path | None:
    """The git top level holding ``start`` (the nearest folder with a ``.git`` entry), or None outside any."""
    here = start.resolve()
    for folder in (here, *here.parents) if here.is_dir() else here.parents:
        if (folder / ".git").exists():
            return folder
    return None


def is_builtin(path: Path) -> bool:
    """A pack shipped with the tool (``builtin:NAME``): never the user's file, even in an editable install."""
    from .packaged import builtin_policies

    return path.resolve() in {p.resolve() for p in builtin_policies().values()}


def _relative(file: str, root: Path) -> str | None:
    if is_builtin(Path(file)):
        return None
    try:
        return Path(file).resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return None


def repository_locations(locations: dict[str, dict[str, object]], root: Path) -> dict[str, dict[str, object]]:
    """``rule_locations`` with every file relative to ``root`` (the repository): a rule written outside it (an
    inherited pack in site-packages) is placed at the ``extends:`` line nearest to it that is inside, with
    ``inherited_from`` naming the pack; a rule with neither keeps no location. No machine path survives."""
    out: dict[str, dict[str, object]] = {}
    for rid, where in locations.items():
        own = _relative(str(where["file"]), root)
        if own is not None:
            out[rid] = {"file": own, "line": where["line"]}
            continue
        via = where.get("via")
        hops = [h for h in via if isinstance(h, dict)] if isinstance(via, list) else []
        inside = [(h, rel) for h in hops if (rel := _relative(str(h["file"]), root)) is not None]
        if inside:
            hop, rel = inside[-1]  # the extends: line closest to the pack that is still in the repository
            out[rid] = {"file": rel, "line": hop["line"], "inherited_from": str(hop["extends"])}
    return out


def load_waivers(path: str | Path, policy: Policy) -> list[Waiver]:
    """A separate waivers file (``--waivers``): every waiver must name a rule of the policy."""
    from .yamlfile import load_model_file

    path = Path(path)
    waivers = load_model_file(path, WaiverFile, what="waivers file").waivers
    ids = {r.id for r in policy.rules}
    for i, w in enumerate(waivers):
        if w.rule not in ids:
            raise InputError(path, f"waivers[{i}].rule", f"unknown rule {w.rule!r} (rules: {', '.join(sorted(ids))})")
    return waivers


def policy_schema() -> dict:
    return TypeAdapter(Policy).json_schema()
