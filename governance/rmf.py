"""The NIST AI RMF 1.0 Core subcategories (NIST AI 100-1, Tables 1-4), shipped verbatim as package data."""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources


@lru_cache(maxsize=1)
def subcategories() -> dict[str, dict]:
    """ID (e.g. ``MEASURE 2.3``) -> {id, function, text, table, printed_page}."""
    raw = resources.files("governance").joinpath("resources/nist-ai-rmf.json").read_text(encoding="utf-8")
    return {s["id"]: s for s in json.loads(raw)["subcategories"]}


def normalise(ref: str) -> str:
    """Accept `measure 2.3` or `MEASURE-2.3` as `MEASURE 2.3`."""
    return " ".join(ref.replace("-", " ").split()).upper()
