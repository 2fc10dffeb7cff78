"""PyTorch models as a safetensors state dict plus the architecture, an ``nn.Module`` subclass.

safetensors holds tensors only, so loading the file cannot run code. The architecture is named as
``module:Class`` and must be a class in a .py file inside the manifest's folder: code the release owner
ships next to the manifest, trusted like the manifest itself, and nothing else (docs/security.md,
torch_architecture.py). This module loads; the adapter that runs the model is torch_adapter.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import InputError
from ._common import one_line, require
from .torch_adapter import TorchAdapter, check_device
from .torch_architecture import (  # re-exported: the architecture's rules are part of this format's contract
    ARCH_BAD_FORM,
    ARCH_NO_FILE,
    ARCH_NOT_CLASS,
    ARCH_NOT_MODULE,
    ARCH_OUTSIDE,
    ARCHITECTURE_FORM,
    architecture_file,
    import_architecture,
)

__all__ = ["ARCHITECTURE_FORM", "ARCH_BAD_FORM", "ARCH_NOT_CLASS", "ARCH_NOT_MODULE", "ARCH_NO_FILE", "ARCH_OUTSIDE",
           "TorchAdapter", "architecture_file", "check_device", "import_architecture", "load"]


#: a safetensors file whose tensors do not match the architecture's (template: keys)
MISSING_KEYS = "missing keys: {keys}"
UNEXPECTED_KEYS = "unexpected keys: {keys}"

def _keys(keys: list[str], limit: int = 5) -> str:
    shown = ", ".join(keys[:limit])
    return shown + (f" (+{len(keys) - limit} more)" if len(keys) > limit else "")


def load(
    spec: Any, path: Path, *, field: str, manifest: Path, trust_pickle: bool = False, device: str = "cpu"
) -> TorchAdapter:
    """Build the architecture, load the safetensors state dict into it (strictly: every key, every shape)."""
    torch = require("torch", fmt="torch", manifest=manifest, field=field)
    st = require("safetensors.torch", fmt="torch", manifest=manifest, field=field)
    dev = check_device(torch, device)
    build = import_architecture(spec.architecture, manifest=manifest, field=field, torch=torch)
    try:
        model = build(**spec.architecture_kwargs)
    except (Exception, SystemExit) as exc:
        where = f"{field}.architecture_kwargs" if isinstance(exc, TypeError) else f"{field}.architecture"
        raise InputError(manifest, where, f"building {spec.architecture} failed: {one_line(exc)}") from exc
    if not isinstance(model, torch.nn.Module):
        raise InputError(
            manifest,
            f"{field}.architecture",
            f"{spec.architecture} returned {type(model).__name__}, not a torch.nn.Module",
        )

    try:
        state = st.load_file(str(path))
    except Exception as exc:
        raise InputError(path, f"{field}.path", f"not a valid safetensors file ({one_line(exc)})") from exc

    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(MISSING_KEYS.format(keys=_keys(missing)))
        if unexpected:
            parts.append(UNEXPECTED_KEYS.format(keys=_keys(unexpected)))
        hint = ""
        if any(k.endswith(("_orig", "_mask")) for k in unexpected):
            hint = "; it was saved with pruning still attached: call torch.nn.utils.prune.remove() before saving"
        raise InputError(
            path,
            f"{field}.path",
            f"state dict does not match {spec.architecture}: {'; '.join(parts)}{hint}",
        )
    try:
        model.load_state_dict(state, strict=True)
    except Exception as exc:  # shape mismatches
        raise InputError(
            path,
            f"{field}.path",
            f"state dict does not match {spec.architecture}: {one_line(exc)}",
        ) from exc

    model = model.to(dev).eval()
    params = [p for _, p in model.named_parameters()]
    dtype = next((p.dtype for p in params if p.is_floating_point()), torch.float32)
    return TorchAdapter(
        model,
        path,
        torch=torch,
        fmt="torch",
        field=field,
        output=spec.output,
        device=dev,
        parameters=params,
        dtype=dtype,
    )
