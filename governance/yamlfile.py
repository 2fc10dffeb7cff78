"""Load YAML into pydantic models with errors that name the file, the field and the line."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from .errors import InputError

M = TypeVar("M", bound=BaseModel)


def read_yaml(path: Path) -> tuple[Any, yaml.Node | None]:
    """Parse with ``yaml.safe_load`` (never the full loader) and keep the node tree for line numbers."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(path, None, "file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(path, None, f"cannot read file ({exc.__class__.__name__}: {exc})") from None
    try:
        data = yaml.safe_load(text)
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InputError(path, where, f"malformed YAML: {problem}") from None
    return data, node


def _line_of(node: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    """Walk the composed node tree along a pydantic error location; return a 1-based line."""
    line = None
    for key in loc:
        if node is None:
            break
        line = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            node = next((v for k, v in node.value if getattr(k, "value", None) == str(key)), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
        else:
            node = None
    if node is not None:
        line = node.start_mark.line + 1
    return line


def format_loc(loc: tuple[Any, ...], data: Any = None) -> str:
    """``rules.2.max_drop`` -> ``rules[2] (PERF-001).max_drop``: name rules by their id where possible."""
    out = ""
    cursor = data
    for key in loc:
        if isinstance(key, int):
            label = f"[{key}]"
            if isinstance(cursor, list) and key < len(cursor):
                cursor = cursor[key]
                if isinstance(cursor, dict) and "id" in cursor:
                    label += f" ({cursor['id']})"
            else:
                cursor = None
            out += label
        else:
            # pydantic adds the discriminator value as a loc element for tagged unions; skip it
            if isinstance(cursor, dict) and cursor.get("kind") == key and key not in cursor:
                continue
            out += ("." if out else "") + str(key)
            cursor = cursor.get(key) if isinstance(cursor, dict) else None
    return out


def validation_error(path: Path, exc: ValidationError, data: Any, node: yaml.Node | None) -> InputError:
    """Turn the first pydantic error into one readable InputError (file, field, line)."""
    err = exc.errors()[0]
    loc = tuple(err.get("loc", ()))
    field = format_loc(loc, data) or None
    line = _line_of(node, tuple(k for k in loc if not (isinstance(k, str) and _is_tag(k, data, loc))))
    if line is not None:
        field = f"{field} (line {line})" if field else f"line {line}"
    msg = err.get("msg", "invalid value")
    if err.get("type") == "extra_forbidden":
        msg = "unknown key"
    elif err.get("type") == "missing":
        msg = "required key is missing"
    more = len(exc.errors()) - 1
    if more:
        msg += f" (and {more} more problem{'s' if more > 1 else ''})"
    return InputError(path, field, msg)


def _is_tag(key: str, data: Any, loc: tuple[Any, ...]) -> bool:
    cursor = data
    for k in loc:
        if k == key:
            return isinstance(cursor, dict) and cursor.get("kind") == key and key not in cursor
        if isinstance(cursor, dict):
            cursor = cursor.get(k)
        elif isinstance(cursor, list) and isinstance(k, int) and k < len(cursor):
            cursor = cursor[k]
        else:
            return False
    return False


def load_model_file(path: Path, model: type[M], *, what: str) -> M:
    """Read ``path`` as YAML and validate it as ``model``; any problem is an InputError."""
    data, node = read_yaml(path)
    if not isinstance(data, dict):
        raise InputError(path, None, f"expected a YAML mapping for a {what}, found {type(data).__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise validation_error(path, exc, data, node) from None
