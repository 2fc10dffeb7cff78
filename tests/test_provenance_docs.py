"""docs/provenance.md is executed: its provenance file validates and its runnable example gives what it says."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import yaml
from builders import FAST
from conftest import write_yaml

from governance.cli import main
from governance.policy import parse_policy
from governance.provenance import Provenance

ROOT = Path(__file__).resolve().parent.parent
DOC = (ROOT / "docs" / "provenance.md").read_text()
BLOCKS = re.findall(r"```yaml\n(.*?)```", DOC, flags=re.S)


def _block(title: str) -> dict:
    return yaml.safe_load(next(b for b in BLOCKS if b.startswith(f"# {title}\n")))


def test_documented_provenance_file_is_valid():
    prov = Provenance.model_validate(_block("provenance"))
    cand = prov.models["credit-tree-1.1.0-pruned"]
    assert cand.parent == prov.models["credit-tree-1.0.0"].sha256
    assert prov.datasets["credit-eval"].personal_data == ["email"]


def test_documented_example_runs_as_described(tmp_path, capsys):
    policy = _block("provenance policy")
    parse_policy(policy, path=Path("provenance-policy.yaml"))
    command = re.search(r"```sh\n(.*?)\n```", DOC.split("## A runnable example")[1], re.S).group(1)
    assert "governance check examples/credit/release.yaml --policy provenance-policy.yaml" in command
    example = tmp_path / "credit"
    shutil.copytree(ROOT / "examples" / "credit", example)
    manifest = yaml.safe_load((example / "release.yaml").read_text())
    write_yaml(example / "release.yaml", {**manifest, "evaluation": FAST})  # the same gate, minus timing
    write_yaml(tmp_path / "provenance-policy.yaml", policy)
    argv = ["check", str(example / "release.yaml"), "--policy", str(tmp_path / "provenance-policy.yaml"), "--quiet"]

    assert main([*argv, "--out", str(tmp_path / "out")]) == 0, capsys.readouterr().err
    verdict = json.loads((tmp_path / "out" / "verdict.json").read_text())
    status = {f["rule_id"]: f["status"] for f in verdict["findings"]}
    assert status == {"PROV-001": "pass", "DATA-001": "pass", "DATA-002": "pass", "DOC-001": "pass"}
    leakage = json.loads((tmp_path / "out" / "evidence.json").read_text())["leakage"]
    overlaps = {k: (d["role"], d["overlap_rows"]) for k, d in leakage["datasets"].items()}
    assert overlaps == {"credit-train": ("training", 0)}
    assert json.loads((tmp_path / "out" / "bom.cdx.json").read_text())["specVersion"] == "1.6"

    data = example / "eval.csv"
    raw = bytearray(data.read_bytes())
    raw[raw.index(b"\n") + 1] ^= 1  # one byte of the first row: '1' <-> '0'
    data.write_bytes(bytes(raw))
    assert main([*argv, "--out", str(tmp_path / "out2")]) == 1
    verdict = json.loads((tmp_path / "out2" / "verdict.json").read_text())
    prov = next(f for f in verdict["findings"] if f["rule_id"] == "PROV-001")
    assert prov["status"] == "fail" and "matches no declared dataset" in prov["message"]
