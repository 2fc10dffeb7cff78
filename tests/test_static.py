"""The static-check configuration stays honest: exemptions are still needed, ignores are written down, and
ruff is clean. mypy itself runs in CI (.ci/run), not here: a cold run takes minutes."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
DOC = ROOT / "docs" / "static-checks.md"


def _ruff() -> str:
    found = Path(sys.executable).with_name("ruff")
    if found.exists():
        return str(found)
    path = shutil.which("ruff")
    if path is None:
        pytest.skip("ruff is not installed (pip install -e '.[dev]')")
    return path


def _untyped_overrides() -> list[str]:
    return [m for o in PYPROJECT["tool"]["mypy"]["overrides"] if o.get("ignore_missing_imports")
            for m in o["module"] if not m.endswith(".*")]


def test_mypy_uses_the_pydantic_plugin_at_default_strictness() -> None:
    mypy = PYPROJECT["tool"]["mypy"]
    assert "pydantic.mypy" in mypy["plugins"]
    assert "strict" not in mypy and "ignore_missing_imports" not in mypy  # exemptions only per module


@pytest.mark.parametrize("module", _untyped_overrides())
def test_every_untyped_exemption_is_still_needed(module: str) -> None:
    """A package that starts shipping py.typed must leave the ignore_missing_imports list."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        pytest.skip(f"{module} is not installed here")
    folder = Path(next(iter(spec.submodule_search_locations)))
    assert not (folder / "py.typed").exists(), f"{module} ships py.typed: remove it from [[tool.mypy.overrides]]"


def test_every_exemption_and_ignored_rule_is_documented() -> None:
    doc = DOC.read_text()
    lint = PYPROJECT["tool"]["ruff"]["lint"]
    for code in [*lint["ignore"], *lint.get("external", [])]:
        assert f"`{code}`" in doc, f"ruff ignores {code}: say why in {DOC.name}"
    for family in lint["select"]:
        assert re.search(rf"`{family}`", doc), f"ruff selects {family}: list it in {DOC.name}"
    for module in _untyped_overrides():
        assert f"`{module}`" in doc, f"mypy exempts {module}: list it in {DOC.name}"


def test_ci_names_both_checks() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    assert "mypy governance" in ci and "ruff check governance tests" in ci


def test_ruff_reports_a_planted_defect(tmp_path: Path) -> None:
    """The configured rule set is live: an unused import and a bare except are reported."""
    planted = tmp_path / "planted.py"
    planted.write_text("import os\n\ntry:\n    pass\nexcept Exception:\n    pass\n")
    run = subprocess.run([_ruff(), "check", "--no-cache", "--config", str(ROOT / "pyproject.toml"),
                          "--output-format", "concise", str(planted)], capture_output=True, text=True, check=False)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "F401" in run.stdout and "BLE001" in run.stdout


def test_ruff_is_clean() -> None:
    run = subprocess.run([_ruff(), "check", "--no-cache", "governance", "tests"], cwd=ROOT, capture_output=True,
                         text=True, check=False)
    assert run.returncode == 0, run.stdout[-4000:]
