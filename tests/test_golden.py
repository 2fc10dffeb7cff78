"""Golden files: what each renderer writes for one small, fixed release, byte for byte after normalisation.

A change to rendered output shows up here as a readable unified diff. When the change is intended, refresh the
goldens and review the diff in git (see tests/golden/README.md):

    UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_golden.py
"""

from __future__ import annotations

import difflib
import json
import os
import re
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from builders import write_yaml

from governance.engine import evaluate
from governance.evidence.collect import collect
from governance.gate import Outputs, Result
from governance.manifest import load_manifest
from governance.policy import load_policy
from governance.render import RENDERERS, RenderContext
from governance.render.console import ConsoleSummary
from governance.render.job_summary import JobSummary
from governance.render.json_summary import JsonSummary

GOLDEN = Path(__file__).resolve().parent / "golden"
#: the renderers pinned by a golden file (the HTML/PDF documents are checked by structure in test_render*.py)
NAMES = ["evidence.json", "verdict.json", "junit.xml", "governance.sarif", "model_card.md"]
#: the run summaries (governance/render/summary.py), pinned the same way: the console table at a fixed width
#: without colour, the GitHub job summary, and ``--json``
SUMMARIES = {"console.txt": lambda: ConsoleSummary(console=_plain_console(terminal=True)),
             "console_log.txt": lambda: ConsoleSummary(console=_plain_console(terminal=False)),
             "job_summary.md": JobSummary, "summary.json": JsonSummary}
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"
TODAY = date(2026, 11, 25)
#: placeholders for what differs between runs and machines
TIME, VERSION, RELEASE, HARDWARE = "<timestamp>", "<version>", "<release-dir>", "<hardware>"
MISMATCH = ("{name} differs from tests/golden/{name} (intended? refresh with "
            "`UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_golden.py` and review the diff):\n{diff}")

POLICY = {
    "name": "golden-policy",
    "defaults": {"min_slice_size": 30},
    "rules": [
        {"id": "PERF-001", "kind": "metric_drop", "metric": "accuracy", "max_drop": 0.02, "severity": "block",
         "rmf": ["MEASURE 2.3"], "rationale": "Pruning may cost at most two points of accuracy."},
        {"id": "PERF-002", "kind": "metric_floor", "metric": "recall", "min": 0.5, "severity": "block"},
        {"id": "FAIR-001", "kind": "slice_metric_drop", "metric": "accuracy", "by": ["group"], "max_drop": 0.05,
         "severity": "block", "rmf": ["MEASURE 2.11"]},
        {"id": "FAIR-002", "kind": "fairness_gap", "metric": "demographic_parity_difference", "by": ["group"],
         "max": 0.2, "severity": "warn"},
        {"id": "AGR-001", "kind": "agreement", "min": 0.9, "severity": "warn"},
        {"id": "CAL-001", "kind": "calibration", "max_ece": 0.5, "severity": "info"},
    ],
}


def _release(d: Path) -> Path:
    """240 rows in a predictions-format release: the candidate flips the baseline's call on every 9th row."""
    rng = np.random.default_rng(7)
    n = 240
    group = np.array(["a", "b", "c"])[np.arange(n) % 3]
    label = (rng.random(n) < 0.5).astype(int)
    base_p1 = np.round(np.where(label == 1, 0.75, 0.25) + rng.uniform(-0.2, 0.2, n), 2)
    cand_p1 = np.where(np.arange(n) % 9 == 0, 1 - base_p1, base_p1)
    pd.DataFrame({"x0": np.round(rng.normal(size=n), 3), "group": group, "label": label}).to_csv(
        d / "eval.csv", index=False)
    for role, p1 in (("baseline", base_p1), ("candidate", cand_p1)):
        # CSV, not Parquet: a Parquet file records the writer's version, so its sha256 would vary
        pd.DataFrame({"p0": np.round(1 - p1, 2), "p1": p1}).to_csv(d / f"{role}.csv", index=False)
    write_yaml(d / "policy.yaml", POLICY)
    return write_yaml(d / "release.yaml", {
        "name": "golden", "version": "1.0.0", "task": "binary_classification", "positive_label": 1,
        "baseline": {"path": "baseline.csv", "format": "predictions"},
        "candidate": {"path": "candidate.csv", "format": "predictions"},
        "data": {"path": "eval.csv", "target": "label", "sensitive": ["group"]},
        "evaluation": {"bootstrap": {"resamples": 0}, "latency": None, "robustness": None},
        "policy": "policy.yaml",
    })


def _plain_console(terminal: bool) -> Any:
    """A terminal 120 columns wide without colour (the table), or a CI log (not a terminal: the findings list)."""
    from rich.console import Console

    return Console(width=120, color_system=None, force_terminal=terminal, highlight=False)


def _scrub(value: Any) -> Any:
    """Volatile JSON fields (collection time, tool and library versions) replaced by placeholders."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if k in ("created_at", "evaluated_at") and isinstance(v, str):
                out[k] = TIME
            elif k == "libraries" and isinstance(v, dict):
                out[k] = VERSION  # which optional libraries are installed varies too
            elif k in ("tool", "driver") and isinstance(v, dict) and "version" in v:
                out[k] = _scrub({**v, "version": VERSION})
            else:
                out[k] = _scrub(v)
        return out
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    return value


def normalise(name: str, content: bytes, release_dir: Path, hardware: str | None = None) -> str:
    """The rendered file as text with what varies between runs replaced, so equal runs compare equal
    (``hardware``: the measured machine's description, which includes its load average)."""
    from governance import __version__

    text = content.decode()
    if name.endswith((".json", ".sarif")):
        text = json.dumps(_scrub(json.loads(text)), indent=2, sort_keys=False) + "\n"
    if hardware:
        text = text.replace(json.dumps(hardware)[1:-1], HARDWARE).replace(hardware, HARDWARE)
    text = text.replace(str(release_dir.resolve()), RELEASE).replace(str(release_dir), RELEASE)
    text = re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)?", TIME, text)
    text = re.sub(r"\d{4}-\d\d-\d\d \d\d:\d\d(:\d\d)? UTC", TIME, text)  # "Measured 2026-12-01 22:59 UTC"
    return text.replace(f"v{__version__}", f"v{VERSION}").replace(f" {__version__}", f" {VERSION}")


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> dict[str, str]:
    d = tmp_path_factory.mktemp("golden-release")
    manifest = _release(d)
    evidence = collect(load_manifest(manifest))
    verdict = evaluate(load_policy(d / "policy.yaml"), evidence, TODAY)
    ctx = RenderContext(evidence=evidence, verdict=verdict)
    hardware = evidence.efficiency.hardware if evidence.efficiency else None
    out = {name: normalise(name, RENDERERS[name](ctx), d, hardware) for name in NAMES}
    result = Result(evidence=evidence, verdict=verdict, outputs=Outputs(files={}, out=Path("out")))
    out |= {name: normalise(name, make().render(result).encode(), d, hardware) for name, make in SUMMARIES.items()}
    return out


@pytest.mark.parametrize("name", [*NAMES, *SUMMARIES])
def test_renderer_output_matches_its_golden_file(rendered, name):
    golden = GOLDEN / name
    if UPDATE:
        golden.write_text(rendered[name])
    assert golden.exists(), f"no golden file tests/golden/{name}: create it with UPDATE_GOLDEN=1"
    expected = golden.read_text()
    if rendered[name] != expected:
        diff = "".join(difflib.unified_diff(expected.splitlines(keepends=True),
                                            rendered[name].splitlines(keepends=True),
                                            f"golden/{name}", f"rendered/{name}", n=2))
        pytest.fail(MISMATCH.format(name=name, diff=diff), pytrace=False)


def test_the_golden_release_blocks_on_one_rule_and_warns_on_another(rendered):
    """The fixed release exercises pass, fail and warn paths, so the goldens pin each way a finding renders."""
    verdict = json.loads(rendered["verdict.json"])
    status = {f["rule_id"]: f["status"] for f in verdict["findings"]}
    assert verdict["decision"] == "blocked"
    assert "pass" in status.values() and "fail" in status.values()


def test_normalisation_makes_two_collections_render_the_same(tmp_path):
    """Volatile fields really are the only difference between runs (else the goldens would flake)."""
    first, second = tmp_path / "a", tmp_path / "b"
    for d in (first, second):
        d.mkdir()
    texts = []
    for d in (first, second):
        ev = collect(load_manifest(_release(d)))
        hardware = ev.efficiency.hardware if ev.efficiency else None  # holds the load average: volatile
        texts.append(normalise("evidence.json", RENDERERS["evidence.json"](
            RenderContext(evidence=ev, verdict=evaluate(load_policy(d / "policy.yaml"), ev, TODAY))), d, hardware))
    assert texts[0] == texts[1]
    assert TIME in texts[0]
