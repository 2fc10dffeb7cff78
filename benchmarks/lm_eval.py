"""Two lm-evaluation-harness runs of 500,000 samples each, judged: read + join + evidence + policy.

    python benchmarks/lm_eval.py                       # 500,000 documents: 57 MMLU subjects + the 7 Wanda tasks
    python benchmarks/lm_eval.py --docs 100000 --resamples 200
    python benchmarks/lm_eval.py --folder /tmp/lm-eval-runs     # keep the runs, reuse them next time
    python benchmarks/lm_eval.py --as-numbers          # responses as numbers, not as the harness writes them

Writes both runs as the harness' EvaluationTracker does (``samples_<task>_<date>.jsonl``; multiple-choice lines
with each choice's ``[loglikelihood, is_greedy]`` as two strings, as ``sanitize_list`` leaves them; short zero-shot
prompts, about 800 bytes a line) to a temporary folder (not timed), then times each stage of ``collect`` +
``evaluate`` with ``builtin:pruned-llm`` and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np

from governance.engine import evaluate
from governance.evidence.lm_eval import collect_lm_eval
from governance.manifest import load_manifest
from governance.models.lm_eval import MMLU_SUBJECTS, choice_line, load_pairs
from governance.policy import load_policy, resolve_policy_ref

WANDA = ("boolq", "rte", "hellaswag", "winogrande", "arc_challenge", "arc_easy", "openbookqa")


def write_runs(folder: Path, docs: int, seed: int = 0, as_numbers: bool = False) -> None:
    """Both runs, ``docs`` documents spread over the tasks; the pruned run loses ~3 points on knowledge tasks."""
    tasks = [f"mmlu_{s}" for s in MMLU_SUBJECTS] + list(WANDA)
    rng = np.random.default_rng(seed)
    per = np.full(len(tasks), docs // len(tasks))
    per[: docs - per.sum()] += 1
    for task, n in zip(tasks, per):
        k = 2 if task in ("boolq", "rte", "winogrande") else 4
        gold = rng.integers(k, size=n)
        lls = {"dense": rng.normal(-2.0, 1.0, (n, k))}
        lls["pruned"] = lls["dense"] + rng.normal(0, 0.4 if task.startswith(("mmlu", "arc")) else 0.3, (n, k))
        if task.startswith(("mmlu", "arc", "openbookqa")):
            lls["pruned"][np.arange(n), gold] -= 0.15  # knowledge tasks: the gold answer loses likelihood
        for run, ll in lls.items():
            out = folder / run
            out.mkdir(parents=True, exist_ok=True)
            with open(out / f"samples_{task}_2026-06-01T12-00-00.000000.jsonl", "w") as f:
                for i in range(n):
                    question = f"Question {i}: which of these is true?"
                    choices = [f"Choice {c}" for c in range(k)]
                    doc = {"question": question, "choices": choices, "answer": int(gold[i])}
                    line = choice_line(i, doc, f"Question: {question}\nAnswer:", choices, int(gold[i]),
                                       [round(float(x), 4) for x in ll[i]], written=not as_numbers)
                    f.write(json.dumps(line, ensure_ascii=False) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--docs", type=int, default=500_000)
    ap.add_argument("--resamples", type=int, default=1000)
    ap.add_argument("--folder", type=Path, help="write the runs here and reuse them on the next call (default: a "
                                                "temporary folder)")
    ap.add_argument("--as-numbers", action="store_true", help="write each [loglikelihood, is_greedy] as numbers "
                                                                "(the evaluator's values), not as the harness' text")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.folder or Path(tmp)
        t0 = time.perf_counter()
        if not (folder / "pruned").is_dir():
            write_runs(folder, args.docs, as_numbers=args.as_numbers)
        written = time.perf_counter() - t0
        size = sum(p.stat().st_size for p in folder.rglob("*.jsonl"))
        (folder / "release.yaml").write_text(
            "name: bench\nversion: '1'\ntask: lm_eval\npolicy: builtin:pruned-llm\n"
            "baseline: {path: dense, format: lm-eval-samples}\ncandidate: {path: pruned, format: lm-eval-samples}\n"
            f"evaluation: {{bootstrap: {{resamples: {args.resamples}}}}}\n")
        release = load_manifest(folder / "release.yaml")
        policy = load_policy(resolve_policy_ref("builtin:pruned-llm", None, None))
        t, c = time.perf_counter(), time.process_time()
        pairs = load_pairs(release)
        read, read_cpu = time.perf_counter() - t, time.process_time() - c
        t, c = time.perf_counter(), time.process_time()
        evidence = collect_lm_eval(release)  # reads and joins again, then measures
        collected, collected_cpu = time.perf_counter() - t, time.process_time() - c
        t, c = time.perf_counter(), time.process_time()
        verdict = evaluate(policy, evidence, date(2026, 12, 1))
        decided, decided_cpu = time.perf_counter() - t, time.process_time() - c
    n = sum(len(p.doc_id) for p in pairs)
    print(f"{len(pairs)} tasks, {n:,} documents per run, {size / 2**20:,.0f} MiB of samples files (both runs; "
          f"written in {written:.0f} s, not timed); {args.resamples} bootstrap resamples\n")
    print(f"| stage | wall s | CPU s (all threads; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores) |")
    print("|---|---:|---:|")
    print(f"| read + join both runs (pyarrow JSON, hashes compared) | {read:.2f} | {read_cpu:.2f} |")
    print(f"| collect: read + join + accumulate + intervals + McNemar + calibration | {collected:.2f} | "
          f"{collected_cpu:.2f} |")
    print(f"| evaluate builtin:pruned-llm ({len(verdict.findings)} rules) | {decided:.3f} | {decided_cpu:.3f} |")
    print(f"| **judged (collect + evaluate)** | **{collected + decided:.2f}** | {collected_cpu + decided_cpu:.2f} |")
    print(f"\ndecision: {verdict.decision}; overall accuracy {evidence.models['baseline'].overall['accuracy']:.4f} "
          f"-> {evidence.models['candidate'].overall['accuracy']:.4f}")


if __name__ == "__main__":
    main()
