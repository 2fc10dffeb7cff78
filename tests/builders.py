"""Shared test builders: releases on disk, hand-made evidence, one-rule evaluation and CLI helpers.

Test modules import from here (and from ``planted``), never from one another, so a test file can be moved,
renamed or deleted without breaking another. Everything here builds real objects: real files in tmp paths,
real sklearn models, evidence through the real schema.
"""

from __future__ import annotations

import hashlib
import math
import shutil
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest
import yaml

from governance.cli import main
from governance.engine import evaluate
from governance.evidence.collect import collect
from governance.evidence.schema import Agreement, DataEvidence, Evidence, FileRef, ModelEvidence
from governance.findings import Finding
from governance.manifest import load_manifest
from governance.policy import parse_policy

#: the evaluation date every hand-built verdict is decided on
TODAY = date(2026, 11, 25)
FEATURES = ["x0", "x1", "x2", "x3"]
#: collection settings that keep a test release fast (no timing, no perturbation, no bootstrap)
FAST: dict[str, Any] = {"bootstrap": {"resamples": 0}, "latency": None, "robustness": None}


# ---- files -------------------------------------------------------------------------------------------------------

def write_yaml(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def make_frame(n: int, seed: int) -> pd.DataFrame:
    """Tabular rows with a learnable label, two sensitive columns and a group ``c`` that behaves differently."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, len(FEATURES)))
    group = rng.choice(["a", "b", "c"], size=n, p=[0.6, 0.3, 0.1])
    region = rng.choice(["north", "south"], size=n)
    shift = np.where(group == "c", 1.2, 0.0)
    logit = 1.5 * X[:, 0] - 1.0 * X[:, 1] + 0.4 * X[:, 2] + 0.15 * X[:, 3] * (1 + shift) - 0.2
    y = (logit + rng.logistic(size=n) * 0.6 > 0).astype(int)
    df = pd.DataFrame(X, columns=FEATURES)
    df["group"], df["region"], df["label"] = group, region, y
    return df


def random_release(tmp_path: Path, seed: int, n: int, k: int = 2, chunk: int = 97):
    """A predictions-format release of pure noise (baseline and candidate independent): (frame, probs, evidence)."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"f0": rng.normal(size=n)})
    df["sex"] = rng.choice(["f", "m"], size=n, p=[0.35, 0.65])
    df["race"] = rng.choice(["r1", "r2", "r3", "r4"], size=n)
    df["label"] = rng.integers(0, k, size=n)
    probs = {}
    for role in ("baseline", "candidate"):
        raw = np.round(rng.dirichlet(np.ones(k), size=n), 2)  # rounding makes many tied scores
        raw[:, -1] = 1.0 - raw[:, :-1].sum(axis=1)
        raw = np.clip(raw, 0, 1)
        raw /= raw.sum(axis=1, keepdims=True)
        probs[role] = raw
        pd.DataFrame(raw, columns=[f"p{i}" for i in range(k)]).to_parquet(tmp_path / f"{role}.parquet")
    df.to_csv(tmp_path / "eval.csv", index=False)
    manifest = {
        "name": "random", "version": "1",
        "task": "binary_classification" if k == 2 else "multiclass_classification",
        "classes": list(range(k)),
        "baseline": {"path": "baseline.parquet", "format": "predictions"},
        "candidate": {"path": "candidate.parquet", "format": "predictions"},
        "data": {"path": "eval.csv", "target": "label", "sensitive": ["sex", "race"], "chunk_rows": chunk},
        "policy": "unused.yaml",
    }
    if k == 2:
        manifest["positive_label"] = 1
    write_yaml(tmp_path / "release.yaml", manifest)
    return df, probs, collect(load_manifest(tmp_path / "release.yaml"))


# ---- provenance releases (copies of the conftest ``release_dir``) ------------------------------------------------

PROVENANCE_RULE = {"id": "PROV-001", "kind": "provenance", "require": ["source", "license", "consent_basis"],
                   "require_models": ["training_code_revision", "pruning"],
                   "allowed_licenses": ["CC-BY-4.0", "Apache-2.0"], "rmf": ["MAP 4.1", "GOVERN 6.1"]}


def dataset(role: str, path: str | None = None, **extra) -> dict:
    out = {"role": role, "source": "test fixture generator", "license": "CC-BY-4.0",
           "consent_basis": "synthetic rows, no real person", "personal_data": []}
    if path is not None:
        out["path"] = path
    return {**out, **extra}


def provenance_for(d: Path, candidate: str = "pruned.skops") -> dict:
    """A correct provenance of the release in ``d``: real hashes, the candidate's parent is the baseline."""
    base = sha(d / "baseline.skops")
    return {
        "datasets": {"eval": {**dataset("evaluation", "eval.csv"), "sha256": sha(d / "eval.csv")},
                     "train": dataset("training", uri="s3://bucket/train.parquet")},
        "models": {
            "lr-1.0": {"sha256": base, "license": "Apache-2.0", "training_code_revision": "abc123",
                       "datasets": ["train"]},
            "lr-1.1-pruned": {"sha256": sha(d / candidate), "parent": base, "license": "Apache-2.0",
                              "training_code_revision": "abc124",
                              "pruning": {"method": "magnitude", "settings": {"zeroed": 1}}, "datasets": ["train"]},
        },
    }


def make_release(release_dir: Path, tmp_path: Path, *, provenance: dict | None = None, features=None,
                 evaluation=None, **manifest_changes) -> Path:
    """A private copy of the conftest release with a provenance file; returns the manifest path."""
    d = tmp_path / "rel"
    if not d.exists():
        shutil.copytree(release_dir, d)
    manifest = yaml.safe_load((d / "release.yaml").read_text())
    manifest["evaluation"] = evaluation if evaluation is not None else FAST
    if features is not None:
        manifest["data"]["features"] = features
    write_yaml(d / "provenance.yaml", provenance if provenance is not None else provenance_for(d))
    manifest["provenance"] = "provenance.yaml"
    manifest.update(manifest_changes)
    return write_yaml(d / "release.yaml", manifest)


def gate(manifest: Path, *rules: dict):
    """Collect evidence for ``manifest`` and evaluate ``rules`` on it: (findings, evidence)."""
    evidence = collect(load_manifest(manifest))
    policy = parse_policy({"name": "p", "rules": [{"severity": "block", **r} for r in rules]}, path=Path("p.yaml"))
    return evaluate(policy, evidence, TODAY).findings, evidence


def fine_tuning_set(d, shared: int, *, parquet: bool = True):
    """Fresh rows plus ``shared`` rows of the evaluation set, label as float, columns reordered, an extra column."""
    evaluation = pcsv.read_csv(d / "eval.csv")
    fresh = pa.Table.from_pandas(make_frame(300, 99)[[*FEATURES, "label"]], preserve_index=False)
    picked = evaluation.take(pa.array(range(0, 7 * shared, 7), pa.int64())).select([*FEATURES, "label"])
    table = pa.concat_tables([fresh, picked.cast(fresh.schema)])
    table = table.set_column(table.schema.get_field_index("label"), "label",
                             table.column("label").cast(pa.float64()))
    table = table.select(["label", *reversed(FEATURES)]).append_column("note", pa.array(["ft"] * table.num_rows))
    path = d / ("finetune.parquet" if parquet else "finetune.csv")
    if parquet:
        pq.write_table(table, path, row_group_size=50)
    else:
        pcsv.write_csv(table, path)
    return path


# ---- hand-built evidence for the engine as a pure function -------------------------------------------------------

REF = FileRef(path="x", sha256="0" * 64, bytes=1)
#: the two models' files (distinct: one file twice is the baseline re-saved)
MODEL_REFS = {"baseline": FileRef(path="baseline.skops", sha256="1" * 64, bytes=1),
              "candidate": FileRef(path="candidate.skops", sha256="2" * 64, bytes=1)}
OVERALL_B = {"count": 1000, "accuracy": 0.90, "log_loss": 0.30, "recall": 0.8}
OVERALL_C = {"count": 1000, "accuracy": 0.885, "log_loss": 0.36, "recall": 0.7}


def rates(count, accuracy, sel=0.5, tpr=0.8, fpr=0.2, **extra):
    return {"count": count, "accuracy": accuracy, "selection_rate": sel, "true_positive_rate": tpr,
            "recall": tpr, "false_positive_rate": fpr, **extra}


def evidence(base_overall, cand_overall, base_slices=None, cand_slices=None) -> Evidence:
    """Evidence with the given overall metrics and slices (``{"dim": {"value": rates(...)}}``) and nothing else."""
    def whole(overall, *slices):  # the set holds at least the rows of its slices (the evidence refuses less)
        most = max((sum(int(v.get("count") or 0) for v in by_value.values()) for s in slices if s
                    for by_value in s.values()), default=0)
        return {**overall, "count": max(int(overall.get("count") or 0), most)} if most else overall

    def model(role, overall, slices):
        return ModelEvidence(format="skops", file=MODEL_REFS[role], overall=overall, slices=slices or {})

    base_overall = whole(base_overall, base_slices, cand_slices)
    cand_overall = whole(cand_overall, base_slices, cand_slices)
    dims = {d: d.split(" & ") for d in (base_slices or {})}
    rows = int(cand_overall.get("count") or 0)
    return Evidence(
        tool={"name": "t", "version": "0"}, created_at=datetime.now(timezone.utc), libraries={},
        release={"name": "r", "version": "1"}, task="binary_classification",
        inputs={"data": REF, **MODEL_REFS},
        data=DataEvidence(file=REF, rows=max(1000, int(base_overall.get("count") or 0), rows), target="y",
                          sensitive=sorted({c for v in dims.values() for c in v}),
                          features=["f"], classes=["0", "1"], positive_label="1"),
        dimensions=dims,
        models={"baseline": model("baseline", base_overall, base_slices),
                "candidate": model("candidate", cand_overall, cand_slices)},
        agreement=Agreement(rows=rows, same_prediction=0.9, fixed=min(1, rows), broken=min(2, rows),
                            max_abs_score_difference=0.1),
    )


def with_sections(ev: Evidence, **sections) -> Evidence:
    """``ev`` with whole evidence sections (agreement=, calibration=, ...) replaced."""
    return ev.model_copy(update=sections)


def one(rule: dict, ev: Evidence, defaults=None, today: date = TODAY) -> Finding:
    """Evaluate a single blocking rule ``R-1`` on ``ev``: its finding."""
    policy = parse_policy({"name": "p", "defaults": defaults or {"min_slice_size": 30},
                           "rules": [{"id": "R-1", "severity": "block", **rule}]}, path=__file__)  # type: ignore[arg-type]
    return evaluate(policy, ev, today).findings[0]


# ---- the CLI ---------------------------------------------------------------------------------------------------

def run(capsys: pytest.CaptureFixture[str], *argv) -> tuple[int, str, str]:
    """Run the CLI in-process: (exit code, stdout, stderr)."""
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def edit(path: Path, **changes) -> None:
    """Update top-level keys of a YAML file in place."""
    data = yaml.safe_load(path.read_text())
    data.update(changes)
    write_yaml(path, data)


#: evidence fields that differ between two runs of the same release (when, on what machine)
VOLATILE = ("created_at", "hardware")


def same_evidence(a: object, b: object, where: str = "", rel: float = 1e-12) -> None:
    """Two evidence dumps (``model_dump(mode="json")``) agree: equal structure, strings, integers and booleans;
    floats equal to ``rel`` (sums over rows added in another order: chunking, pieces, engines); ``VOLATILE`` keys
    skipped."""
    if isinstance(a, dict) and isinstance(b, dict):
        assert a.keys() == b.keys(), where
        for k in a:
            if k not in VOLATILE:
                same_evidence(a[k], b[k], f"{where}.{k}", rel)
    elif isinstance(a, list) and isinstance(b, list):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            same_evidence(x, y, f"{where}[{i}]", rel)
    elif isinstance(a, float) and isinstance(b, float):
        assert math.isclose(a, b, rel_tol=rel, abs_tol=rel) or (math.isnan(a) and math.isnan(b)), where
    else:
        assert a == b and type(a) is type(b), where


class ProgressRecorder:
    """A progress sink (``progress.Phases``) that keeps what it was told: the phases in order, and the row counts."""

    def __init__(self) -> None:
        self.phases: list[str] = []
        self.rows: list[int] = []

    def __call__(self, rows: int) -> None:
        self.rows.append(rows)

    def phase(self, name: str, total: int | None = None) -> None:
        self.phases.append(name)
