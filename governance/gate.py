"""The gate as a library: ``check``, ``evaluate`` and ``render`` for the CLI, the demo and users' own code.

Each function runs the whole pipeline stage in memory and returns typed objects (evidence, verdict, the output
files as bytes); with ``out=DIR`` it also publishes the files as one unit (``governance/outputs.py``: lock held
for the whole run, atomic swap). Bad input is raised as ``InputError`` naming file and field; nothing prints.

    from governance.gate import check
    result = check("examples/credit/release.yaml", out=None)
    print(result.decision_line, result.exit_code)
"""

from __future__ import annotations

import contextlib
import hashlib
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ValidationError

from .card import CARD_NOT_FOUND
from .errors import InputError, first_problem
from .findings import ExitCode, Finding, Verdict, decision_line, exit_code
from .progress import DECIDING, DOCUMENTS, LOADING, phase

if TYPE_CHECKING:
    from .card import CardFacts
    from .evidence.schema import Evidence, FileRef
    from .monitor.run import MonitorOptions, MonitorResult
    from .policy import Policy

__all__ = ["CheckOptions", "DecisionOptions", "Outputs", "Result", "check", "evaluate", "load_evidence",
           "load_verdict", "monitor", "render"]

#: called with the number of rows scored so far
RowsCallback = Callable[[int], None]
#: a function returning a context manager around evidence collection that yields a RowsCallback (or None)
ProgressFactory = Callable[[], AbstractContextManager[RowsCallback | None]]

_M = TypeVar("_M", bound=BaseModel)

#: a saved evidence.json / verdict.json that does not validate
NOT_VALID = "not a valid {what} file: {msg}"
#: a saved file that is not there
NOT_FOUND = "file not found"
#: render: the verdict was decided on other evidence (template: recorded, actual)
OTHER_EVIDENCE = ("the verdict was decided on evidence with sha256 {recorded}…, not on the --evidence given "
                  "({actual}…): render a verdict with its own evidence.json")
#: a saved verdict without the hash of its evidence (every verdict the gate writes records it)
NO_EVIDENCE_HASH = ("the verdict records no evidence.json sha256, so nothing ties it to the --evidence given: render "
                    "a verdict written by governance check or evaluate")
#: the verdict is another release's (template: verdict, evidence)
OTHER_RELEASE = ("the verdict is of release {verdict}, the --evidence of {evidence}: render a verdict with its own "
                 "evidence")


@dataclass(frozen=True)
class DecisionOptions:
    """What every decision (``check``, ``evaluate``) takes besides its inputs."""

    #: the date waivers are checked against (None: today)
    today: date | None = None
    #: a YAML file of waivers, in addition to the policy's own
    waivers: Path | None = None
    #: an Ed25519 private key (PEM): the outputs are signed into verdict.sig
    sign_key: Path | None = None
    #: called with each warning as it happens (every warning is also in ``Result.warnings``)
    on_warning: Callable[[str], None] | None = None
    #: the repository root that SARIF and verdict.json locate rules relative to (None: the git top level of the
    #: policy file, else of the release manifest, else the policy's folder)
    sarif_root: Path | None = None


@dataclass(frozen=True)
class CheckOptions(DecisionOptions):
    """Options of ``check`` (the defaults are those of ``governance check``)."""

    #: a policy file or ``builtin:NAME`` instead of the manifest's ``policy``
    policy: str | None = None
    #: allow pickle/joblib/torch-export model files (they can run arbitrary code)
    trust_pickle: bool = False
    #: torch device for torch models
    device: str = "cpu"
    #: a folder of templates that override the packaged ones by file name
    templates: Path | None = None
    #: progress of the scoring pass (see ``ProgressFactory``); None: silent
    progress: ProgressFactory | None = None
    #: where the rows are scored: ``local`` (this process) or ``dask`` (a cluster; docs/dask.md)
    engine: str = "local"
    #: dask: the scheduler address of an existing cluster (tcp://HOST:8786)
    scheduler: str | None = None
    #: dask: start a local cluster of this many single-threaded workers
    workers: int | None = None


@dataclass(frozen=True)
class Outputs:
    """Every output file in memory (checksums.json and verdict.sig included) and where it was published."""

    files: Mapping[str, bytes]
    #: the folder the set was published to, or None when it stayed in memory
    out: Path | None = None

    @property
    def paths(self) -> dict[str, Path]:
        """File name -> path on disk (empty when nothing was written)."""
        return {} if self.out is None else {name: self.out / name for name in self.files}


@dataclass(frozen=True)
class Result:
    """One gate decision: what was measured, what was decided, the exit code, and the output files."""

    evidence: Evidence
    verdict: Verdict
    outputs: Outputs
    warnings: tuple[str, ...] = ()

    @property
    def exit_code(self) -> ExitCode:
        return exit_code(self.verdict)

    @property
    def decision_line(self) -> str:
        """'PASS: the candidate may ship', 'BLOCKED by PERF-001', ... (the line every output states)."""
        return decision_line(self.verdict)

    @property
    def blocking(self) -> list[Finding]:
        return self.verdict.blocking

    @property
    def out(self) -> Path | None:
        return self.outputs.out


class _Warnings:
    """Collects warnings for the Result and passes each on as it happens."""

    def __init__(self, sink: Callable[[str], None] | None) -> None:
        self.sink = sink
        self.seen: list[str] = []

    def __call__(self, message: str) -> None:
        self.seen.append(message)
        if self.sink is not None:
            self.sink(message)


def check(release: str | Path, *, out: Path | None = None, options: CheckOptions | None = None) -> Result:
    """Gate a release: load its manifest, collect evidence, decide, render (and publish to ``out``)."""
    options = options or CheckOptions()
    with _locked(out):
        return _check(Path(release), out, options)


def _check(manifest: Path, out: Path | None, options: CheckOptions) -> Result:
    from .engine import evaluate as decide
    from .evidence.collect import collect
    from .manifest import load_manifest
    from .render import RenderContext
    from .render.templating import template_folders
    from .trail import release_inputs

    warn = _Warnings(options.on_warning)
    release = load_manifest(manifest)
    if options.templates is not None:
        template_folders(options.templates)  # a missing folder is bad input before any model runs
    card_path = None
    if release.manifest.card:
        card_path = release.resolve(release.manifest.card, "card", "card file")  # regular, inside the release
    card, card_file = _load_card(card_path, release.path, "card")
    own = options.policy is None
    policy_path = _resolve_policy(options.policy or release.manifest.policy, release.folder if own else None,
                                  release.path if own else None)
    policy = _load_policy(policy_path)
    _require_compatible(policy, policy_path, release.manifest.data.sensitive, release.manifest.task)
    waivers = _waivers_and_key(options, policy)
    progress = options.progress() if options.progress is not None else contextlib.nullcontext(None)
    with progress as tick:  # phases after the scoring pass too, so nothing sits still without saying why
        phase(tick, LOADING)
        evidence = collect(release, trust_pickle=options.trust_pickle, device=options.device, progress=tick,
                           engine=_engine(options), policy=policy)
        for w in evidence.warnings:
            warn(w)
        phase(tick, DECIDING)
        verdict = decide(policy, evidence, options.today or date.today(), waivers)
        provenance = release.folder / release.manifest.provenance if release.manifest.provenance else None
        verdict = _recorded(verdict, evidence, policy_path, {"manifest": release.path, "card": card_path,
                                                            "provenance": provenance, "waivers": options.waivers,
                                                            **release_inputs(release, evidence)},
                            options.sarif_root, manifest=release.path)
        ctx = RenderContext(evidence, verdict, card=card, card_file=card_file, templates=options.templates)
        phase(tick, DOCUMENTS)
        files = _render_documents(ctx, warn)
    return Result(evidence, verdict, _publish(files, out, options.sign_key), tuple(warn.seen))


#: --scheduler / --workers belong to the dask engine
DASK_ONLY = "--scheduler and --workers need --engine dask"
#: the engines there are
UNKNOWN_ENGINE = "unknown engine {engine!r}: use local or dask"


def _engine(options: CheckOptions) -> Any:
    """None for the local engine, else a ``DaskEngine`` (bad combinations and a missing extra are InputError)."""
    if options.engine == "local":
        if options.scheduler is not None or options.workers is not None:
            raise InputError(None, "--engine", DASK_ONLY)
        return None
    if options.engine != "dask":
        raise InputError(None, "--engine", UNKNOWN_ENGINE.format(engine=options.engine))
    from .evidence.distributed import DaskEngine

    return DaskEngine(options.scheduler, options.workers, trust_pickle=options.trust_pickle, device=options.device)


def evaluate(evidence: Evidence | str | Path, policy: str | Path, *, out: Path | None = None,
             options: DecisionOptions | None = None) -> Result:
    """Decide again from saved evidence (no models, no data): a policy file or ``builtin:NAME``."""
    from .engine import evaluate as decide
    from .render import RenderContext

    options = options or DecisionOptions()
    with _locked(out):
        warn = _Warnings(options.on_warning)
        ev = _as_evidence(evidence)
        policy_path = _resolve_policy(str(policy), None, None)
        loaded = _load_policy(policy_path)
        _require_compatible(loaded, policy_path, ev.data.sensitive, ev.task)
        verdict = decide(loaded, ev, options.today or date.today(), _waivers_and_key(options, loaded))
        verdict = _recorded(verdict, ev, policy_path, {"waivers": options.waivers}, options.sarif_root)
        files = _render_documents(RenderContext(ev, verdict), warn)
        return Result(ev, verdict, _publish(files, out, options.sign_key), tuple(warn.seen))


def render(evidence: Evidence | str | Path, verdict: Verdict | str | Path, *, out: Path | None = None,
           card: Path | None = None, templates: Path | None = None,
           on_warning: Callable[[str], None] | None = None) -> Outputs:
    """The documents, JSON, JUnit and SARIF from saved (or in-memory) evidence and verdict; never signed."""
    from .render import RenderContext
    from .render.templating import template_folders

    with _locked(out):
        ev = _as_evidence(evidence)
        vd = verdict if isinstance(verdict, Verdict) else load_verdict(Path(verdict))
        _require_same_evidence(vd, ev, None if isinstance(verdict, Verdict) else Path(verdict))
        if templates is not None:
            template_folders(templates)
        facts, card_file = _load_card(card, None, "--card")
        ctx = RenderContext(ev, vd, card=facts, card_file=card_file, templates=templates)
        return _publish(_render_documents(ctx, _Warnings(on_warning)), out, None)


def _require_same_evidence(verdict: Verdict, evidence: Evidence, verdict_file: Path | None) -> None:
    """A verdict renders only with the evidence it was decided on (its recorded evidence.json sha256): a report
    that pairs one release's measurements with another's decision would be paperwork for neither."""
    from .render.jsonfiles import evidence_json

    recorded = verdict.inputs.get("evidence.json")
    if not recorded and verdict_file is not None:  # a saved verdict always records it: one without was edited
        raise InputError(verdict_file, "inputs.evidence.json", NO_EVIDENCE_HASH)
    if recorded and recorded != (actual := hashlib.sha256(evidence_json(evidence)).hexdigest()):
        raise InputError(verdict_file, "inputs.evidence.json", OTHER_EVIDENCE.format(recorded=recorded[:12],
                                                                                     actual=actual[:12]))
    if dict(verdict.release) != dict(evidence.release):  # an in-memory verdict (no hash) of another release
        raise InputError(verdict_file, "release", OTHER_RELEASE.format(verdict=_named(verdict.release),
                                                                       evidence=_named(evidence.release)))


def _named(release: Any) -> str:
    return f"{release.get('name', '?')} {release.get('version', '?')}"


def monitor(contract: str | Path, windows: Sequence[str | Path], *, out: Path | None = None,
            options: MonitorOptions | None = None) -> MonitorResult:
    """After release: judge windows of production logs against the release's monitoring.json (oldest first,
    folded into ``options.state``); exit 1 when any window given alerts (governance/monitor/)."""
    from .monitor.run import monitor as run_monitor

    return run_monitor(contract, windows, out=out, options=options)


def load_evidence(path: Path) -> Evidence:
    """A saved evidence.json, validated (InputError naming the file and field otherwise)."""
    from .evidence.schema import Evidence

    return _load_saved(path, Evidence, "evidence")


def load_verdict(path: Path) -> Verdict:
    """A saved verdict.json, validated (InputError naming the file and field otherwise)."""
    return _load_saved(path, Verdict, "verdict")


# --- the pipeline's parts ------------------------------------------------------------------------------------
def _as_evidence(value: Evidence | str | Path) -> Evidence:
    from .evidence.schema import Evidence

    return value if isinstance(value, Evidence) else load_evidence(Path(value))


@contextlib.contextmanager
def _locked(out: Path | None) -> Iterator[None]:
    """One run at a time per ``out``, for the whole run (a second one is InputError ``LOCKED`` at once)."""
    if out is None:
        yield
        return
    from .outputs import output_lock

    with output_lock(Path(out)):
        yield


def _publish(files: dict[str, bytes], out: Path | None, sign_key: Path | None) -> Outputs:
    """Add the checksums (and signature) of every output, then write them all atomically when ``out`` is given."""
    from .outputs import publish
    from .trail import CHECKSUMS, SIGNATURE, checksums, sign

    files = {**files, CHECKSUMS: checksums(files)}
    if sign_key is not None:
        files[SIGNATURE] = sign(files[CHECKSUMS], sign_key)
    if out is not None:
        publish(Path(out), files)  # the whole set replaces the folder in one step (a stale verdict.sig goes too)
    return Outputs(files, Path(out) if out is not None else None)


def _resolve_policy(ref: str, base: Path | None, field_file: Path | None) -> Path:
    from .policy import resolve_policy_ref

    return resolve_policy_ref(ref, base, field_file)


def _load_policy(path: Path) -> Policy:
    from .policy import load_policy

    return load_policy(path)


def _require_compatible(policy: Policy, policy_path: Path, sensitive: list[str], task: str | None = None) -> None:
    """A rule that slices by a column the release does not have, or that does not fit its task (a classification
    rule on a regression release), is bad input, before any model runs."""
    from .engine import compatibility_problems

    problems = compatibility_problems(policy, sensitive, task)
    if problems:
        i, field_name, msg = problems[0]
        raise InputError(policy_path, f"rules[{i}] ({policy.rules[i].id}).{field_name}", msg)


def _waivers_and_key(options: DecisionOptions, policy: Policy) -> list[Any]:
    """Read the waivers and check the sign key before any model runs (bad input fails fast)."""
    from .policy import load_waivers
    from .trail import _load_key

    if options.sign_key is not None:
        _load_key(options.sign_key, private=True)
    return load_waivers(options.waivers, policy) if options.waivers else []


def _recorded(verdict: Verdict, evidence: Evidence, policy_path: Path, files: dict[str, Any],
              sarif_root: Path | None = None, manifest: Path | None = None) -> Verdict:
    """The verdict with the policy file and the hashes of evidence.json and every input recorded in it, and each
    rule's location relative to the repository (``policy.repository_locations``)."""
    from .evidence.schema import FileRef
    from .hashing import shown_path
    from .policy import is_builtin, repository_locations, repository_root, rule_locations
    from .render.jsonfiles import evidence_json
    from .trail import policy_parents, recorded_inputs

    inputs = recorded_inputs(evidence_json(evidence), {"policy": policy_path, **policy_parents(policy_path), **files})
    own = None if is_builtin(policy_path) else policy_path
    root = (sarif_root or (repository_root(own) if own else None) or (repository_root(manifest) if manifest else None)
            or (own or manifest or policy_path).parent)
    locations = repository_locations(rule_locations(policy_path), root)
    anchor = _policy_line(manifest, root) if manifest is not None else None
    if anchor is not None:  # a rule with no place in the repository (a builtin pack): the manifest's policy: line
        locations = {f.rule_id: locations.get(f.rule_id, anchor) for f in verdict.findings}
    # the policy as published: builtin:NAME for a shipped pack, else relative to the repository (no machine path);
    # its hash and size as recorded in the inputs just above (the file is not read again)
    shown = f"builtin:{policy_path.stem}" if own is None else shown_path(policy_path, root)
    ref = FileRef.model_validate({**inputs["policy"], "path": shown})  # type: ignore[dict-item]
    policy = {**verdict.policy, "file": ref.model_dump(), "locations": locations}
    return verdict.model_copy(update={"policy": policy, "inputs": inputs})


def _policy_line(manifest: Path, root: Path) -> dict[str, object] | None:
    """{file, line} of the manifest's ``policy:`` key relative to ``root``, or None outside it."""
    from .policy import repository_locations
    from .yamlfile import read_yaml

    data, node = read_yaml(manifest)
    key = next((k for k, _ in getattr(node, "value", []) if getattr(k, "value", None) == "policy"), None)
    line = key.start_mark.line + 1 if key is not None else 1
    found = repository_locations({"policy": {"file": str(manifest), "line": line}}, root)
    ref = data.get("policy") if isinstance(data, dict) else None
    return {**found["policy"], "inherited_from": str(ref)} if found else None


def _render_documents(ctx: Any, warn: Callable[[str], None]) -> dict[str, bytes]:
    """Render every output file in memory (nothing is written until all succeed); refused URLs are warnings."""
    from .render import render_all
    from .render.pdf import RefusedURLWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RefusedURLWarning)
        files = render_all(ctx)
    for w in caught:
        if issubclass(w.category, RefusedURLWarning):
            warn(str(w.message))
        else:
            warnings.showwarning(w.message, w.category, w.filename, w.lineno)
    return files


def _load_card(path: Path | None, field_file: Path | None,
               field_name: str) -> tuple[CardFacts | None, FileRef | None]:
    """The card facts and their file reference, or (None, None) without a card."""
    from .card import load_card
    from .hashing import file_ref

    if path is None:
        return None, None
    if not path.is_file():
        raise InputError(field_file or path, field_name, CARD_NOT_FOUND.format(path=path))
    return load_card(path), file_ref(path, relative_to=field_file.parent if field_file else None)


def _regular(path: Path) -> Path:
    """A saved file to read: never a FIFO (it would block), a device or a folder (hashing.check_input_file)."""
    from .hashing import check_input_file

    return check_input_file(path, named_in=None, field=None, root=None)


def _load_saved(path: Path, model: type[_M], what: str) -> _M:
    try:
        return model.model_validate_json(_regular(path).read_bytes())
    except (FileNotFoundError, IsADirectoryError):
        raise InputError(path, None, NOT_FOUND) from None
    except ValidationError as exc:
        loc, msg = first_problem(exc.errors())
        raise InputError(path, loc, NOT_VALID.format(what=what, msg=msg)) from None
