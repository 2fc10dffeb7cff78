"""Throughput of ``governance check --engine dask --workers N`` for N = 1, 2, 4 (issue 10: two single-threaded
workers at least 1.6x one, when the model dominates).

    PYTHONPATH=. python benchmarks/scale_workers.py                 # 500,000 rows
    PYTHONPATH=. python benchmarks/scale_workers.py --rows 50000 --repeats 1   # a quick look
    PYTHONPATH=. python benchmarks/scale_workers.py --hidden 1024              # a model that weighs more
    PYTHONPATH=. python benchmarks/scale_workers.py --row-groups 32            # smaller partitions

The release: a torch MLP wide enough that scoring is most of the time (16 features -> 512 -> 512 -> 2 logits,
seeded random weights; the candidate is a copy with the 50% smallest-magnitude weights of every Linear zeroed),
Parquet evaluation data of 16 float features, a label and a sensitive column of 3 values, in 16 row groups (the
engine's partitions; ``--row-groups``), robustness and latency off, the default 1,000 resamples. Written once into
a cache folder under the temporary directory keyed by the row count, the network's shape and the row groups
(``pruning-governance-bench/workers-ROWS-16x512``, ``-RGrg`` added for other than 16), reused.

Each check is its own process (``--engine dask --workers N``: a local cluster of N single-threaded worker
processes). Two phases are read from the check's phase lines: the **start-up** wait (``starting the Dask
workers`` up to ``scoring rows``: the part of starting the cluster and loading both models on each worker that the
client's own start-up did not overlap) and **scoring** (``scoring rows`` up to the next phase: the partitions
folded and merged in the tree, the merged result back on the client; the policy reads no log-loss or ROC AUC
interval, so under ``score_intervals: auto`` the accumulators carry no Poisson-bootstrap state); the whole check
is its wall time; as rows/s and as ratios to N = 1. Every worker count runs ``--repeats`` times (3 by default),
interleaved (1, 2, 4, then again), so a slow spell of a shared machine falls on every count alike; the table holds
the medians, and each run's scoring seconds and each round's 2-worker ratio are printed under it. The target is
judged on scoring, the workers' throughput once started; the ratio with the start-up wait added is printed beside
it. The heading states how many threads torch uses inside a worker of the local cluster the engine starts (asked
of one): with more than one, N single-threaded workers would share cores and the ratio would mean nothing. (It is
one: distributed's nanny starts each worker with ``OMP_NUM_THREADS=1``, its ``distributed.nanny.pre-spawn-environ``
default, which torch reads at import.)
"""

from __future__ import annotations

import argparse
import itertools
import os
import re
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchmarks/ is not a package
from gate_run import cache_root, measured

WORKERS = (1, 2, 4)
FEATURES = 16
HIDDEN = 512
ROW_GROUPS = 16
#: the target (issue 10): two workers at least 1.6x the throughput of one
TARGET_RATIO = 1.6
#: rounds of checks: one for every worker count in turn, then again; each figure is the median of its rounds
REPEATS = 3
ARCH = f'''"""A wide MLP, so scoring dominates a check (benchmarks/scale_workers.py)."""

from torch import nn


class WideMLP(nn.Sequential):
    def __init__(self, n_features: int = {FEATURES}, hidden: int = {HIDDEN}) -> None:
        super().__init__(nn.Linear(n_features, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                         nn.Linear(hidden, 2))
'''
POLICY = {"name": "scale-workers", "rules": [
    {"id": "PERF-001", "kind": "metric_drop", "metric": "accuracy", "max_drop": 0.05, "severity": "block"}]}
#: a phase line of ``governance check`` in a log: ``[  4.2s] scoring rows (400,000 rows)``
PHASE = re.compile(r"^\[\s*([0-9.]+)s\] (.+)$")
SCORING = "scoring rows"
STARTUP = "starting the Dask workers"


def workers_release(rows: int, resamples: int = 1000, hidden: int = HIDDEN, row_groups: int = ROW_GROUPS) -> Path:
    """The wide-MLP release of ``rows`` rows and ``hidden`` units per hidden layer, its data in ``row_groups`` row
    groups (written once, then reused); manifest ``release-R.yaml``."""
    folder = cache_root() / (f"workers-{rows}-{FEATURES}x{hidden}"
                             + ("" if row_groups == ROW_GROUPS else f"-{row_groups}rg"))
    if not (folder / "eval.parquet").is_file():
        _write_release(folder, rows, hidden, row_groups)
    net = {"format": "torch", "architecture": "arch:WideMLP", "architecture_kwargs": {"hidden": hidden}}
    manifest = {
        "name": "scale-workers", "version": "1", "task": "binary_classification", "positive_label": 1,
        "baseline": {"path": "baseline.safetensors", **net}, "candidate": {"path": "pruned.safetensors", **net},
        "data": {"path": "eval.parquet", "target": "label", "sensitive": ["group"]},
        "evaluation": {"bootstrap": {"resamples": resamples}, "robustness": None, "latency": None},
        "policy": "policy.yaml",
    }
    (folder / f"release-{resamples}.yaml").write_text(yaml.safe_dump(manifest))
    return folder


def _write_release(folder: Path, rows: int, hidden: int, row_groups: int) -> None:
    import torch
    from safetensors.torch import save_file

    partial = folder.with_name(folder.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    (partial / "arch.py").write_text(ARCH)
    (partial / "policy.yaml").write_text(yaml.safe_dump(POLICY))
    namespace: dict = {}
    exec(compile(ARCH, "arch.py", "exec"), namespace)  # the very class the gate will import from arch.py
    torch.manual_seed(0)
    baseline = namespace["WideMLP"](hidden=hidden)
    save_file({k: v.contiguous() for k, v in baseline.state_dict().items()}, str(partial / "baseline.safetensors"))
    pruned = {}
    for k, v in baseline.state_dict().items():
        if k.endswith("weight"):  # the 50% smallest magnitudes of each Linear's weight zeroed
            v = torch.where(v.abs() > v.abs().flatten().median(), v, torch.zeros_like(v))
        pruned[k] = v.contiguous()
    save_file(pruned, str(partial / "pruned.safetensors"))
    rng = np.random.default_rng(rows)
    x = rng.normal(size=(rows, FEATURES)).astype(np.float32)
    with torch.inference_mode():
        logits = baseline(torch.from_numpy(x)).numpy()
    table = pa.table({**{f"x{i}": x[:, i] for i in range(FEATURES)},
                      "label": (logits[:, 1] + 0.1 * rng.normal(size=rows) > logits[:, 0]).astype(np.int64),
                      "group": np.array(["a", "b", "c"])[rng.integers(0, 3, rows)]})
    pq.write_table(table, partial / "eval.parquet", row_group_size=-(-rows // row_groups))
    shutil.rmtree(folder, ignore_errors=True)
    partial.rename(folder)


def phase_seconds(log: str, phase: str = SCORING) -> float | None:
    """Seconds from the phase line starting with ``phase`` to the next phase line of a check's log (None if
    absent)."""
    times = [(float(m.group(1)), m.group(2)) for line in log.splitlines() if (m := PHASE.match(line.strip()))]
    for (start, name), (end, _) in itertools.pairwise(times):
        if name.startswith(phase):
            return end - start
    return None


def worker_torch_threads() -> int:
    """How many threads torch uses inside a worker of the local cluster the engine starts (``DaskEngine``)."""
    from governance.evidence.distributed import DaskEngine

    def threads() -> int:  # defined here, so it is pickled by value (the worker need not import this file)
        import torch

        return int(torch.get_num_threads())

    with DaskEngine(workers=1)._client() as client:
        return int(client.submit(threads, pure=False).result())


def workers_table(rows: int, resamples: int = 1000, workers: tuple[int, ...] = WORKERS,
                  repeats: int = REPEATS, hidden: int = HIDDEN,
                  row_groups: int = ROW_GROUPS) -> list[dict[str, float]]:
    """Print the table: ``repeats`` rounds of one check per worker count (interleaved, so a slow spell of a shared
    machine falls on every count alike), the median of each; the 2-worker ratio against the target last."""
    folder = workers_release(rows, resamples, hidden, row_groups)
    partitions = pq.ParquetFile(folder / "eval.parquet").metadata.num_row_groups
    runs: dict[int, list[dict[str, float]]] = {n: [] for n in workers}
    with tempfile.TemporaryDirectory(prefix="scale-workers-") as tmp:
        for _round, n in itertools.product(range(repeats), workers):
            log = Path(tmp) / f"check-{n}.log"
            argv = [sys.executable, "-m", "governance", "check", str(folder / f"release-{resamples}.yaml"),
                    "--out", str(Path(tmp) / f"out-{n}"), "--engine", "dask", "--workers", str(n)]
            run = measured(argv, log)
            text = log.read_text(errors="replace")
            scoring, startup = phase_seconds(text, SCORING), phase_seconds(text, STARTUP)
            if scoring is None or startup is None:
                raise RuntimeError(f"no '{SCORING}' or '{STARTUP}' phase line in the check's output:\n{text[-2000:]}")
            runs[n].append({"workers": n, "startup_s": startup, "scoring_s": scoring, **run})
    threads = worker_torch_threads()
    medians = [{"workers": n, **{k: statistics.median(r[k] for r in runs[n]) for k in ("startup_s", "scoring_s",
                                                                                         "wall_s")}}
               for n in workers]
    one = next((r for r in medians if r["workers"] == 1), medians[0])
    print(f"### Dask workers: torch MLP {FEATURES} -> {hidden} -> {hidden} -> 2, {rows:,} rows in {partitions} "
          f"partitions, {resamples} resamples, single-threaded workers (torch threads per worker: {threads}), "
          f"median of {repeats} interleaved runs\n")
    print("| workers | start-up wait s | scoring s | scoring rows/s | scoring vs 1 | start-up + scoring vs 1 | "
          "check s | check rows/s | check vs 1 |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in medians:
        both = r["startup_s"] + r["scoring_s"]
        print(f"| {r['workers']} | {r['startup_s']:.1f} | {r['scoring_s']:.1f} | {rows / r['scoring_s']:,.0f} | "
              f"{one['scoring_s'] / r['scoring_s']:.2f}x | {(one['startup_s'] + one['scoring_s']) / both:.2f}x | "
              f"{r['wall_s']:.1f} | {rows / r['wall_s']:,.0f} | {one['wall_s'] / r['wall_s']:.2f}x |")
    print("\nScoring seconds of each run: " + "; ".join(
        f"{n} worker{'s' if n > 1 else ''}: " + ", ".join(f"{r['scoring_s']:.1f}" for r in runs[n]) for n in workers))
    two = next((r for r in medians if r["workers"] == 2), None)
    if two is not None and one["workers"] == 1:
        ratio = one["scoring_s"] / two["scoring_s"]
        with_startup = (one["startup_s"] + one["scoring_s"]) / (two["startup_s"] + two["scoring_s"])
        paired = [a["scoring_s"] / b["scoring_s"] for a, b in zip(runs[1], runs[2])]
        print(f"\nTarget: 2 workers >= {TARGET_RATIO}x the scoring throughput of 1 (medians): {ratio:.2f}x, "
              f"{'met' if ratio >= TARGET_RATIO else 'not met'} ({os.cpu_count()} cores here); "
              f"with the start-up wait: {with_startup:.2f}x; round by round: "
              + ", ".join(f"{p:.2f}x" for p in paired))
    else:
        print(f"\nTarget: 2 workers >= {TARGET_RATIO}x the scoring throughput of 1: not measured here")
    if threads != 1:
        print(f"Warning: torch uses {threads} threads in each worker, so the workers share cores")
    return medians


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=500_000)
    ap.add_argument("--resamples", type=int, default=1000)
    ap.add_argument("--workers", type=int, nargs="+", default=list(WORKERS))
    ap.add_argument("--repeats", type=int, default=REPEATS, help="rounds of checks, interleaved (median reported)")
    ap.add_argument("--hidden", type=int, default=HIDDEN, help="units in each of the two hidden layers")
    ap.add_argument("--row-groups", type=int, default=ROW_GROUPS, help="row groups of the data (the partitions)")
    args = ap.parse_args()
    if args.row_groups < 1 or args.hidden < 1:
        ap.error("--row-groups and --hidden must be at least 1")
    workers_table(args.rows, args.resamples, tuple(args.workers), max(1, args.repeats), args.hidden,
                  args.row_groups)


if __name__ == "__main__":
    main()
