"""Third-party rule kinds from the ``pruning_governance.rules`` entry-point group, with the example package in
examples/rule-plugin installed (into a temporary folder) and exercised like a built-in kind."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from builders import OVERALL_B, OVERALL_C, TODAY, evidence, run

from governance.engine import evaluate
from governance.errors import InputError
from governance.policy import PLUGIN_HINT, UNKNOWN_KIND, parse_policy
from governance.rules import plugin_kinds
from governance.rules.plugins import installed

ROOT = Path(__file__).resolve().parent.parent
DOC = (ROOT / "docs" / "plugins.md").read_text()


def _doc_policy() -> dict:
    return yaml.safe_load(DOC.split("```yaml", 1)[1].split("```", 1)[0])


@pytest.fixture(scope="module")
def plugin_site(tmp_path_factory):
    site = tmp_path_factory.mktemp("plugin-site")
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "-q", "--target",
                    str(site), str(ROOT / "examples" / "rule-plugin")], check=True, capture_output=True)
    return site


@pytest.fixture
def with_plugin(plugin_site, monkeypatch):
    monkeypatch.syspath_prepend(str(plugin_site))
    importlib.invalidate_caches()
    installed.cache_clear()
    yield
    installed.cache_clear()  # the next test sees the gate as installed, without the plugin


def test_the_installed_plugin_is_found_with_its_distribution(with_plugin):
    found = plugin_kinds()["min_evaluation_rows"]
    assert (found.distribution, found.version) == ("pg-rules-example", "0.1.0")
    assert found.kind.params.model_fields["min"].is_required()


def test_the_documented_policy_judges_with_the_plugin_and_the_verdict_records_it(with_plugin):
    doc = _doc_policy()
    own = {**doc, "extends": None, "rules": doc["rules"]}  # the plugin rule alone, on evidence of 1,000 rows
    policy = parse_policy(own, Path("team.yaml"))
    ev = evidence(OVERALL_B, OVERALL_C)
    verdict = evaluate(policy, ev, TODAY)
    (f,) = verdict.findings
    assert (f.kind, f.status.value, f.observed) == ("min_evaluation_rows", "pass", 1000)
    assert verdict.policy["plugins"] == [{"kind": "min_evaluation_rows", "distribution": "pg-rules-example",
                                          "version": "0.1.0"}]
    stricter = parse_policy({**own, "rules": [{**doc["rules"][0], "min": 5000}]}, Path("team.yaml"))
    blocked = evaluate(stricter, ev, TODAY)
    assert blocked.decision == "blocked" and blocked.findings[0].status.value == "fail"


def test_a_plugin_rule_with_bad_parameters_is_bad_input_naming_the_field(with_plugin):
    bad = {"name": "p", "rules": [{"id": "X-1", "kind": "min_evaluation_rows", "min": 0}]}
    with pytest.raises(InputError) as err:
        parse_policy(bad, Path("team.yaml"))
    assert err.value.field is not None and "rules[0]" in err.value.field and "min" in err.value.field


def test_the_whole_documented_policy_extends_the_pack_through_the_cli(with_plugin, tmp_path, capsys):
    path = tmp_path / "team.yaml"
    path.write_text(yaml.safe_dump(_doc_policy()))
    code, out, _ = run(capsys, "policy", "lint", path)
    assert code == 0 and "ok" in out


def test_without_the_plugin_its_kind_is_bad_input_saying_a_plugin_may_be_missing(tmp_path, capsys):
    installed.cache_clear()
    path = tmp_path / "team.yaml"
    path.write_text(yaml.safe_dump(_doc_policy()))
    code, _, err = run(capsys, "policy", "lint", path)
    assert code == 2
    assert UNKNOWN_KIND.format(kind="min_evaluation_rows") + PLUGIN_HINT in err and "team.yaml" in err


def test_a_plugin_check_that_raises_is_an_error_finding_that_blocks(with_plugin, monkeypatch):
    from dataclasses import replace

    from governance.engine import PLUGIN_RAISED

    def broken(rule, evidence, defaults):
        raise RuntimeError("disk on fire")

    plugin = plugin_kinds()["min_evaluation_rows"]  # the installed plugin, its check swapped for one that raises
    monkeypatch.setitem(plugin_kinds(), "min_evaluation_rows", replace(plugin, kind=replace(plugin.kind, check=broken)))
    policy = parse_policy({"name": "p", "rules": [{"id": "X-1", "kind": "min_evaluation_rows", "min": 1}]},
                          Path("team.yaml"))
    verdict = evaluate(policy, evidence(OVERALL_B, OVERALL_C), TODAY)
    assert verdict.decision == "blocked" and verdict.findings[0].status.value == "error"
    assert verdict.findings[0].message == PLUGIN_RAISED.format(kind="min_evaluation_rows",
                                                               error="RuntimeError: disk on fire")
