"""The command line: thin. Parses, calls the library (``governance.gate``), prints a summary renderer's text,
maps errors to exit codes, shows progress."""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import __version__
from .errors import InputError
from .findings import ExitCode

if TYPE_CHECKING:
    from .gate import Result
    from .render.summary import SummaryRenderer

EPILOG_CHECK = """example:
  governance check examples/credit/release.yaml --out out/credit
exit codes: 0 ship, 1 blocked by policy, 2 bad input, 3 internal error"""


def _date(text: str) -> date:
    """YYYY-MM-DD only: Python 3.11 also reads 20260601 and week dates (2026-W22-1), easy to mistype unseen."""
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def _decision_options(p: argparse.ArgumentParser) -> None:
    """Options of every command that decides and writes a verdict (check, evaluate)."""
    p.add_argument("--today", type=_date, help="the date waivers are checked against (default: today)")
    p.add_argument("--waivers", type=Path, help="a YAML file of waivers (in addition to the policy's own)")
    p.add_argument("--sign-key", type=Path, help="Ed25519 private key (PEM): sign the outputs into verdict.sig")
    p.add_argument("--quiet", action="store_true", help="print only the decision line")
    p.add_argument("--json", action="store_true", help="print a JSON summary on stdout instead of the table")
    p.add_argument("--sarif-root", type=Path, help="repository root that governance.sarif's locations are "
                                                  "relative to (default: the policy file's git top level, else "
                                                  "the release's)")


def build_parser() -> argparse.ArgumentParser:
    """The whole command line (public: tests walk it to check every command has help with an example)."""
    p = argparse.ArgumentParser(prog="governance", description="A release gate for pruned ML models.",
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=f"pruning-governance {__version__}")
    p.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    c = sub.add_parser("check", help="gate a release: evidence, policy, verdict, exit code", epilog=EPILOG_CHECK,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    c.add_argument("manifest", type=Path, help="the release manifest (release.yaml)")
    c.add_argument("--out", type=Path, required=True,
                   help="folder for evidence.json, verdict.json, junit.xml, the model card and the audit report")
    c.add_argument("--policy", help="policy file or builtin:NAME (default: the manifest's 'policy')")
    c.add_argument("--trust-pickle", action="store_true",
                   help="allow pickle/joblib/torch-export model files (they can run arbitrary code)")
    c.add_argument("--device", default="cpu", help="torch device for torch models (cpu, cuda)")
    c.add_argument("--engine", choices=["local", "dask"], default="local",
                   help="score the rows here (local) or on a Dask cluster (dask; needs the [dask] extra)")
    c.add_argument("--scheduler", metavar="ADDR", help="dask: address of an existing cluster's scheduler")
    c.add_argument("--workers", type=int, metavar="N", help="dask: start a local cluster of N workers")
    _decision_options(c)
    c.add_argument("--templates", type=Path, help="folder of templates that override the packaged ones by file name")
    c.add_argument("--mlflow-run", metavar="RUN_ID", help="log the decision, metrics and documents to this MLflow "
                                                          "run (docs/mlflow.md; tracking server: MLFLOW_TRACKING_URI)")
    c.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)

    e = sub.add_parser("evaluate", help="decide again from a saved evidence.json, without models or data",
                       epilog="example:\n  governance evaluate --evidence out/credit/evidence.json "
                              "--policy examples/credit/policy.yaml --out out/re",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    e.add_argument("--evidence", type=Path, required=True)
    e.add_argument("--policy", required=True, help="policy file or builtin:NAME")
    e.add_argument("--out", type=Path, required=True)
    _decision_options(e)
    e.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)

    r = sub.add_parser("render", help="write the model card, audit report, JSON and JUnit from saved files",
                       epilog="example:\n  governance render --evidence out/credit/evidence.json --verdict "
                              "out/credit/verdict.json --card examples/credit/card.yaml --out out/docs",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    r.add_argument("--evidence", type=Path, required=True, help="a saved evidence.json")
    r.add_argument("--verdict", type=Path, required=True, help="a saved verdict.json")
    r.add_argument("--card", type=Path, help="the model-card facts (card.yaml); without it facts show as missing")
    r.add_argument("--templates", type=Path, help="folder of templates that override the packaged ones by file name")
    r.add_argument("--out", type=Path, required=True)
    r.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)

    pol = sub.add_parser("policy", help="validate or explain a policy",
                         epilog="example:\n  governance policy explain builtin:nist-ai-rmf",
                          formatter_class=argparse.RawDescriptionHelpFormatter)
    psub = pol.add_subparsers(dest="policy_command", required=True, metavar="ACTION")
    lint = psub.add_parser("lint", help="validate a policy (exit 0 valid, 2 invalid)",
                           epilog="example:\n  governance policy lint examples/credit/policy.yaml",
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    lint.add_argument("policy")
    lint.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    ref = psub.add_parser("reference", help="print the policy reference (every rule kind, generated from the code)",
                          epilog="example:\n  governance policy reference > docs/policy-reference.md",
                          formatter_class=argparse.RawDescriptionHelpFormatter)
    ref.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    explain = psub.add_parser("explain", help="list a policy's rules with their RMF subcategories",
                              epilog="example:\n  governance policy explain examples/credit/policy.yaml",
                          formatter_class=argparse.RawDescriptionHelpFormatter)
    explain.add_argument("policy")
    explain.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)

    v = sub.add_parser("verify", help="check that no output or input changed since the gate ran (exit 0 / 1)",
                       epilog="example:\n  governance verify out/credit --public-key release-key.pub.pem",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    v.add_argument("out", type=Path, help="a folder written by governance check")
    v.add_argument("--public-key", type=Path, help="Ed25519 public key (PEM) to check verdict.sig with")
    v.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)

    k = sub.add_parser("keygen", help="write an Ed25519 key pair for --sign-key / --public-key",
                       epilog="example:\n  governance keygen release-key.pem   # also writes release-key.pub.pem",
                          formatter_class=argparse.RawDescriptionHelpFormatter)
    k.add_argument("key", type=Path, help="private key file to write (KEY.pem; the public key goes to KEY.pub.pem)")
    k.add_argument("--force", action="store_true", help="replace an existing key pair (default: refuse)")
    k.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)

    s = sub.add_parser("schema", help="print the JSON Schema of an input or output file",
                       epilog="example:\n  governance schema evidence > evidence.schema.json",
                          formatter_class=argparse.RawDescriptionHelpFormatter)
    s.add_argument("which", choices=["evidence", "verdict", "policy", "manifest", "monitoring"])
    s.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)

    d = sub.add_parser("demo", help="train a torch MLP on the bundled UCI Adult data, prune it four ways, gate each",
                       epilog="example:\n  governance demo --out out/demo\n"
                              "exit codes: 0 the demo ran (whatever the decisions), 2 bad input, 3 internal error",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    d.add_argument("--out", type=Path, required=True, help="folder for the models, manifests and one report folder "
                                                           "per candidate")
    d.add_argument("--seed", type=int, default=0, help="seed of the data subset, training and fine-tuning (default 0)")
    d.add_argument("--quick", action="store_true", help="fewer rows and epochs (for tests; numbers are noisier)")
    d.add_argument("--quiet", action="store_true", help="no progress or table: one line per candidate")
    d.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)

    i = sub.add_parser("init", help="write a commented release.yaml, policy.yaml, card.yaml and provenance.yaml",
                       epilog="example:\n  governance init my-release --from-models baseline.skops pruned.skops "
                              "--data eval.csv",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    i.add_argument("dir", type=Path, nargs="?", default=Path("."), help="folder to write into (default: here)")
    i.add_argument("--from-models", nargs=2, type=Path, metavar=("BASELINE", "CANDIDATE"),
                   help="the two model files: fills in paths, formats and sha256 (needs --data)")
    i.add_argument("--data", type=Path, help="the evaluation data (CSV or Parquet, or a folder of Parquet files): "
                                             "fills in its path, columns and sha256")
    i.add_argument("--train-data", type=Path, help="the training data (CSV or Parquet, or a folder of Parquet files): "
                                                   "declared in provenance.yaml with its sha256, so the gate can look "
                                                   "for leakage")
    i.add_argument("--force", action="store_true", help="overwrite files that already exist")
    i.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)

    mo = sub.add_parser("monitor", help="judge windows of production logs against a release's monitoring.json "
                                        "(exit 0 within the contract, 1 alert, 2 bad input)",
                        epilog="example:\n  governance monitor --contract out/credit/monitoring.json --window "
                               "logs/2026-12-01.parquet --state monitor-state.json --out out/monitor\n"
                               "exit codes: 0 within the contract, 1 alert (retrain or roll back), 2 bad input",
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    mo.add_argument("--contract", type=Path, required=True, help="the monitoring.json `check` wrote")
    mo.add_argument("--window", type=Path, action="append", default=[], metavar="FILE",
                    help="a CSV/Parquet window of production logs (repeat, oldest first)")
    mo.add_argument("--policy", default="builtin:monitor", help="monitor policy file or builtin:NAME "
                                                                "(default: builtin:monitor)")
    mo.add_argument("--state", type=Path, help="state file: read if it exists, written back with the new windows")
    mo.add_argument("--out", type=Path, required=True, help="folder for monitor.json, junit.xml and monitor.html")
    mo.add_argument("--score-column", action="append", metavar="NAME", help="the deployed model's score column "
                    "(repeat per class for multiclass; default: the contract's score_columns)")
    mo.add_argument("--baseline-score-column", action="append", metavar="NAME",
                    help="a shadow baseline's score column (default: the contract's, when present)")
    mo.add_argument("--label-column", help="the delayed-label column (default: the evaluation target's name, "
                                           "when present)")
    mo.add_argument("--today", type=_date, help="the date the decision is dated on (default: today)")
    mo.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)

    ml = sub.add_parser("mlflow", help="MLflow: log a finished check to a run (docs/mlflow.md)",
                        epilog="example:\n  governance mlflow log --run 0a1b2c3d --out out/credit",
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    mlsub = ml.add_subparsers(dest="mlflow_command", required=True, metavar="ACTION")
    mlog = mlsub.add_parser("log", help="log a check's decision (tag), metrics and documents (artifacts) to a run",
                            epilog="example:\n  governance mlflow log --run 0a1b2c3d --out out/credit\n"
                                   "exit codes: 0 logged, 2 bad input or the server could not be reached",
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    mlog.add_argument("--run", required=True, metavar="RUN_ID", help="the MLflow run to log to")
    mlog.add_argument("--out", type=Path, required=True, help="the output folder of a finished governance check")
    mlog.add_argument("--tracking-uri", help="the tracking server (default: MLFLOW_TRACKING_URI, else the server "
                                             "the candidate came from)")
    mlog.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    return p


def _options(args: argparse.Namespace) -> dict[str, Any]:
    """The decision options every deciding command shares (check, evaluate)."""
    return {"today": args.today, "waivers": args.waivers, "sign_key": args.sign_key, "on_warning": _warn,
            "sarif_root": args.sarif_root}


def _warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


class _Bar:
    """Progress on a terminal: the phase, rows scored of the total (when the file states it), elapsed, ETA."""

    def __init__(self, bar: Any) -> None:
        self.bar, self.task = bar, bar.add_task("starting", total=None)

    def __call__(self, rows: int) -> None:
        self.bar.update(self.task, completed=rows)

    def phase(self, name: str, total: int | None = None) -> None:
        """A task per phase (rich keeps a task's total once set): the last one shown, its total or none."""
        self.bar.update(self.task, visible=False)
        self.task = self.bar.add_task(name, total=total)


class _LogLines:
    """Progress in a CI log (not a terminal): one line per phase with the time so far, no redrawing. On stdout,
    before the findings, so stderr keeps exactly one line when the gate stops on bad input."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.rows = 0

    def __call__(self, rows: int) -> None:
        self.rows = rows

    def phase(self, name: str, total: int | None = None) -> None:
        done = f" ({self.rows:,} rows scored)" if self.rows else ""  # said once, after the scoring pass
        of = f" ({total:,} rows)" if total else ""
        self.rows = 0
        print(f"[{time.perf_counter() - self.start:6.1f}s] {name}{of}{done}", flush=True)


@contextlib.contextmanager
def _progress_bar(quiet: bool) -> Iterator[Callable[[int], None] | None]:
    """Progress on stderr: a rich bar with phases and an ETA on a terminal, one line per phase in a log."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    console = Console(stderr=True)
    if quiet:
        yield None
        return
    if not console.is_terminal:
        yield _LogLines()
        return
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(), console=console,
                  transient=True) as bar:
        yield _Bar(bar)


def _report(result: Result, args: argparse.Namespace) -> int:
    """The job summary (in GitHub Actions), then the console summary or ``--json``; the exit code."""
    from .render.job_summary import JobSummary

    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if target:  # shown on the run's page
        try:
            with open(target, "a", encoding="utf-8") as fh:
                fh.write(JobSummary().render(result))
        except OSError as exc:
            print(f"warning: cannot write GITHUB_STEP_SUMMARY ({target}): {exc.strerror or exc}", file=sys.stderr)
    name = "json" if args.json else "quiet" if args.quiet else "table"
    sys.stdout.write(_summary_renderer(name).render(result))
    return int(result.exit_code)


def _report_failure(args: argparse.Namespace, code: ExitCode, exc: Exception) -> None:
    """A gate that could not decide still answers where its readers look: ``--json`` prints
    ``{"exit_code": 2, "error": ...}`` on stdout and the GitHub job summary says what was wrong."""
    from .render.failure import failure_json, failure_markdown

    if getattr(args, "json", False):
        sys.stdout.write(failure_json(code, exc))
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if target and args.command in ("check", "evaluate", "render"):
        try:
            with open(target, "a", encoding="utf-8") as fh:
                fh.write(failure_markdown(args.command, code, exc))
        except OSError:
            pass  # the error itself is already on stderr


def _summary_renderer(name: str) -> SummaryRenderer:
    """--json / --quiet / default -> the renderer of the summary printed on stdout (imported when used)."""
    from .render.console import ConsoleSummary
    from .render.json_summary import JsonSummary

    renderers: dict[str, Callable[[], SummaryRenderer]] = {
        "table": ConsoleSummary, "quiet": lambda: ConsoleSummary(quiet=True), "json": JsonSummary}
    return renderers[name]()


def cmd_check(args: argparse.Namespace) -> int:
    from .gate import CheckOptions, check

    options = CheckOptions(policy=args.policy, trust_pickle=args.trust_pickle, device=args.device,
                           templates=args.templates, progress=lambda: _progress_bar(args.quiet or args.json),
                           engine=args.engine, scheduler=args.scheduler, workers=args.workers, **_options(args))
    code = _report(check(args.manifest, out=args.out, options=options), args)
    if args.mlflow_run:  # after the documents are written: a failure to log is exit 2, the verdict stays as it is
        try:
            print(_mlflow_log(args.out, args.mlflow_run, None), file=sys.stderr)
        except InputError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return int(ExitCode.BAD_INPUT)
    return code


def _mlflow_log(out: Path, run_id: str, tracking_uri: str | None) -> str:
    from .integrations.mlflow_log import DECISION_TAG, log_check

    logged = log_check(out, run_id, tracking_uri=tracking_uri)
    version = f", model version {logged.model_version[0]}/{logged.model_version[1]}" if logged.model_version else ""
    return (f"logged to MLflow run {logged.run_id}: {DECISION_TAG}={logged.decision}{version}, "
            f"{len(logged.metrics)} metrics, {len(logged.artifacts)} documents")


def cmd_mlflow(args: argparse.Namespace) -> int:
    print(_mlflow_log(args.out, args.run, args.tracking_uri))
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from .gate import DecisionOptions, evaluate

    result = evaluate(args.evidence, args.policy, out=args.out, options=DecisionOptions(**_options(args)))
    return _report(result, args)


def cmd_render(args: argparse.Namespace) -> int:
    from .gate import render

    outputs = render(args.evidence, args.verdict, out=args.out, card=args.card, templates=args.templates,
                     on_warning=_warn)
    print(f"wrote {', '.join(outputs.files)} to {args.out}")
    return 0


def _resolve_policy(ref: str) -> Path:
    from .policy import resolve_policy_ref

    return resolve_policy_ref(ref, None, None)


def cmd_policy(args: argparse.Namespace) -> int:
    if args.policy_command == "reference":
        from .reference import policy_reference

        print(policy_reference(), end="")
        return 0
    from .monitor.judge import is_monitor_policy, load_monitor_policy
    from .policy import load_policy
    from .yamlfile import read_yaml

    path = _resolve_policy(args.policy)
    policy: Any = load_monitor_policy(path)[0] if is_monitor_policy(read_yaml(path)[0]) else load_policy(path)
    if args.policy_command == "lint":
        print(f"{path}: ok ({len(policy.rules)} rules)")
        return 0
    from .render.policy_text import explain

    print(explain(policy), end="")
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    from .schemas import schema_text

    print(schema_text(args.which), end="")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from .trail import SIGNATURE_HOLDS, verify

    problems, checked, signature = verify(args.out, args.public_key)
    for line in problems:
        print(f"CHANGED {line}", file=sys.stderr)
    if problems:
        note = "" if signature == SIGNATURE_HOLDS else f"; {signature}"
        print(f"verify: {len(problems)} problem(s) in {args.out}{note}", file=sys.stderr)
        return int(ExitCode.BLOCKED)
    joiner = " " if signature == SIGNATURE_HOLDS else "; "
    print(f"verify: ok, {len(checked)} files unchanged{joiner}{signature}")
    return 0


def cmd_keygen(args: argparse.Namespace) -> int:
    from .trail import keygen

    private, public = keygen(args.key, force=args.force)
    print(f"private key: {private} (keep it secret)\npublic key:  {public}")
    return 0


def cmd_monitor(args: argparse.Namespace) -> int:
    from .gate import monitor
    from .monitor.run import MonitorOptions

    options = MonitorOptions(policy=args.policy, state=args.state, today=args.today, label_column=args.label_column,
                             score_columns=tuple(args.score_column) if args.score_column else None,
                             baseline_score_columns=(tuple(args.baseline_score_column)
                                                     if args.baseline_score_column else None))
    result = monitor(args.contract, args.window, out=args.out, options=options)
    print(result.decision_line)
    return int(result.exit_code)


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    run_demo(args.out, seed=args.seed, quick=args.quick, quiet=args.quiet)
    return 0


def cmd_init(args: argparse.Namespace) -> int:
    from .scaffold import Inputs, scaffold

    baseline, candidate = args.from_models or (None, None)
    written = scaffold(args.dir, Inputs(baseline, candidate, args.data, args.train_data), force=args.force)
    what = {"release.yaml": "the release manifest", "policy.yaml": "your policy (extends builtin:nist-ai-rmf)",
            "card.yaml": "model-card facts to fill in", "provenance.yaml": "where the data and models came from"}
    for path in written:
        print(f"wrote {path}: {what.get(path.name, '')}")
    return 0


COMMANDS = {"check": cmd_check, "verify": cmd_verify, "keygen": cmd_keygen, "evaluate": cmd_evaluate,
            "render": cmd_render, "policy": cmd_policy, "schema": cmd_schema, "demo": cmd_demo, "init": cmd_init,
            "monitor": cmd_monitor, "mlflow": cmd_mlflow}

def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help/--version exit 0, usage errors exit 2
        return int(exc.code or 0)
    try:
        return COMMANDS[args.command](args)  # check/evaluate/render hold the --out lock for the whole run (gate)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        _report_failure(args, ExitCode.BAD_INPUT, exc)
        return int(ExitCode.BAD_INPUT)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `governance policy explain P | head`: the reader left, nothing to report
        sys.stderr.close()
        return 0
    except Exception as exc:  # noqa: BLE001 - the gate must never crash with a traceback
        if args.debug:
            traceback.print_exc()
        print(f"internal error: {exc.__class__.__name__}: {exc} (rerun with --debug for the traceback)",
              file=sys.stderr)
        _report_failure(args, ExitCode.INTERNAL, exc)
        return int(ExitCode.INTERNAL)


def entry() -> None:
    sys.exit(main())


if __name__ == "__main__":
    entry()
