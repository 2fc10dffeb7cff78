"""The wheel carries the templates: documents render from an installed copy, outside the checkout."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

from governance.render import jsonfiles
from governance.render.sample import sample_evidence, sample_verdict

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = {"model_card.md.j2", "model_card.html.j2", "audit_report.html.j2", "style.css", "_macros.html.j2"}


def test_documents_render_from_the_installed_wheel(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(tmp_path / "dist"), str(ROOT)], check=True, capture_output=True)
    wheel = next((tmp_path / "dist").glob("pruning_governance-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {f"governance/templates/{t}" for t in TEMPLATES} <= names

    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    py = env_dir / "bin" / "python"
    subprocess.run([str(py), "-m", "pip", "install", "--no-deps", "-q", str(wheel)], check=True, capture_output=True)
    evidence = sample_evidence(slices=3)
    (tmp_path / "evidence.json").write_bytes(jsonfiles.evidence_json(evidence))
    (tmp_path / "verdict.json").write_bytes(jsonfiles.verdict_json(sample_verdict(evidence)))
    code = ("import sys; from governance.cli import main; from governance.render.templating import default_folder; "
            "print(default_folder()); sys.exit(main(['render', '--evidence', 'evidence.json', '--verdict', "
            "'verdict.json', '--out', 'out']))")
    done = subprocess.run([str(py), "-c", code], capture_output=True, text=True, cwd=tmp_path,
                          env={"PYTHONPATH": sysconfig.get_paths()["purelib"], "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    folder = done.stdout.splitlines()[0]
    assert str(env_dir) in folder and str(ROOT) not in folder
    assert (tmp_path / "out" / "audit_report.pdf").read_bytes().startswith(b"%PDF")
    assert '<p class="verdict">SHIP</p>' in (tmp_path / "out" / "audit_report.html").read_text()
