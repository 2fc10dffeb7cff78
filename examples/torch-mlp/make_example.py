"""Build the torch example: a small MLP baseline and a copy pruned to 50% sparsity with torch.nn.utils.prune.

    python examples/torch-mlp/make_example.py

Writes, next to this script:
  eval.csv               1500 held-out applicants (same generator as examples/credit)
  baseline.safetensors   the trained MLP (architecture: arch.py, ``CreditMLP(n_features=6)``)
  pruned.safetensors     the same weights with the 50% smallest-magnitude entries of every Linear weight
                         zeroed (l1_unstructured, then prune.remove so the file is a plain state dict)

Neither model is fine-tuned after pruning: the gate decides whether one-shot pruning is good enough.
"""

from __future__ import annotations

import copy
import sys
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file
from torch import nn
from torch.nn.utils import prune

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # examples/, for the shared data generator
sys.path.insert(0, str(HERE))  # arch.py

from arch import CreditMLP  # noqa: E402
from synthetic import FEATURES, TARGET, make_credit_data  # noqa: E402

SEED = 7
EVAL_ROWS = 1500
TRAIN_ROWS = 20_000
EPOCHS = 40
BATCH = 256
SPARSITY = 0.5


def train(x: torch.Tensor, y: torch.Tensor) -> nn.Module:
    torch.manual_seed(SEED)
    model = CreditMLP(n_features=x.shape[1], hidden=32)
    model[0].mean.copy_(x.mean(dim=0))
    model[0].scale.copy_(x.std(dim=0))
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3, weight_decay=1e-4)
    loss_fn = nn.CrossEntropyLoss()
    generator = torch.Generator().manual_seed(SEED)
    for _ in range(EPOCHS):
        order = torch.randperm(len(x), generator=generator)
        for start in range(0, len(x), BATCH):
            idx = order[start : start + BATCH]
            optimiser.zero_grad()
            loss_fn(model(x[idx]), y[idx]).backward()
            optimiser.step()
    return model.eval()


def prune_copy(model: nn.Module, amount: float) -> nn.Module:
    pruned = copy.deepcopy(model)
    for module in pruned.modules():
        if isinstance(module, nn.Linear):
            prune.l1_unstructured(module, name="weight", amount=amount)
            prune.remove(module, "weight")  # bake the mask in: weight is a plain tensor with zeros again
    return pruned


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.inference_mode():
        return float((model(x).argmax(dim=1) == y).float().mean())


def main() -> None:
    torch.set_num_threads(1)  # reproducible float sums
    rng = np.random.default_rng(SEED)
    evaluation = make_credit_data(rng, EVAL_ROWS)
    training = make_credit_data(rng, TRAIN_ROWS)

    def tensors(frame):
        return (torch.tensor(frame[FEATURES].to_numpy(np.float32)), torch.tensor(frame[TARGET].to_numpy()))

    x_train, y_train = tensors(training)
    x_eval, y_eval = tensors(evaluation)
    baseline = train(x_train, y_train)
    pruned = prune_copy(baseline, SPARSITY)

    evaluation.to_csv(HERE / "eval.csv", index=False)
    for name, model in (("baseline", baseline), ("pruned", pruned)):
        state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
        save_file(state, str(HERE / f"{name}.safetensors"))
        nonzero = sum(int(torch.count_nonzero(p)) for p in model.parameters())
        total = sum(p.numel() for p in model.parameters())
        acc = accuracy(model, x_eval, y_eval)
        print(f"{name:<9} parameters={total}  non-zero={nonzero}  eval accuracy={acc:.4f}")


if __name__ == "__main__":
    main()
