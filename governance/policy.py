"""The policy: a YAML file of rules, each a discriminated union member chosen by its ``kind``."""

from __future__ import annotations

from functools import reduce
from operator import or_
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from .errors import InputError
from .rules import KINDS, PolicyDefaults, RuleBase
from .yamlfile import format_loc, read_yaml, validation_error

Rule = Annotated[reduce(or_, (k.params for k in KINDS.values())), Field(discriminator="kind")]  # type: ignore[valid-type]


class Policy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    description: str | None = None
    defaults: PolicyDefaults = Field(default_factory=PolicyDefaults)
    rules: list[Rule] = Field(min_length=1)  # type: ignore[valid-type]

    @field_validator("rules")
    @classmethod
    def _unique_ids(cls, rules: list[RuleBase]) -> list[RuleBase]:
        seen: set[str] = set()
        for r in rules:
            if r.id in seen:
                raise ValueError(f"rule id {r.id!r} is used twice")
            seen.add(r.id)
        return rules


def _unknown_kind(path: Path, data: dict) -> InputError | None:
    """Name an unknown or missing rule kind plainly, listing the known ones."""
    rules = data.get("rules")
    if not isinstance(rules, list):
        return None
    for i, r in enumerate(rules):
        if not isinstance(r, dict):
            return InputError(path, f"rules[{i}]", "each rule must be a mapping with id, kind and parameters")
        kind = r.get("kind")
        if kind not in KINDS:
            what = "missing 'kind'" if kind is None else f"unknown rule kind {kind!r}"
            return InputError(path, format_loc(("rules", i, "kind"), data),
                              f"{what} (known kinds: {', '.join(sorted(KINDS))})")
    return None


def parse_policy(data: Any, path: Path, node: Any = None) -> Policy:
    if not isinstance(data, dict):
        raise InputError(path, None, f"expected a YAML mapping for a policy, found {type(data).__name__}")
    if (err := _unknown_kind(path, data)) is not None:
        raise err
    try:
        return Policy.model_validate(data)
    except ValidationError as exc:
        raise validation_error(path, exc, data, node) from None


def load_policy(path: str | Path) -> Policy:
    path = Path(path)
    data, node = read_yaml(path)
    return parse_policy(data, path, node)


def policy_schema() -> dict:
    return TypeAdapter(Policy).json_schema()
