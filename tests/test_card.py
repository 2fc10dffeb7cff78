"""Card facts (card.yaml) and the Markdown model card: validation, visible gaps, Hugging Face round trip."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from governance.card import CARD_NOT_FOUND, MISSING, CardFacts, MarkdownCard, load_card
from governance.cli import main
from governance.errors import InputError
from governance.render import RENDERERS, RenderContext
from governance.render.sample import sample_evidence, sample_verdict

ROOT = Path(__file__).resolve().parent.parent

CARD = {
    "model_details": {
        "name": "credit-lr", "description": "A logistic regression for loan applications.",
        "owners": ["Risk team", "Jo | the reviewer"], "contact": "risk@example.com", "license": "apache-2.0",
        "version": "1.1.0-pruned", "date": "2025-06-02", "base_model": "example-org/credit-lr-1.0",
        "architecture": "logistic regression",
        "pruning": {"method": "magnitude pruning of coefficients", "target_sparsity": 0.25, "scope": "coef_"},
    },
    "intended_use": {"primary_uses": "Rank applications for review.", "out_of_scope_uses": ["Automated denial"]},
    "evaluation_data": {"datasets": ["example-org/credit-eval"], "description": "held-out rows\nsecond line"},
    "limitations": ["Synthetic data."],
    "tags": ["credit"],
}


@pytest.fixture(scope="module")
def evidence():
    return sample_evidence(slices=6)


def _md(evidence, card: CardFacts | None) -> str:
    return RENDERERS["model_card.md"](RenderContext(evidence, sample_verdict(evidence), card=card)).decode()


def test_bundled_example_card_is_valid():
    card = load_card(ROOT / "examples" / "credit" / "card.yaml")
    assert card.model_details.license and card.intended_use.out_of_scope_uses and card.limitations


def test_a_string_is_accepted_where_a_list_is_expected():
    card = CardFacts.model_validate(CARD)
    assert card.intended_use.primary_uses == ["Rank applications for review."]


def test_unknown_key_names_file_field_and_line(tmp_path):
    bad = {**CARD, "model_details": {**CARD["model_details"], "licence": "mit"}}
    path = tmp_path / "card.yaml"
    path.write_text(yaml.safe_dump(bad, sort_keys=False))
    with pytest.raises(InputError) as err:
        load_card(path)
    text = str(err.value)
    assert str(path) in text and "model_details.licence" in text and "line" in text and "unknown key" in text


def test_bad_card_in_a_release_is_exit_2_with_one_line(release_dir, tmp_path, capsys):
    import shutil

    rel = tmp_path / "rel"
    shutil.copytree(release_dir, rel)
    (rel / "card.yaml").write_text("model_details:\n  pruning:\n    target_sparsity: 1.5\n")
    manifest = yaml.safe_load((rel / "release.yaml").read_text())
    (rel / "release.yaml").write_text(yaml.safe_dump({**manifest, "card": "card.yaml"}))
    code = main(["check", str(rel / "release.yaml"), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "card.yaml" in err and "model_details.pruning.target_sparsity (line 3)" in err
    assert not (tmp_path / "out").exists()


def test_missing_card_file_is_exit_2(release_dir, tmp_path, capsys):
    import shutil

    rel = tmp_path / "rel"
    shutil.copytree(release_dir, rel)
    manifest = yaml.safe_load((rel / "release.yaml").read_text())
    (rel / "release.yaml").write_text(yaml.safe_dump({**manifest, "card": "nope.yaml"}))
    assert main(["check", str(rel / "release.yaml"), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "release.yaml: card: " + CARD_NOT_FOUND.format(path="") in err


def test_card_round_trips_through_our_split_and_huggingface_hub(evidence):
    from huggingface_hub import ModelCard

    text = _md(evidence, CardFacts.model_validate(CARD))
    ours = MarkdownCard.loads(text)
    assert str(ours) == text == str(MarkdownCard.loads(str(ours)))
    card = ModelCard(text)
    assert str(card) == text  # the Hub library writes back exactly what we wrote
    assert str(ModelCard(str(card))) == str(card)
    data = card.data
    assert data.license == "apache-2.0" and data.base_model == "example-org/credit-lr-1.0"
    assert "pruned" in data.tags and "credit" in data.tags
    assert data.datasets == ["example-org/credit-eval"]
    # model-index holds this model's (the candidate's) results once each; the baseline's belong to its own card
    results = [(r.metric_type, r.metric_value) for r in data.eval_results]
    assert len(results) == len({t for t, _ in results})
    assert dict(results)["accuracy"] == round(evidence.models["candidate"].overall["accuracy"], 4)
    assert all("baseline" not in (r.metric_name or "") for r in data.eval_results)
    assert {r.dataset_type for r in data.eval_results} == {"example-org/credit-eval"}  # an id, not a file path
    assert set(data.metrics) >= {"accuracy", "roc_auc"}
    assert data.library_name == "sklearn" and data.pipeline_tag == "tabular-classification"
    assert data.to_dict().get("base_model_relation") is None  # pruned: the Hub has no such relation value


def test_without_a_card_every_fact_is_marked_missing_and_the_card_still_loads(evidence):
    from huggingface_hub import ModelCard

    text = _md(evidence, None)
    assert text.count(MISSING) >= 20
    body = MarkdownCard.loads(text).text
    for section in ("## Model Details", "## Uses", "## Factors", "## Training Data", "## Evaluation Data",
                    "## Quantitative Analyses", "## Ethical Considerations", "## Caveats and Recommendations",
                    "## Limitations"):
        assert section in body
    card = ModelCard(text)
    assert "license" not in card.data.to_dict()  # unknown facts are left out of the metadata, shown in the body
    assert card.data.eval_results


def test_markdown_table_cells_escape_pipes_and_line_breaks(evidence):
    text = _md(evidence, CardFacts.model_validate(CARD))
    assert "| Developed by (owners) | Risk team, Jo \\| the reviewer |" in text
    row = next(line for line in text.splitlines() if line.startswith("| Name |"))
    assert row.count("|") == 3


def test_quantitative_sections_come_from_the_evidence(evidence):
    text = _md(evidence, CardFacts.model_validate(CARD))
    first = next(iter(evidence.models["candidate"].slices["segment"]))
    assert f"| {first} |" in text
    assert "### Calibration" in text and "Not measured" not in text.split("### Calibration")[1].split("###")[0]
    bare = evidence.model_copy(update={"calibration": None, "efficiency": None, "robustness": None})
    text = _md(bare, None)
    for section in ("### Calibration", "### Efficiency", "### Robustness"):
        assert text.split(section)[1].lstrip().startswith("Not measured")


def test_a_quantized_candidate_names_its_relation_to_the_base_model(evidence):
    from huggingface_hub import ModelCard

    eff = evidence.efficiency
    assert eff is not None
    models = {"baseline": eff.models["baseline"].model_copy(update={"weight_bits": 32}),
              "candidate": eff.models["candidate"].model_copy(update={"weight_bits": 8})}
    quantized = evidence.model_copy(update={"efficiency": eff.model_copy(update={"models": models}),
                                            "provenance": None})
    data = ModelCard(_md(quantized, CardFacts.model_validate(CARD))).data
    assert "quantized" in data.tags and data.base_model == "example-org/credit-lr-1.0"
    assert data.to_dict()["base_model_relation"] == "quantized"
