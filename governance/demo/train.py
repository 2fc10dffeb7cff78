"""Train the demo's baseline on Adult and derive pruned candidates with ``torch.nn.utils.prune``.

Everything is seeded and runs on the CPU. Each candidate starts from a copy of the trained baseline, is pruned,
fine-tuned briefly *with the pruning mask still attached* (so pruned weights stay zero while the others adapt),
and the mask is then baked in with ``prune.remove``. The structured candidate goes one step further: the
neurons it pruned are cut out, giving a genuinely narrower network (a smaller file, fewer multiply-adds).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import arch

SENSITIVE = ["sex", "race", "age_group"]
TARGET = "income"


@dataclass(frozen=True)
class Settings:
    """How much data and training: the full demo, or ``--quick`` (for tests)."""

    train_rows: int | None  # None: the whole train split
    eval_rows: int | None  # None: the whole test split
    epochs: int
    fine_tune_epochs: int
    batch: int = 512
    lr: float = 2e-3
    fine_tune_lr: float = 1e-3


FULL = Settings(train_rows=None, eval_rows=None, epochs=10, fine_tune_epochs=3)
QUICK = Settings(train_rows=6000, eval_rows=4000, epochs=2, fine_tune_epochs=1)


@dataclass(frozen=True)
class Candidate:
    """A pruning recipe: its name, what it does, and the numbers the card and provenance record."""

    name: str
    method: str
    amount: float
    structured: bool = False
    scope: str = "the weight tensors of all 3 Linear layers (biases and buffers untouched)"
    settings: dict = field(default_factory=dict)


CANDIDATES = [
    Candidate("magnitude-50", "global magnitude pruning (torch.nn.utils.prune.global_unstructured, L1)", 0.5),
    Candidate("magnitude-80", "global magnitude pruning (torch.nn.utils.prune.global_unstructured, L1)", 0.8),
    Candidate("magnitude-95", "global magnitude pruning (torch.nn.utils.prune.global_unstructured, L1)", 0.95),
    Candidate("neurons-50", "structured pruning of neurons (torch.nn.utils.prune.ln_structured, L2 norm of each "
                            "neuron's incoming weights, dim=0), then the pruned neurons cut out", 0.5, structured=True,
              scope="the neurons (rows of weight, and their bias) of both hidden Linear layers; the next layer's "
                    "matching input columns are removed with them"),
]


# --- data ---------------------------------------------------------------------------------------------------
def encode(table: pa.Table) -> pa.Table:
    """The network's inputs: numeric columns as they are, categorical columns as codes (0 = missing)."""
    columns: dict[str, pa.Array] = {}
    for name in arch.NUMERIC:
        columns[name] = pc.cast(table.column(name), pa.float64())
    for name, vocabulary in arch.CATEGORIES.items():
        index = pc.index_in(table.column(name), value_set=pa.array(vocabulary))
        columns[name] = pc.cast(pc.fill_null(pc.add(index, 1), 0), pa.int16())
    return pa.table(columns)


def split(table: pa.Table, which: str, rows: int | None, seed: int) -> pa.Table:
    """One split of the Adult table; ``rows`` draws a seeded random subset (kept in file order)."""
    part = table.filter(pc.equal(table.column("split"), which))
    if rows is not None and rows < part.num_rows:
        keep = np.sort(np.random.default_rng(seed).choice(part.num_rows, size=rows, replace=False))
        part = part.take(pa.array(keep))
    return part


def frame(part: pa.Table) -> pa.Table:
    """What the gate reads: the encoded features, the target and the sensitive columns."""
    features = encode(part)
    for name in (TARGET, *SENSITIVE):
        features = features.append_column(name, part.column(name))
    return features


def tensors(frame_: pa.Table):
    import torch

    x = np.column_stack([frame_.column(c).to_numpy().astype(np.float32) for c in arch.FEATURES])
    y = frame_.column(TARGET).to_numpy().astype(np.int64)
    return torch.from_numpy(x), torch.from_numpy(y)


# --- training -----------------------------------------------------------------------------------------------
Tick = Callable[[], None]


def _epochs(model, x, y, epochs: int, lr: float, batch: int, seed: int, tick: Tick | None) -> None:
    import torch

    optimiser = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)
    loss_fn = torch.nn.CrossEntropyLoss()
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        h = model.encode(x)  # the fixed preprocessing has no trainable parameters: encode the rows once
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(x), generator=generator)
        for start in range(0, len(x), batch):
            idx = order[start : start + batch]
            optimiser.zero_grad()
            loss_fn(model.head(h[idx]), y[idx]).backward()
            optimiser.step()
        if tick is not None:
            tick()
    model.eval()


def train_baseline(x, y, settings: Settings, seed: int, tick: Tick | None = None):
    import torch

    torch.manual_seed(seed)
    model = arch.build()
    with torch.no_grad():  # the fixed preprocessing: statistics of the training rows, saved as buffers
        num = x[:, : len(arch.NUMERIC)]
        num = torch.where(model.log1p, torch.log1p(num.clamp_min(0)), num)
        model.mean.copy_(num.mean(dim=0))
        model.scale.copy_(num.std(dim=0).clamp_min(1e-6))
    _epochs(model, x, y, settings.epochs, settings.lr, settings.batch, seed, tick)
    return model


def prune_candidate(baseline, candidate: Candidate, x, y, settings: Settings, seed: int, tick: Tick | None = None):
    """A pruned, fine-tuned copy of ``baseline`` (masks baked in; structured: physically narrower)."""
    import torch
    from torch.nn.utils import prune

    torch.manual_seed(seed)
    model = copy.deepcopy(baseline)
    layers = list(model.layers)
    if candidate.structured:
        for layer in layers[:-1]:  # hidden layers only: the output layer keeps its two logits
            prune.ln_structured(layer, "weight", amount=candidate.amount, n=2, dim=0)
            rows = layer.weight_mask[:, 0].clone()  # 1 for kept neurons
            prune.custom_from_mask(layer, "bias", mask=rows)  # a dead neuron must output relu(0) = 0
    else:
        prune.global_unstructured([(layer, "weight") for layer in layers], pruning_method=prune.L1Unstructured,
                                  amount=candidate.amount)
    _epochs(model, x, y, settings.fine_tune_epochs, settings.fine_tune_lr, settings.batch, seed + 1, tick)
    for layer in layers:
        for name in ("weight", "bias"):
            if hasattr(layer, f"{name}_orig"):
                prune.remove(layer, name)
    return shrink(model) if candidate.structured else model


def shrink(model):
    """Cut out the neurons whose weights and bias are all zero: the same function, a narrower network."""
    import torch

    layers = list(model.layers)
    keep = [torch.nonzero((layer.weight != 0).any(dim=1) | (layer.bias != 0)).flatten() for layer in layers[:-1]]
    smaller = arch.build(hidden=[len(k) for k in keep])
    smaller.mean.copy_(model.mean)
    smaller.scale.copy_(model.scale)
    with torch.no_grad():
        previous = None
        for i, (old, new) in enumerate(zip(layers, smaller.layers)):
            rows = keep[i] if i < len(keep) else torch.arange(old.out_features)
            weight = old.weight[rows]
            if previous is not None:
                weight = weight[:, previous]
            new.weight.copy_(weight)
            new.bias.copy_(old.bias[rows])
            previous = rows
    return smaller.eval()


def hidden_sizes(model) -> list[int]:
    return [layer.out_features for layer in list(model.layers)[:-1]]


def accuracy(model, x, y) -> float:
    import torch

    with torch.inference_mode():
        return float((model(x).argmax(dim=1) == y).float().mean())


def save(model, path) -> None:
    from safetensors.torch import save_file

    save_file({k: v.detach().contiguous() for k, v in model.state_dict().items()}, str(path))


def weight_sparsity(model) -> float:
    """Fraction of zeros over the Linear weights (the tensors magnitude pruning was applied to)."""
    zeros = sum(int((layer.weight == 0).sum()) for layer in model.layers)
    total = sum(layer.weight.numel() for layer in model.layers)
    return zeros / total
