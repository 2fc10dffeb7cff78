"""documentation: the card facts give the sections the policy requires; collection records which are filled."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from builders import gate, make_release, write_yaml

from governance.card import CardFacts
from governance.errors import InputError
from governance.evidence.documentation import card_sections, filled_sections, section_aliases
from governance.findings import Status
from governance.policy import parse_policy
from governance.rules.documentation import UNKNOWN_SECTION

CARD = yaml.safe_load((Path(__file__).resolve().parents[2] / "examples" / "credit" / "card.yaml").read_text())
DOC = {"id": "DOC-001", "kind": "documentation", "rmf": ["MAP 1.1", "MAP 2.2"],
       "required_sections": ["intended_use", "out_of_scope_uses", "limitations", "ethical_considerations"]}


def _with_card(release_dir, tmp_path, card: dict | None) -> Path:
    manifest = make_release(release_dir, tmp_path)
    if card is not None:
        write_yaml(manifest.parent / "card.yaml", card)
        data = yaml.safe_load(manifest.read_text())
        write_yaml(manifest, {**data, "card": "card.yaml"})
    return manifest


def test_a_complete_card_passes(release_dir, tmp_path):
    findings, ev = gate(_with_card(release_dir, tmp_path, CARD), DOC)
    assert findings[0].status == Status.PASS, findings[0].message
    assert ev.documentation.card_file.path == "card.yaml"
    assert ev.documentation.sections["intended_use.out_of_scope_uses"] is True


def test_a_card_missing_a_required_section_fails(release_dir, tmp_path):
    card = {**CARD, "intended_use": {**CARD["intended_use"], "out_of_scope_uses": []}, "limitations": "  "}
    f = gate(_with_card(release_dir, tmp_path, card), DOC)[0][0]
    assert f.status == Status.FAIL
    assert f.details["missing"] == ["intended_use.out_of_scope_uses", "limitations"]
    assert "leaves 2 required section(s) empty: intended_use.out_of_scope_uses, limitations" in f.message


def test_no_card_fails(release_dir, tmp_path):
    f = gate(_with_card(release_dir, tmp_path, None), DOC)[0][0]
    assert f.status == Status.FAIL and "names no model-card facts" in f.message


def test_unknown_section_names_are_bad_policy_input():
    known = ", ".join(sorted(set(card_sections()) | set(section_aliases())))
    with pytest.raises(InputError, match=re.escape(UNKNOWN_SECTION.format(name="intended_uses", known=known))):
        parse_policy({"name": "p", "rules": [{**DOC, "required_sections": ["intended_uses"]}]}, path=Path("p.yaml"))


def test_sections_and_aliases_follow_the_card_model():
    assert {"intended_use", "intended_use.out_of_scope_uses", "model_details.pruning.method"} <= set(card_sections())
    assert section_aliases()["out_of_scope_uses"] == "intended_use.out_of_scope_uses"
    assert "description" not in section_aliases()  # ambiguous: model, training data and evaluation data have one
    filled = filled_sections(CardFacts(limitations=["x"]))
    assert filled["limitations"] and not filled["intended_use"] and not filled["model_details.pruning"]
    assert not any(filled_sections(None).values())
