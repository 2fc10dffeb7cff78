"""docs/monitoring.md's example, run as written: the credit release's check writes the contract, the clean window
passes (exit 0) and the drifted one alerts (exit 1) with the rules the comment names."""

from __future__ import annotations

import json
import re
import shlex
import shutil
from pathlib import Path

from governance.cli import main

ROOT = Path(__file__).resolve().parent.parent


def _example_commands() -> list[tuple[list[str], str | None]]:
    """(argv, the comment line after it) for each command of the doc's ``## Example`` shell block."""
    text = (ROOT / "docs" / "monitoring.md").read_text()
    block = re.search(r"## Example.*?```sh\n(.*?)```", text, re.S)
    assert block is not None
    lines = block.group(1).replace("\\\n", " ").splitlines()
    out: list[tuple[list[str], str | None]] = []
    for line in lines:
        if line.startswith("governance "):
            out.append((shlex.split(line.split("  #")[0])[1:], None))
        elif line.startswith("#") and out:
            out[-1] = (out[-1][0], line)
    return out


def test_the_monitoring_example_runs_as_written(tmp_path, monkeypatch):
    for name in ("credit", "monitoring"):
        shutil.copytree(ROOT / "examples" / name, tmp_path / "examples" / name)
    monkeypatch.chdir(tmp_path)
    commands = _example_commands()
    assert [argv[0] for argv, _ in commands] == ["check", "monitor", "monitor"]
    assert main([*commands[0][0], "--quiet"]) in (0, 1)
    assert (tmp_path / "out" / "credit" / "monitoring.json").is_file()
    for argv, comment in commands[1:]:
        assert comment is not None
        expected = int(re.search(r"\(exit (\d)\)", comment).group(1))
        assert main(argv) == expected, comment
        report = json.loads((tmp_path / "out" / "monitor" / "monitor.json").read_text())
        assert report["decision_line"].startswith(comment.lstrip("# ").split("  ")[0].strip())
    failed = {f["rule_id"] for f in report["windows"][-1]["findings"] if f["status"] == "fail"}
    named = set(re.findall(r"MON-[A-Z]+-\d+", commands[-1][1] or ""))
    assert named and named <= failed
