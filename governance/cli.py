"""The command line: thin. Parses, calls the stages, maps errors to exit codes, shows progress."""

from __future__ import annotations

import argparse
import json
import sys
import traceback
from datetime import date
from pathlib import Path

from . import __version__
from .errors import InputError
from .findings import ExitCode, Status, Verdict, decision_line, exit_code

EPILOG_CHECK = """example:
  governance check examples/credit/release.yaml --out out/credit
exit codes: 0 ship, 1 blocked by policy, 2 bad input, 3 internal error"""


def _date(text: str) -> date:
    try:
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


def _parser() -> argparse.ArgumentParser:
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
    _decision_options(c)
    c.add_argument("--templates", type=Path, help="folder of templates that override the packaged ones by file name")
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
                         epilog="example:\n  governance policy explain builtin:nist-ai-rmf", formatter_class=argparse.RawDescriptionHelpFormatter)
    psub = pol.add_subparsers(dest="policy_command", required=True, metavar="ACTION")
    lint = psub.add_parser("lint", help="validate a policy (exit 0 valid, 2 invalid)",
                           epilog="example:\n  governance policy lint examples/credit/policy.yaml",
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    lint.add_argument("policy")
    lint.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    ref = psub.add_parser("reference", help="print the policy reference (every rule kind, generated from the code)",
                          epilog="example:\n  governance policy reference > docs/policy-reference.md", formatter_class=argparse.RawDescriptionHelpFormatter)
    ref.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    explain = psub.add_parser("explain", help="list a policy's rules with their RMF subcategories",
                              epilog="example:\n  governance policy explain examples/credit/policy.yaml", formatter_class=argparse.RawDescriptionHelpFormatter)
    explain.add_argument("policy")
    explain.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)

    v = sub.add_parser("verify", help="check that no output or input changed since the gate ran (exit 0 / 1)",
                       epilog="example:\n  governance verify out/credit --public-key release-key.pub.pem",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    v.add_argument("out", type=Path, help="a folder written by governance check")
    v.add_argument("--public-key", type=Path, help="Ed25519 public key (PEM) to check verdict.sig with")
    v.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)

    k = sub.add_parser("keygen", help="write an Ed25519 key pair for --sign-key / --public-key",
                       epilog="example:\n  governance keygen release-key.pem   # also writes release-key.pub.pem", formatter_class=argparse.RawDescriptionHelpFormatter)
    k.add_argument("key", type=Path, help="private key file to write (KEY.pem; the public key goes to KEY.pub.pem)")
    k.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)

    s = sub.add_parser("schema", help="print the JSON Schema of an input or output file",
                       epilog="example:\n  governance schema evidence > evidence.schema.json", formatter_class=argparse.RawDescriptionHelpFormatter)
    s.add_argument("which", choices=["evidence", "verdict", "policy", "manifest"])
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
    i.add_argument("--data", type=Path, help="the evaluation data (CSV or Parquet): fills in its path, columns "
                                             "and sha256")
    i.add_argument("--train-data", type=Path, help="the training data (CSV or Parquet): declared in provenance.yaml "
                                                   "with its sha256, so the gate can look for leakage")
    i.add_argument("--force", action="store_true", help="overwrite files that already exist")
    i.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    return p


def _resolve_policy(ref: str, base: Path | None, field_file: Path | None) -> Path:
    from .policy import resolve_policy_ref

    return resolve_policy_ref(ref, base, field_file)


def _require_compatible(policy, policy_path: Path, sensitive: list[str]) -> None:
    """A rule that slices by a column the release does not have is bad input, before any model runs."""
    from .engine import compatibility_problems

    problems = compatibility_problems(policy, sensitive)
    if problems:
        i, field, msg = problems[0]
        raise InputError(policy_path, f"rules[{i}] ({policy.rules[i].id}).{field}", msg)


def _load_policy(path: Path):
    from .policy import load_policy

    return load_policy(path)


def _finish(verdict: Verdict, files: dict[str, bytes], out: Path, quiet: bool, sign_key: Path | None = None,
            as_json: bool = False) -> int:
    """Add the checksums (and signature) of every output, then write them all atomically."""
    from .outputs import publish
    from .trail import CHECKSUMS, SIGNATURE, checksums, sign

    files = {**files, CHECKSUMS: checksums(files)}
    if sign_key is not None:
        files[SIGNATURE] = sign(files[CHECKSUMS], sign_key)
    publish(out, files)  # the whole set replaces the folder in one step (a stale verdict.sig goes with it)
    _step_summary(verdict, out)
    if as_json:
        print(json.dumps(_machine_summary(verdict, out), indent=2))
    else:
        _summary(verdict, out, quiet)
    return int(exit_code(verdict))


def _machine_summary(verdict: Verdict, out: Path) -> dict:
    return {"decision": verdict.decision, "exit_code": int(exit_code(verdict)), "out": str(out),
            "line": decision_line(verdict),
            "blocking": [f.rule_id for f in verdict.blocking], "summary": verdict.summary,
            "not_judged": [n.model_dump(mode="json") for n in verdict.not_judged],
            "findings": [{"rule_id": f.rule_id, "status": f.status.value, "severity": f.severity,
                          "on_inconclusive": f.on_inconclusive, "observed": f.observed, "threshold": f.threshold,
                          "message": f.message}
                         for f in verdict.findings]}


def _step_summary(verdict: Verdict, out: Path) -> None:
    """In GitHub Actions, append a Markdown summary to $GITHUB_STEP_SUMMARY (shown on the run's page)."""
    import os

    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if not target:
        return
    icon = {"pass": "✅", "fail": "❌", "error": "❌", "waived": "⚠️", "inconclusive": "❔"}
    name = f"{verdict.release.get('name', '')} {verdict.release.get('version', '')}".strip()
    word, rest = _split_decision(decision_line(verdict))
    lines = [f"### Release gate: {name}", "", f"**{word}**{_md(rest)}", ""]
    if verdict.not_judged:  # which block rules the evidence could not decide, and what the policy made of it
        lines += [f"- {n.rule_id}: not judged ({n.status.value}; "
                  f"{'blocks' if n.blocks else 'on_inconclusive: ' + str(n.on_inconclusive)}): {_md(n.reason)}"
                  for n in verdict.not_judged] + [""]
    lines += ["| rule | status | severity | finding |", "|---|---|---|---|"]
    for f in verdict.findings:
        msg = _md(f.message)
        lines.append(f"| {f.rule_id} | {icon[f.status.value]} {f.status.value} | {f.severity} | {msg} |")
    lines += ["", f"Outputs (audit report, model card, evidence): `{out}`", ""]
    try:
        with open(target, "a", encoding="utf-8") as fh:
            fh.write("\n".join(lines))
    except OSError as exc:
        print(f"warning: cannot write GITHUB_STEP_SUMMARY ({target}): {exc.strerror or exc}", file=sys.stderr)


def _summary(verdict: Verdict, out: Path, quiet: bool) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False)
    colour = {"pass": "green", "fail": "red", "error": "red", "waived": "yellow", "inconclusive": "yellow"}
    if not quiet:
        table = Table(title=f"{verdict.release.get('name', '')} {verdict.release.get('version', '')}".strip())
        for col in ("rule", "status", "severity", "observed", "threshold", "finding"):
            table.add_column(col, overflow="fold")
        for f in verdict.findings:
            table.add_row(f.rule_id, f"[{colour[f.status.value]}]{f.status.value}[/]", f.severity,
                          "" if f.observed is None else f"{f.observed:.4f}",
                          "" if f.threshold is None else f"{f.threshold:.4f}", f.message)
        console.print(table)
    from rich.markup import escape

    word, rest = _split_decision(decision_line(verdict))
    style = "bold green" if verdict.decision == "pass" else "bold red"
    # one line, never wrapped, so scripts can grep it; finding text may hold '[' (intervals): escaped
    console.print(f"[{style}]{word}[/]{escape(rest)}  (outputs in {escape(str(out))})", soft_wrap=True)


def _split_decision(line: str) -> tuple[str, str]:
    """'PASS, but ...' -> ('PASS', ', but ...'): the decision word is styled, the rest is plain text."""
    word = "PASS" if line.startswith("PASS") else "BLOCKED"
    return word, line[len(word):]


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def cmd_check(args: argparse.Namespace) -> int:
    from .engine import evaluate
    from .evidence.collect import collect
    from .hashing import file_ref
    from .manifest import load_manifest
    from .render import RenderContext
    from .render.templating import template_folders

    release = load_manifest(args.manifest)
    templates = args.templates
    if templates is not None:
        template_folders(templates)  # a missing folder is bad input before any model runs
    card_path = None
    if release.manifest.card:
        card_path = release.resolve(release.manifest.card, "card", "card file")  # regular, inside the release
    card, card_file = _load_card(card_path, release.path, "card")
    policy_path = _resolve_policy(args.policy or release.manifest.policy, None if args.policy else release.folder,
                                  None if args.policy else release.path)
    policy = _load_policy(policy_path)
    _require_compatible(policy, policy_path, release.manifest.data.sensitive)
    waivers = _waivers_and_key(args, policy)
    evidence = _with_progress(lambda progress: collect(release, trust_pickle=args.trust_pickle, device=args.device,
                                                       progress=progress), quiet=args.quiet)
    for w in evidence.warnings:
        print(f"warning: {w}", file=sys.stderr)
    verdict = evaluate(policy, evidence, args.today or date.today(), waivers)
    provenance = release.folder / release.manifest.provenance if release.manifest.provenance else None
    from .trail import release_inputs

    verdict = _recorded(verdict, evidence, policy_path, {"manifest": release.path, "card": card_path,
                                                        "provenance": provenance, "waivers": args.waivers,
                                                        **release_inputs(release, evidence)})
    ctx = RenderContext(evidence, verdict, card=card, card_file=card_file, templates=templates)
    return _finish(verdict, _render_documents(ctx), args.out, args.quiet, args.sign_key, args.json)


def _recorded(verdict: Verdict, evidence, policy_path: Path, files: dict) -> Verdict:
    """The verdict with the policy file and the hashes of evidence.json and every input recorded in it."""
    from .hashing import file_ref
    from .render.jsonfiles import evidence_json
    from .trail import policy_parents, recorded_inputs

    from .policy import rule_locations

    inputs = recorded_inputs(evidence_json(evidence), {"policy": policy_path, **policy_parents(policy_path), **files})
    policy = {**verdict.policy, "file": file_ref(policy_path).model_dump(), "locations": rule_locations(policy_path)}
    return verdict.model_copy(update={"policy": policy, "inputs": inputs})


def _waivers_and_key(args: argparse.Namespace, policy) -> list:
    """Read --waivers and check --sign-key before any model runs (bad input fails fast)."""
    from .policy import load_waivers
    from .trail import _load_key

    if getattr(args, "sign_key", None) is not None:
        _load_key(args.sign_key, private=True)
    return load_waivers(args.waivers, policy) if getattr(args, "waivers", None) else []


def _render_documents(ctx) -> dict[str, bytes]:
    """Render every output file in memory (nothing is written until all succeed); refused URLs: one line each."""
    import warnings

    from .render import render_all
    from .render.pdf import RefusedURLWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RefusedURLWarning)
        files = render_all(ctx)
    for w in caught:
        if issubclass(w.category, RefusedURLWarning):
            print(f"warning: {w.message}", file=sys.stderr)
        else:
            warnings.showwarning(w.message, w.category, w.filename, w.lineno)
    return files


def _load_card(path: Path | None, field_file: Path | None, field: str):
    """The card facts and their file reference, or (None, None) without a card."""
    from .card import load_card
    from .hashing import file_ref

    if path is None:
        return None, None
    if not path.is_file():
        raise InputError(field_file or path, field, f"card file not found: {path}")
    return load_card(path), file_ref(path, relative_to=field_file.parent if field_file else None)


def _with_progress(work, quiet: bool):
    """Run ``work(progress)`` with a rich progress line on stderr when it is a terminal."""
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    if quiet or not console.is_terminal:
        return work(None)
    with Progress(SpinnerColumn(), TextColumn("scoring rows: {task.completed:,}"), TimeElapsedColumn(),
                  console=console, transient=True) as bar:
        task = bar.add_task("score", total=None)
        return work(lambda rows: bar.update(task, completed=rows))


def cmd_evaluate(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from .engine import evaluate
    from .evidence.schema import Evidence
    from .hashing import file_ref
    from .render import RenderContext, render_all

    try:
        evidence = Evidence.model_validate_json(_regular(args.evidence).read_bytes())
    except FileNotFoundError:
        raise InputError(args.evidence, None, "file not found") from None
    except ValidationError as exc:
        err = exc.errors()[0]
        raise InputError(args.evidence, ".".join(map(str, err["loc"])) or None,
                         f"not a valid evidence file: {err['msg']}") from None
    policy_path = _resolve_policy(args.policy, None, None)
    policy = _load_policy(policy_path)
    _require_compatible(policy, policy_path, evidence.data.sensitive)
    verdict = evaluate(policy, evidence, args.today or date.today(), _waivers_and_key(args, policy))
    verdict = _recorded(verdict, evidence, policy_path, {"waivers": args.waivers})
    return _finish(verdict, _render_documents(RenderContext(evidence, verdict)), args.out, args.quiet, args.sign_key,
                   args.json)


def _regular(path: Path) -> Path:
    """A saved file to read: never a FIFO (it would block), a device or a folder (hashing.check_input_file)."""
    from .hashing import check_input_file

    return check_input_file(path, named_in=None, field=None, root=None)


def _load_saved(path: Path, model, what: str):
    from pydantic import ValidationError

    try:
        return model.model_validate_json(_regular(path).read_bytes())
    except (FileNotFoundError, IsADirectoryError):
        raise InputError(path, None, "file not found") from None
    except ValidationError as exc:
        err = exc.errors()[0]
        raise InputError(path, ".".join(map(str, err["loc"])) or None, f"not a valid {what} file: {err['msg']}") from None


def cmd_render(args: argparse.Namespace) -> int:
    from .evidence.schema import Evidence
    from .outputs import publish
    from .render import RenderContext
    from .render.templating import template_folders
    from .trail import CHECKSUMS, checksums

    evidence = _load_saved(args.evidence, Evidence, "evidence")
    verdict = _load_saved(args.verdict, Verdict, "verdict")
    if args.templates is not None:
        template_folders(args.templates)
    card, card_file = _load_card(args.card, None, "--card")
    files = _render_documents(RenderContext(evidence, verdict, card=card, card_file=card_file,
                                            templates=args.templates))
    files = {**files, CHECKSUMS: checksums(files)}
    publish(args.out, files)
    print(f"wrote {', '.join(files)} to {args.out}")
    return 0


def cmd_policy(args: argparse.Namespace) -> int:
    from .rmf import subcategories

    if args.policy_command == "reference":
        from .reference import policy_reference

        print(policy_reference(), end="")
        return 0
    path = _resolve_policy(args.policy, None, None)
    policy = _load_policy(path)
    if args.policy_command == "lint":
        print(f"{path}: ok ({len(policy.rules)} rules)")
        return 0
    functions: dict[str, list] = {}
    for r in policy.rules:
        for fn in sorted({ref.split()[0] for ref in r.rmf}) or ["(no RMF reference)"]:
            functions.setdefault(fn, []).append(r)
    rmf = subcategories()
    print(f"policy {policy.name}: {len(policy.rules)} rules")
    for fn in ("GOVERN", "MAP", "MEASURE", "MANAGE", "(no RMF reference)"):
        if fn not in functions:
            continue
        print(f"\n{fn}")
        for r in functions[fn]:
            params = {k: v for k, v in r.model_dump().items()
                      if k not in ("id", "kind", "severity", "rmf", "rationale", "on_inconclusive")
                      and v not in (None, [], {})}
            stance = r.on_inconclusive or policy.defaults.on_inconclusive  # what "not judged" means for it
            print(f"  {r.id} [{r.severity}; inconclusive: {stance}] {r.kind} {json.dumps(params)}")
            for ref in (x for x in r.rmf if x.startswith(fn)):
                print(f"    {ref}: {rmf[ref]['text']}")
    covered = {ref for r in policy.rules for ref in r.rmf}
    left = [ref for ref in rmf if ref not in covered]
    print(f"\ncovered by rules: {len(covered)} of {len(rmf)} RMF subcategories; left to human attestation: {len(left)}")
    for fn in ("GOVERN", "MAP", "MEASURE", "MANAGE"):
        ids = [ref.split()[1] for ref in left if ref.startswith(fn + " ")]
        if ids:
            print(f"  {fn}: {', '.join(ids)}")
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    from .schemas import schema_text

    print(schema_text(args.which), end="")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from .trail import verify

    from .trail import SIGNATURE_HOLDS

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

    private, public = keygen(args.key)
    print(f"private key: {private} (keep it secret)\npublic key:  {public}")
    return 0


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


COMMANDS = {"check": cmd_check, "verify": cmd_verify, "keygen": cmd_keygen, "evaluate": cmd_evaluate, "render": cmd_render, "policy": cmd_policy,
            "schema": cmd_schema, "demo": cmd_demo, "init": cmd_init}

OUTPUT_COMMANDS = ("check", "evaluate", "render")


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help/--version exit 0, usage errors exit 2
        return int(exc.code or 0)
    try:
        if args.command in OUTPUT_COMMANDS:  # one run at a time per --out, for the whole run
            from .outputs import output_lock

            with output_lock(args.out):
                return COMMANDS[args.command](args)
        return COMMANDS[args.command](args)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
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
        return int(ExitCode.INTERNAL)


def entry() -> None:
    sys.exit(main())


if __name__ == "__main__":
    entry()
