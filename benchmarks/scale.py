"""Evidence at scale (issue 10): one function per table, each printing one Markdown table.

    PYTHONPATH=. python benchmarks/scale.py                           # every table, at the issue's sizes
    PYTHONPATH=. python benchmarks/scale.py --table classes --rows 100000

``classes``: K in {2, 10, 100, 1000} classes on the same rows (default 1,000,000) and 3 groups, with the default
1000 resamples. Synthetic, seeded: labels uniform over K, the baseline right 80% of the time (else a uniform
class), the candidate agreeing with it 95% of the time. Each K runs in its own process so its peak RSS is its
own. Columns: fold (both models' probabilities into the accumulator, chunks of 8,192 rows, the probabilities
generated per chunk and not timed; ROC AUC on, as by default: exact up to its budget, then binned), point (every
metric of overall, group and class slices, both models), bootstrap (1000 resamples of every slice and class slice),
the occurring joint combinations, and peak RSS. The
last lines state the ratios the issue targets: K=100 / K=2 total time (<= 4x) and K=1000 peak RSS (< 2 GB).

``classes-check``: the whole ``governance check`` of the same rows for K = 2, 100 and 1,000 with a torch MLP
(16-256-256-K; the candidate its 50% magnitude-pruned copy), robustness and latency off: wall and CPU seconds and
peak RSS. The model's body costs the same for every K, so the ratio is what K costs a real check.

``memory`` (benchmarks/scale_memory.py), ``stages`` (scale_stages.py), ``workers`` (scale_workers.py) and ``slices``
(scale_slices.py): peak RSS by rows, governance overhead over raw inference per stage, Dask throughput by workers,
and many slices; each module's docstring says what it measures, and each runs alone too.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from governance.evidence.accumulator import Accumulator, SliceRef
from governance.evidence.bootstrap import resample_metrics

sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchmarks/ is not a package
from gate_run import measured

CLASSES = (2, 10, 100, 1000)
GROUPS = 3
CHUNK = 8192


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _smoothed(pred: np.ndarray, k: int, conf: np.ndarray) -> np.ndarray:
    """Probabilities whose top class is ``pred`` with confidence ``conf``, the rest spread evenly."""
    p = np.repeat(((1 - conf) / (k - 1))[:, None], k, axis=1)
    p[np.arange(len(pred)), pred] = conf
    return p


def classes_run(k: int, rows: int, resamples: int, seed: int = 0) -> dict[str, float]:
    """Fold, point metrics and bootstrap for one K: seconds per stage, combinations, peak RSS (MB)."""
    rng = np.random.default_rng(seed)
    acc = Accumulator(k, 1 if k == 2 else None)  # the defaults: ROC AUC exact up to its budget, then binned
    ids = acc.cell_ids([(f"g{i}",) for i in range(GROUPS)])
    fold = 0.0
    for start in range(0, rows, CHUNK):
        n = min(CHUNK, rows - start)
        y = rng.integers(0, k, n)
        base = np.where(rng.random(n) < 0.8, y, rng.integers(0, k, n))
        cand = np.where(rng.random(n) < 0.95, base, rng.integers(0, k, n))
        pb, pc = _smoothed(base, k, rng.uniform(0.5, 1.0, n)), _smoothed(cand, k, rng.uniform(0.5, 1.0, n))
        cells = ids[rng.integers(0, GROUPS, n)]
        t = time.perf_counter()
        acc.update(cells, y, pb, pc, rows=start + np.arange(n))
        fold += time.perf_counter() - t
    everything = list(range(GROUPS))
    slices = {"overall": SliceRef(everything), **{f"g{i}": SliceRef([i]) for i in range(GROUPS)},
              **{f"class {j}": SliceRef(everything, j) for j in range(k)}}
    t = time.perf_counter()
    for model in (0, 1):  # as collect does: one batch per dimension
        acc.metrics_many({"overall": slices["overall"]}, model)
        acc.metrics_many({name: ref for name, ref in slices.items() if name.startswith("g")}, model)
        acc.metrics_many({name: ref for name, ref in slices.items() if name.startswith("class")}, model)
    point = time.perf_counter() - t
    t = time.perf_counter()
    resample_metrics(acc, slices, resamples, seed=0)
    boot = time.perf_counter() - t
    return {"k": k, "fold_s": fold, "point_s": point, "bootstrap_s": boot,
            "combinations": len(acc.combinations()[0]), "peak_rss_mb": _peak_rss_mb()}


def classes_table(rows: int, resamples: int, ks: tuple[int, ...] = CLASSES) -> list[dict[str, float]]:
    """One process per K (so peak RSS is per K); prints the table and the two target ratios."""
    results = []
    for k in ks:
        out = subprocess.run([sys.executable, __file__, "--one-k", str(k), "--rows", str(rows),
                              "--resamples", str(resamples)], check=True, capture_output=True, text=True,
                             env=None, cwd=Path(__file__).resolve().parent.parent)
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    print(f"### Classes: {rows:,} rows, {GROUPS} groups, {resamples} resamples\n")
    print("| K | fold s | point metrics s | bootstrap s | total s | combinations | peak RSS MB |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        total = r["fold_s"] + r["point_s"] + r["bootstrap_s"]
        print(f"| {r['k']} | {r['fold_s']:.2f} | {r['point_s']:.2f} | {r['bootstrap_s']:.2f} | {total:.2f} | "
              f"{r['combinations']:,} | {r['peak_rss_mb']:.0f} |")
    by_k = {r["k"]: r for r in results}
    if 2 in by_k and 100 in by_k:
        def total(r: dict[str, float]) -> float:
            return r["fold_s"] + r["point_s"] + r["bootstrap_s"]
        print(f"\nK=100 / K=2 total time: {total(by_k[100]) / total(by_k[2]):.1f}x (target <= 4x)")
    if 1000 in by_k:
        print(f"K=1000 peak RSS: {by_k[1000]['peak_rss_mb']:.0f} MB (target < 2048 MB)")
    return results


ARCH = '''"""The benchmark's network: ``n_features`` -> hidden -> hidden -> ``k`` logits."""
from torch import nn


class Net(nn.Sequential):
    def __init__(self, n_features: int = 16, hidden: int = 256, k: int = 2) -> None:
        super().__init__(nn.Linear(n_features, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                         nn.Linear(hidden, k))
'''
FEATURES = 16


def _check_release(folder: Path, k: int, rows: int, resamples: int) -> Path:
    """A torch MLP release with a ``k``-way head (the candidate: its weights 50% magnitude-pruned), ``rows`` rows of
    Parquet evaluation data (labels: the baseline's argmax, 20% replaced by a uniform class), 3 groups."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    import torch
    import yaml
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "arch.py").write_text(ARCH)
    sys.path.insert(0, str(folder))
    from arch import Net  # type: ignore[import-not-found]

    sys.path.pop(0)
    torch.manual_seed(0)
    net = Net(FEATURES, 256, k).eval()
    save_file({n: t.contiguous() for n, t in net.state_dict().items()}, str(folder / "baseline.safetensors"))
    pruned = {n: (t * (t.abs() > t.abs().median()) if t.ndim == 2 else t).contiguous() for n, t in
              net.state_dict().items()}
    save_file(pruned, str(folder / "candidate.safetensors"))
    rng = np.random.default_rng(0)
    writer = None
    for start in range(0, rows, 250_000):
        n = min(250_000, rows - start)
        x = rng.normal(size=(n, FEATURES)).astype(np.float32)
        with torch.no_grad():
            y = net(torch.from_numpy(x)).argmax(1).numpy()
        y = np.where(rng.random(n) < 0.2, rng.integers(0, k, n), y)
        table = pa.table({**{f"x{i}": x[:, i] for i in range(FEATURES)}, "label": y,
                          "group": np.array(["a", "b", "c"])[rng.integers(0, 3, n)]})
        writer = writer or pq.ParquetWriter(folder / "eval.parquet", table.schema)
        writer.write_table(table, row_group_size=250_000)
    assert writer is not None
    writer.close()
    (folder / "policy.yaml").write_text(yaml.safe_dump({"name": "bench", "rules": [
        {"id": "ACC", "kind": "metric_drop", "metric": "accuracy", "max_drop": 1.0, "severity": "block",
         "rmf": ["MEASURE 2.3"]}]}))
    model = {"format": "torch", "architecture": "arch:Net",
             "architecture_kwargs": {"n_features": FEATURES, "hidden": 256, "k": k}}
    release = {"name": f"k{k}", "version": "1", "classes": list(range(k)),
               "task": "binary_classification" if k == 2 else "multiclass_classification",
               "baseline": {"path": "baseline.safetensors", **model},
               "candidate": {"path": "candidate.safetensors", **model},
               "data": {"path": "eval.parquet", "target": "label", "sensitive": ["group"]},
               "policy": "policy.yaml",
               "evaluation": {"bootstrap": {"resamples": resamples}, "robustness": None, "latency": None}}
    if k == 2:
        release["positive_label"] = 1
    path = folder / "release.yaml"
    path.write_text(yaml.safe_dump(release, sort_keys=False))
    return path


def classes_check_table(rows: int, resamples: int, ks: tuple[int, ...] = (2, 100, 1000)) -> None:
    """The whole ``governance check`` of the same rows with a K-way head: wall seconds, CPU seconds, peak RSS."""
    import tempfile

    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for k in ks:
            manifest = _check_release(Path(tmp) / f"k{k}", k, rows, resamples)
            run = measured([sys.executable, "-m", "governance", "check", str(manifest), "--out",
                            str(manifest.parent / "out")], manifest.parent / "check.log")
            results.append({"k": k, "wall": run["wall_s"], "cpu": run["cpu_s"], "rss": run["peak_rss_mb"]})
    print(f"### Classes, whole check: {rows:,} rows, torch MLP {FEATURES}-256-256-K, {resamples} resamples, "
          "robustness and latency off\n")
    print("| K | check wall s | check CPU s | peak RSS MB |")
    print("|---:|---:|---:|---:|")
    for r in results:
        print(f"| {r['k']} | {r['wall']:.1f} | {r['cpu']:.1f} | {r['rss']:.0f} |")
    by_k = {r["k"]: r for r in results}
    if 2 in by_k and 100 in by_k:
        print(f"\nK=100 / K=2 whole check: {by_k[100]['wall'] / by_k[2]['wall']:.1f}x wall, "
              f"{by_k[100]['cpu'] / by_k[2]['cpu']:.1f}x CPU (target <= 4x)")
    if 1000 in by_k:
        print(f"K=1000 whole check peak RSS: {by_k[1000]['rss']:.0f} MB (target < 2048 MB)")


def _memory(a: argparse.Namespace) -> None:
    from scale_memory import ROWS, memory_table

    memory_table([a.rows] if a.rows else list(ROWS), a.resamples)


def _stages(a: argparse.Namespace) -> None:
    from scale_stages import stages_table

    stages_table(a.rows or 1_000_000, a.resamples)


def _workers(a: argparse.Namespace) -> None:
    from scale_workers import workers_table

    workers_table(a.rows or 500_000, a.resamples)


def _slices(a: argparse.Namespace) -> None:
    from scale_slices import slices_table

    slices_table(a.rows or 20_000)


#: each table's own default size when --rows is not given: classes 1M rows, memory 1M/5M/20M, stages 1M rows, workers
#: 500,000 rows, slices 20,000 rows (the tests' size)
TABLES = {"classes": lambda a: classes_table(a.rows or 1_000_000, a.resamples),
          "classes-check": lambda a: classes_check_table(a.rows or 1_000_000, a.resamples),
          "memory": _memory, "stages": _stages, "workers": _workers, "slices": _slices}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--table", choices=sorted(TABLES), action="append", help="which table(s); default: all")
    ap.add_argument("--rows", type=int, help="rows of every table (default: each table's own, see TABLES)")
    ap.add_argument("--resamples", type=int, default=1000)
    ap.add_argument("--one-k", type=int, help=argparse.SUPPRESS)  # internal: one K in its own process
    args = ap.parse_args()
    if args.one_k is not None:
        print(json.dumps(classes_run(args.one_k, args.rows or 1_000_000, args.resamples)))
        return
    for name in args.table or sorted(TABLES):
        TABLES[name](args)


if __name__ == "__main__":
    main()
