"""Efficiency that is measured, not claimed: sizes, sparsity, multiply-adds and latency of both models.

Pruning papers report "x% sparse" and "y times smaller" in ways that are hard to compare (Blalock et al.
2020). This module states every number with what it is over:

* **sparsity**: fraction of zeros over exactly the tensors named in ``sparsity_scope`` (torch: all
  parameter tensors, buffers excluded; scikit-learn linear models: ``coef_`` and ``intercept_``; ONNX:
  floating-point initializers). Trees have no weight tensors: parameters and sparsity stay None and the
  scope reports node and leaf counts instead.
* **multiply-adds per row**: ``macs_dense`` as if every weight were used, ``macs_effective`` over
  non-zero weights only (a theoretical bound a sparse kernel could reach; dense CPU kernels do not).
* **bit width**: ``weight_bits``, the narrowest stored element type of the weight tensors (ONNX: read from the
  graph, 8 for an int8/uint8 graph from ``onnxruntime.quantization``, whose quantized weights also count as
  parameters, zero where they equal their zero point); None for formats that do not report it.
* **size**: the model file's bytes and its gzip size (``gzip`` level 9, ``mtime=0`` so the number is
  reproducible). Unstructured pruning leaves a dense file of the same size whose zeros compress, so the
  gzip size is what shows it; structured pruning shrinks both.
* **latency**: wall time of the adapter's ``predict_proba`` on a batch cut from the evaluation sample
  (rows repeated when the sample is smaller), ``warmup`` untimed calls, then ``repeats`` timed calls per
  model, baseline and candidate interleaved so machine noise (frequency scaling, other processes) hits
  both alike and cancels in the speedup. Never assumed from sparsity: a 90%-sparse dense MLP usually runs
  as fast as the original on CPU; only genuinely smaller layers run faster.

Adapters report their own facts when they have the ``EfficiencyFacts`` capability (governance/models/protocols.py,
checked with ``isinstance``); adapters that cannot be re-run (not ``Rescorable``: precomputed predictions) get
sizes only and are not timed.
"""

from __future__ import annotations

import contextlib
import gzip
import os
import platform
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from ..models.protocols import EfficiencyFacts, ModelAdapter, Rescorable, WholeBatch
from .schema import ROLES, Efficiency, LatencyStats, ModelEfficiency

if TYPE_CHECKING:
    from ..manifest import LatencySpec

GZIP_LEVEL = 9
_READ_BLOCK = 1 << 20


class _CountingSink:
    """A write-only file object that only counts bytes: gzip sizes of large models without holding them."""

    def __init__(self) -> None:
        self.bytes = 0

    def write(self, data: bytes) -> int:
        self.bytes += len(data)
        return len(data)

    def flush(self) -> None:
        return None


def gzip_size(path: Path, level: int = GZIP_LEVEL) -> int:
    """Bytes of ``gzip.compress(file, level, mtime=0)``, streamed in 1 MiB blocks."""
    sink = _CountingSink()
    with open(path, "rb") as src, gzip.GzipFile(fileobj=sink, mode="wb", compresslevel=level, mtime=0) as gz:
        while block := src.read(_READ_BLOCK):
            gz.write(block)
    return sink.bytes


def hardware_description(device: str = "cpu") -> str:
    """CPU model, cores available to this process, torch threads (if torch is loaded) and the GPU, if used."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        usable = os.cpu_count() or 0
    parts = [f"{cpu}", f"{usable} of {os.cpu_count()} logical CPUs usable", f"{platform.system()} {platform.machine()}"]
    if hasattr(os, "getloadavg"):  # other work on the machine is the main source of timing noise: show it
        parts.append("load average {:.2f} {:.2f} {:.2f} (1, 5, 15 min) before timing".format(*os.getloadavg()))
    torch = sys.modules.get("torch")  # only report torch when a model uses it: never import it for that
    if torch is not None:
        threads = torch.get_num_threads()
        parts.append(f"torch {torch.__version__} with {threads} intra-op thread{'s' if threads != 1 else ''}")
        if device.startswith("cuda") and torch.cuda.is_available():
            parts.append(f"GPU {torch.cuda.get_device_name(torch.device(device))}")
    ort = sys.modules.get("onnxruntime")
    if ort is not None:
        parts.append(f"onnxruntime {ort.__version__}")
    return "; ".join(parts)


def batch_of(sample: pa.Table, rows: int) -> pa.Table:
    """The first ``rows`` rows of ``sample``, repeating the sample as often as needed."""
    if sample.num_rows == 0:
        raise ValueError("an empty sample cannot make a batch")
    if sample.num_rows < rows:
        sample = pa.concat_tables([sample] * -(-rows // sample.num_rows))
    return sample.slice(0, rows).combine_chunks()


def time_interleaved(adapters: dict[str, ModelAdapter], batch: pa.Table, repeats: int, warmup: int
                     ) -> dict[str, list[int]]:
    """Nanoseconds per ``predict_proba(batch)`` call for each model, calls alternating between the models.

    Only ``Rescorable`` models can be timed (``measure_efficiency`` checks): they are called again and again.

    The order flips every round (b c, c b, b c, ...) so neither model always runs right after the other. A model
    that scores chunks in pieces (``WholeBatch``: torch on the CPU) is timed on the whole batch in one call.
    """
    order = list(adapters)
    times: dict[str, list[int]] = {role: [] for role in order}
    with contextlib.ExitStack() as whole:
        for adapter in adapters.values():
            if isinstance(adapter, WholeBatch):
                whole.enter_context(adapter.whole_batches())
        for _ in range(warmup):
            for role in order:
                adapters[role].predict_proba(batch, 0)
        for r in range(repeats):
            for role in (order if r % 2 == 0 else order[::-1]):
                start = time.perf_counter_ns()
                adapters[role].predict_proba(batch, 0)
                times[role].append(time.perf_counter_ns() - start)
    return times


def latency_stats(batch_size: int, times_ns: list[int]) -> LatencyStats:
    """Median and 95th percentile (linear interpolation) in ms; throughput from the median."""
    ms = np.asarray(times_ns, dtype=np.float64) / 1e6
    median = float(np.median(ms))
    return LatencyStats(
        batch_size=batch_size,
        repeats=len(ms),
        median_ms=median,
        p95_ms=float(np.percentile(ms, 95)),
        rows_per_s=batch_size / (max(median, 1e-6) / 1e3),  # at least 1 ns: the timer's resolution, never inf
    )


def model_facts(adapter: ModelAdapter, sample: pa.Table) -> dict[str, Any]:
    """The adapter's own size facts (``EfficiencyFacts``), or unknowns when it has none or cannot be re-run."""
    if not (isinstance(adapter, EfficiencyFacts) and isinstance(adapter, Rescorable)):
        return {}
    return dict(adapter.efficiency_facts(sample.slice(0, 1)))


def _scopes(notes: list[tuple[str, str]]) -> str:
    """'both models: X' when baseline and candidate were counted over the same kind of ops, else one per model."""
    if len(notes) == 2 and notes[0][1] == notes[1][1]:
        return f"both models: {notes[0][1]}"
    return "; ".join(f"{role}: {scope}" for role, scope in notes)


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


def measure_efficiency(adapters: dict[str, ModelAdapter], paths: dict[str, Path], sample: pa.Table,
                       spec: LatencySpec | None, device: str = "cpu") -> Efficiency:
    """Measure both models (``adapters`` and ``paths`` keyed 'baseline' and 'candidate') on ``sample``.

    ``sample`` holds feature columns only (e.g. the first chunk's ``features``); one row of it feeds the
    multiply-add count and batches of ``spec.batch_sizes`` rows are cut from it for timing. ``spec=None``
    skips timing. ``device`` is recorded: the adapters were already loaded onto it.
    """
    timeable = all(isinstance(adapters[r], Rescorable) for r in ROLES)
    notes: list[tuple[str, str]] = []
    models: dict[str, dict[str, Any]] = {}
    for role in ROLES:
        facts = model_facts(adapters[role], sample) if sample.num_rows else {}
        params, nonzero = facts.get("parameters"), facts.get("nonzero_parameters")
        models[role] = {
            "parameters": params,
            "nonzero_parameters": nonzero,
            "sparsity": (1.0 - nonzero / params) if params else None,
            "sparsity_scope": facts.get("sparsity_scope"),
            "macs_dense": facts.get("macs_dense"),
            "macs_effective": facts.get("macs_effective"),
            "weight_bits": facts.get("weight_bits"),
            "weight_format": facts.get("weight_format"),
            "tree_nodes": facts.get("tree_nodes"),
            "tree_leaves": facts.get("tree_leaves"),
            "tree_depth": facts.get("tree_depth"),
            "bytes": paths[role].stat().st_size,
            "bytes_gzip": gzip_size(paths[role]),
            "latency": [],
        }
        if facts.get("macs_scope"):
            notes.append((role, facts["macs_scope"]))

    speedup: dict[str, float] = {}
    if spec is None:
        method = "Latency not measured (evaluation.latency is null)."
    elif not timeable:
        method = ("Latency not measured: precomputed predictions cannot be re-run, so there is nothing to time.")
    elif sample.num_rows == 0:
        method = "Latency not measured: the evaluation data has no rows to time."
    else:
        for size in spec.batch_sizes:
            times = time_interleaved(adapters, batch_of(sample, size), spec.repeats, spec.warmup)
            stats = {role: latency_stats(size, times[role]) for role in ROLES}
            for role in ROLES:
                models[role]["latency"].append(stats[role])
            ratio = _ratio(stats["baseline"].median_ms, stats["candidate"].median_ms)
            if ratio is not None:
                speedup[str(size)] = ratio
        method = (
            f"Wall time (time.perf_counter_ns) of one predict_proba call on an Arrow batch of the evaluation "
            f"features (rows repeated when fewer), including conversion to the model's input; per batch size "
            f"{spec.warmup} untimed warm-up calls per model, then {spec.repeats} timed calls per model with "
            f"baseline and candidate interleaved (order flipped each round) so machine noise cancels in the "
            f"speedup; median and 95th percentile; speedup = baseline median / candidate median."
        )
    method += (" Sparsity and multiply-adds are read from the weights; multiply-adds per row count matrix "
               "multiplies and convolutions on one sample row (effective = over non-zero weights, a bound for "
               "sparse kernels, not what dense kernels do)"
               + (f": {_scopes(notes)}." if notes else "."))
    method += f" Sizes: file bytes and gzip level {GZIP_LEVEL} of the file."
    base_gz, cand_gz = models["baseline"]["bytes_gzip"], models["candidate"]["bytes_gzip"]
    return Efficiency(
        device=device,
        hardware=hardware_description(device),
        method=method,
        models={"baseline": ModelEfficiency(**models["baseline"]),
                "candidate": ModelEfficiency(**models["candidate"])},
        compression_ratio=_ratio(base_gz, cand_gz),
        size_reduction=(1.0 - cand_gz / base_gz) if base_gz else None,
        speedup=speedup,
    )
