"""The architecture of a ``torch`` release: a ``torch.nn.Module`` subclass named ``module:Class``, imported only
from a .py file inside the manifest's folder.

Code the release owner ships next to the manifest is trusted like the manifest itself, and nothing else
is ever imported: ``os:system`` or an installed package is refused before any import (docs/security.md,
tests/test_hostile_code.py).
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import re
import sys
from pathlib import Path
from typing import Any

from ..errors import InputError
from ._common import one_line

#: ``module:Class``: a dotted module path (folders below the manifest's) and one class name
ARCHITECTURE_FORM = re.compile(r"^(?P<module>[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*):(?P<cls>[A-Za-z_]\w*)$")
ARCH_BAD_FORM = ("expected 'module:Class' (a torch.nn.Module subclass in a .py file in the release's folder, "
                 "e.g. 'arch:Net' for arch.py next to the manifest), got {value!r}")
ARCH_NO_FILE = ("module {module!r} is not a file in the release's folder (looked for {path}): the architecture must "
                "be a .py file next to the manifest or below it, never an installed or standard-library module")
ARCH_OUTSIDE = "module {module!r} resolves to {path}, outside the release's folder {folder} (a symlink leaving it)"
ARCH_NOT_CLASS = ("{value!r} is {what}, not a class: name the torch.nn.Module subclass itself "
                  "(e.g. 'arch:Net'); its constructor's keyword arguments go in architecture_kwargs")
ARCH_NOT_MODULE = "{value!r} is a class but not a torch.nn.Module subclass"


def architecture_file(architecture: str, *, manifest: Path, field: str) -> Path:
    """The .py file inside the manifest's folder that ``module:Class`` names, found without importing anything."""
    where = f"{field}.architecture"
    m = ARCHITECTURE_FORM.match(architecture)
    if m is None:
        raise InputError(manifest, where, ARCH_BAD_FORM.format(value=architecture))
    folder = Path(manifest).resolve().parent
    module = m["module"]
    rel = Path(*module.split(".")).with_suffix(".py")
    candidate = folder / rel
    if not candidate.is_file():
        raise InputError(manifest, where, ARCH_NO_FILE.format(module=module, path=rel.as_posix()))
    real = candidate.resolve()
    if not real.is_relative_to(folder):
        raise InputError(manifest, where, ARCH_OUTSIDE.format(module=module, path=real, folder=folder))
    return real


def import_architecture(architecture: str, *, manifest: Path, field: str, torch: Any) -> type:
    """The ``torch.nn.Module`` subclass ``module:Class`` names, from a .py file inside the manifest's folder.

    Nothing outside the release is ever named: the file is found first (``architecture_file``), so ``os:system``
    or ``subprocess:run`` is refused before any import. Importing the file runs its top level (release code,
    trusted like the manifest: docs/security.md); the module gets a private name derived from its content, so
    two releases' ``arch.py`` never collide, and the folder is on ``sys.path`` only while it runs (sibling
    imports work).
    """
    where = f"{field}.architecture"
    path = architecture_file(architecture, manifest=manifest, field=field)
    module_name, _, cls_name = architecture.partition(":")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    private = f"_governance_release_{digest}_{module_name.replace('.', '_')}"
    module = sys.modules.get(private)
    if module is None:
        spec = importlib.util.spec_from_file_location(private, path)
        if spec is None or spec.loader is None:
            raise InputError(manifest, where, ARCH_NO_FILE.format(module=module_name, path=path))
        module = importlib.util.module_from_spec(spec)
        folder = str(Path(manifest).resolve().parent)
        sys.modules[private] = module
        sys.path.insert(0, folder)
        try:
            spec.loader.exec_module(module)
        except (Exception, SystemExit) as exc:  # SyntaxError, ImportError, the module failing or exiting
            sys.modules.pop(private, None)
            raise InputError(manifest, where, f"cannot import module {module_name!r} ({path.name}): "
                                              f"{one_line(exc)}") from exc
        finally:
            if folder in sys.path:
                sys.path.remove(folder)
    obj = getattr(module, cls_name, None)
    if obj is None:
        raise InputError(manifest, where, f"module {module_name!r} has no attribute {cls_name!r}")
    if not isinstance(obj, type):
        what = "a function" if inspect.isroutine(obj) else f"a {type(obj).__name__}"
        raise InputError(manifest, where, ARCH_NOT_CLASS.format(value=architecture, what=what))
    if not issubclass(obj, torch.nn.Module):
        raise InputError(manifest, where, ARCH_NOT_MODULE.format(value=architecture))
    return obj
