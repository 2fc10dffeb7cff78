"""``torch.export`` archives (.pt2), loaded with ``torch.export.load(path).module()``.

Safety (checked against torch 2.13's implementation): ``torch.export.load`` is NOT safe for an
untrusted file; it can run arbitrary code while loading and while scoring:

* the sample inputs (``data/sample_inputs/*.pt``) go through ``deserialize_torch_artifact``, which
  tries ``torch.load(weights_only=True)`` and on failure *falls back to*
  ``torch.load(weights_only=False)``, i.e. plain pickle (a crafted archive runs code this way;
  we reproduced it);
* weights and constants marked ``use_pickle`` in the archive's own JSON config are read with
  ``torch.load(weights_only=False)``; ``opaque_obj_*`` constants with ``pickle.loads`` and
  ``custom_obj_*`` ones with ``torch._C._pickle_load_obj``;
* symbolic shape expressions from the graph JSON are parsed with ``sympy.sympify`` (which evaluates
  Python), and graph call targets are resolved by attribute path from ``torch``/``operator``/``math``
  (``torch.os.system`` resolves), then called when the module runs;
* archives with ``data/aotinductor/`` make it load a compiled shared library;
* if the new-format reader fails, it falls back to the legacy zip loader (same torch.load fallback).

So this format is treated like a pickle: it loads only with ``trust_pickle=True`` (``--trust-pickle``).
The safe torch format is ``torch``: a safetensors state dict plus a ``module:Class`` architecture.

Train/eval mode is frozen when the program is exported (``.eval()`` is not supported on the
unlifted module), so export the model in eval mode. A program exported with a fixed batch size is
run in blocks of that size (the last one zero-padded); export with a dynamic batch dimension
(``dynamic_shapes={"x": {0: torch.export.Dim("batch")}}``) to avoid that.
"""

from __future__ import annotations

import contextlib
import logging
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import InputError
from ._common import one_line, require
from .torch_adapter import TorchAdapter, check_device

REFUSAL = (
    "refusing to load a torch.export archive: torch.export.load can run arbitrary code from the file "
    "(it unpickles parts of it); use format 'torch' (safetensors + architecture), "
    "or pass --trust-pickle if you trust this file"
)


@contextlib.contextmanager
def _quiet(name: str = "torch.export") -> Iterator[None]:
    """torch.export.load logs a full traceback before falling back to its legacy reader: keep it off stderr."""
    logger = logging.getLogger(name)
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


def _looks_like_pt2(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
    except (zipfile.BadZipFile, OSError):
        return False
    return any(n == "archive_format" or n.endswith("/archive_format") for n in names) or "version" in names


def load(
    spec: Any, path: Path, *, field: str, manifest: Path, device: str = "cpu", trust_pickle: bool = False
) -> TorchAdapter:
    if not trust_pickle:
        raise InputError(manifest, f"{field}.format", REFUSAL)
    torch = require("torch", fmt="torch-export", manifest=manifest, field=field)
    dev = check_device(torch, device)
    if not _looks_like_pt2(path):
        raise InputError(path, f"{field}.path", "not a torch.export archive (.pt2 written by torch.export.save)")
    try:
        with _quiet():
            ep = torch.export.load(str(path))
        if dev.type != "cpu":
            from torch.export.passes import move_to_device_pass

            ep = move_to_device_pass(ep, dev)
        module = ep.module()
    except Exception as exc:
        raise InputError(path, f"{field}.path", f"not a loadable torch.export archive ({one_line(exc)})") from exc

    sig = ep.graph_signature
    user_inputs = list(sig.user_inputs)
    placeholders = {n.name: n for n in ep.graph.nodes if n.op == "placeholder"}
    if len(user_inputs) != 1:
        raise InputError(
            path,
            f"{field}.path",
            f"the exported program takes {len(user_inputs)} inputs; the gate passes one (rows, features) tensor",
        )
    val = placeholders[user_inputs[0]].meta.get("val") if user_inputs[0] in placeholders else None
    batch_rows = in_features = None
    dtype = torch.float32
    if isinstance(val, torch.Tensor):
        if val.ndim != 2:
            raise InputError(
                path,
                f"{field}.path",
                f"the exported program takes a {val.ndim}-d input; the gate passes (rows, features)",
            )
        batch_rows = val.shape[0] if isinstance(val.shape[0], int) else None
        in_features = val.shape[1] if isinstance(val.shape[1], int) else None
        if val.dtype.is_floating_point:
            dtype = val.dtype
    params = [ep.state_dict[name] for name in sig.parameters if name in ep.state_dict]
    return TorchAdapter(
        module,
        path,
        torch=torch,
        fmt="torch-export",
        field=field,
        output=spec.output,
        device=dev,
        parameters=params,
        dtype=dtype,
        batch_rows=batch_rows,
        in_features=in_features,
    )
