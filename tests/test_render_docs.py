"""docs/templates.md is executed: its card example validates, its template renders through
`governance render`, and every context variable it documents exists."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from governance.card import CardFacts, MarkdownCard
from governance.cli import main
from governance.render import RenderContext, jsonfiles
from governance.render.documents import context
from governance.render.sample import sample_evidence, sample_verdict

DOC = (Path(__file__).resolve().parent.parent / "docs" / "templates.md").read_text()


def test_documented_card_example_is_valid():
    block = next(b for b in re.findall(r"```yaml\n(.*?)```", DOC, re.S) if b.startswith("# card facts"))
    card = CardFacts.model_validate(yaml.safe_load(block))
    assert card.model_details.pruning.target_sparsity == 0.5


def test_documented_template_example_renders(tmp_path, capsys):
    from huggingface_hub import ModelCard

    template = re.search(r"```jinja\n(.*?)```", DOC, re.S).group(1)
    (tmp_path / "my-templates").mkdir()
    (tmp_path / "my-templates" / "model_card.md.j2").write_text(template)
    evidence = sample_evidence(slices=3)
    (tmp_path / "evidence.json").write_bytes(jsonfiles.evidence_json(evidence))
    (tmp_path / "verdict.json").write_bytes(jsonfiles.verdict_json(sample_verdict(evidence)))
    root = Path(__file__).resolve().parent.parent
    code = main(["render", "--evidence", str(tmp_path / "evidence.json"), "--verdict", str(tmp_path / "verdict.json"),
                 "--card", str(root / "examples" / "credit" / "card.yaml"),
                 "--templates", str(tmp_path / "my-templates"), "--out", str(tmp_path / "out")])
    assert code == 0, capsys.readouterr().err
    out = tmp_path / "out"
    assert {"model_card.md", "model_card.html", "audit_report.html", "audit_report.pdf", "evidence.json",
            "verdict.json", "junit.xml", "checksums.json"} <= {p.name for p in out.iterdir()}
    text = (out / "model_card.md").read_text()
    assert "Gate decision: **pass** under policy `sample-policy`" in text
    assert "Owners: Credit Risk Modelling team" in text
    assert str(ModelCard(text)) == text and MarkdownCard.loads(text).data["tags"][0] == "pruned"
    assert "Release gate audit report" in (out / "audit_report.html").read_text()  # the default still applies


def test_every_documented_context_variable_exists_and_every_variable_is_documented():
    table = DOC.split("## What a template sees")[1].split("Optional evidence sections")[0]
    documented = {name for cell in re.findall(r"^\| (`[^|]*`) \|", table, re.M)
                  for name in re.findall(r"`([a-zA-Z_]+)`", cell)}
    evidence = sample_evidence(slices=3)
    actual = set(context(RenderContext(evidence, sample_verdict(evidence))))
    assert documented == actual
