"""The rule specs are complete: every kind in KINDS has tests/rules/test_<kind>.py with a pass and a fail case.

A case counts when a test function's name contains "pass" (resp. "fail"); one test named for both counts for both.
Adding a rule kind without its spec file fails here, naming the kind."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from governance.rules import KINDS

HERE = Path(__file__).resolve().parent
#: why a kind's specs are incomplete (templates: format with kind and what)
NO_SPEC_FILE = "rule kind {kind!r} has no spec file tests/rules/test_{kind}.py"
NO_CASE = ("tests/rules/test_{kind}.py has no test named for a {what} case (a test function whose name "
           "contains {what!r})")


def _test_names(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    return [n.name for n in tree.body if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")]


def spec_problems(kind: str, folder: Path = HERE) -> list[str]:
    """What is missing for ``kind`` in ``folder``: [] when it has a spec file with a pass and a fail case."""
    path = folder / f"test_{kind}.py"
    if not path.is_file():
        return [NO_SPEC_FILE.format(kind=kind)]
    names = _test_names(path)
    return [NO_CASE.format(kind=kind, what=what) for what in ("pass", "fail") if not any(what in n for n in names)]


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_each_rule_kind_has_a_spec_file_with_a_pass_and_a_fail_case(kind):
    assert spec_problems(kind) == []


def test_the_completeness_check_fails_a_missing_file_and_a_file_without_a_fail_case(tmp_path):
    assert spec_problems("made_up", tmp_path) == [NO_SPEC_FILE.format(kind="made_up")]
    (tmp_path / "test_made_up.py").write_text("def test_made_up_passes():\n    assert True\n")
    assert spec_problems("made_up", tmp_path) == [NO_CASE.format(kind="made_up", what="fail")]


def test_every_spec_file_names_a_known_kind():
    stray = {p.stem.removeprefix("test_") for p in HERE.glob("test_*.py")} - set(KINDS) - {"every_kind_has_specs"}
    assert not stray, f"spec files for unknown rule kinds: {sorted(stray)}"
