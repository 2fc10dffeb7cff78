"""Log a finished check to an MLflow run: the decision as a tag, the headline metrics and their intervals as
metrics, the documents as artifacts under ``governance/``.

Reads only the check's output folder (``verdict.json``, ``evidence.json``), so it runs the same right after
``governance check --mlflow-run`` or later with ``governance mlflow log``. It never changes a verdict: a failure to
log is an ``InputError`` (exit 2, one line) raised after the documents are written.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError

#: the tag the decision is logged under (on the run, and on the candidate's model version)
DECISION_TAG = "governance.decision"
#: the documents logged as artifacts, when the output folder has them
DOCUMENTS = ("verdict.json", "evidence.json", "audit_report.pdf", "model_card.md", "junit.xml")
#: the artifact folder they go to
ARTIFACT_DIR = "governance"
#: no tracking server named (template: none)
NO_TRACKING = ("logging to MLflow needs a tracking server: pass --tracking-uri or set MLFLOW_TRACKING_URI "
               "(e.g. http://127.0.0.1:5000)")
#: the logging failed (template: run, tracking, reason)
LOG_FAILED = ("could not log to MLflow run {run} at {tracking}: {reason} (the verdict and the documents in the "
              "output folder are unchanged)")
#: not a finished check's folder (template: out)
NOT_A_CHECK = "{out} has no verdict.json: run governance check ... --out {out} first"
#: mlflow is not installed
NO_MLFLOW = "logging to MLflow needs mlflow, which is not installed: pip install 'pruning-governance[mlflow]'"


@dataclass(frozen=True)
class Logged:
    """What was logged, for the caller's one-line summary and for tests."""

    run_id: str
    decision: str
    metrics: dict[str, float]
    artifacts: list[str]
    model_version: tuple[str, str] | None = None
    tags: dict[str, str] = field(default_factory=dict)


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(path, None, f"cannot read {path.name}: {exc}") from None
    if not isinstance(data, dict):
        raise InputError(path, None, f"{path.name} is not a JSON object")
    return data


def headline_metrics(evidence: dict[str, Any]) -> dict[str, float]:
    """The overall metrics of both models, the differences and their interval bounds, as MLflow metric names:
    ``governance.candidate.accuracy``, ``governance.difference.accuracy.ci_low``, ... (None values are left out)."""
    out: dict[str, float] = {}

    def put(key: str, value: Any) -> None:
        if isinstance(value, int | float) and not isinstance(value, bool) and value == value:  # not NaN
            out[f"governance.{key}"] = float(value)

    for role, model in (evidence.get("models") or {}).items():
        for metric, value in (model.get("overall") or {}).items():
            if metric != "count":
                put(f"{role}.{metric}", value)
    comparisons = (evidence.get("comparisons") or {}).get("overall") or {}
    for metric, comp in comparisons.items():
        put(f"difference.{metric}", comp.get("difference"))
        for what in ("baseline", "candidate", "difference"):
            for bound in ("ci_low", "ci_high"):
                put(f"{what}.{metric}.{bound}", (comp.get(f"{what}_ci") or {}).get(bound))
    for metric in set(out_metrics(out, "baseline")) & set(out_metrics(out, "candidate")) - set(comparisons):
        # no paired comparison (bootstrap off): the difference of the point estimates, without an interval
        out[f"governance.difference.{metric}"] = (out[f"governance.candidate.{metric}"]
                                                  - out[f"governance.baseline.{metric}"])
    return out


def out_metrics(metrics: dict[str, float], role: str) -> list[str]:
    prefix = f"governance.{role}."
    return [k[len(prefix):] for k in metrics if k.startswith(prefix) and not k.endswith(("ci_low", "ci_high"))]


def _candidate_version(evidence: dict[str, Any]) -> tuple[str, str] | None:
    source = ((evidence.get("models") or {}).get("candidate") or {}).get("source") or {}
    name, version = source.get("registered_model"), source.get("version")
    return (str(name), str(version)) if name and version else None


def _tracking(tracking_uri: str | None, evidence: dict[str, Any]) -> str:
    if tracking_uri:
        return tracking_uri
    if env := os.environ.get("MLFLOW_TRACKING_URI"):
        return env
    source = ((evidence.get("models") or {}).get("candidate") or {}).get("source") or {}
    if source.get("tracking_uri"):
        return str(source["tracking_uri"])
    raise InputError(None, "--tracking-uri", NO_TRACKING)


def log_check(out: Path, run_id: str, *, tracking_uri: str | None = None) -> Logged:
    """Log the check in ``out`` to MLflow run ``run_id``; any failure is one ``InputError`` naming the run."""
    out = Path(out)
    if not (out / "verdict.json").is_file():
        raise InputError(out, None, NOT_A_CHECK.format(out=out))
    verdict = _read(out / "verdict.json")
    evidence = _read(out / "evidence.json") if (out / "evidence.json").is_file() else {}
    decision = str(verdict.get("decision"))
    tracking = _tracking(tracking_uri, evidence)
    metrics = headline_metrics(evidence)
    documents = [out / name for name in DOCUMENTS if (out / name).is_file()]
    version = _candidate_version(evidence)
    tags = {DECISION_TAG: decision}
    release = verdict.get("release")
    if isinstance(release, dict) and release.get("name"):
        tags["governance.release"] = f"{release['name']} {release.get('version') or ''}".strip()
    from ..models.mlflow_model import _quiet_retries, public_uri

    _quiet_retries()
    try:
        from mlflow.entities import Metric, RunTag
        from mlflow.tracking import MlflowClient
    except ImportError:
        raise InputError(None, "--mlflow-run", NO_MLFLOW) from None
    try:
        client = MlflowClient(tracking_uri=tracking, registry_uri=tracking)
        client.get_run(run_id)  # an unknown run fails here, before anything is logged
        now = int(time.time() * 1000)
        client.log_batch(run_id, metrics=[Metric(k, v, now, 0) for k, v in sorted(metrics.items())],
                         tags=[RunTag(k, v) for k, v in tags.items()])
        for path in documents:
            client.log_artifact(run_id, str(path), artifact_path=ARTIFACT_DIR)
        if version is not None:
            client.set_model_version_tag(version[0], version[1], DECISION_TAG, decision)
    except Exception as exc:  # noqa: BLE001  # server down, unknown run, no permission: exit 2, one line
        from ..models._common import one_line

        raise InputError(None, "--mlflow-run", LOG_FAILED.format(
            run=run_id, tracking=public_uri(tracking), reason=one_line(exc, 300))) from None
    return Logged(run_id=run_id, decision=decision, metrics=metrics, tags=tags,
                  artifacts=[f"{ARTIFACT_DIR}/{p.name}" for p in documents], model_version=version)
