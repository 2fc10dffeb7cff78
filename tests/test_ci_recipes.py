"""The CI recipes in docs/ci work as written: they install the gate without git (a wheel, the way a package
index serves it, into a fresh virtual environment with no git on PATH, as in python:3.11-slim), trigger on
every input of a release, keep the outputs and upload SARIF only when it exists, and their gate commands run on
the bundled example with the exit codes the job relies on."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
CI = ROOT / "docs" / "ci"
GOVERNANCE = str(Path(sys.executable).parent / "governance")
#: every file of the bundled example release, as a path in the repository that gates it
EXAMPLE = sorted(p.name for p in (ROOT / "examples" / "credit").iterdir() if p.is_file())


def _run_gate_commands(commands: list[str], cwd: Path, env: dict, governance: str = GOVERNANCE) -> list[int]:
    codes = []
    for line in commands:
        if line.strip().startswith("governance "):
            argv = shlex.split(line)
            done = subprocess.run([governance, *argv[1:]], cwd=cwd, env=env, capture_output=True, text=True)
            codes.append(done.returncode)
    return codes


def _workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "repo"
    shutil.copytree(ROOT / "examples" / "credit", ws)
    return ws


def _glob(pattern: str) -> re.Pattern[str]:
    """A GitHub paths / GitLab changes glob: ``**`` any path, ``*`` and ``?`` within one folder."""
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out + r"\Z")


def _untriggered(patterns: list[str], files: list[str]) -> list[str]:
    return [f for f in files if not any(_glob(p).match(f) for p in patterns)]


@pytest.fixture(scope="module")
def clean_env(tmp_path_factory) -> dict[str, str]:
    """A fresh venv holding only the gate's wheel (its dependencies come from the test venv, read-only), and a
    PATH of that venv alone: no git, as in python:3.11-slim."""
    base = tmp_path_factory.mktemp("clean")
    wheels = base / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(wheels)], check=True, capture_output=True)
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True)
    purelib = Path(subprocess.run([str(venv / "bin" / "python"), "-c", "import sysconfig;"
                                   "print(sysconfig.get_paths()['purelib'])"],
                                  check=True, capture_output=True, text=True).stdout.strip())
    # the dependencies (numpy, torch, weasyprint, ...) without this checkout's editable install of the gate:
    # a folder of links to the test venv's packages, minus the gate's own entries
    deps = base / "deps"
    deps.mkdir()
    for entry in Path(sysconfig.get_paths()["purelib"]).iterdir():
        if not re.match(r"(pruning_governance|_?_?editable__|governance\b)", entry.name):
            (deps / entry.name).symlink_to(entry)
    (purelib / "deps.pth").write_text(f"{deps}\n")
    path = str(venv / "bin")
    assert shutil.which("git", path=path) is None
    return {"PATH": path, "HOME": str(base), "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(wheels),
            "PIP_DISABLE_PIP_VERSION_CHECK": "1", "VIRTUAL_ENV": str(venv), "LANG": "C.UTF-8"}


def _install(lines: list[str], env: dict[str, str], cwd: Path) -> None:
    """Run the recipe's pip lines as written, against the wheel folder instead of the network (torch, which the
    test venv already has, is the one line skipped)."""
    pip_lines = [line for line in lines if line.strip().startswith("pip install")]
    assert pip_lines and not any("git+" in line for line in pip_lines), pip_lines
    for line in pip_lines:
        if "torch>=" in line and "pruning-governance" not in line:
            continue
        argv = shlex.split(line)
        done = subprocess.run([env["PATH"] + "/pip", *argv[1:], "--no-deps"], cwd=cwd, env=env,
                              capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
    shown = subprocess.run([env["PATH"] + "/python", "-c", "import governance; print(governance.__file__)"], env=env,
                           cwd=cwd, capture_output=True, text=True, check=True).stdout
    assert str(ROOT) not in shown  # the installed wheel, not this checkout


def test_github_actions_recipe(tmp_path, clean_env):
    wf = yaml.safe_load((CI / "github-actions.yml").read_text())
    job = wf["jobs"]["gate"]
    steps = job["steps"]
    gate = next(s for s in steps if s.get("name") == "Gate the release")
    install = next(s for s in steps if str(s.get("name", "")).startswith("Install the gate"))
    upload = next(s for s in steps if s.get("uses", "").startswith("actions/upload-artifact"))
    sarif = next(s for s in steps if s.get("uses", "").startswith("github/codeql-action/upload-sarif"))
    assert any(s.get("uses", "").startswith("actions/cache") for s in steps)  # pip downloads are cached
    # uploads run after a failed gate step, and only when the file exists (exit 2 writes nothing)
    assert upload["if"].startswith("always()") and "hashFiles('gate/verdict.json')" in upload["if"]
    assert sarif["if"].startswith("always()") and f"hashFiles('{sarif['with']['sarif_file']}')" in sarif["if"]
    assert job["permissions"] == {"contents": "read", "security-events": "write", "actions": "read"}
    on = wf[True] if True in wf else wf["on"]  # YAML 1.1 reads the key `on` as true
    for event in ("push", "pull_request"):
        assert _untriggered(on[event]["paths"], EXAMPLE) == [], event
    ws = _workspace(tmp_path)
    _install(install["run"].splitlines(), clean_env, ws)
    governance = clean_env["PATH"] + "/governance"
    summary = tmp_path / "step-summary.md"
    env = {**clean_env, "GITHUB_STEP_SUMMARY": str(summary)}
    assert _run_gate_commands(gate["run"].splitlines(), ws, env, governance) == [0]
    out = ws / upload["with"]["path"]
    assert (ws / sarif["with"]["sarif_file"]).is_file() and (out / "audit_report.pdf").is_file()
    assert "PASS" in summary.read_text()
    # the same step on the blocked candidate fails the job, and still leaves SARIF to upload
    blocked = [gate["run"].replace("release.yaml", "release-aggressive.yaml").replace("gate", "gate2")]
    assert _run_gate_commands(blocked, ws, env, governance) == [1]
    assert (ws / "gate2" / "governance.sarif").is_file()
    # bad input: exit 2, nothing written, so the upload steps are skipped by their hashFiles condition
    (ws / "release.yaml").write_text((ws / "release.yaml").read_text().replace("target: label", "target: lable"))
    bad = [gate["run"].replace("gate", "gate3")]
    assert _run_gate_commands(bad, ws, env, governance) == [2]
    assert not (ws / "gate3" / "governance.sarif").exists()
    assert "stopped (exit 2)" in summary.read_text()


def test_gitlab_recipe_in_a_clean_python_image(tmp_path, clean_env):
    job = yaml.safe_load((CI / "gitlab-ci.yml").read_text())["release-gate"]
    assert job["image"] == "python:3.11-slim"
    assert job["artifacts"]["when"] == "always" and job["artifacts"]["reports"]["junit"] == "gate/junit.xml"
    assert job["variables"]["PIP_CACHE_DIR"].startswith("$CI_PROJECT_DIR") and job["cache"]["paths"] == [".cache/pip"]
    assert _untriggered(job["rules"][0]["changes"], EXAMPLE) == []
    ws = _workspace(tmp_path)
    _install(job["before_script"], clean_env, ws)
    assert _run_gate_commands(job["script"], ws, clean_env, clean_env["PATH"] + "/governance") == [0]
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
