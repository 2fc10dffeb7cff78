"""The monitor's state between runs: the contract it belongs to and every window's small summary, in order.

A scheduler runs ``governance monitor --state STATE.json --window NEW`` once per new window: the state is read,
the new window's summary appended (a window whose file is already in it is not counted twice), and the state
written back atomically. Decisions are never stored: they are re-derived from the summaries, so folding N windows
one run at a time gives the same state and the same monitor.json as folding them in one run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError

from ..errors import InputError, first_problem
from ..evidence.schema import _Frozen
from .window import WindowSummary

STATE_VERSION: Literal["1"] = "1"
OTHER_CONTRACT = ("the state was folded under another contract (sha256 {state}), not {contract}: start a new "
                  "state file for a new release")
NOT_A_STATE = "not a monitor state file: {msg}"


class MonitorState(_Frozen):
    """Every window folded so far, oldest first."""

    schema_version: Literal["1"] = STATE_VERSION
    contract_sha256: str = Field(description="sha256 of the monitoring.json the windows were judged against")
    windows: list[WindowSummary] = Field(default_factory=list)

    def with_windows(self, new: list[WindowSummary]) -> tuple[MonitorState, list[str]]:
        """The state with ``new`` appended, and the names of those skipped because their file is already in it.

        A window given again was summarised again, so it is compared with what the state holds for it: a state
        edited to hold a clean summary under a drifted window's name and hash silenced the alert (ValueError)."""
        seen = {w.file.sha256: w for w in self.windows}
        kept, skipped = list(self.windows), []
        for w in new:
            if (stored := seen.get(w.file.sha256)) is not None:
                if _comparable(stored) != _comparable(w):
                    raise ValueError(EDITED.format(name=w.name, sha=w.file.sha256[:12]))
                skipped.append(w.name)
                continue
            seen[w.file.sha256] = w
            kept.append(w)
        return self.model_copy(update={"windows": kept}), skipped


#: a window given again does not summarise to what the state holds for it (template: name, sha)
EDITED = ("the state's summary of window {name} (sha256 {sha}…) is not what that file holds: the state was edited, "
          "or the window was read with other --score-column / --label-column options (start a new state file)")


def _comparable(w: WindowSummary) -> dict:
    """A summary without its file name and its KLL sketches (compaction is randomised: two sketches of the same
    values differ in their bytes); counts, moments, extremes and held values are exact."""
    data = w.model_dump(mode="json", exclude={"name", "file"})
    for column in ((data.get("profile") or {}).get("columns") or {}).values():
        if isinstance(column, dict):
            column.pop("kll", None)
    return data


def load_state(path: Path | None, contract_sha256: str) -> MonitorState:
    """The state at ``path`` (a fresh one when the file does not exist yet), checked against the contract."""
    if path is None or not path.exists():
        return MonitorState(contract_sha256=contract_sha256)
    try:
        state = MonitorState.model_validate_json(path.read_bytes())
    except ValidationError as exc:
        loc, msg = first_problem(exc.errors())
        raise InputError(path, loc, NOT_A_STATE.format(msg=msg)) from None
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(path, None, NOT_A_STATE.format(msg=exc)) from None
    if state.contract_sha256 != contract_sha256:
        raise InputError(path, "contract_sha256", OTHER_CONTRACT.format(state=state.contract_sha256[:12],
                                                                        contract=contract_sha256[:12]))
    from ..evidence.profile import FeatureProfile

    for i, window in enumerate(state.windows):  # each is judged from its profile: one that does not load is bad input
        if window.profile is not None:
            try:
                FeatureProfile.from_json(window.profile)
            except ValueError as exc:
                raise InputError(path, f"windows[{i}].profile", NOT_A_STATE.format(msg=exc)) from None
    return state


def state_json(state: MonitorState) -> bytes:
    return state.model_dump_json(indent=1).encode() + b"\n"
