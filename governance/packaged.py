"""Find the top-level ``policies/`` and ``templates/`` folders, installed (package data) or in a checkout."""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def folder(name: str) -> Path:
    """The packaged folder ``name`` (wheel: inside the package; checkout/editable: the repo's top level)."""
    inside = resources.files("governance").joinpath(name)
    if inside.is_dir():
        return Path(str(inside))
    return Path(__file__).resolve().parent.parent / name


def builtin_policies() -> dict[str, Path]:
    """Policy packs shipped with the tool, by name (``builtin:NAME`` in a manifest or ``--policy``)."""
    return {p.stem: p for p in sorted(folder("policies").glob("*.yaml"))}
