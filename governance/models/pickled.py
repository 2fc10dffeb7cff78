"""pickle / joblib files: they can run arbitrary code when loaded, so only with ``--trust-pickle``."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

from ..errors import InputError
from ._common import one_line, require
from .skops_model import SklearnAdapter

REFUSAL = (
    "refusing to load a pickle: pickles can run arbitrary code; convert to skops, or pass --trust-pickle if you "
    "trust this file"
)


def load(
    spec: Any, path: Path, *, field: str, manifest: Path, trust_pickle: bool = False, device: str = "cpu"
) -> SklearnAdapter:
    if not trust_pickle:
        raise InputError(manifest, f"{field}.format", REFUSAL)
    try:
        if spec.format == "joblib":
            joblib = require("joblib", fmt="joblib", manifest=manifest, field=field)
            model = joblib.load(path)
        else:
            with open(path, "rb") as fh:
                model = pickle.load(fh)
    except InputError:
        raise
    except Exception as exc:  # truncated file, missing class, not a pickle at all
        raise InputError(path, f"{field}.path", f"not a loadable {spec.format} file ({one_line(exc)})") from exc
    return SklearnAdapter(model, path, fmt=spec.format, field=field)
