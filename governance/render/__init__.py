"""Renderers: one per output file, each a function of the render context, chosen from a dict."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..card import CardFacts
from ..evidence.schema import Evidence, FileRef
from ..findings import Verdict
from . import bom, documents, jsonfiles, junit, monitoring, sarif


@dataclass(frozen=True)
class RenderContext:
    evidence: Evidence
    verdict: Verdict
    #: the release's card facts (card.yaml), or None: documents then say "[More Information Needed]"
    card: CardFacts | None = None
    #: the card file's path and sha256, listed with the input hashes
    card_file: FileRef | None = None
    #: a folder whose templates override the packaged ones by file name
    templates: Path | None = None
    #: renderers share work here (the template context, the audit HTML the PDF is made from)
    cache: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


Renderer = Callable[[RenderContext], bytes]

#: output file name -> renderer; `check` writes all of them
RENDERERS: dict[str, Renderer] = {
    "evidence.json": lambda ctx: jsonfiles.evidence_json(ctx.evidence),
    "verdict.json": lambda ctx: jsonfiles.verdict_json(ctx.verdict),
    "junit.xml": lambda ctx: junit.junit_xml(ctx.verdict),
    "governance.sarif": lambda ctx: sarif.sarif(ctx.verdict),
    "model_card.md": documents.model_card_md,
    "model_card.html": documents.model_card_html,
    "audit_report.html": documents.audit_report_html,
    "audit_report.pdf": documents.audit_report_pdf,
    "bom.cdx.json": bom.bom_json,
    "monitoring.json": monitoring.monitoring_json,
}


def render_all(ctx: RenderContext, names: list[str] | None = None) -> dict[str, bytes]:
    return {name: RENDERERS[name](ctx) for name in (names or list(RENDERERS))}
