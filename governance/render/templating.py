"""The Jinja environment: a sandbox, strict undefined names, autoescaping for HTML, user folder first.

A user folder (``--templates DIR``) overrides any default template by file name; everything else comes
from the packaged ``templates/``. Templates run in an ImmutableSandboxedEnvironment with limits, whoever wrote them:
a template (or an ``{% include %}``) is read only if its real path is a regular file inside a template folder
(a symlink leaving the folder is refused); a render stops after ``RENDER_SECONDS`` or once a value or the
output grows past its size limit; ``range`` and repetition (``'a' * n``, ``[x] * n``, ``x ** n``) are capped
before they allocate. Every refusal is an InputError naming the template (exit 2), never a crash.
"""

from __future__ import annotations

import contextvars
import functools
import math
import os
import re
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
from jinja2.loaders import split_template_path
from jinja2.sandbox import ImmutableSandboxedEnvironment, SandboxedEnvironment
from markupsafe import Markup, escape

from ..card import MISSING
from ..errors import InputError
from ..packaged import folder

HTML_SUFFIXES = (".html.j2", ".html", ".htm", ".svg.j2", ".xml.j2")


#: a user template that fails while rendering (template: kind, error)
TEMPLATE_ERROR = "template error: {kind}: {error}"

def autoescape(name: str | None) -> bool:
    """Every HTML template escapes what it prints (select_autoescape() does not cover ``.html.j2``)."""
    return name is not None and name.endswith(HTML_SUFFIXES)


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


#: characters of a sha256 shown wherever a hash is shortened (the input-files table has the full ones)
SHORT_HASH = 12


def wbr(value: Any) -> Markup:
    """``{{ f.kind | wbr }}``: escaped text with a line-break opportunity after each ``_`` and ``.``, so a long
    id wraps there instead of splitting mid-word."""
    text = str(escape("" if value is None else value))
    return Markup(text.replace("_", "_<wbr>").replace(".", ".<wbr>"))


def short_hash(value: Any) -> str:
    """``{{ sha | short_hash }}``: the first SHORT_HASH characters and an ellipsis, the one width every
    document uses."""
    text = "" if value is None else str(value)
    return text if len(text) <= SHORT_HASH else text[:SHORT_HASH] + "\u2026"


def no_html(text: str) -> str:
    """``<`` and ``>`` as entities: Markdown renderers pass raw HTML through, so a card fact or a release name
    like ``<script>`` or ``<img onerror=...>`` must reach the card as text, never as a tag."""
    return text.replace("<", "&lt;").replace(">", "&gt;")


def md_cell(value: Any) -> str:
    """Text safe inside a Markdown table cell: pipes escaped, line breaks folded into spaces, no raw HTML."""
    text = "" if value is None else str(value)
    text = text.replace("\\", "\\\\").replace("|", "\\|")
    return no_html(" ".join(text.split()))


#: what may not start a line of a card fact: headings, rules, tables, code fences, quotes (Markdown blocks)
_BLOCK_START = ("#", "---", "===", "***", "___", "|", "```", "~~~", ">")
#: brackets make links and images (``![x](http://...)`` loads a remote image, ``[x](javascript:...)``)
_BRACKETS = re.compile(r"[\[\]]")


def md_text(value: Any) -> str:
    """A card fact as a Markdown paragraph: line breaks kept; no line can start a block (a heading, rule, table,
    code fence or quote: one line of three backticks swallowed the rest of the card) or be indented into a code
    block; no link, image or raw HTML."""
    text = "" if value is None else str(value).strip()
    lines = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith(_BLOCK_START):
            line = "\\" + line
        lines.append(no_html(_BRACKETS.sub(lambda m: "\\" + m.group(), line)))
    return "\n".join(lines)


def md_line(value: Any) -> str:
    """:func:`md_text` on one line (a heading: a line break in a release name ended the heading)."""
    return md_text(" ".join(("" if value is None else str(value)).split()))


def md_code(value: Any) -> str:
    """``value`` as an inline code span (HTML is never interpreted there): a fence longer than any run of
    backticks inside, pipes escaped for table cells, line breaks folded."""
    text = " ".join(("" if value is None else str(value)).split()).replace("|", "\\|")
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


FILTERS = {"or_missing": or_missing, "num": num, "signed": signed, "interval": interval, "pct": pct,
           "short_hash": short_hash, "wbr": wbr, "md_cell": md_cell, "md_text": md_text, "md_line": md_line,
           "md_code": md_code}


# --- limits ------------------------------------------------------------------------------------------
#: wall-clock seconds one document may take to render (the bundled ones take well under one)
RENDER_SECONDS = 30.0
#: characters (or items) one value may hold: a string, list, or the result of ``'a' * n``
MAX_VALUE_SIZE = 10_000_000
#: characters one rendered document may hold
MAX_OUTPUT_CHARS = 50_000_000
#: items ``range()`` may produce in a template
MAX_RANGE = 100_000
#: bytes of one template file
MAX_TEMPLATE_BYTES = 2_000_000
#: bits an integer ``**`` result may need (2 ** 4096 is plenty for any report)
MAX_POWER_BITS = 4096

TEMPLATE_OUTSIDE = ("{path} resolves to {real}, outside the template folder {folder}: templates and what they "
                    "include must be files inside the folder (a symlink leaving it is refused)")
TEMPLATE_NOT_FILE = "{path} is not a regular file (a directory, FIFO or device is never read as a template)"
TEMPLATE_TOO_BIG = "{path} has {size:,} bytes; a template may have at most {limit:,}"
TIME_LIMIT = "rendering took longer than {seconds:g} s (the time limit); is there a loop that never ends?"
VALUE_LIMIT = "a value of {size:,} items or characters is past the limit of {limit:,}"
OUTPUT_LIMIT = "the document grew past {limit:,} characters (the output limit)"
RANGE_LIMIT = "range() of {size:,} items is past the limit of {limit:,}"
POWER_LIMIT = "{left!r} ** {right!r} is too large a number"


class TemplateLimit(BaseException):
    """A render stopped by a limit; a BaseException so no ``except Exception`` in a filter can swallow it."""


_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar("template_deadline", default=None)


def _tick() -> None:
    deadline = _deadline.get()
    if deadline is not None and time.monotonic() > deadline:
        raise TemplateLimit(TIME_LIMIT.format(seconds=RENDER_SECONDS))


def _sized(value: Any) -> Any:
    """``value``, unless it is a string or collection past ``MAX_VALUE_SIZE``."""
    if isinstance(value, (str, bytes, list, tuple, dict, set, frozenset)) and len(value) > MAX_VALUE_SIZE:
        raise TemplateLimit(VALUE_LIMIT.format(size=len(value), limit=MAX_VALUE_SIZE))
    return value


def _check_args(args: tuple, kwargs: dict) -> None:
    """No size argument may ask for more than the value limit (``'a'.ljust(10**10)``, ``x|center(10**10)``)."""
    for a in (*args, *kwargs.values()):
        if isinstance(a, int) and not isinstance(a, bool) and abs(a) > MAX_VALUE_SIZE:
            raise TemplateLimit(VALUE_LIMIT.format(size=abs(a), limit=MAX_VALUE_SIZE))


def _check_format(text: Any) -> None:
    """A format string may not ask for a width or precision past the value limit (``'%10000000000d'``)."""
    if isinstance(text, str):
        _check_args(tuple(int(w) for w in _WIDTHS.findall(text)), {})


def _timed(items: Iterator[Any]) -> Iterator[Any]:
    """Iterate ``items`` checking the clock every 1,000 items: a loop over them cannot outlast the time limit."""
    for i, item in enumerate(items):
        if not i % 1000:
            _tick()
        yield item


class _TimedList(list):
    """A list made in a template (``range(n) | list``) whose loops check the clock."""

    def __iter__(self) -> Iterator[Any]:
        return _timed(super().__iter__())


def _range(*args: int) -> _TimedList:
    r = range(*args)
    if len(r) > MAX_RANGE:
        raise TemplateLimit(RANGE_LIMIT.format(size=len(r), limit=MAX_RANGE))
    return _TimedList(r)


def _limited_filter(name: str, f: Callable[..., Any]) -> Callable[..., Any]:
    """A filter whose parameters and result stay within the limits (filters are called directly, not via ``call``):
    ``center(10**10)``, ``batch(10**10)`` or ``num(10**10)`` are refused before they allocate."""
    skip = 2 if getattr(f, "jinja_pass_arg", None) is not None else 1  # context/environment, then the value

    @functools.wraps(f)
    def run(*args: Any, **kwargs: Any) -> Any:
        _tick()
        _check_args(args[skip:], kwargs)
        if name == "format" and len(args) >= skip:
            _check_format(args[skip - 1])
        out = _sized(f(*args, **kwargs))
        if isinstance(out, Iterator):
            return _timed(out)
        return _TimedList(out) if type(out) is list else out

    return run


class LimitedSandbox(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox (no template can change the lists and dicts of the context the other documents
    render from: one model-card template emptied the audit report's blocking table), plus caps on repetition, powers,
    value sizes and time, checked in its hooks."""

    intercepted_binops = frozenset({"*", "**", "%", "+"})

    def call_binop(self, context: jinja2.runtime.Context, operator: str, left: Any, right: Any) -> Any:
        _tick()
        if operator == "*":
            for seq, n in ((left, right), (right, left)):
                if isinstance(seq, (str, bytes, list, tuple)) and isinstance(n, int) and len(seq) * n > MAX_VALUE_SIZE:
                    raise TemplateLimit(VALUE_LIMIT.format(size=len(seq) * n, limit=MAX_VALUE_SIZE))
        elif operator == "**" and isinstance(left, int) and isinstance(right, int) and abs(left) > 1 and right > 0:
            if right * math.log2(abs(left)) > MAX_POWER_BITS:
                raise TemplateLimit(POWER_LIMIT.format(left=left, right=right))
        elif operator == "%":  # printf-style widths: '%10000000000d' % 1
            _check_format(left)
        return _sized(super().call_binop(context, operator, left, right))

    def call(__self, __context: jinja2.runtime.Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        _tick()
        owner, method = getattr(__obj, "__self__", None), getattr(__obj, "__name__", "")
        if isinstance(owner, (str, bytes)) and method in _PADDING:  # 'a'.ljust(10**10)
            _check_args(args, kwargs)
        return _sized(super().call(__context, __obj, *args, **kwargs))

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        """``'{:>10000000000}'.format``: the sandbox wraps str.format when it is looked up; check the widths then."""
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None
        text = getattr(value, "__self__", None)
        _check_format(text)
        if not (isinstance(text, str) and _NESTED_FIELD.search(text)):
            return wrapped

        def nested(*args: Any, **kwargs: Any) -> str:  # '{:>{w}}'.format(1, w=10**10): widths come from arguments
            _check_args(args, kwargs)
            _check_args(tuple(v for a in args if isinstance(a, dict) for v in a.values()), {})
            return _sized(wrapped(*args, **kwargs))

        return nested

    def getattr(self, obj: Any, attribute: str) -> Any:
        _tick()
        return _sized(super().getattr(obj, attribute))

    def getitem(self, obj: Any, argument: Any) -> Any:
        _tick()
        return _sized(super().getitem(obj, argument))


#: digit runs in a format string long enough to be a width or precision past the value limit
_WIDTHS = re.compile(r"\d{8,}")
#: a replacement field inside a format spec ('{:>{w}}'): its width is an argument, checked when called
_NESTED_FIELD = re.compile(r"\{[^{}]+\{")
#: string methods whose integer argument is the size of what they allocate
_PADDING = frozenset({"ljust", "rjust", "center", "zfill", "expandtabs"})


class ContainedLoader(jinja2.BaseLoader):
    """Templates from one folder, read only if the real path (symlinks resolved) is a regular file inside it."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder).resolve()

    def get_source(self, environment: jinja2.Environment, template: str) -> tuple[str, str, Callable[[], bool]]:
        path = self.folder.joinpath(*split_template_path(template))  # '..' is TemplateNotFound
        if not os.path.lexists(path):
            raise jinja2.TemplateNotFound(template)
        real = path.resolve()
        if not real.is_relative_to(self.folder):
            raise InputError(path, None, TEMPLATE_OUTSIDE.format(path=template, real=real, folder=self.folder))
        if not real.is_file():
            raise InputError(path, None, TEMPLATE_NOT_FILE.format(path=template))
        size = real.stat().st_size
        if size > MAX_TEMPLATE_BYTES:
            raise InputError(path, None, TEMPLATE_TOO_BIG.format(path=template, size=size, limit=MAX_TEMPLATE_BYTES))
        try:
            source = real.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(path, None, f"cannot read the template: {exc}") from None
        mtime = real.stat().st_mtime

        def uptodate() -> bool:
            try:
                return real.stat().st_mtime == mtime
            except OSError:
                return False

        return source, str(path), uptodate

    def list_templates(self) -> list[str]:
        return sorted(p.relative_to(self.folder).as_posix() for p in self.folder.rglob("*") if p.is_file())


@lru_cache(maxsize=8)
def _environment(folders: tuple[Path, ...]) -> SandboxedEnvironment:
    loader = jinja2.ChoiceLoader([ContainedLoader(f) for f in folders])
    env = LimitedSandbox(loader=loader, autoescape=autoescape, undefined=jinja2.StrictUndefined,
                         trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.filters.update(FILTERS)
    env.filters = {name: _limited_filter(name, f) for name, f in env.filters.items()}
    env.globals["range"] = _range
    return env


def environment(user: Path | None) -> SandboxedEnvironment:
    return _environment(tuple(template_folders(user)))


@contextmanager
def _alarm(seconds: float) -> Iterator[None]:
    """In the main thread, a SIGALRM backstop for the time limit (a loop with no hook to check the clock in)."""
    if not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expired(signum: int, frame: Any) -> None:
        raise TemplateLimit(TIME_LIMIT.format(seconds=RENDER_SECONDS))

    previous = signal.signal(signal.SIGALRM, expired) or signal.SIG_DFL
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _generate(template: jinja2.Template, context: dict[str, Any]) -> str:
    """The rendered text, built piece by piece so the output limit and the clock are checked as it grows."""
    parts: list[str] = []
    size = 0
    for piece in template.generate(context):
        size += len(piece)
        if size > MAX_OUTPUT_CHARS:
            raise TemplateLimit(OUTPUT_LIMIT.format(limit=MAX_OUTPUT_CHARS))
        parts.append(piece)
        _tick()
    return "".join(parts)


def render(name: str, context: dict[str, Any], user: Path | None) -> str:
    """Render template ``name``; a broken, unsafe or runaway template is bad input (exit 2) naming the file."""
    env = environment(user)
    token = _deadline.set(time.monotonic() + RENDER_SECONDS)
    try:
        with _alarm(RENDER_SECONDS + 1.0):
            return _generate(env.get_template(name), context)
    except TemplateLimit as exc:
        where, _ = _template_frame(exc)
        raise InputError(where or name, None, f"template stopped: {exc}") from None
    except jinja2.TemplateSyntaxError as exc:
        raise InputError(exc.filename or name, f"line {exc.lineno}", f"template syntax error: {exc.message}") from None
    except jinja2.TemplateNotFound as exc:
        raise InputError(name, None, f"template not found: {exc.name}") from None
    except (jinja2.UndefinedError, jinja2.exceptions.SecurityError, TypeError, ValueError, OverflowError,
            RecursionError, MemoryError) as exc:
        where, line = _template_frame(exc)
        raise InputError(where or name, f"line {line}" if line else None,
                         TEMPLATE_ERROR.format(kind=exc.__class__.__name__, error=exc)) from None
    finally:
        _deadline.reset(token)


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
