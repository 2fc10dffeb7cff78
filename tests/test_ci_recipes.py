"""The CI recipes in docs/ci work as written: their gate commands run on the bundled example."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
CI = ROOT / "docs" / "ci"
GOVERNANCE = str(Path(sys.executable).parent / "governance")


def _run_gate_commands(commands: list[str], cwd: Path, env: dict) -> list[int]:
    codes = []
    for line in commands:
        if line.strip().startswith("governance "):
            argv = shlex.split(line)
            done = subprocess.run([GOVERNANCE, *argv[1:]], cwd=cwd, env=env, capture_output=True, text=True)
            codes.append(done.returncode)
    return codes


def _workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "repo"
    shutil.copytree(ROOT / "examples" / "credit", ws)
    return ws


def test_github_actions_recipe(tmp_path):
    wf = yaml.safe_load((CI / "github-actions.yml").read_text())
    steps = wf["jobs"]["gate"]["steps"]
    gate = next(s for s in steps if s.get("name") == "Gate the release")
    upload = next(s for s in steps if s.get("uses", "").startswith("actions/upload-artifact"))
    sarif = next(s for s in steps if s.get("uses", "").startswith("github/codeql-action/upload-sarif"))
    assert upload["if"] == "always()" and sarif["if"] == "always()"
    assert wf["jobs"]["gate"]["permissions"]["security-events"] == "write"
    ws = _workspace(tmp_path)
    summary = tmp_path / "step-summary.md"
    env = {**os.environ, "GITHUB_STEP_SUMMARY": str(summary)}
    assert _run_gate_commands(gate["run"].splitlines(), ws, env) == [0]
    out = ws / upload["with"]["path"]
    assert (ws / sarif["with"]["sarif_file"]).is_file() and (out / "audit_report.pdf").is_file()
    assert "PASS" in summary.read_text()
    # the same step on the blocked candidate fails the job
    blocked = [gate["run"].replace("release.yaml", "release-aggressive.yaml").replace("gate", "gate2")]
    assert _run_gate_commands(blocked, ws, env) == [1]


def test_gitlab_recipe(tmp_path):
    job = yaml.safe_load((CI / "gitlab-ci.yml").read_text())["release-gate"]
    assert job["artifacts"]["when"] == "always" and job["artifacts"]["reports"]["junit"] == "gate/junit.xml"
    ws = _workspace(tmp_path)
    assert _run_gate_commands(job["script"], ws, dict(os.environ)) == [0]
    for path in job["artifacts"]["paths"] + [job["artifacts"]["reports"]["junit"]]:
        assert (ws / path).exists(), path


def test_signing_commands_in_the_ci_doc(tmp_path):
    text = (ROOT / "docs" / "ci.md").read_text()
    block = text.split("```sh", 1)[1].split("```", 1)[0]
    commands = [line.split("#")[0].strip() for line in block.strip().splitlines()]
    ws = _workspace(tmp_path)
    assert _run_gate_commands(commands, ws, dict(os.environ)) == [0, 0, 0]
    (ws / "eval.csv").write_text((ws / "eval.csv").read_text() + "\n")
    assert _run_gate_commands([commands[-1]], ws, dict(os.environ)) == [1]
