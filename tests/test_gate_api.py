"""The gate as a library (governance.gate): docs/api.md's example runs, results are typed objects, the CLI is a
thin shell that prints a summary renderer's text, every outcome table covers every Status, py.typed ships."""

from __future__ import annotations

import ast
import contextlib
import io
import json
import re
import shutil
from pathlib import Path

import pytest

from governance.cli import main
from governance.errors import InputError
from governance.findings import ExitCode, Status
from governance.gate import NOT_VALID, Outputs, Result, check, evaluate, load_verdict, render
from governance.render import RENDERERS
from governance.render.console import COLOUR, ConsoleSummary
from governance.render.job_summary import ICON, JobSummary
from governance.render.json_summary import JsonSummary
from governance.render.summary import MISSING_STATUS, exhaustive
from governance.trail import CHECKSUMS, SIGNATURE

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "api.md"


@pytest.fixture(scope="module")
def gated(tmp_path_factory) -> tuple[Path, Result]:
    """The credit example copied to a temporary folder and gated once, in memory."""
    rel = tmp_path_factory.mktemp("gate") / "credit"
    shutil.copytree(ROOT / "examples" / "credit", rel)
    return rel, check(rel / "release.yaml", out=None)


def test_the_documented_example_runs(monkeypatch):
    code = re.search(r"```python\n(.*?)```", DOC.read_text(), re.S).group(1)
    monkeypatch.chdir(ROOT)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code, str(DOC), "exec"), {"__name__": "api_example"})
    lines = printed.getvalue().splitlines()
    assert lines[0] == "PASS: the candidate may ship" and lines[1] == "[]"
    assert any(line.startswith("BLOCKED by PERF-001") for line in lines)


def test_in_memory_check_writes_nothing_and_holds_every_output(gated):
    rel, result = gated
    before = sorted(p.name for p in rel.iterdir())
    assert result.outputs.out is None and result.outputs.paths == {} and result.out is None
    assert set(result.outputs.files) == set(RENDERERS) | {CHECKSUMS}  # unsigned: no verdict.sig
    assert json.loads(result.outputs.files["verdict.json"])["decision"] == result.verdict.decision == "pass"
    assert result.exit_code is ExitCode.SHIP and result.decision_line == "PASS: the candidate may ship"
    assert sorted(p.name for p in rel.parent.iterdir()) == ["credit"]
    assert sorted(p.name for p in rel.iterdir()) == before


def test_the_cli_prints_what_the_summary_renderers_render(gated, tmp_path, capsys):
    """`governance evaluate --json` output == JsonSummary of the published verdict; likewise the table."""
    rel, result = gated
    (tmp_path / "evidence.json").write_bytes(result.outputs.files["evidence.json"])
    out = tmp_path / "re"
    code = main(["evaluate", "--evidence", str(tmp_path / "evidence.json"), "--policy", str(rel / "policy.yaml"),
                 "--out", str(out), "--json"])
    printed = capsys.readouterr().out
    published = Result(result.evidence, load_verdict(out / "verdict.json"), Outputs({}, out))
    assert code == 0 and printed == JsonSummary().render(published)
    assert json.loads(printed)["line"] == published.decision_line
    table = ConsoleSummary().render(published)
    assert "PERF-001" in table and table.rstrip().endswith(f"PASS: the candidate may ship  (outputs in {out})")
    assert JobSummary().render(published).startswith("### Release gate: credit-tree")


def test_render_in_memory_makes_every_document_unsigned(gated):
    _, result = gated
    outputs = render(result.evidence, result.verdict, out=None)
    assert outputs.out is None and SIGNATURE not in outputs.files
    assert set(outputs.files) == set(RENDERERS) | {CHECKSUMS}
    assert outputs.files["verdict.json"] == result.outputs.files["verdict.json"]


def test_bad_input_is_raised_as_input_error_naming_the_file(tmp_path):
    with pytest.raises(InputError) as exc:
        check(tmp_path / "missing.yaml", out=None)
    assert "missing.yaml" in str(exc.value)
    (tmp_path / "evidence.json").write_text("{}")
    with pytest.raises(InputError, match=NOT_VALID.format(what="evidence", msg="")) as exc:
        evaluate(tmp_path / "evidence.json", "builtin:nist-ai-rmf", out=None)
    assert exc.value.file == str(tmp_path / "evidence.json")


@pytest.mark.parametrize("table", [COLOUR, ICON], ids=["console COLOUR", "job summary ICON"])
def test_every_status_has_an_entry_in_every_outcome_table(table):
    assert set(table) == set(Status)


def test_an_outcome_table_missing_a_status_is_refused():
    with pytest.raises(TypeError) as exc:
        exhaustive({Status.PASS: "green"}, "T")
    assert str(exc.value) == MISSING_STATUS.format(table="T", missing="fail, waived, inconclusive, error")


def test_no_module_imports_private_cli_functions():
    """The demo and everything else use governance.gate; only the entry points import the CLI."""
    offenders = []
    for path in (ROOT / "governance").rglob("*.py"):
        imports = [n for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.ImportFrom)]
        offenders += [f"{path.relative_to(ROOT)}: {n.module}" for n in imports if path.name != "__main__.py"
                      and (n.module or "").endswith("cli") and (n.level > 0 or (n.module or "").startswith("gov"))]
    assert offenders == []


def test_the_package_is_marked_typed():
    assert (ROOT / "governance" / "py.typed").is_file()
