"""Errors the CLI maps to exit codes; messages are constants so tests can assert them."""

from __future__ import annotations

from pathlib import Path
from typing import Any


class InputError(Exception):
    """Bad user input (exit 2): always names the file and, where known, the field."""

    def __init__(self, file: str | Path | None, field: str | None, message: str) -> None:
        self.file = str(file) if file is not None else None
        self.field = field
        self.message = message
        super().__init__(str(self))

    def __str__(self) -> str:
        parts = [p for p in (self.file, self.field) if p]
        where = ": ".join(parts)
        return f"{where}: {self.message}" if where else self.message


def first_problem(errors: list[Any]) -> tuple[str | None, str]:
    """The field (dotted path) and message of a pydantic ``ValidationError.errors()``'s first entry, as one line.

    A validator's ``ValueError`` reads ``Value error, MESSAGE`` in pydantic; the prefix says nothing to a user.
    """
    err = errors[0]
    loc = ".".join(str(x) for x in err.get("loc", ())) or None
    return loc, str(err.get("msg", "invalid value")).removeprefix("Value error, ")
