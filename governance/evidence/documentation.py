"""Which sections of the model-card facts (card.yaml) are filled: recorded in evidence for the documentation rule."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from pydantic import BaseModel

from ..card import CardFacts


def _walk(model: type[BaseModel], prefix: str = "") -> list[tuple[str, bool]]:
    """(dotted path, is a group) for every field of ``model``, groups before their fields."""
    out: list[tuple[str, bool]] = []
    for name, info in model.model_fields.items():
        path = f"{prefix}{name}"
        sub = info.annotation
        if isinstance(sub, type) and issubclass(sub, BaseModel):
            out.append((path, True))
            out.extend(_walk(sub, f"{path}."))
        else:
            out.append((path, False))
    return out


@lru_cache(maxsize=1)
def card_sections() -> tuple[str, ...]:
    """Every section of the card facts as a dotted path, e.g. ``intended_use``, ``intended_use.out_of_scope_uses``."""
    return tuple(path for path, _ in _walk(CardFacts))


@lru_cache(maxsize=1)
def section_aliases() -> dict[str, str]:
    """Short names for sections whose last part is unique:
    ``out_of_scope_uses`` -> ``intended_use.out_of_scope_uses``."""
    last: dict[str, list[str]] = {}
    for path in card_sections():
        last.setdefault(path.rsplit(".", 1)[-1], []).append(path)
    return {short: paths[0] for short, paths in last.items() if len(paths) == 1 and short != paths[0]}


def _filled(value: Any) -> bool:
    if value is None:
        return False
    if isinstance(value, BaseModel):
        return any(_filled(getattr(value, f)) for f in type(value).model_fields)
    if isinstance(value, str):
        return bool(value.strip())
    if isinstance(value, (list, tuple, dict, set)):
        return any(_filled(v) for v in (value.values() if isinstance(value, dict) else value))
    return True


def filled_sections(card: CardFacts | None) -> dict[str, bool]:
    """Dotted section path -> whether the card gives it (a group is filled when any of its fields is)."""
    out = {}
    for path in card_sections():
        value: Any = card
        for part in path.split("."):
            value = getattr(value, part, None) if value is not None else None
        out[path] = _filled(value)
    return out
