"""Packaging: the wheel carries policies/ and templates/, works outside the checkout, and torch stays optional."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_wheel_carries_policies_and_templates_and_works_from_a_fresh_venv(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(tmp_path / "dist"), str(ROOT)], check=True, capture_output=True)
    wheel = next((tmp_path / "dist").glob("pruning_governance-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "governance/policies/nist-ai-rmf.yaml" in names
    assert any(n.startswith("governance/templates/") for n in names)
    assert "governance/resources/nist-ai-rmf.json" in names

    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    py = env_dir / "bin" / "python"
    subprocess.run([str(py), "-m", "pip", "install", "--no-deps", "-q", str(wheel)], check=True, capture_output=True)
    # dependencies come from this test's environment; the package itself only from the fresh venv
    deps = sysconfig.get_paths()["purelib"]
    code = ("import governance, sys; from governance.packaged import builtin_policies; "
            "from governance.cli import main; p = builtin_policies()['nist-ai-rmf']; print(governance.__file__); "
            "print(p); sys.exit(main(['policy', 'lint', 'builtin:nist-ai-rmf']))")
    done = subprocess.run([str(py), "-c", code], capture_output=True, text=True, cwd=tmp_path,
                          env={"PYTHONPATH": deps, "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    module, policy = done.stdout.splitlines()[:2]
    assert str(env_dir) in module and str(env_dir) in policy and str(ROOT) not in policy


def test_gate_runs_without_torch(release_dir, tmp_path):
    """torch is an extra: a scikit-learn release must gate with torch unimportable."""
    code = ("import sys\n"
            "class Block:\n"
            "    def find_spec(self, name, path=None, target=None):\n"
            "        if name.split('.')[0] in ('torch', 'safetensors'):\n"
            "            raise ImportError('blocked: ' + name)\n"
            "sys.meta_path.insert(0, Block())\n"
            "from governance.cli import main\n"
            f"rc = main(['check', {str(release_dir / 'release.yaml')!r}, "
            f"'--out', {str(tmp_path / 'out')!r}, '--quiet'])\n"
            "assert 'torch' not in sys.modules\n"
            "sys.exit(rc)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out" / "verdict.json").exists()
