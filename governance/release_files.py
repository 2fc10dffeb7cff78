"""The release files (release manifest, policy, card facts, provenance) as data first, then commented YAML.

``governance init`` (governance/scaffold.py) and ``governance demo`` (governance/demo/files.py) both write their
files through here, so the two cannot drift apart: each file is a plain dict, the card's fields come from one list
(the model in governance/card.py), the dict becomes YAML through ``yaml.safe_dump`` (so every value reads back as
written), and comments are attached by key path by a small writer of our own. Before anything is written, every file
is loaded from a temporary copy with the loader ``governance check`` uses, so neither command can hand the gate a
file the gate would refuse.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from .card import CardFacts
from .errors import InputError

#: a key path in a file: ("data", "target") is ``target`` under ``data``
KeyPath = tuple[str, ...]
#: the column at which end-of-line comments start (where the text before them is shorter)
COMMENT_COLUMN = 34
#: line width handed to yaml.safe_dump: longer strings are folded over several lines
WIDTH = 110
#: what a file names in an InputError when the generator was given something other than a mapping of str keys
NOT_A_MAPPING = "a release file must be a mapping with string keys, found {what} at {where}"
_PLAIN_KEY = re.compile(r"^[A-Za-z_][\w.-]*$")
_NUMBER_LIKE = re.compile(r"^[\d.]+$")


@dataclass(frozen=True)
class Comments:
    """The comments of one file, by key path; none of them changes what the file means."""

    header: str = ""  # lines above the document, each written as "# <line>"
    inline: Mapping[KeyPath, str] = field(default_factory=dict)  # at the end of the key's line (above it if it spans)
    after: Mapping[KeyPath, str] = field(default_factory=dict)  # lines after the key's block, indented like the key
    footer: str = ""  # raw lines at the end of the file (commented-out examples)


@dataclass(frozen=True)
class ReleaseFile:
    """One file to write: its name in the release folder, its content and how the gate loads it."""

    name: str
    data: Mapping[str, Any]
    comments: Comments = Comments()
    load: Callable[[Path], object] | None = None  # the gate's loader; None: not checkable yet (e.g. hashes unknown)

    def text(self) -> str:
        return to_yaml(self.data, self.comments)


def _with_note(text: str, note: str, column: int = COMMENT_COLUMN) -> list[str]:
    """``text`` with ``note`` as an aligned end-of-line comment; a note's further lines line up under it."""
    first, *rest = note.splitlines() or [""]
    at = max(len(text) + 1, column)
    return [f"{text}{' ' * (at - len(text))}# {first}", *(f"{' ' * at}# {line}" for line in rest)]


def _key(key: object, where: KeyPath) -> str:
    if not isinstance(key, str):
        raise InputError(None, ".".join(where) or None, NOT_A_MAPPING.format(what=type(key).__name__,
                                                                             where=".".join(where) or "the top"))
    return key if _PLAIN_KEY.match(key) else yaml.safe_dump(key, allow_unicode=True).splitlines()[0]


class _Dumper(yaml.SafeDumper):
    """yaml.safe_dump, except that a string of digits and dots ("0.1.0") is quoted: edited to "1.0" it stays text."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = '"' if _NUMBER_LIKE.match(value) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


def _dump_value(key: str, value: Any) -> str:
    """``key: value`` by the safe dumper; a list of scalars that fits on one line is written ``[a, b]``."""
    if isinstance(value, list) and value and not any(isinstance(v, (list, dict)) for v in value):
        flow = yaml.dump({key: value}, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=10**6,
                         default_flow_style=None).rstrip("\n")
        if "\n" not in flow and len(flow) <= WIDTH:
            return flow
    return yaml.dump({key: value}, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=WIDTH,
                     default_flow_style=False).rstrip("\n")


def _emit(mapping: Mapping[str, Any], path: KeyPath, indent: int, comments: Comments, out: list[str]) -> None:
    pad = " " * indent
    for key, value in mapping.items():
        here = path + (key,)
        name = _key(key, path)
        note = comments.inline.get(here)
        if isinstance(value, Mapping) and value:
            out.extend(_with_note(f"{pad}{name}:", note) if note else [f"{pad}{name}:"])
            _emit(value, here, indent + 2, comments, out)
        else:
            block = [pad + line for line in _dump_value(key, value).splitlines()]
            if note and (len(block) == 1 or block[0] == f"{pad}{name}:"):
                block[:1] = _with_note(block[0], note)
            elif note:  # a value folded over several lines: a comment after its first line would end it
                out.extend(f"{pad}# {line}" for line in note.splitlines())
            out.extend(block)
        if (extra := comments.after.get(here)) is not None:
            out.extend(pad + line for line in extra.splitlines())


def to_yaml(data: Mapping[str, Any], comments: Comments = Comments()) -> str:
    """YAML text for ``data`` in its key order, with ``comments``; ``yaml.safe_load`` of it equals ``data``."""
    if not isinstance(data, Mapping):
        raise InputError(None, None, NOT_A_MAPPING.format(what=type(data).__name__, where="the top"))
    out = [f"# {line}" if line else "#" for line in comments.header.splitlines()]
    _emit(data, (), 0, comments, out)
    out.extend(comments.footer.splitlines())
    return "\n".join(out) + "\n"


# --- the card: every field of governance/card.py's model, in its order --------------------------------------------
def skeleton(model: type[BaseModel]) -> dict[str, Any]:
    """Every field of ``model`` with its default (nested models as mappings): the card ``init`` writes to fill in."""
    out: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        kind = info.annotation
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            out[name] = skeleton(kind)
        else:
            out[name] = info.get_default(call_default_factory=True)
    return out


def descriptions(model: type[BaseModel], path: KeyPath = ()) -> dict[KeyPath, str]:
    """Key path -> the field's description in ``model``: the comments a card file carries."""
    out: dict[KeyPath, str] = {}
    for name, info in model.model_fields.items():
        if info.description:
            out[path + (name,)] = info.description
        if isinstance(info.annotation, type) and issubclass(info.annotation, BaseModel):
            out.update(descriptions(info.annotation, path + (name,)))
    return out


def card_fields(data: Mapping[str, Any] | None = None, path: KeyPath = ()) -> set[KeyPath]:
    """The key paths of a card (default: of the model's skeleton), to compare what two writers fill in."""
    data = skeleton(CardFacts) if data is None else data
    paths: set[KeyPath] = set()
    for key, value in data.items():
        paths.add(path + (key,))
        if isinstance(value, Mapping) and value:
            paths |= card_fields(value, path + (key,))
    return paths


def card_data(facts: Mapping[str, Any]) -> dict[str, Any]:
    """The model's skeleton with ``facts`` laid over it, so every writer's card lists the same fields in one order.

    A key the model does not have is kept (and refused when the file is checked), never silently dropped."""

    def lay(base: dict[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
        merged = dict(base)
        for key, value in top.items():
            if isinstance(value, Mapping) and isinstance(base.get(key), dict):
                merged[key] = lay(base[key], value)
            else:
                merged[key] = value
        return merged

    return lay(skeleton(CardFacts), facts)


def _value_at(data: Mapping[str, Any], path: KeyPath) -> Any:
    value: Any = data
    for key in path:
        value = value.get(key) if isinstance(value, Mapping) else None
    return value


def card_file(name: str, facts: Mapping[str, Any], header: str,
              hints: Mapping[KeyPath, str] | None = None) -> ReleaseFile:
    """A card.yaml: every field of the card model with the facts given; an empty field carries its description (or
    ``hints``) as a comment, which says what to fill in."""
    from .card import load_card

    data = card_data(facts)
    notes = {path: note for path, note in {**descriptions(CardFacts), **(hints or {})}.items()
             if _value_at(data, path) in (None, [])}
    return ReleaseFile(name, data, Comments(header=header, inline=notes), load_card)


# --- writing: validated from a temporary copy first, then all files at once -----------------------------------------
def check(folder: Path, files: Sequence[ReleaseFile]) -> dict[str, str]:
    """The text of each file, each loaded with the gate's own loader first; a problem names the file it would be."""
    texts = {f.name: f.text() for f in files}
    with tempfile.TemporaryDirectory() as tmp:
        for name, text in texts.items():
            (Path(tmp) / name).write_text(text, encoding="utf-8")
        for f in files:
            if f.load is None:
                continue
            try:
                f.load(Path(tmp) / f.name)
            except InputError as exc:  # name the file it would have been, not the temporary copy
                raise InputError(folder / f.name, exc.field, f"{exc.message} (nothing written)") from None
    return texts


def write(folder: Path, files: Sequence[ReleaseFile]) -> list[Path]:
    """Check every file (see ``check``), then write them into ``folder``; return their paths."""
    texts = check(folder, files)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in texts.items():
        (folder / name).write_text(text, encoding="utf-8")
        paths.append(folder / name)
    return paths
