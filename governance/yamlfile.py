"""Load YAML into pydantic models with errors that name the file, the field and the line.

Every YAML input (release manifest, policy, provenance, card facts, waivers) goes through ``read_yaml``,
which is strict where PyYAML is lenient, because a lenient reading changes a release decision silently:
a duplicated key keeps only its last value, ``.nan`` compares false with every threshold, an impossible date
crashes the constructor, and a small file of aliases (billion laughs) expands into gigabytes. The loader is a
``yaml.SafeLoader`` subclass (safe_load semantics, never the full loader) with bounds on size, depth and
alias expansion, and each refusal is an ``InputError`` naming the file, the field and the line.
"""

from __future__ import annotations

import difflib
import math
import os
import re
import stat
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator
from pydantic_core import ErrorDetails, PydanticCustomError

from .errors import InputError

M = TypeVar("M", bound=BaseModel)

# Limits for YAML inputs: generous for any real policy, manifest, card, provenance or waivers file.
MAX_YAML_BYTES = 1024 * 1024
MAX_YAML_DEPTH = 64
MAX_YAML_ALIASES = 100
MAX_YAML_NODES = 100_000  # values after alias expansion

FILE_NOT_FOUND = "file not found"
NOT_REGULAR = "not a regular file ({what}): refusing to read it"
TOO_LARGE = "file is {size} bytes, over the {limit}-byte limit for YAML inputs"
DUPLICATE_KEY = "duplicate key {key!r} (lines {first} and {second})"
NOT_FINITE = "{text!r} is not a finite number: NaN and infinity are refused"
BAD_NUMBER = "{text!r} is not a usable number"
#: an integer past any count, seed or size an input can mean (template: text)
TOO_BIG_INT = "{text!r} is too large a number (at most 2**63): quote it if it is text, such as a hash"
MAX_YAML_INT = 2**63
#: a quoted string holding a control character other than tab and line breaks (template: code)
CONTROL_CHARACTER = "the text holds the control character \\x{code:02X}"
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
#: a quoted string holding half of a UTF-16 pair (template: code)
LONE_SURROGATE = "the text holds a lone surrogate (\\u{code:04X}), which is not Unicode text"
TOO_DEEP = f"nested deeper than {MAX_YAML_DEPTH} levels"
TOO_MANY_ALIASES = f"more than {MAX_YAML_ALIASES} YAML aliases (*name): refusing the document"
TOO_MANY_NODES = f"expands to more than {MAX_YAML_NODES} values through YAML aliases: refusing the document"
RECURSIVE_ALIAS = "a YAML alias refers to itself: refusing the document"
UNKNOWN_KEY = "unknown key {key!r}"
DID_YOU_MEAN = " (did you mean {suggestion!r}?)"

_FLOAT = "tag:yaml.org,2002:float"
_INT = "tag:yaml.org,2002:int"
_MERGE = "tag:yaml.org,2002:merge"
#: how a merge key is told apart from every key a file can write, in the duplicate check
_MERGE_KEY = ("<<", _MERGE)


class _Refused(yaml.YAMLError):
    """A bound of the strict loader was hit while composing; carries the position."""

    def __init__(self, message: str, mark: yaml.Mark | None) -> None:
        super().__init__(message)
        self.message = message
        self.mark = mark


class StrictLoader(yaml.SafeLoader):
    """``SafeLoader`` plus bounds on nesting depth and aliases, and impossible dates kept as text.

    An impossible date such as ``2026-02-30`` stays a string, so the pydantic field that expects a date
    reports it with its name and line (PyYAML's timestamp constructor raises a bare ValueError).
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._aliases = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_YAML_ALIASES:
                raise _Refused(TOO_MANY_ALIASES, self.peek_event().start_mark)
        self._depth += 1
        try:
            if self._depth > MAX_YAML_DEPTH:
                raise _Refused(TOO_DEEP, self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_yaml_timestamp(self, node: yaml.ScalarNode) -> Any:
        try:
            return super().construct_yaml_timestamp(node)
        except ValueError:
            return node.value

    def construct_yaml_float(self, node: yaml.ScalarNode) -> float:
        value = super().construct_yaml_float(node)
        if not math.isfinite(value):
            raise _Refused(NOT_FINITE.format(text=node.value), node.start_mark)
        return value

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        value = super().construct_yaml_int(node)
        if abs(value) > MAX_YAML_INT:  # no field needs more; 1 followed by 400 zeros overflowed float()
            raise _Refused(TOO_BIG_INT.format(text=node.value[:40] + ("..." if len(node.value) > 40 else "")),
                           node.start_mark)
        return value


StrictLoader.add_constructor("tag:yaml.org,2002:timestamp", StrictLoader.construct_yaml_timestamp)
StrictLoader.add_constructor(_FLOAT, StrictLoader.construct_yaml_float)
StrictLoader.add_constructor(_INT, StrictLoader.construct_yaml_int)


def _open_regular(path: Path) -> bytes:
    """Read at most the size limit, refusing anything but a regular file before opening it (a FIFO would hang)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise InputError(path, None, FILE_NOT_FOUND) from None
    except OSError as exc:
        raise InputError(path, None, f"cannot read file ({exc.__class__.__name__}: {exc})") from None
    _require_regular(path, st)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise InputError(path, None, f"cannot read file ({exc.__class__.__name__}: {exc})") from None
    try:
        _require_regular(path, os.fstat(fd))  # the path may have been swapped since the stat
        with os.fdopen(fd, "rb", closefd=False) as fh:
            raw = fh.read(MAX_YAML_BYTES + 1)
    except OSError as exc:
        raise InputError(path, None, f"cannot read file ({exc.__class__.__name__}: {exc})") from None
    finally:
        os.close(fd)
    if len(raw) > MAX_YAML_BYTES:
        raise InputError(path, None, TOO_LARGE.format(size=max(len(raw), os.stat(path).st_size), limit=MAX_YAML_BYTES))
    return raw


def _require_regular(path: Path, st: os.stat_result) -> None:
    if stat.S_ISREG(st.st_mode):
        if st.st_size > MAX_YAML_BYTES:
            raise InputError(path, None, TOO_LARGE.format(size=st.st_size, limit=MAX_YAML_BYTES))
        return
    what = ("a directory" if stat.S_ISDIR(st.st_mode) else "a FIFO" if stat.S_ISFIFO(st.st_mode)
            else "a device" if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)
            else "a socket" if stat.S_ISSOCK(st.st_mode) else "not a file")
    raise InputError(path, None, NOT_REGULAR.format(what=what))


def read_yaml(path: Path) -> tuple[Any, yaml.Node | None]:
    """Parse strictly (see the module docstring) and keep the node tree for line numbers."""
    path = Path(path)
    raw = _open_regular(path)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(path, None, f"cannot read file ({exc.__class__.__name__}: {exc})") from None
    loader = StrictLoader(text)
    try:
        node = loader.get_single_node()
        if node is not None:
            _expanded_size(node, {}, set())
            _check_nodes(path, loader, node, "", set())
        data = loader.construct_document(node) if node is not None else None
    except _Refused as exc:
        where = f"line {exc.mark.line + 1}" if exc.mark is not None else None
        raise InputError(path, where, exc.message) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InputError(path, where, f"malformed YAML: {problem}") from None
    finally:
        loader.dispose()
    return data, node


def _expanded_size(node: yaml.Node, memo: dict[int, int], active: set[int]) -> int:
    """Number of values the node stands for once aliases are expanded; refuses cycles and blow-ups."""
    key = id(node)
    if key in memo:
        return memo[key]
    if key in active:
        raise _Refused(RECURSIVE_ALIAS, node.start_mark)
    active.add(key)
    size = 1
    if isinstance(node, yaml.SequenceNode):
        children: list[yaml.Node] = list(node.value)
    elif isinstance(node, yaml.MappingNode):
        children = [n for pair in node.value for n in pair]
    else:
        children = []
    for child in children:
        size += _expanded_size(child, memo, active)
        if size > MAX_YAML_NODES:
            raise _Refused(TOO_MANY_NODES, child.start_mark)
    active.discard(key)
    memo[key] = size
    return size


def _label(node: yaml.MappingNode) -> str:
    """`` (PERF-001)`` for a mapping with a scalar ``id``, so messages name rules as format_loc does."""
    for k, v in node.value:
        if isinstance(k, yaml.ScalarNode) and k.value == "id" and isinstance(v, yaml.ScalarNode):
            return f" ({v.value})"
    return ""


def _valid_unicode(path: Path, field: str, text: str) -> None:
    """Refuse a lone UTF-16 surrogate (``"\\uD800"`` in a quoted string): no output format can encode it; and a
    control character (``"\\x1b[31m"``): XML cannot hold it and a terminal obeys it."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InputError(path, field, LONE_SURROGATE.format(code=ord(text[exc.start]))) from None
    if (found := _CONTROL.search(text)) is not None:
        raise InputError(path, field, CONTROL_CHARACTER.format(code=ord(found.group())))


def _check_nodes(path: Path, loader: StrictLoader, node: yaml.Node, where: str, seen: set[int]) -> None:
    """Duplicate keys and non-finite or unusable numbers, named by field and line."""
    if id(node) in seen:
        return
    seen.add(id(node))
    line = node.start_mark.line + 1
    if isinstance(node, yaml.ScalarNode):
        field = f"{where} (line {line})" if where else f"line {line}"
        if node.tag == _FLOAT:
            value = yaml.SafeLoader.construct_yaml_float(loader, node)
            if not math.isfinite(value):
                raise InputError(path, field, NOT_FINITE.format(text=node.value))
        elif node.tag == _INT:
            try:
                loader.construct_yaml_int(node)
            except ValueError:
                raise InputError(path, field, BAD_NUMBER.format(text=node.value[:40])) from None
            except _Refused as exc:
                raise InputError(path, field, exc.message) from None
        _valid_unicode(path, field, node.value)
        return
    if isinstance(node, yaml.SequenceNode):
        for i, child in enumerate(node.value):
            label = f"[{i}]" + (_label(child) if isinstance(child, yaml.MappingNode) else "")
            _check_nodes(path, loader, child, where + label, seen)
        return
    if isinstance(node, yaml.MappingNode):
        first: dict[Any, int] = {}
        for k, v in node.value:
            if isinstance(k, yaml.ScalarNode) and k.tag != _MERGE:
                try:
                    ident: Any = loader.construct_object(k)
                    hash(ident)
                except Exception:  # noqa: BLE001 - an odd key is compared by its text
                    ident = (k.tag, k.value)
                k_line = k.start_mark.line + 1
                _valid_unicode(path, f"{where} (line {k_line})" if where else f"line {k_line}", k.value)
                if ident in first:
                    raise InputError(path, where or None,
                                     DUPLICATE_KEY.format(key=k.value, first=first[ident], second=k_line))
                first[ident] = k_line
                child_where = f"{where}.{k.value}" if where else str(k.value)
            else:  # a merge key: one per mapping (two would merge silently, the later one hiding the first)
                k_line = k.start_mark.line + 1
                if _MERGE_KEY in first:
                    raise InputError(path, where or None,
                                     DUPLICATE_KEY.format(key=k.value, first=first[_MERGE_KEY], second=k_line))
                first[_MERGE_KEY] = k_line
                child_where = where
            _check_nodes(path, loader, k, where, seen)
            _check_nodes(path, loader, v, child_where, seen)


def line_of(node: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
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


def key_line(node: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    """Line of the *key* at the end of ``loc`` (where an unknown key is written), else of its value."""
    parent = node
    for key in loc[:-1]:
        if isinstance(parent, yaml.MappingNode):
            parent = next((v for k, v in parent.value if getattr(k, "value", None) == str(key)), None)
        elif isinstance(parent, yaml.SequenceNode) and isinstance(key, int) and key < len(parent.value):
            parent = parent.value[key]
        else:
            parent = None
    if isinstance(parent, yaml.MappingNode) and loc:
        for k, _ in parent.value:
            if getattr(k, "value", None) == str(loc[-1]):
                return k.start_mark.line + 1
    return line_of(node, loc)


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


def suggest(word: str, options: typing.Iterable[str]) -> str:
    """`` (did you mean 'max_drop'?)`` for the nearest option, or an empty string."""
    match = difflib.get_close_matches(str(word), [str(o) for o in options], n=1, cutoff=0.6)
    return DID_YOU_MEAN.format(suggestion=match[0]) if match else ""


def _unwrap(tp: Any) -> list[Any]:
    """The concrete alternatives of an annotation: Annotated and unions opened, None dropped."""
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(tp)[0])
    if origin is typing.Union or origin is types.UnionType:
        return [t for a in typing.get_args(tp) if a is not type(None) for t in _unwrap(a)]
    return [tp]


#: text YAML read as a number (template: value): a sha256 of digits only, a version, an id
NUMBER_NOT_TEXT = "expected text, but YAML read {value} as a number: quote it"
#: a YAML boolean where a number belongs (pydantic's lax mode would read ``max_drop: yes`` as 1.0)
BOOLEAN_NOT_NUMBER = ("got the boolean {value}, not a number (YAML reads yes/no, on/off and true/false as booleans: "
                      "write a number, or quote the word if it is text)")


def _takes_bool(alternatives: list[Any]) -> bool:
    return any(a is bool or a is Any or a is object or (typing.get_origin(a) is typing.Literal
                                                          and any(isinstance(v, bool) for v in typing.get_args(a)))
               for a in alternatives)


def boolean_as_number(annotation: Any, value: Any) -> bool:
    """Whether ``value`` holds a boolean that a field of ``annotation`` would coerce to a number (True -> 1.0)."""
    alternatives = _unwrap(annotation)
    if _takes_bool(alternatives):
        return False
    if isinstance(value, bool):
        return any(a in (int, float) for a in alternatives)
    if isinstance(value, (list, tuple)):
        items = [arg for a in alternatives if typing.get_origin(a) in (list, tuple, set)
                 for arg in typing.get_args(a) if arg is not Ellipsis]
        return bool(items) and any(boolean_as_number(arg, v) for v in value for arg in items)
    return False


#: a version YAML read as a decimal number (template: value): 1.10 and 1.1 are the same float
VERSION_NOT_TEXT = ("the version {value} was read as a number (YAML reads 1.10 as 1.1): quote it, "
                    "e.g. version: \"{value}\"")


def version_text(value: Any) -> Any:
    """A version as text: an integer is its digits; a decimal number is refused (its digits are already lost)."""
    if isinstance(value, float):
        raise PydanticCustomError("version_number", VERSION_NOT_TEXT, {"value": value})
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


class InputModel(BaseModel):
    """Base of every model read from a user's YAML: unknown keys refused, frozen, and no boolean read as a number
    (``yes``, ``no``, ``on``, ``off`` are booleans in YAML 1.1; lax pydantic turns them into 1 and 0, so
    ``max_drop: yes`` allowed a drop of 1.0 and passed)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _no_boolean_numbers(cls, data: Any) -> Any:
        # a model validator, not a field validator on "*": a discriminator field (a rule's kind) may have none
        if isinstance(data, dict):
            for name, field in cls.model_fields.items():
                key = field.alias or name
                if key in data and boolean_as_number(field.annotation, value := data[key]):
                    shown = value if isinstance(value, bool) else next(v for v in value if isinstance(v, bool))
                    raise PydanticCustomError("boolean_number", "{field}: " + BOOLEAN_NOT_NUMBER,
                                              {"field": key, "value": str(shown).lower()})
        return data


def _model_tag(model: type[BaseModel]) -> set[Any]:
    field = model.model_fields.get("kind")
    if field is None or typing.get_origin(field.annotation) is not typing.Literal:
        return set()
    return set(typing.get_args(field.annotation))


def _keys_at(root: type[BaseModel] | None, loc: tuple[Any, ...]) -> list[str] | None:
    """The valid keys of the model that ``loc`` (an error location, minus its last element) points into."""
    if root is None:
        return None
    current: list[Any] = [root]
    i = 0
    while i < len(loc):
        key = loc[i]
        nxt: list[Any] = []
        models = [t for t in current if isinstance(t, type) and issubclass(t, BaseModel)]
        tagged = [m for m in models if key in _model_tag(m)]
        if tagged and len(models) > 1:  # a discriminated union: pydantic puts the tag in the location
            current = tagged
            i += 1
            continue
        for t in current:
            if isinstance(t, type) and issubclass(t, BaseModel):
                if isinstance(key, str) and key in t.model_fields:
                    nxt += _unwrap(t.model_fields[key].annotation)
            elif typing.get_origin(t) in (list, tuple, set, frozenset) and isinstance(key, int):
                nxt += [a for arg in typing.get_args(t) if arg is not Ellipsis for a in _unwrap(arg)]
            elif typing.get_origin(t) is dict and isinstance(key, str):
                args = typing.get_args(t)
                if len(args) == 2:
                    nxt += _unwrap(args[1])
        current = nxt
        i += 1
    keys: list[str] = []
    for t in current:
        if isinstance(t, type) and issubclass(t, BaseModel):
            keys += [f.alias or name for name, f in t.model_fields.items()]
    return keys or None


def _expected_values(err: ErrorDetails) -> list[str]:
    expected = str((err.get("ctx") or {}).get("expected", ""))
    return re.findall(r"'([^']*)'", expected)


def validation_error(path: Path, exc: ValidationError, data: Any, node: yaml.Node | None,
                     model: type[BaseModel] | None = None) -> InputError:
    """Turn the most useful pydantic error into one readable InputError (file, field, line).

    An unknown key is reported before anything else (a typo such as ``max_dorp`` otherwise reads as the
    required ``max_drop`` missing), with the nearest valid key of ``model`` at that place.
    """
    errors = exc.errors()
    err = next((e for e in errors if e.get("type") == "extra_forbidden"), errors[0])
    loc = tuple(err.get("loc", ()))
    field = format_loc(loc, data) or None
    clean = tuple(k for k in loc if not (isinstance(k, str) and _is_tag(k, data, loc)))
    line = key_line(node, clean) if err.get("type") == "extra_forbidden" else line_of(node, clean)
    if line is not None:
        field = f"{field} (line {line})" if field else f"line {line}"
    msg = err.get("msg", "invalid value")
    skipped = 0
    if err.get("type") == "extra_forbidden" and loc:
        typed = str(loc[-1])
        valid = _keys_at(model, loc[:-1])
        if valid is None:  # no model to ask: the missing keys next to it are the likely targets
            valid = [str(e["loc"][-1]) for e in errors if e.get("type") == "missing"
                     and tuple(e["loc"][:-1]) == loc[:-1]]
        hint = suggest(typed, valid)
        msg = UNKNOWN_KEY.format(key=typed) + hint
        if hint:  # the missing twin of the typo is the same problem, not one more
            meant = difflib.get_close_matches(typed, valid, n=1, cutoff=0.6)[0]
            skipped = sum(1 for e in errors if e.get("type") == "missing"
                          and tuple(e["loc"]) == loc[:-1] + (meant,))
    elif err.get("type") == "missing":
        msg = "required key is missing"
    elif err.get("type") == "string_type" and isinstance(err.get("input"), (int, float)) \
            and not isinstance(err.get("input"), bool):
        msg = NUMBER_NOT_TEXT.format(value=err.get("input"))
    elif err.get("type") in ("literal_error", "enum") and loc:
        name = next((str(k) for k in reversed(loc) if isinstance(k, str)), "value")
        options = _expected_values(err)
        typed = err.get("input")
        hint = suggest(str(typed), options) if isinstance(typed, str) else ""
        msg = f"unknown {name} {typed!r}" + (hint or f" (expected one of: {', '.join(map(repr, options))})")
    more = len(errors) - 1 - skipped
    if more > 0:
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
        raise validation_error(path, exc, data, node, model) from None
