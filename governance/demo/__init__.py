"""``governance demo --out DIR``: the release gate on real data, in one command.

1. Reads the bundled UCI Adult data (``governance.datasets``): the train split trains, the test split evaluates.
2. Trains a small torch MLP (the baseline; seeded, CPU) and derives four pruned candidates with
   ``torch.nn.utils.prune``: global magnitude pruning at 50%, 80% and 95% of the Linear weights, and structured
   pruning of half the neurons of each hidden layer (then cut out: a genuinely smaller network). Each candidate
   is fine-tuned briefly with its pruning mask attached before the mask is baked in.
3. Writes, for each candidate, a release manifest, model-card facts and provenance next to the models, the
   evaluation data and the architecture file, so every release can be gated again with ``governance check``.
4. Gates each candidate with the default policy pack (``builtin:nist-ai-rmf``) through the library
   (``governance.gate.check``, what ``governance check`` runs), and prints one table: sparsity, accuracy drop
   with its paired interval, the worst slice, calibration, size,
   measured speedup, the decision and the rules that blocked it.

Layout of DIR::

    adult_mlp.py  eval.parquet  train.parquet  baseline.safetensors
    <candidate>.safetensors  release-<candidate>.yaml  card-<candidate>.yaml  provenance-<candidate>.yaml
    <candidate>/   verdict.json  evidence.json  junit.xml  model_card.md|html  audit_report.html|pdf ...
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

from .train import CANDIDATES, FULL, QUICK, Candidate

__all__ = ["CANDIDATES", "Candidate", "DemoResult", "run_demo"]

TORCH_NEEDED = "the demo trains a torch model: pip install 'pruning-governance[torch]'"


@dataclass(frozen=True)
class DemoResult:
    out: Path
    rows: list  # report.Row, one per candidate
    story: list[str]
    seconds: float
    production: object = None  # production.ProductionStory: the candidate judged for production, then monitored


def _write_parquet(table, path: Path) -> None:
    import pyarrow.parquet as pq

    pq.write_table(table, path, compression="zstd")


def run_demo(out: Path, *, seed: int = 0, quick: bool = False, quiet: bool = False) -> DemoResult:
    try:
        import safetensors  # noqa: F401
        import torch
    except ImportError:
        from ..errors import InputError

        raise InputError(None, "demo", TORCH_NEEDED) from None
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from ..datasets import load_adult
    from ..gate import CheckOptions, Result, check
    from ..policy import load_policy, resolve_policy_ref
    from . import files, production, report, train

    started = time.perf_counter()
    settings = QUICK if quick else FULL
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    console = Console(file=sys.stderr, highlight=False)
    steps = 3 + len(CANDIDATES) * 2

    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console, transient=True, disable=quiet) as progress:
        def done(message: str) -> None:
            if not quiet:
                progress.console.print(f"[green]✓[/] {message}")

        overall = progress.add_task("preparing the Adult data", total=steps)
        adult = load_adult()
        train_part = train.frame(train.split(adult, "train", settings.train_rows, seed))
        eval_part = train.frame(train.split(adult, "test", settings.eval_rows, seed))
        _write_parquet(train_part, out / "train.parquet")
        _write_parquet(eval_part, out / "eval.parquet")
        files.write_architecture(out)
        rows = {"train": train_part.num_rows, "eval": eval_part.num_rows}
        x, y = train.tensors(train_part)
        x_eval, y_eval = train.tensors(eval_part)
        progress.advance(overall)
        done(f"Adult data: {rows['train']:,} training rows, {rows['eval']:,} evaluation rows (the test split) "
             f"-> {out / 'eval.parquet'}")

        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # reproducible float sums, and no oversubscription on small shared machines
        try:
            progress.update(overall, description="training the baseline MLP")
            epoch_bar = progress.add_task("  epochs", total=settings.epochs)
            baseline = train.train_baseline(x, y, settings, seed, tick=lambda: progress.advance(epoch_bar))
            progress.remove_task(epoch_bar)
            train.save(baseline, out / "baseline.safetensors")
            progress.advance(overall)
            done(f"baseline: {sum(p.numel() for p in baseline.parameters()):,} parameters, test accuracy "
                 f"{train.accuracy(baseline, x_eval, y_eval):.4f} ({settings.epochs} epochs)")
            hidden: dict[str, list[int]] = {}
            kept = {}  # the production step's candidate, which scores the monitoring windows
            for cand in CANDIDATES:
                progress.update(overall, description=f"pruning and fine-tuning {cand.name}")
                model = train.prune_candidate(baseline, cand, x, y, settings, seed)
                train.save(model, out / f"{cand.name}.safetensors")
                if cand.name == production.CANDIDATE:
                    kept[cand.name] = model
                hidden[cand.name] = train.hidden_sizes(model)
                progress.advance(overall)
                done(f"{cand.name}: {sum(p.numel() for p in model.parameters()):,} parameters, "
                     f"{train.weight_sparsity(model):.1%} of Linear weights zero, hidden {hidden[cand.name]}, "
                     f"test accuracy {train.accuracy(model, x_eval, y_eval):.4f}")
        finally:
            torch.set_num_threads(threads)

        manifests = {}
        for cand in CANDIDATES:
            prov = files.provenance(out, cand, settings, seed, rows)
            files.card(out, cand, settings, rows, hidden[cand.name], seed)
            manifests[cand.name] = files.manifest(out, cand, hidden[cand.name], quick, has_provenance=prov is not None)

        results: dict[str, Result] = {}
        for cand in CANDIDATES:
            progress.update(overall, description=f"gating {cand.name} (governance check)")

            def warn(message: str, name: str = cand.name) -> None:
                if not quiet:
                    progress.console.print(f"  {name}: warning: {message}", markup=False)

            result = check(manifests[cand.name], out=out / cand.name, options=CheckOptions(on_warning=warn))
            results[cand.name] = result
            progress.advance(overall)
            code = int(result.exit_code)
            done(f"{cand.name}: {'PASS' if code == 0 else 'BLOCKED'} (exit {code}) -> {out / cand.name}")

        progress.update(overall, description=f"production: {production.CANDIDATE} for production's traffic, "
                                             "then monitoring two windows")
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            prod_story = production.run_production(out, eval_part, results[production.CANDIDATE].evidence,
                                                   manifests[production.CANDIDATE], kept[production.CANDIDATE], seed)
        finally:
            torch.set_num_threads(threads)
        progress.advance(overall)
        done(f"production: {prod_story.group} is {prod_story.production_share:.0%} of the production sample "
             f"({prod_story.evaluation_share:.0%} of the evaluation set): {prod_story.decision_line} "
             f"(exit {prod_story.exit_code}) -> {out / 'production'}")

    policy_path = resolve_policy_ref(files.POLICY, None, None)
    policy = load_policy(policy_path)
    slice_rules = [r for r in policy.rules if r.kind in report.SLICE_KINDS]
    # the worst slice shown is one the slice rules would test: at least their smallest minimum size
    sizes = [getattr(r, "min_slice_size", None) for r in slice_rules]
    min_size = min([s for s in sizes if s is not None] or [policy.defaults.min_slice_size])
    rows_ = [report.row(c.name, out / c.name, results[c.name].evidence, results[c.name].verdict, min_size)
             for c in CANDIDATES]
    story = report.story(rows_, policy.name, [r.id for r in slice_rules]) + production_lines(prod_story)
    seconds = time.perf_counter() - started
    _print(rows_, story, out, policy.name, min_size, settings is QUICK, seconds, quiet)
    return DemoResult(out=out, rows=rows_, story=story, seconds=seconds, production=prod_story)


def production_lines(p) -> list[str]:
    """The production step in two sentences: the re-weighted verdict, then the monitor on two windows."""
    from .production import CANDIDATE

    def pts(x: float | None) -> str:
        return "n/a" if x is None else f"{x * 100:.1f} points"

    first = (f"Production: {p.group} is {p.evaluation_share:.0%} of the evaluation set but {p.production_share:.0%} "
             f"of the production sample; {CANDIDATE} loses {pts(p.evaluation_drop)} of accuracy on the "
             f"evaluation set and {pts(p.weighted_drop)} re-weighted to production's shares (PROD-001: "
             f"{p.weighted_status}, limit {pts(p.weighted_limit)}); under builtin:production ({p.manifest.name}) the "
             f"release is {p.decision_line} (exit {p.exit_code})"
             + (f" by {', '.join(p.blocking)}." if p.blocking else "."))
    second = (f"After release, governance monitor against its monitoring.json: a window like production exits "
              f"{p.monitor_codes.get('clean')}, a window after the population moved exits "
              f"{p.monitor_codes.get('drifted')} ({p.monitor_lines.get('drifted', '')}).")
    return [first, second]


def _print(rows, story: list[str], out: Path, policy: str, min_size: int, quick: bool, seconds: float,
           quiet: bool) -> None:
    from rich.console import Console
    from rich.markup import escape

    from . import report

    console = Console(highlight=False)
    if not console.is_terminal:  # a log or a pipe: wide enough for the table, instead of rich's default 80
        console = Console(highlight=False, width=170)
    if quiet:
        for r in rows:
            print(f"{r.name}: {r.line}  (outputs in {r.folder})")
        return
    title = (f"governance demo: UCI Adult, baseline MLP vs 4 pruned candidates, policy {policy}"
             + (" (--quick: fewer rows and epochs)" if quick else ""))
    console.print(report.table(rows, title))
    console.print("Drops are baseline - candidate in accuracy points (positive: worse), with paired 95% intervals. "
                  f"Worst group: the sex, race or age_group slice of at least {min_size} rows with the largest drop "
                  "(intersections are in the reports); worst class: accuracy within a true class, i.e. its recall "
                  "(class=1: income >50K). Sparsity: zeros over all parameter tensors. ECE change: candidate - "
                  "baseline. Blocked by: rules about what pruning did, then (+) rules about the release's data, "
                  "documentation and sign-off. Speedup: baseline / candidate median latency, measured"
                  + (f" on {rows[0].hardware}" if rows and rows[0].hardware else "") + ".")
    console.print()
    for line in story:
        console.print(f"• {escape(line)}")
    console.print()
    console.print(f"Reports (audit_report.html, model_card.md, verdict.json, evidence.json) in {out}/<candidate>/; "
                  f"gate one again with: governance check {out / 'release-magnitude-80.yaml'} --out DIR")
    console.print(f"demo took {seconds:.0f} s")
