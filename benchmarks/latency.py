"""Measured efficiency of pruned MLPs: unstructured (zeros in dense tensors) against structured (smaller layers).

    PYTHONPATH=. python benchmarks/latency.py                         # 64 -> 1024 -> 1024 -> 2, batch 1 and 256
    PYTHONPATH=. python benchmarks/latency.py --hidden 256 --repeats 15 --threads 1

Every candidate goes through the gate's own path: weights saved as safetensors, loaded with
``load_model`` (format ``torch``), measured with ``measure_efficiency`` against the dense baseline, so the
latency is that of ``predict_proba`` on Arrow batches (conversion included), baseline and candidate
interleaved. Candidates:

* **unstructured p%**: ``torch.nn.utils.prune.l1_unstructured(amount=p)`` on every Linear weight, then
  ``prune.remove``: the same dense tensors with p% of the weights set to zero;
* **structured p%**: p% of the neurons of each hidden layer removed (lowest L1 norm of incoming weights) and
  the network rebuilt with the smaller hidden width: a genuinely smaller architecture.

The weights are random (latency and size do not depend on training). The dense model is also timed against
itself: its "speedup" shows how far from 1.00x machine noise alone moves the ratio. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import textwrap
from pathlib import Path

import numpy as np
import pyarrow as pa

from governance.evidence.efficiency import measure_efficiency
from governance.manifest import LatencySpec, ModelSpec
from governance.models import load_model

ARCH = """
import torch

class Net(torch.nn.Sequential):
    def __init__(self, in_features, hidden, out=2):
        super().__init__(
            torch.nn.Linear(in_features, hidden), torch.nn.ReLU(),
            torch.nn.Linear(hidden, hidden), torch.nn.ReLU(),
            torch.nn.Linear(hidden, out),
        )

def build(in_features, hidden, out=2):
    return Net(in_features, hidden, out)
"""


def unstructured(model, amount: float):
    import torch
    from torch.nn.utils import prune

    for layer in model:
        if isinstance(layer, torch.nn.Linear):
            prune.l1_unstructured(layer, name="weight", amount=amount)
            prune.remove(layer, "weight")
    return model


def structured(dense, build, in_features: int, amount: float):
    """Keep the (1 - amount) share of hidden neurons with the largest incoming L1 norm, in a smaller network."""
    import torch

    hidden = dense[0].out_features
    keep = max(1, round(hidden * (1 - amount)))
    small = build(in_features, keep).eval()
    with torch.no_grad():
        first = dense[0].weight.abs().sum(1).topk(keep).indices.sort().values
        second = dense[2].weight[:, first].abs().sum(1).topk(keep).indices.sort().values
        small[0].weight.copy_(dense[0].weight[first])
        small[0].bias.copy_(dense[0].bias[first])
        small[2].weight.copy_(dense[2].weight[second][:, first])
        small[2].bias.copy_(dense[2].bias[second])
        small[4].weight.copy_(dense[4].weight[:, second])
        small[4].bias.copy_(dense[4].bias)
    return small, keep


def _kib(n: int) -> str:
    return f"{n / 1024:,.0f} KiB"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--features", type=int, default=64)
    ap.add_argument("--hidden", type=int, default=1024)
    ap.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 256])
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=None,
                    help="torch intra-op threads (default: torch's own); 1 is steadier on a shared machine")
    args = ap.parse_args(argv)

    import torch
    from safetensors.torch import save_file

    if args.threads:
        torch.set_num_threads(args.threads)

    folder = Path(tempfile.mkdtemp(prefix="latency-bench-"))
    (folder / "bench_mlp_arch.py").write_text(textwrap.dedent(ARCH))
    sys.path.insert(0, str(folder))
    from bench_mlp_arch import build

    torch.manual_seed(args.seed)
    dense = build(args.features, args.hidden).eval()
    models = {"dense": (dense, args.hidden)}  # timed against itself: its speedup is the noise floor
    for amount in (0.5, 0.9):
        clone = build(args.features, args.hidden).eval()
        clone.load_state_dict(dense.state_dict())
        models[f"unstructured {amount:.0%}"] = (unstructured(clone, amount), args.hidden)
    for amount in (0.5, 0.9):
        models[f"structured {amount:.0%}"] = structured(dense, build, args.features, amount)

    adapters, paths = {}, {}
    for i, (name, (model, hidden)) in enumerate(models.items()):
        paths[name] = folder / f"model{i}.safetensors"
        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, paths[name])
        spec = ModelSpec(path=paths[name].name, format="torch", architecture="bench_mlp_arch:Net",
                         architecture_kwargs={"in_features": args.features, "hidden": hidden})
        adapters[name] = load_model(spec, paths[name], field=name, manifest=folder / "release.yaml")

    rng = np.random.default_rng(args.seed)
    sample = pa.table({f"f{j}": rng.normal(size=max(args.batch_sizes)) for j in range(args.features)})
    latency = LatencySpec(batch_sizes=args.batch_sizes, repeats=args.repeats, warmup=args.warmup)

    rows = []
    hardware = method = ""
    for name in models:
        # each candidate is timed interleaved with the dense baseline, exactly as the gate does it
        eff = measure_efficiency({"baseline": adapters["dense"], "candidate": adapters[name]},
                                 {"baseline": paths["dense"], "candidate": paths[name]}, sample, latency)
        hardware, method = eff.hardware, eff.method
        rows.append((name, models[name][1], eff))

    sizes = args.batch_sizes
    print(f"MLP {args.features} -> {args.hidden} -> {args.hidden} -> 2, float32, random weights; "
          f"{args.repeats} timed calls per batch size after {args.warmup} warm-up calls.\n")
    print(f"Hardware: {hardware}\n")
    head = ["model", "hidden", "parameters", "non-zeros", "sparsity", "MACs/row dense", "MACs/row effective",
            "gzip size", "compression"]
    head += [f"median ms @{b}" for b in sizes] + [f"speedup @{b}" for b in sizes]
    print("| " + " | ".join(head) + " |")
    print("|---|" + "---:|" * (len(head) - 1))
    for name, hidden, eff in rows:
        c = eff.models["candidate"]
        lat = {s.batch_size: s for s in c.latency}
        label = "dense (vs itself: noise floor)" if name == "dense" else name
        cells = [label, str(hidden), f"{c.parameters:,}", f"{c.nonzero_parameters:,}", f"{c.sparsity:.1%}",
                 f"{c.macs_dense:,}", f"{c.macs_effective:,}", _kib(c.bytes_gzip), f"{eff.compression_ratio:.2f}x"]
        cells += [f"{lat[b].median_ms:.3f}" for b in sizes]
        cells += [f"{eff.speedup[str(b)]:.2f}x" for b in sizes]
        print("| " + " | ".join(cells) + " |")
    print(f"\nSpeedup = dense median / candidate median, measured in the same interleaved run; "
          f"compression = dense gzip size / candidate gzip size.\n\nMethod: {method}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
