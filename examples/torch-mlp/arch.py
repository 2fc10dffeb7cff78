"""The network of the torch example: standardise the inputs, two hidden layers, two logits.

The gate rebuilds it from ``release.yaml`` (``architecture: "arch:CreditMLP"``, a class in this file) and loads
the weights from a safetensors file, so no pickled code is ever loaded. The input standardisation is part of the network
(two buffers saved with the weights), so the raw columns of eval.csv go straight in.
"""

from __future__ import annotations

import torch
from torch import nn


class Standardize(nn.Module):
    def __init__(self, n_features: int) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(n_features))
        self.register_buffer("scale", torch.ones(n_features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.scale


class CreditMLP(nn.Sequential):
    """``n_features`` inputs -> ``hidden`` -> ``hidden`` -> 2 logits (class 0 = default, class 1 = repaid).

    A ``Sequential`` subclass, so the state-dict keys (``0.mean``, ``1.weight``, ...) are those of the plain
    ``nn.Sequential`` the committed safetensors files were saved from."""

    def __init__(self, n_features: int = 6, hidden: int = 32) -> None:
        super().__init__(
            Standardize(n_features),
            nn.Linear(n_features, hidden),
            nn.ReLU(),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Linear(hidden, 2),
        )
