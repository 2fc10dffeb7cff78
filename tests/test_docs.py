"""The README's examples are executed: its YAML snippets validate and its table lists every rule kind."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from governance.manifest import Manifest
from governance.metrics import FAIRNESS_METRICS, METRICS
from governance.policy import parse_policy
from governance.rules import KINDS

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()
BLOCKS = re.findall(r"```yaml\n(.*?)```", README, flags=re.S)


def _block(title: str) -> dict:
    block = next(b for b in BLOCKS if b.startswith(f"# {title}\n"))
    return yaml.safe_load(block)


def test_readme_manifest_example_is_valid():
    m = Manifest.model_validate(_block("release manifest"))
    assert m.data.sensitive == ["group", "region"]


def test_readme_policy_example_is_valid():
    policy = parse_policy(_block("policy"), path=Path("README.md"))
    assert [r.id for r in policy.rules] == ["PERF-001", "PERF-002", "FAIR-001", "FAIR-002"]


def test_readme_documents_every_rule_kind_and_metric():
    for kind in KINDS:
        assert f"| `{kind}` |" in README, kind
    for metric in (*METRICS, *FAIRNESS_METRICS):
        assert f"`{metric}`" in README, metric


def test_policy_reference_is_current_and_every_kind_has_a_valid_example():
    from governance.reference import EXAMPLES, policy_reference

    docs = Path(__file__).resolve().parent.parent / "docs" / "policy-reference.md"
    assert docs.read_text() == policy_reference(), "run: governance policy reference > docs/policy-reference.md"
    assert set(EXAMPLES) == set(KINDS)
    policy = parse_policy({"name": "examples", "rules": list(EXAMPLES.values())}, path=docs)
    assert {r.kind for r in policy.rules} == set(KINDS)


def test_published_json_schemas_are_current():
    from governance.schemas import schema_text, schemas

    folder = Path(__file__).resolve().parent.parent / "docs" / "schemas"
    for name in schemas():
        assert (folder / f"{name}.schema.json").read_text() == schema_text(name), \
            f"run: governance schema {name} > docs/schemas/{name}.schema.json"


def test_policy_explain_output_in_the_docs_is_current(capsys):
    from governance.cli import main

    assert main(["policy", "explain", "builtin:nist-ai-rmf"]) == 0
    out = capsys.readouterr().out
    docs = (Path(__file__).resolve().parent.parent / "docs" / "nist-ai-rmf-pack.md").read_text()
    assert "```text\n" + out + "```" in docs, "regenerate docs/nist-ai-rmf-pack.md (see its header)"
