"""``governance monitor`` as a library: load the contract, fold the windows into the state, judge, publish.

    from governance.monitor.run import MonitorOptions, monitor
    result = monitor("out/credit/monitoring.json", ["logs/2026-12-01.parquet"], out=Path("out/monitor"),
                     options=MonitorOptions(state=Path("monitor-state.json")))
    print(result.decision_line, result.exit_code)
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from pydantic import ValidationError

from ..errors import InputError, first_problem
from ..findings import ExitCode, Verdict, exit_code
from .contract import SCHEMA_VERSION, MonitoringContract
from .judge import DEFAULT_POLICY, judge, load_monitor_policy
from .report import MonitorReport, build_report, deciding, report_html, report_json
from .state import MonitorState, load_state, state_json
from .window import CHUNK_ROWS, WindowColumns, summarize

NOT_A_CONTRACT = "not a monitoring contract: {msg}"
CONTRACT_VERSION = "schema_version {got!r} is not one this version reads ({want!r})"
BAD_PROFILE = "the reference profile does not load: {msg}"
STATE_IN_OUT = "the state file must live outside --out (the output folder is replaced as a whole on every run)"
#: an input of this run lies in the folder its outputs replace (template: field)
INPUT_IN_OUT = ("the {field} file is inside --out, which this run replaces as a whole (a check's output folder "
                "would lose its evidence, its verdict and this contract): write the monitor's outputs elsewhere")
NO_WINDOWS = "no windows: give --window FILE (or a --state that already holds windows)"
#: the output files, besides checksums.json
OUTPUTS = ("monitor.json", "junit.xml", "monitor.html")


@dataclass(frozen=True)
class MonitorOptions:
    """Options of ``monitor`` (the defaults are those of ``governance monitor``)."""

    #: a monitor policy file or ``builtin:NAME``
    policy: str = DEFAULT_POLICY
    #: the state file: read when it exists, written back (atomically) with the new windows
    state: Path | None = None
    #: the deployed model's score columns (None: the contract's score_columns)
    score_columns: tuple[str, ...] | None = None
    #: the shadow baseline's score columns (None: the contract's, when the window has them)
    baseline_score_columns: tuple[str, ...] | None = None
    #: the delayed-label column (None: the evaluation data's target name, when the window has it)
    label_column: str | None = None
    chunk_rows: int = CHUNK_ROWS
    #: the date the decision is dated (and waivers checked) on; None: today
    today: date | None = None


@dataclass(frozen=True)
class MonitorResult:
    """The decision on the windows given in this run (``verdict``: the first that alerts, else the newest given),
    the history they were judged in, and the output files."""

    report: MonitorReport
    verdict: Verdict
    state: MonitorState
    files: dict[str, bytes]
    out: Path | None = None

    @property
    def exit_code(self) -> ExitCode:
        return exit_code(self.verdict)

    @property
    def decision_line(self) -> str:
        return self.report.decision_line


def load_contract(path: Path) -> tuple[MonitoringContract, str]:
    """monitoring.json, validated (its reference profile too), and its sha256; InputError naming file and field."""
    from ..hashing import check_input_file, sha256_file
    from .window import reference_profile

    check_input_file(path, named_in=None, field="--contract", root=None, kind="contract")
    raw = path.read_bytes()
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(path, None, NOT_A_CONTRACT.format(msg=exc)) from None
    except RecursionError:
        raise InputError(path, None, NOT_A_CONTRACT.format(msg="nested too deeply")) from None
    if isinstance(data, dict) and data.get("schema_version") != SCHEMA_VERSION:
        raise InputError(path, "schema_version", CONTRACT_VERSION.format(got=data.get("schema_version"),
                                                                       want=SCHEMA_VERSION))
    try:
        contract = MonitoringContract.model_validate(data)
    except ValidationError as exc:
        loc, msg = first_problem(exc.errors())
        raise InputError(path, loc, NOT_A_CONTRACT.format(msg=msg)) from None
    try:
        profile = reference_profile(contract)
    except ValueError as exc:
        raise InputError(path, "reference.profile", BAD_PROFILE.format(msg=exc)) from None
    if profile is not None and (unknown := [f for f in profile.features if f not in contract.features]):
        raise InputError(path, "reference.profile", BAD_PROFILE.format(
            msg=f"it profiles {', '.join(unknown)}, not among the contract's features "
                f"({', '.join(contract.features) or 'none'})"))
    return contract, sha256_file(path)


def monitor(contract: str | Path, windows: Sequence[str | Path], *, out: Path | None = None,
            options: MonitorOptions | None = None) -> MonitorResult:
    """Fold ``windows`` (oldest first) into the state, judge every window in it, decide on the ones given (exit 1
    when any alerts); with
    ``out`` the outputs are published as one set (lock held for the whole run, as ``check`` does)."""
    import contextlib

    from ..outputs import output_lock

    options = options or MonitorOptions()
    if out is not None and options.state is not None and _inside(options.state, Path(out)):
        raise InputError(options.state, "--state", STATE_IN_OUT)
    if out is not None:  # the folder is replaced as a whole: it may not hold what this run reads
        for field, path in (("--contract", Path(contract)), *(("--window", Path(w)) for w in windows)):
            if _inside(path, Path(out)):
                raise InputError(path, field, INPUT_IN_OUT.format(field=field))
    with output_lock(Path(out)) if out is not None else contextlib.nullcontext():
        return _monitor(Path(contract), [Path(w) for w in windows], out, options)


def _inside(path: Path, folder: Path) -> bool:
    return path.resolve().is_relative_to(folder.resolve())


def _monitor(contract: Path, windows: list[Path], out: Path | None, options: MonitorOptions) -> MonitorResult:
    from ..outputs import publish, write_files
    from ..render.junit import junit_xml
    from ..trail import CHECKSUMS, checksums

    contract_model, contract_sha = load_contract(contract)
    policy, _ = load_monitor_policy(options.policy)
    state = load_state(options.state, contract_sha)
    cols = WindowColumns(options.score_columns, options.baseline_score_columns, options.label_column,
                         options.chunk_rows)
    new = [summarize(w, contract_model, cols) for w in windows]  # every window is checked before anything is written
    try:
        state, skipped = state.with_windows(new)
    except ValueError as exc:
        raise InputError(options.state, "windows", str(exc)) from None
    if not state.windows:
        raise InputError(None, "--window", NO_WINDOWS)
    today = options.today or date.today()
    verdicts = [judge(policy, contract_model, w, today) for w in state.windows]
    given = {w.file.sha256 for w in new}
    decided = [i for i, w in enumerate(state.windows) if w.file.sha256 in given]
    report = build_report(contract_model, contract_sha, state, verdicts, skipped, decided)
    verdict = deciding(verdicts, decided)[0]
    files = {"monitor.json": report_json(report), "junit.xml": junit_xml(verdict),
             "monitor.html": report_html(report, contract_model)}
    files[CHECKSUMS] = checksums(files)
    if out is not None:
        publish(Path(out), files)
    if options.state is not None:
        write_files(options.state.parent, {options.state.name: state_json(state)})
    return MonitorResult(report, verdict, state, files, Path(out) if out is not None else None)
