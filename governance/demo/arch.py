"""The network of ``governance demo``: an MLP that predicts Adult's ``income`` (>50K) from 11 census fields.

``governance demo`` copies this file next to the release manifests it writes (as ``adult_mlp.py``), and each
manifest names the class as ``architecture: "adult_mlp:AdultMLP"`` (with ``architecture_kwargs: {hidden: [...]}``
for a structurally pruned candidate), so an output folder can be gated again on its own:
the safetensors files hold tensors only and this file is the only code.

Input: one row of floats per person, in the order of ``FEATURES``: six numeric columns as they are, then five
categorical columns as integer codes (0 = missing or unknown, k = the k-th entry of the column's vocabulary in
``CATEGORIES``, counted from 1). The fixed preprocessing lives in the network, so the evaluation data goes in
as written: ``fnlwgt`` (the census sampling weight), ``capital_gain`` and ``capital_loss`` become ``log1p``,
numeric columns are standardised with the ``mean``/``scale`` buffers (saved in the state dict with the
weights), and each code is one-hot encoded.
The sensitive columns (``sex``, ``race``, ``age_group``) are not inputs; ``age`` is.
"""

from __future__ import annotations

import itertools

import torch
from torch import nn

NUMERIC = ["age", "fnlwgt", "education_num", "capital_gain", "capital_loss", "hours_per_week"]
LOG1P = ["fnlwgt", "capital_gain", "capital_loss"]
CATEGORIES = {
    "workclass": ["Federal-gov", "Local-gov", "Never-worked", "Private", "Self-emp-inc", "Self-emp-not-inc",
                  "State-gov", "Without-pay"],
    "marital_status": ["Divorced", "Married-AF-spouse", "Married-civ-spouse", "Married-spouse-absent",
                       "Never-married", "Separated", "Widowed"],
    "occupation": ["Adm-clerical", "Armed-Forces", "Craft-repair", "Exec-managerial", "Farming-fishing",
                   "Handlers-cleaners", "Machine-op-inspct", "Other-service", "Priv-house-serv", "Prof-specialty",
                   "Protective-serv", "Sales", "Tech-support", "Transport-moving"],
    "relationship": ["Husband", "Not-in-family", "Other-relative", "Own-child", "Unmarried", "Wife"],
    "native_country": ["Cambodia", "Canada", "China", "Columbia", "Cuba", "Dominican-Republic", "Ecuador",
                       "El-Salvador", "England", "France", "Germany", "Greece", "Guatemala", "Haiti",
                       "Holand-Netherlands", "Honduras", "Hong", "Hungary", "India", "Iran", "Ireland", "Italy",
                       "Jamaica", "Japan", "Laos", "Mexico", "Nicaragua", "Outlying-US(Guam-USVI-etc)", "Peru",
                       "Philippines", "Poland", "Portugal", "Puerto-Rico", "Scotland", "South", "Taiwan",
                       "Thailand", "Trinadad&Tobago", "United-States", "Vietnam", "Yugoslavia"],
}
FEATURES = [*NUMERIC, *CATEGORIES]
HIDDEN = (256, 128)


class AdultMLP(nn.Module):
    # buffers, declared so type checkers see tensors (nn.Module.__getattr__ says Tensor | Module)
    mean: torch.Tensor
    scale: torch.Tensor
    log1p: torch.Tensor

    def __init__(self, hidden: tuple[int, ...] | list[int] = HIDDEN) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(len(NUMERIC)))
        self.register_buffer("scale", torch.ones(len(NUMERIC)))
        self.register_buffer("log1p", torch.tensor([c in LOG1P for c in NUMERIC]), persistent=False)
        self.cardinalities = [len(v) + 1 for v in CATEGORIES.values()]  # + code 0 (missing)
        widths = [len(NUMERIC) + sum(self.cardinalities), *hidden, 2]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in itertools.pairwise(widths))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Raw rows -> the first layer's input (standardised numbers, one-hot codes)."""
        n = len(NUMERIC)
        num = x[:, :n]
        num = torch.where(self.log1p, torch.log1p(num.clamp_min(0)), num)
        parts = [(num - self.mean) / self.scale]
        for i, k in enumerate(self.cardinalities):  # codes are rounded and clamped: perturbed inputs stay valid
            code = x[:, n + i].round().clamp(0, k - 1).long()
            parts.append(nn.functional.one_hot(code, k).to(x.dtype))
        return torch.cat(parts, dim=1)

    def head(self, h: torch.Tensor) -> torch.Tensor:
        """Encoded rows -> two logits: class 0 (<=50K), class 1 (>50K)."""
        for layer in self.layers[:-1]:
            h = torch.relu(layer(h))
        return self.layers[-1](h)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encode(x))


def build(hidden: list[int] | None = None) -> AdultMLP:
    """The network for the demo's training code; ``hidden`` gives the hidden layers' widths (a structurally pruned
    copy is narrower). The manifests name the class itself, which the gate requires."""
    return AdultMLP(tuple(hidden) if hidden is not None else HIDDEN)
