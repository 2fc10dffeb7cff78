"""The Jinja environment: a sandbox, strict undefined names, autoescaping for HTML, user folder first.

A user folder (``--templates DIR``) overrides any default template by file name; everything else comes
from the packaged ``templates/``. Templates run in Jinja's SandboxedEnvironment, whoever wrote them.
"""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from ..card import MISSING
from ..errors import InputError
from ..packaged import folder

HTML_SUFFIXES = (".html.j2", ".html", ".htm", ".svg.j2", ".xml.j2")


def autoescape(name: str | None) -> bool:
    """Every HTML template escapes what it prints (select_autoescape() does not cover ``.html.j2``)."""
    return bool(name) and name.endswith(HTML_SUFFIXES)


def default_folder() -> Path:
    return folder("templates")


def template_folders(user: Path | None) -> list[Path]:
    """Where templates are looked up, first match wins: the user folder, then the packaged defaults."""
    if user is None:
        return [default_folder()]
    if not user.is_dir():
        raise InputError(user, "--templates", "not a folder of templates")
    return [user.resolve(), default_folder()]


# --- filters -----------------------------------------------------------------------------------------
def _blank(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def or_missing(value: Any) -> Any:
    """``{{ card.model_details.license | or_missing }}``: the value, or [More Information Needed]."""
    return MISSING if _blank(value) else value


def num(value: Any, digits: int = 4) -> str:
    """A number with fixed decimals; ``n/a`` for an undefined metric."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:.{digits}f}"


def signed(value: Any, digits: int = 4) -> str:
    """A difference with its sign: ``+0.0012``, ``−0.0345`` (a real minus sign)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    text = f"{value:+.{digits}f}"
    return text.replace("-", "\u2212")


def interval(ci: Any, digits: int = 4, sign: bool = False) -> str:
    """``[low, high]``, or an empty string when there is no interval."""
    if not ci:
        return ""
    fmt = signed if sign else num
    return f"[{fmt(ci[0], digits)}, {fmt(ci[1], digits)}]"


def pct(value: Any, digits: int = 1) -> str:
    if value is None:
        return "n/a"
    return f"{100 * value:.{digits}f}%"


def md_cell(value: Any) -> str:
    """Text safe inside a Markdown table cell: pipes escaped, line breaks folded into spaces."""
    text = "" if value is None else str(value)
    text = text.replace("\\", "\\\\").replace("|", "\\|")
    return " ".join(text.split())


def md_text(value: Any) -> str:
    """A card fact as a Markdown paragraph: line breaks kept, a leading '#', '---' or '<' cannot start a block."""
    text = "" if value is None else str(value).strip()
    lines = []
    for line in text.splitlines():
        stripped = line.lstrip()
        if stripped.startswith(("#", "---", "===", "<", "|")):
            line = "\\" + stripped
        lines.append(line)
    return "\n".join(lines)


FILTERS = {"or_missing": or_missing, "num": num, "signed": signed, "interval": interval, "pct": pct,
           "md_cell": md_cell, "md_text": md_text}


@lru_cache(maxsize=8)
def _environment(folders: tuple[Path, ...]) -> SandboxedEnvironment:
    loader = jinja2.ChoiceLoader([jinja2.FileSystemLoader(str(f)) for f in folders])
    env = SandboxedEnvironment(loader=loader, autoescape=autoescape, undefined=jinja2.StrictUndefined,
                               trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.filters.update(FILTERS)
    return env


def environment(user: Path | None) -> SandboxedEnvironment:
    return _environment(tuple(template_folders(user)))


def render(name: str, context: dict[str, Any], user: Path | None) -> str:
    """Render template ``name``; a broken or unsafe template is bad input (exit 2) naming the file and line."""
    env = environment(user)
    try:
        return env.get_template(name).render(context)
    except jinja2.TemplateSyntaxError as exc:
        raise InputError(exc.filename or name, f"line {exc.lineno}", f"template syntax error: {exc.message}") from None
    except jinja2.TemplateNotFound as exc:
        raise InputError(name, None, f"template not found: {exc.name}") from None
    except (jinja2.UndefinedError, jinja2.exceptions.SecurityError, TypeError, ValueError) as exc:
        where, line = _template_frame(exc)
        raise InputError(where or name, f"line {line}" if line else None,
                         f"template error: {exc.__class__.__name__}: {exc}") from None


def _template_frame(exc: BaseException) -> tuple[str | None, int | None]:
    """The innermost template file and line in a rendering traceback (Jinja rewrites frames to templates)."""
    found: tuple[str | None, int | None] = (None, None)
    tb = exc.__traceback__
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename.endswith(".j2") or filename.endswith((".html", ".md", ".css")):
            found = (filename, tb.tb_lineno)
        tb = tb.tb_next
    return found
