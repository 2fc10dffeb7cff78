"""Documentation: the model-card facts give the sections a reviewer needs (intended use, limitations, ...)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from ..evidence.documentation import card_sections, section_aliases
from ..evidence.schema import Evidence
from ..findings import Finding, Status
from .base import PolicyDefaults, RuleBase, finding, rule

#: a required section the card model does not have (template: format with name and known)
UNKNOWN_SECTION = "unknown card section {name!r} (known: {known})"
DEFAULT_SECTIONS = ["primary_uses", "out_of_scope_uses", "limitations", "ethical_considerations"]


class DocumentationRule(RuleBase):
    """Fails when the model-card facts (the manifest's ``card:``) leave a ``required_sections`` entry empty, or
    when the release names no card facts."""

    kind: Literal["documentation"]
    required_sections: list[str] = Field(
        default_factory=lambda: list(DEFAULT_SECTIONS), min_length=1,
        description="card.yaml sections that must be filled: a dotted path (intended_use.out_of_scope_uses) or "
                    "its last part where unique (out_of_scope_uses); a group (intended_use) is filled when any "
                    "of its fields is")

    @field_validator("required_sections")
    @classmethod
    def _known(cls, names: list[str]) -> list[str]:
        known = set(card_sections()) | set(section_aliases())
        for name in names:
            if name not in known:
                raise ValueError(UNKNOWN_SECTION.format(name=name, known=", ".join(sorted(known))))
        return names


@rule("documentation", DocumentationRule)
def documentation(rule: DocumentationRule, evidence: Evidence, defaults: PolicyDefaults) -> Finding:
    doc = evidence.documentation
    if doc is None:
        return finding(rule, Status.ERROR, "the evidence records no documentation facts (collected by an older "
                                           "version?)")
    aliases = section_aliases()
    resolved = {name: aliases.get(name, name) for name in rule.required_sections}
    missing = [name for name, path in resolved.items() if not doc.sections.get(path, False)]
    details = {"required": list(resolved.values()), "missing": [resolved[m] for m in missing],
               "card_file": doc.card_file.path if doc.card_file else None}
    if doc.card_file is None:
        return finding(rule, Status.FAIL, f"the release names no model-card facts ('card:' in the manifest): "
                                          f"{', '.join(rule.required_sections)} are not documented.",
                       observed=len(missing), threshold=0, **details)
    if missing:
        return finding(rule, Status.FAIL, f"{doc.card_file.path} leaves {len(missing)} required section(s) empty: "
                                          f"{', '.join(resolved[m] for m in missing)}.",
                       observed=len(missing), threshold=0, **details)
    return finding(rule, Status.PASS, f"{doc.card_file.path} fills every required section "
                                      f"({', '.join(resolved.values())}).", observed=0, threshold=0, **details)
