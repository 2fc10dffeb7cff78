"""The documents: model_card.md, model_card.html, audit_report.html and audit_report.pdf, from templates."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..card import FRONT_MATTER, MarkdownCard
from ..errors import InputError
from . import templating, view

if TYPE_CHECKING:
    from . import RenderContext


def context(ctx: RenderContext) -> dict:
    """The template context, built once per render context (charts for many slices are not free)."""
    if "view" not in ctx.cache:
        ctx.cache["view"] = view.build(ctx.evidence, ctx.verdict, ctx.card, ctx.card_file)
    return ctx.cache["view"]


def _render(ctx: RenderContext, name: str) -> str:
    key = f"text:{name}"
    if key not in ctx.cache:
        ctx.cache[key] = templating.render(name, context(ctx), ctx.templates)
    return ctx.cache[key]


def model_card_md(ctx: RenderContext) -> bytes:
    """The Hugging Face model card; its front matter must load back as a YAML mapping."""
    text = _render(ctx, "model_card.md.j2")
    if not FRONT_MATTER.search(text):  # the Hub would see a card without metadata (docs/templates.md: exit 2)
        raise InputError("model_card.md.j2", None, NO_FRONT_MATTER)
    try:
        MarkdownCard.loads(text)
    except Exception as exc:  # noqa: BLE001 - yaml errors and a non-mapping alike
        raise InputError("model_card.md.j2", None,
                         f"the rendered card's front matter is not valid YAML: {exc}".splitlines()[0]) from None
    return text.encode("utf-8")


#: a rendered Markdown card that does not start with its YAML front matter
NO_FRONT_MATTER = ("the rendered card does not start with YAML front matter between '---' lines: keep "
                   "'---\\n{{ front_matter_yaml }}\\n---' at its top")


def model_card_html(ctx: RenderContext) -> bytes:
    return _render(ctx, "model_card.html.j2").encode("utf-8")


def audit_report_html(ctx: RenderContext) -> bytes:
    return _render(ctx, "audit_report.html.j2").encode("utf-8")


def audit_report_pdf(ctx: RenderContext) -> bytes:
    from .pdf import html_to_pdf

    return html_to_pdf(_render(ctx, "audit_report.html.j2"), templating.template_folders(ctx.templates))
