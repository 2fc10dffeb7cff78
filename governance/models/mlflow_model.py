"""Models in an MLflow tracking server or registry (``format: mlflow``, ``uri: models:/name/3`` or ``runs:/id/path``).

The model's artifacts are downloaded once per process into a temporary folder with MLflow's own client
(``mlflow-skinny`` is enough: the ``[mlflow]`` extra), every downloaded file is hashed, and the flavour named in
the model's ``MLmodel`` file is read with the house loader for that file format, so the safety rules are the
ones of the other formats:

* ``sklearn`` saved with ``serialization_format: skops`` (MLflow 3's default): skops, only the manifest's
  ``trusted_types`` beyond skops' defaults (the ``MLmodel`` file's own ``skops_trusted_types`` are not trusted:
  they come from the same place as the model);
* ``sklearn`` saved with ``pickle`` or ``cloudpickle``: unpickling runs code, so only with ``--trust-pickle``;
* ``onnx``: onnxruntime (no pickle anywhere).

Other flavours (pytorch's ``torch.save`` pickles, pyfunc's arbitrary Python) are refused with a hint.
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import yaml

from ..errors import InputError
from ..manifest import BAD_MLFLOW_URI, MLFLOW_URI
from ._common import one_line, require

#: no tracking server named anywhere
NO_TRACKING_URI = ("format 'mlflow' needs a tracking server: set tracking_uri: in the manifest or the "
                   "MLFLOW_TRACKING_URI environment variable (e.g. http://127.0.0.1:5000)")
#: the download failed (template: uri, tracking, reason)
FETCH_FAILED = "cannot fetch {uri} from the MLflow server at {tracking}: {reason}"
#: a pickle-based sklearn flavour without --trust-pickle (template: uri, serialization)
PICKLE_REFUSAL = ("refusing to load {uri}: its sklearn flavour is serialized with {serialization}, which can run "
                  "arbitrary code when loaded; log it with serialization_format='skops', or pass --trust-pickle if "
                  "you trust this model")
#: a flavour the gate cannot read safely (template: uri, flavours)
UNSUPPORTED_FLAVOUR = ("{uri} has no flavour the gate can load (it has: {flavours}); log the model with the "
                       "sklearn flavour (skops serialization) or the onnx flavour")
#: the artifacts have no MLmodel file (template: uri)
NO_MLMODEL = "{uri} is not an MLflow model (its artifacts have no MLmodel file)"

#: flavour -> how its main file is read
SUPPORTED = ("sklearn", "onnx")

# downloads kept for the life of the process: (tracking uri, model uri) -> Fetched
_FETCHED: dict[tuple[str, str], Fetched] = {}
_LOCK = threading.Lock()


@dataclass(frozen=True)
class Fetched:
    """One downloaded MLflow model: where its files are, which file holds the model, and what it resolved to."""

    uri: str
    tracking_uri: str
    folder: Path
    main: Path
    flavour: str
    serialization: str | None
    name: str | None
    version: str | None
    run_id: str | None


def parse_uri(uri: str) -> re.Match[str] | None:
    """The URI's parts (name/version or run_id/artifact), or None when it is not one ``format: mlflow`` takes."""
    return MLFLOW_URI.match(uri)


def public_uri(uri: str) -> str:
    """A tracking URI fit to publish: any ``user:password@`` part removed."""
    parts = urlsplit(uri)
    if parts.username or parts.password:
        host = parts.hostname or ""
        netloc = f"{host}:{parts.port}" if parts.port else host
        return urlunsplit(parts._replace(netloc=netloc))
    return uri


def tracking_uri_for(spec: Any, *, manifest: Path, field: str) -> str:
    uri = spec.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI")
    if not uri:
        raise InputError(manifest, f"{field}.tracking_uri", NO_TRACKING_URI)
    return str(uri)


def _quiet_retries() -> None:
    """MLflow retries a refused connection 7 times with exponential back-off (minutes); a gate should fail fast.
    The user's own settings win."""
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")


def fetch(spec: Any, *, manifest: Path, field: str) -> Fetched:
    """Download ``spec.uri`` (once per process) and say which file holds the model; errors are exit 2."""
    uri = str(spec.uri or "")
    match = parse_uri(uri)
    if match is None:
        raise InputError(manifest, f"{field}.uri", BAD_MLFLOW_URI.format(uri=uri))
    tracking = tracking_uri_for(spec, manifest=manifest, field=field)
    with _LOCK:
        if (tracking, uri) in _FETCHED:
            return _FETCHED[(tracking, uri)]
        _quiet_retries()
        require("mlflow", fmt="mlflow", manifest=manifest, field=field)
        from mlflow.artifacts import download_artifacts
        from mlflow.tracking import MlflowClient

        folder = Path(tempfile.mkdtemp(prefix="governance-mlflow-"))
        atexit.register(shutil.rmtree, folder, ignore_errors=True)  # the download lives as long as the process
        try:
            client = MlflowClient(tracking_uri=tracking, registry_uri=tracking)
            name, version, run_id = match["name"], match["version"], match["run_id"]
            if name is not None:
                run_id = client.get_model_version(name, version).run_id
                source = client.get_model_version_download_uri(name, version)
            else:
                source = uri
            local = Path(download_artifacts(artifact_uri=source, dst_path=str(folder), tracking_uri=tracking))
        except InputError:
            raise
        except Exception as exc:  # noqa: BLE001  # server down, unknown model, no permission: exit 2, one line
            shutil.rmtree(folder, ignore_errors=True)
            raise InputError(manifest, f"{field}.uri", FETCH_FAILED.format(
                uri=uri, tracking=public_uri(tracking), reason=one_line(exc, 300))) from None
        fetched = _describe(local, uri=uri, tracking=tracking, name=name, version=version, run_id=run_id,
                            manifest=manifest, field=field)
        _FETCHED[(tracking, uri)] = fetched
        return fetched


def _mlmodel(folder: Path, uri: str, *, manifest: Path, field: str) -> dict[str, Any]:
    path = folder / "MLmodel"
    if not path.is_file():
        raise InputError(manifest, f"{field}.uri", NO_MLMODEL.format(uri=uri))
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise InputError(manifest, f"{field}.uri", f"{uri}: unreadable MLmodel file ({one_line(exc)})") from None
    if not isinstance(data, dict) or not isinstance(data.get("flavors"), dict):
        raise InputError(manifest, f"{field}.uri", f"{uri}: its MLmodel file has no flavors")
    return data


def _describe(folder: Path, *, uri: str, tracking: str, name: str | None, version: str | None,
              run_id: str | None, manifest: Path, field: str) -> Fetched:
    """Which flavour to read and its main file, from the ``MLmodel`` file."""
    data = _mlmodel(folder, uri, manifest=manifest, field=field)
    flavours = data["flavors"]
    run_id = run_id or data.get("run_id")
    for flavour in SUPPORTED:
        conf = flavours.get(flavour)
        if not isinstance(conf, dict):
            continue
        file = conf.get("pickled_model") if flavour == "sklearn" else conf.get("data")
        main = (folder / str(file)).resolve() if file else None
        if main is None or not main.is_file() or not main.is_relative_to(folder.resolve()):
            raise InputError(manifest, f"{field}.uri", f"{uri}: the {flavour} flavour's file {file!r} is missing")
        serialization = conf.get("serialization_format", "cloudpickle") if flavour == "sklearn" else None
        return Fetched(uri=uri, tracking_uri=tracking, folder=folder, main=main, flavour=flavour,
                       serialization=serialization, name=name, version=version, run_id=run_id)
    raise InputError(manifest, f"{field}.uri", UNSUPPORTED_FLAVOUR.format(uri=uri, flavours=", ".join(flavours)))


def fetched_for(path: Path) -> Fetched | None:
    """The download whose model file is ``path`` (None for a file that did not come from MLflow)."""
    for fetched in _FETCHED.values():
        if fetched.main == path:
            return fetched
    return None


def load(spec: Any, path: Path, *, field: str, manifest: Path, trust_pickle: bool = False,
         device: str = "cpu") -> Any:
    """The adapter for the MLflow model whose main file is ``path`` (``fetch`` gave it; ``MLmodel`` sits beside)."""
    uri = str(spec.uri or path.parent)
    fetched = fetched_for(path) or _describe(path.parent, uri=uri, tracking="", name=None, version=None,
                                             run_id=None, manifest=manifest, field=field)
    if fetched.flavour == "onnx":
        from . import onnx_model

        return onnx_model.load(spec, fetched.main, field=field, manifest=manifest, device=device)
    from .skops_model import SklearnAdapter

    if fetched.serialization == "skops":
        from . import skops_model

        adapter = skops_model.load(spec, fetched.main, field=field, manifest=manifest)
        adapter.fmt = "mlflow"
        return adapter
    if not trust_pickle:
        raise InputError(manifest, f"{field}.uri", PICKLE_REFUSAL.format(uri=uri, serialization=fetched.serialization))
    try:
        if fetched.serialization == "cloudpickle":
            cloudpickle = require("cloudpickle", fmt="mlflow", manifest=manifest, field=field)
            with open(fetched.main, "rb") as fh:
                model = cloudpickle.load(fh)
        else:
            import pickle

            with open(fetched.main, "rb") as fh:
                model = pickle.load(fh)
    except InputError:
        raise
    except Exception as exc:
        raise InputError(manifest, f"{field}.uri", f"{uri}: not a loadable sklearn model ({one_line(exc)})") from exc
    return SklearnAdapter(model, fetched.main, fmt="mlflow", field=field)


def shown(fetched: Fetched, path: Path) -> str:
    """How a downloaded file is published: the model URI plus its path inside the artifacts (no temp folder)."""
    return f"{fetched.uri}/{path.resolve().relative_to(fetched.folder.resolve()).as_posix()}"


def source_record(fetched: Fetched) -> Any:
    """The evidence's ``ModelSource`` for a download: URI, resolved version and run, every file's sha256."""
    from ..evidence.schema import ModelSource
    from ..hashing import file_ref

    files = [file_ref(p, shown=p.relative_to(fetched.folder).as_posix())
             for p in sorted(fetched.folder.rglob("*")) if p.is_file()]
    return ModelSource(uri=fetched.uri, tracking_uri=public_uri(fetched.tracking_uri),
                       registered_model=fetched.name, version=fetched.version, run_id=fetched.run_id,
                       flavour=fetched.flavour, serialization=fetched.serialization, files=files)
