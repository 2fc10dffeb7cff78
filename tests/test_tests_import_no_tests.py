"""No test module imports another: shared builders live in tests/builders.py (or tests/planted.py, conftest.py),
so a test file can be moved, renamed or deleted without breaking another."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent
#: a test module importing another test module (template: format with importer and imported)
IMPORTS_A_TEST = "{importer} imports the test module {imported}: move what it needs to tests/builders.py"


def cross_imports(root: Path = TESTS) -> list[str]:
    """Every import of a ``test_*`` module by a module under ``root`` (top level or inside a function)."""
    problems = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            for name in names:
                if any(part.startswith("test_") for part in name.split(".")):
                    problems.append(IMPORTS_A_TEST.format(importer=path.relative_to(root), imported=name))
    return problems


def test_no_test_module_imports_another():
    assert cross_imports() == []


def test_the_check_finds_an_import_inside_a_function(tmp_path):
    (tmp_path / "test_a.py").write_text("def test_x():\n    from test_b import helper\n")
    assert cross_imports(tmp_path) == [IMPORTS_A_TEST.format(importer="test_a.py", imported="test_b")]
