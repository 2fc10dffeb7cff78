"""No path of the build machine in what is published: the card, the ML-BOM, the audit report and SARIF name
files relative to the release folder (``../`` for a file beside it) or the repository, and a shipped policy pack
as ``builtin:NAME``."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml
from builders import make_release, write_yaml

from governance.gate import CheckOptions, check
from governance.hashing import shown_path

PUBLISHED = ("model_card.md", "model_card.html", "audit_report.html", "bom.cdx.json", "governance.sarif",
             "evidence.json")


def test_shown_path_is_relative_even_for_a_file_beside_the_release(tmp_path):
    (tmp_path / "rel").mkdir()
    (tmp_path / "data").mkdir()
    assert shown_path(tmp_path / "rel" / "eval.csv", tmp_path / "rel") == "eval.csv"
    assert shown_path(tmp_path / "data" / "eval.csv", tmp_path / "rel") == "../data/eval.csv"


def test_published_documents_hold_no_absolute_path(release_dir, tmp_path):
    manifest = make_release(release_dir, tmp_path, policy="builtin:nist-ai-rmf")
    shared = tmp_path / "shared-data"
    shared.mkdir()
    shutil.move(str(manifest.parent / "eval.csv"), shared / "eval.csv")  # data beside the release, not in it
    m = yaml.safe_load(manifest.read_text())
    m["data"]["path"] = "../shared-data/eval.csv"
    write_yaml(manifest, m)
    result = check(manifest, options=CheckOptions())
    for name in PUBLISHED:
        text = result.outputs.files[name].decode()
        assert str(tmp_path) not in text, name
        assert "site-packages" not in text and "/work/" not in text, name
    card = result.outputs.files["model_card.md"].decode()
    assert "../shared-data/eval.csv" in card
    report = result.outputs.files["audit_report.html"].decode()
    assert "builtin:nist-ai-rmf" in report


def test_lm_eval_runs_beside_the_release_are_named_relative_to_it(tmp_path):
    examples = Path(__file__).resolve().parent.parent / "examples" / "llm"
    shutil.copytree(examples / "runs", tmp_path / "runs")
    (tmp_path / "rel").mkdir()
    text = (examples / "release.yaml").read_text()
    manifest = tmp_path / "rel" / "release.yaml"
    manifest.write_text(text.replace("path: runs/", "path: ../runs/"))
    result = check(manifest, options=CheckOptions())
    for name in PUBLISHED:
        assert str(tmp_path) not in result.outputs.files[name].decode(), name
    assert "../runs/dense/samples_" in result.outputs.files["evidence.json"].decode()
