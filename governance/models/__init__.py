"""Model adapters: one small module per format, all behind the ``ModelAdapter`` protocol.

Optional capabilities (``Rescorable``, ``EfficiencyFacts``, ``InputGradient``) are protocols too, checked
with ``isinstance`` (``protocols.py`` has the table of which format has which).

Heavy libraries (torch, safetensors, skops, joblib) are imported only when a model of that format
is loaded, with an install hint when they are missing.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import InputError
from .protocols import (
    Description,
    EfficiencyFacts,
    InputGradient,
    ModelAdapter,
    Rescorable,
    SizeFacts,
)

if TYPE_CHECKING:
    from ..evidence.schema import FileRef, ModelSource
    from ..manifest import ModelSpec, Release

__all__ = ["Description", "EfficiencyFacts", "InputGradient", "ModelAdapter", "Rescorable", "SizeFacts",
           "load_model", "model_path", "model_ref", "model_source"]

# format -> adapter module (imported on first use); each module has the same ``load`` signature.
_LOADERS = {
    "skops": "skops_model",
    "torch": "torch_model",
    "torch-export": "torch_export",
    "predictions": "predictions",
    "onnx": "onnx_model",
    "pickle": "pickled",
    "joblib": "pickled",
    "mlflow": "mlflow_model",
}


def model_path(release: Release, role: str) -> Path:
    """The local file holding ``role``'s model: the manifest's path, checked, or for ``format: mlflow`` the
    model file downloaded from the tracking server (once per process)."""
    spec = getattr(release.manifest, role)
    if spec.format == "mlflow":
        from .mlflow_model import fetch

        return fetch(spec, manifest=release.path, field=role).main
    return release.resolve(spec.path, f"{role}.path")


def model_ref(path: Path, folder: Path) -> FileRef:
    """The model file's hash and published path: relative to the release folder, or ``<uri>/<file>`` for MLflow."""
    from ..hashing import file_ref
    from .mlflow_model import fetched_for, shown

    fetched = fetched_for(path)
    return file_ref(path, shown=shown(fetched, path)) if fetched else file_ref(path, folder)


def model_source(path: Path) -> ModelSource | None:
    """Where a downloaded model came from (URI, version, run, every file's hash); None for a release file."""
    from .mlflow_model import fetched_for, source_record

    fetched = fetched_for(path)
    return source_record(fetched) if fetched else None


def load_model(
    spec: ModelSpec,
    path: Path,
    *,
    field: str,
    manifest: Path,
    trust_pickle: bool = False,
    device: str = "cpu",
) -> ModelAdapter:
    """Load the model file ``path`` (already resolved) described by ``spec``.

    ``field`` names the manifest entry ("baseline", "candidate") in errors; ``manifest`` is named when
    the problem is in the manifest itself, and its folder goes on ``sys.path`` for torch architectures.
    Formats that can run code when loaded (pickle, joblib, torch-export) need ``trust_pickle``.
    """
    path = Path(path)
    manifest = Path(manifest)
    if not path.is_file():
        raise InputError(manifest, f"{field}.path", f"model file not found: {path}")
    module = _LOADERS.get(spec.format)
    if module is None:
        raise InputError(manifest, f"{field}.format", f"unknown model format {spec.format!r}")
    loader = importlib.import_module(f"{__name__}.{module}")
    return loader.load(spec, path, field=field, manifest=manifest, trust_pickle=trust_pickle, device=device)
