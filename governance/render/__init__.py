"""Renderers: one per output file, each a function of the render context, chosen from a dict."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..evidence.schema import Evidence
from ..findings import Verdict
from . import junit, jsonfiles


@dataclass(frozen=True)
class RenderContext:
    evidence: Evidence
    verdict: Verdict


Renderer = Callable[[RenderContext], bytes]

#: output file name -> renderer; `check` writes all of them
RENDERERS: dict[str, Renderer] = {
    "evidence.json": lambda ctx: jsonfiles.evidence_json(ctx.evidence),
    "verdict.json": lambda ctx: jsonfiles.verdict_json(ctx.verdict),
    "junit.xml": lambda ctx: junit.junit_xml(ctx.verdict),
}


def render_all(ctx: RenderContext, names: list[str] | None = None) -> dict[str, bytes]:
    return {name: RENDERERS[name](ctx) for name in (names or list(RENDERERS))}
