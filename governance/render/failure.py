"""What ``--json`` and the GitHub job summary say when the gate could not decide (exit 2 bad input, 3 internal).

Scripts parse ``--json`` whatever happened, and reviewers read the job summary, so neither may be empty when the
gate stops early: both name the exit code and the error (for bad input, the file and field)."""

from __future__ import annotations

import json

from ..errors import InputError
from ..findings import ExitCode

#: the job summary's line for each exit code that is not a decision
MEANING = {ExitCode.BAD_INPUT: "bad input: nothing was decided, fix the file named below and rerun",
           ExitCode.INTERNAL: "internal error: nothing was decided (rerun with --debug for the traceback)"}


def _error(exc: Exception) -> dict[str, str | None]:
    if isinstance(exc, InputError):
        return {"error": str(exc), "file": exc.file, "field": exc.field, "message": exc.message}
    return {"error": f"{exc.__class__.__name__}: {exc}", "file": None, "field": None, "message": str(exc)}


def failure_json(code: ExitCode, exc: Exception) -> str:
    """``{"exit_code": 2, "decision": null, "error": "FILE: FIELD: message", "file", "field", "message"}``."""
    return json.dumps({"exit_code": int(code), "decision": None, **_error(exc)}, indent=2) + "\n"


def failure_markdown(command: str, code: ExitCode, exc: Exception) -> str:
    err = _error(exc)
    where = " · ".join(f"`{v}`" for v in (err["file"], err["field"]) if v)
    lines = [f"### Release gate: {command} stopped (exit {int(code)})", "", f"**{MEANING.get(code, 'error')}**", ""]
    if where:
        lines += [f"Where: {where}", ""]
    lines += [f"> {(err['message'] or '').replace(chr(10), ' ')}", ""]
    return "\n".join(lines)
