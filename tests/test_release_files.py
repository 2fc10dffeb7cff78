"""One generator for the release files (governance/release_files.py): `governance init` and `governance demo` write
files that load with the same models, list the same card fields, and read back as the data they were made from;
and the policy's rule union, written out by hand, lists exactly the registry's kinds."""

from __future__ import annotations

import datetime as dt
import typing
from pathlib import Path

import pytest
import yaml

from governance import release_files as rf
from governance.card import CardFacts, load_card
from governance.errors import InputError
from governance.manifest import load_manifest
from governance.policy import Policy, Rule, load_policy
from governance.provenance import load_provenance
from governance.rules import KINDS
from governance.scaffold import Inputs, release_files

ROOT = Path(__file__).resolve().parent.parent
CREDIT = ROOT / "examples" / "credit"
ROWS = {"train": 120, "eval": 60}


# --------------------------------------------------------------------------- the rule union
def test_rule_union_lists_exactly_the_registry_kinds_in_its_order():
    union, discriminator = typing.get_args(Rule)
    assert discriminator.discriminator == "kind"
    assert list(typing.get_args(union)) == [k.params for k in KINDS.values()]
    # the policy's rules are that union (plus the plugin kinds, validated by their own models: tests/test_plugins.py)
    member = typing.get_args(Policy.model_fields["rules"].annotation)[0]
    assert typing.get_args(member)[: len(typing.get_args(Rule))] == typing.get_args(Rule)


# --------------------------------------------------------------------------- the files each command writes
def _init_files(tmp_path: Path, with_models: bool) -> list[rf.ReleaseFile]:
    folder = tmp_path / "rel"
    inputs = (Inputs(CREDIT / "baseline.skops", CREDIT / "pruned.skops", CREDIT / "eval.csv", CREDIT / "train.parquet")
              if with_models else Inputs())
    from governance.scaffold import data_columns

    return release_files(folder, "rel", inputs, data_columns(CREDIT / "eval.csv") if with_models else None)


def _demo_files(tmp_path: Path) -> dict[str, Path]:
    from governance.demo import CANDIDATES, files
    from governance.demo.train import FULL

    out = tmp_path / "demo"
    out.mkdir()
    cand = CANDIDATES[0]
    for name in ("eval.parquet", "train.parquet", "baseline.safetensors", f"{cand.name}.safetensors"):
        (out / name).write_text(name)  # distinct contents: distinct sha256 (the demo hashes its files)
    prov = files.provenance(out, cand, FULL, 0, ROWS)
    assert prov is not None
    return {"release": files.manifest(out, cand, [16, 8], True, has_provenance=True),
            "card": files.card(out, cand, FULL, ROWS, [16, 8], 0), "provenance": prov}


@pytest.mark.parametrize("with_models", [True, False])
def test_init_files_load_with_the_gates_loaders_and_round_trip(tmp_path, with_models):
    made = _init_files(tmp_path, with_models)
    assert [f.name for f in made] == ["release.yaml", "policy.yaml", "card.yaml", "provenance.yaml"]
    written = rf.write(tmp_path / "rel", made)
    loaders = {"release.yaml": load_manifest, "policy.yaml": load_policy, "card.yaml": load_card,
               "provenance.yaml": load_provenance}
    for f, path in zip(made, written):
        assert yaml.safe_load(path.read_text()) == f.data  # the comments change nothing
        if with_models or f.name != "provenance.yaml":  # without the models' hashes it is a form to fill in
            assert f.load is loaders[f.name]
            loaders[f.name](path)
    assert load_card(written[2]).model_details.date == dt.date.today()


def test_demo_files_load_with_the_same_loaders_as_init(tmp_path):
    paths = _demo_files(tmp_path)
    m = load_manifest(paths["release"]).manifest
    assert m.card == paths["card"].name and m.provenance == paths["provenance"].name
    assert m.candidate.architecture_kwargs == {"hidden": [16, 8]}
    facts = load_card(paths["card"])
    assert facts.model_details.pruning.target_sparsity == 0.5 and facts.language == ["en"]
    assert load_provenance(paths["provenance"]).models["candidate"].parent is not None


def test_init_and_demo_cards_list_the_same_fields_the_card_model_has(tmp_path):
    model_fields = rf.card_fields()
    assert ("model_details", "pruning", "fine_tuning") in model_fields and ("language",) in model_fields
    init_card = next(f for f in _init_files(tmp_path, False) if f.name == "card.yaml")
    demo_path = _demo_files(tmp_path)["card"]
    demo_card = yaml.safe_load(demo_path.read_text())
    assert rf.card_fields(init_card.data) == model_fields == rf.card_fields(demo_card)
    assert list(demo_card) == list(CardFacts.model_fields)  # the model's order
    # a field the demo leaves out is written empty, which means what leaving it out means
    assert demo_card["model_details"]["contact"] is None and load_card(demo_path).model_details.contact is None


def test_an_empty_card_field_says_what_to_fill_in_a_filled_one_does_not(tmp_path):
    text = next(f for f in _init_files(tmp_path, False) if f.name == "card.yaml").text()
    assert "  owners: []                      # people or team responsible" in text
    assert "  name: rel\n" in text  # filled in: no comment


# --------------------------------------------------------------------------- the writer
def test_generated_yaml_round_trips_values_that_need_care():
    data = {
        "version": "1.10", "count": 3, "none": None, "empty": {}, "nothing": [], "when": dt.date(2026, 1, 2),
        "long": "word " * 40, "colon": "a: b # not a comment", "unicode": "José Núñez, 李明", "odd key!": 1,
        "nested": {"list": ["a", "b"], "records": [{"role": "owner", "name": "Ada"}], "deep": {"x": 1.5}},
    }
    comments = rf.Comments(header="head\n\nline", inline={("long",): "folded: comment goes above",
                                                          ("nested", "list"): "two\nlines",
                                                          ("nested", "deep"): "a block"},
                           after={("nested", "list"): "# list: [c]"}, footer="# the end")
    text = rf.to_yaml(data, comments)
    assert yaml.safe_load(text) == data
    lines = text.splitlines()
    assert lines[:3] == ["# head", "#", "# line"] and lines[-1] == "# the end"
    long_at = next(i for i, line in enumerate(lines) if line.startswith("long:"))
    assert lines[long_at - 1] == "# folded: comment goes above" and lines[long_at + 1].startswith("  ")
    assert 'version: "1.10"' in text  # a version stays text when someone edits it
    assert "  list: [a, b]                    # two" in text and "  # list: [c]" in text


def test_a_file_the_gate_would_refuse_is_never_written(tmp_path):
    folder = tmp_path / "never"
    bad = rf.card_file("card.yaml", {"model_details": {"colour": "blue"}}, "a card with a typo")
    with pytest.raises(InputError) as err:
        rf.write(folder, [bad])
    assert err.value.file == str(folder / "card.yaml") and "(nothing written)" in err.value.message
    assert "colour" in str(err.value)
    assert not folder.exists()


def test_a_non_string_key_is_an_input_error():
    with pytest.raises(InputError, match=rf.NOT_A_MAPPING.split("{")[0]):
        rf.to_yaml({"ok": {1: "x"}})
