"""Builders of the planted-defect suite: small real releases, each with ONE planted defect, and a clean twin.

Every release is a folder the gate reads as a user's release: eval.csv, train.parquet (the declared training
data), baseline.safetensors and candidate.safetensors with the architecture module next to them, card.yaml,
provenance.yaml with the real sha256 of every file, a release manifest on the default pack
(``policy: builtin:nist-ai-rmf``) and, for the clean twin, a model owner's sign-off of the exact candidate file.

One baseline is trained once per test session (:func:`train_shared`); the clean candidate is that baseline
with 50% of every Linear weight zeroed by ``torch.nn.utils.prune.l1_unstructured`` and fine-tuned for three
epochs with the mask attached, as a careful team would ship it. A defect is planted in
one place only: the candidate's weights or file, the candidate's ``architecture_kwargs`` (the network's
planted behaviours below, off by default), the data, or the paperwork. Each case is a small function
``case(shared) -> Plan``; :func:`write_release` turns a plan into a folder.

The data is synthetic: the label depends on x0, x1 and x2; x3 is a proxy of the group (group c sits at
x3 = 4, the thin group d at x3 = -5), so a candidate can be made to hurt one group by what it does with x3.
x0 is recorded on a grid of 0.01, which lets the "fragile" candidate be exact on clean rows and erratic
under the slightest noise.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

TODAY = "2026-12-01"  # the --today every case is gated on
SIGNED_ON = "2026-11-24"  # the clean twin's sign-off date: before TODAY
OWNER = "Dana Whitfield"
FEATURES = ["x0", "x1", "x2", "x3"]
TARGET = "label"
SENSITIVE = ["group"]
HIDDEN = 64
SPARSITY = 0.5
SEED = 11
EVAL_ROWS = 3000
TRAIN_ROWS = 6000
EPOCHS = 20
BATCH = 512
FINE_TUNE_EPOCHS = 3
THIN_ROWS = 20  # the thin group d: under SLICE-001's min_slice_size of 50

# Fast evidence settings: the pack's rules all still apply (bootstrap intervals, robustness, latency).
EVALUATION: dict[str, Any] = {
    "bootstrap": {"resamples": 200, "seed": 0},
    "robustness": {"sigmas": [0.1], "fgsm_epsilons": [], "seed": 0, "max_rows": 2000},
    "latency": {"batch_sizes": [64], "repeats": 3, "warmup": 1},
}

# The architecture module written into every release folder. Its planted behaviours are constructor arguments
# (the manifest's architecture_kwargs); all are off by default, so baseline and clean candidate are plain MLPs.
ARCH_SOURCE = '''"""A small MLP for the planted-defect suite: standardised inputs -> hidden -> hidden -> 2 logits.

The keyword arguments plant one behaviour each (all off by default):
  temperature  logits / temperature (0.2 = logits x 5: same labels and ranking, probabilities pushed to 0/1)
  shift        added to the class-1 logit everywhere (a negative shift starves the rarer class 1)
  flip_where   [j, lo, hi]: the two logits are swapped for rows with lo < x[j] < hi (one group's labels flip)
  bias_where   [j, lo, hi, b]: b is added to the class-1 logit for rows with lo < x[j] < hi
  fragile      fragile * sin(100 pi x0) added to the class-1 logit: zero on clean rows (x0 is on a 0.01
               grid), erratic under any noise on x0
  flatten      the class-1 margin becomes sign(margin) * (1 + 0.9 sin(37 x1)): same labels, ranking destroyed
"""

from __future__ import annotations

import math

import torch
from torch import nn


class Net(nn.Module):
    def __init__(self, n_features: int = 4, hidden: int = 64, temperature: float = 1.0, shift: float = 0.0,
                 flip_where: list[float] | None = None, bias_where: list[float] | None = None,
                 fragile: float = 0.0, flatten: bool = False) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(n_features))
        self.register_buffer("scale", torch.ones(n_features))
        self.body = nn.Sequential(nn.Linear(n_features, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                                  nn.Linear(hidden, 2))
        self.temperature, self.shift, self.fragile, self.flatten = temperature, shift, fragile, flatten
        self.flip_where, self.bias_where = flip_where, bias_where

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.body((x - self.mean) / self.scale)
        if self.flatten:
            margin = logits[:, 1] - logits[:, 0]
            flat = torch.sign(margin) * (1.0 + 0.9 * torch.sin(37.0 * x[:, 1]))
            logits = torch.stack([torch.zeros_like(flat), flat], dim=1)
        extra = torch.zeros_like(logits[:, 1])
        if self.shift:
            extra = extra + self.shift
        if self.bias_where is not None:
            j, lo, hi, b = self.bias_where
            inside = (x[:, int(j)] > lo) & (x[:, int(j)] < hi)
            extra = extra + b * inside.to(logits.dtype)
        if self.fragile:
            extra = extra + (self.fragile * torch.sin(100.0 * math.pi * x[:, 0].double())).to(logits.dtype)
        logits = torch.stack([logits[:, 0], logits[:, 1] + extra], dim=1)
        if self.flip_where is not None:
            j, lo, hi = self.flip_where
            inside = ((x[:, int(j)] > lo) & (x[:, int(j)] < hi)).unsqueeze(1)
            logits = torch.where(inside, logits.flip(1), logits)
        return logits / self.temperature
'''

CARD: dict[str, Any] = {
    "model_details": {
        "name": "planted-mlp",
        "description": "A small multilayer perceptron that scores synthetic applications, pruned to half its "
                       "weights for a cheaper deployment.",
        "owners": ["Model Risk team"],
        "contact": "model-risk@example.com",
        "license": "apache-2.0",
        "version": "1.1.0-pruned",
        "date": "2026-11-20",
        "architecture": "PyTorch MLP, 4 inputs -> 64 -> 64 -> 2 logits, inputs standardised in the network",
        "pruning": {"method": "l1_unstructured magnitude pruning (torch.nn.utils.prune)",
                    "target_sparsity": SPARSITY, "scope": "the weight of every Linear layer",
                    "fine_tuning": f"{FINE_TUNE_EPOCHS} epochs of Adam on the training data, mask attached"},
    },
    "intended_use": {
        "primary_uses": ["Rank synthetic applications for manual review."],
        "primary_users": ["review analysts"],
        "out_of_scope_uses": ["Any automated decision about a real person."],
    },
    "factors": {"relevant": ["Applicant group (monitoring only, never an input)."],
                "evaluation": ["Each group is evaluated separately."]},
    "training_data": {"description": f"{TRAIN_ROWS:,} synthetic rows from the same generator.",
                      "datasets": ["planted-train"], "preprocessing": "none"},
    "evaluation_data": {"description": f"{EVAL_ROWS:,} held-out synthetic rows with the group.",
                        "datasets": ["planted-eval"], "motivation": "held out from training",
                        "preprocessing": "none"},
    "ethical_considerations": ["Group membership is sensitive; it is used only to measure disparities."],
    "caveats_and_recommendations": ["The data is synthetic; re-run the gate on real held-out data."],
    "limitations": ["Evaluated on one synthetic population and one seed."],
    "tags": ["tabular", "test"],
}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def make_frame(n: int, seed: int, thin_rows: int = 0) -> pd.DataFrame:
    """Rows of groups a, b, c (55/30/15%) and, with ``thin_rows``, that many of group d at x3 = -5."""
    rng = np.random.default_rng(seed)
    group = np.concatenate([rng.choice(["a", "b", "c"], size=n, p=[0.55, 0.30, 0.15]), np.full(thin_rows, "d")])
    m = len(group)
    x = rng.normal(size=(m, 3))
    x[:, 0] = np.round(x[:, 0], 2)  # recorded on a 0.01 grid
    x3 = np.where(group == "c", rng.normal(4.0, 0.3, m),
                  np.where(group == "d", rng.normal(-5.0, 0.3, m), rng.normal(0.0, 1.0, m)))
    logit = 1.6 * x[:, 0] - 1.1 * x[:, 1] + 0.6 * x[:, 2] - 1.1
    y = (logit + 0.5 * rng.logistic(size=m) > 0).astype(int)
    frame = pd.DataFrame({"x0": x[:, 0], "x1": x[:, 1], "x2": x[:, 2], "x3": x3, "group": group, TARGET: y})
    return frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)  # group d not all at the end


@dataclass(frozen=True)
class Shared:
    """What every case starts from: data and the trained, pruned and barely pruned state dicts."""

    eval_frame: pd.DataFrame
    thin_eval_frame: pd.DataFrame
    train_frame: pd.DataFrame
    baseline: dict[str, Any]
    pruned: dict[str, Any]
    barely_pruned: dict[str, Any]


def train_shared() -> Shared:
    """Train the baseline MLP once (a few seconds on one core) and prune copies of it."""
    import torch
    from torch import nn
    from torch.nn.utils import prune

    namespace: dict[str, Any] = {}
    exec(compile(ARCH_SOURCE, "planted_arch", "exec"), namespace)  # the very module the releases ship
    net_class = namespace["Net"]
    train = make_frame(TRAIN_ROWS, SEED, thin_rows=40)
    evaluation, thin = make_frame(EVAL_ROWS, SEED + 1), make_frame(EVAL_ROWS, SEED + 1, thin_rows=THIN_ROWS)
    x = torch.tensor(train[FEATURES].to_numpy(np.float32))
    y = torch.tensor(train[TARGET].to_numpy())

    def fit(net: Any, epochs: int, lr: float) -> None:
        optimiser = torch.optim.Adam([p for p in net.parameters() if p.requires_grad], lr=lr)
        loss_fn = nn.CrossEntropyLoss()
        generator = torch.Generator().manual_seed(SEED)
        net.train()
        for _ in range(epochs):
            order = torch.randperm(len(x), generator=generator)
            for start in range(0, len(x), BATCH):
                idx = order[start : start + BATCH]
                optimiser.zero_grad()
                loss_fn(net(x[idx]), y[idx]).backward()
                optimiser.step()
        net.eval()

    def pruned_copy(amount: float) -> dict[str, Any]:
        """Prune every Linear weight by magnitude, fine-tune with the mask attached, bake the zeros in."""
        clone = copy.deepcopy(baseline)
        linears = [m for m in clone.modules() if isinstance(m, nn.Linear)]
        for module in linears:
            prune.l1_unstructured(module, name="weight", amount=amount)
        fit(clone, FINE_TUNE_EPOCHS, 1e-3)
        for module in linears:
            prune.remove(module, "weight")
        return state(clone)

    def state(m: Any) -> dict[str, Any]:
        return {k: v.detach().clone().contiguous() for k, v in m.state_dict().items()}

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny batches: threads only contend (and one thread keeps float sums reproducible)
    try:
        torch.manual_seed(SEED)
        baseline = net_class(n_features=len(FEATURES), hidden=HIDDEN)
        baseline.mean.copy_(x.mean(dim=0))
        baseline.scale.copy_(x.std(dim=0))
        fit(baseline, EPOCHS, 5e-3)
        pruned, barely = pruned_copy(SPARSITY), pruned_copy(0.03)
    finally:
        torch.set_num_threads(threads)
    return Shared(evaluation, thin, train, state(baseline), pruned, barely)


@dataclass
class Plan:
    """One release: the clean twin's honest values unless a case changes one of them."""

    candidate: str = "pruned"  # which state of Shared: baseline, pruned, barely_pruned
    candidate_dtype: str | None = None  # "float64": the state re-saved at double precision
    candidate_is_baseline_file: bool = False  # candidate.safetensors is a byte copy of baseline.safetensors
    candidate_kwargs: dict[str, Any] = field(default_factory=dict)
    claimed_amount: float = SPARSITY
    thin_group: bool = False
    eval_edit: Callable[[pd.DataFrame, pd.DataFrame], pd.DataFrame] | None = None  # (eval, train) -> eval
    approval: str = "candidate"  # whose sha256 the sign-off carries: candidate, baseline
    waivers: list[dict[str, Any]] = field(default_factory=list)
    after_write: Callable[[Path], None] | None = None  # tamper with the folder after the paperwork is written


_modules = itertools.count()


def write_release(shared: Shared, folder: Path, plan: Plan) -> Path:
    """Write the release a plan describes into ``folder``; returns the manifest's path."""
    import torch
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    arch = f"planted_net_{next(_modules)}"  # a fresh module name per release: no stale import is reused
    (folder / f"{arch}.py").write_text(ARCH_SOURCE, encoding="utf-8")

    evaluation = shared.thin_eval_frame if plan.thin_group else shared.eval_frame
    if plan.eval_edit is not None:
        evaluation = plan.eval_edit(evaluation.copy(), shared.train_frame)
    evaluation.to_csv(folder / "eval.csv", index=False)
    shared.train_frame.to_parquet(folder / "train.parquet", index=False)

    save_file(shared.baseline, str(folder / "baseline.safetensors"))
    candidate_file = "candidate.safetensors"
    if plan.candidate_is_baseline_file:
        shutil.copyfile(folder / "baseline.safetensors", folder / candidate_file)
    else:
        chosen = getattr(shared, plan.candidate)
        if plan.candidate_dtype == "float64":
            chosen = {k: v.to(torch.float64) for k, v in chosen.items()}
        save_file(chosen, str(folder / candidate_file))
    base_sha, cand_sha = sha256(folder / "baseline.safetensors"), sha256(folder / candidate_file)

    _yaml(folder / "card.yaml", CARD)
    _yaml(folder / "provenance.yaml", _provenance(folder, base_sha, cand_sha, plan.claimed_amount))
    arch_spec = {"format": "torch", "architecture": f"{arch}:Net",
                 "architecture_kwargs": {"n_features": len(FEATURES), "hidden": HIDDEN}}
    manifest: dict[str, Any] = {
        "name": "planted-mlp",
        "version": "1.1.0-pruned",
        "task": "binary_classification",
        "positive_label": 1,
        "baseline": {"path": "baseline.safetensors", **arch_spec},
        "candidate": {"path": candidate_file, **arch_spec,
                      "architecture_kwargs": {**arch_spec["architecture_kwargs"], **plan.candidate_kwargs}},
        "data": {"path": "eval.csv", "target": TARGET, "sensitive": SENSITIVE, "features": FEATURES},
        "policy": "builtin:nist-ai-rmf",
        "card": "card.yaml",
        "provenance": "provenance.yaml",
        "evaluation": EVALUATION,
        "approvals": [{
            "role": "model-owner",
            "name": OWNER,
            "date": SIGNED_ON,
            "statement": "Reviewed the audit report of the pruned candidate; approved for release.",
            "candidate_sha256": cand_sha if plan.approval == "candidate" else base_sha,
        }],
    }
    if plan.waivers:
        _yaml(folder / "waivers.yaml", {"waivers": plan.waivers})
    path = _yaml(folder / "release.yaml", manifest)
    if plan.after_write is not None:
        plan.after_write(folder)
    return path


def _provenance(folder: Path, base_sha: str, cand_sha: str, amount: float) -> dict[str, Any]:
    common = {"source": "synthetic, generated by tests/planted.py (make_frame)", "license": "CC0-1.0",
              "collection_process": "drawn from a seeded generator",
              "consent_basis": "not applicable (synthetic data, no real person)", "personal_data": []}
    return {
        "datasets": {
            "planted-eval": {"role": "evaluation", "path": "eval.csv", "sha256": sha256(folder / "eval.csv"),
                             "description": "held-out synthetic rows", **common},
            "planted-train": {"role": "training", "path": "train.parquet",
                              "sha256": sha256(folder / "train.parquet"),
                              "description": "synthetic training rows, drawn apart from the evaluation rows",
                              **common},
        },
        "models": {
            "planted-mlp-1.0.0": {"sha256": base_sha, "description": "the dense MLP", "license": "Apache-2.0",
                                  "training_code": "tests/planted.py", "datasets": ["planted-train"]},
        } | ({} if cand_sha == base_sha else {  # one file is declared once: a sha256 names one model
            "planted-mlp-1.1.0-pruned": {
                "sha256": cand_sha, "parent": base_sha, "license": "Apache-2.0",
                "training_code": "tests/planted.py", "datasets": ["planted-train"],
                "pruning": {"method": "l1_unstructured magnitude pruning (torch.nn.utils.prune)",
                            "settings": {"amount": amount, "scope": "the weight of every Linear layer",
                                         "fine_tune_epochs": FINE_TUNE_EPOCHS}},
            },
        }),
    }


def _yaml(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


# --- the cases: each returns the plan of one release --------------------------------------------------------

def clean(shared: Shared) -> Plan:
    """The honest release: a 50%-pruned candidate, true paperwork, a sign-off of this exact file."""
    return Plan()


def slice_collapse(shared: Shared) -> Plan:
    """Group c (x3 near 4, 15% of rows) gets every label flipped; the other groups are untouched."""
    return Plan(candidate_kwargs={"flip_where": [3, 2.5, 99.0]})


def rare_class_collapse(shared: Shared) -> Plan:
    """The rarer class 1 (about 30% of rows) loses much of its recall: its logit is pushed down."""
    return Plan(candidate_kwargs={"shift": -1.5})


def fairness_growth(shared: Shared) -> Plan:
    """Group c is selected far more often: its false-positive rate grows, the other groups' does not."""
    return Plan(candidate_kwargs={"bias_where": [3, 2.5, 99.0, 2.0]})


def calibration_break(shared: Shared) -> Plan:
    """Logits x 5: the same labels and ranking, probabilities pushed to 0 and 1."""
    return Plan(candidate_kwargs={"temperature": 0.2})


def robustness_collapse(shared: Shared) -> Plan:
    """Exact on clean rows, erratic under Gaussian noise on the continuous feature x0."""
    return Plan(candidate_kwargs={"fragile": 20.0})


def fake_efficiency_resaved(shared: Shared) -> Plan:
    """The baseline re-saved at double precision and shipped as 'pruned at 50%': larger, same scores."""
    return Plan(candidate="baseline", candidate_dtype="float64")


def fake_efficiency_barely_pruned(shared: Shared) -> Plan:
    """Honestly declared pruning of 3% of the weights: not the 10% smaller the pack asks for."""
    return Plan(candidate="barely_pruned", claimed_amount=0.03)


def identical_models(shared: Shared) -> Plan:
    """candidate.safetensors is a byte copy of baseline.safetensors (declared once in the provenance)."""
    return Plan(candidate_is_baseline_file=True)


def data_tamper(shared: Shared) -> Plan:
    """One byte of eval.csv changed (one label flipped) after provenance.yaml recorded its sha256."""
    return Plan(after_write=_flip_first_label)


def leakage(shared: Shared) -> Plan:
    """300 evaluation rows (10%) are copies of rows of the declared training data."""
    def copy_training_rows(evaluation: pd.DataFrame, train: pd.DataFrame) -> pd.DataFrame:
        return pd.concat([train.iloc[:300], evaluation.iloc[300:]], ignore_index=True)
    return Plan(eval_edit=copy_training_rows)


def undeclared_identifiers(shared: Shared) -> Plan:
    """An e-mail column in the evaluation data (not a feature), while provenance declares no personal data."""
    def add_email(evaluation: pd.DataFrame, train: pd.DataFrame) -> pd.DataFrame:
        evaluation.insert(4, "contact", [f"applicant.{i}@example.com" for i in range(len(evaluation))])
        return evaluation
    return Plan(eval_edit=add_email)


def expired_waiver(shared: Shared) -> Plan:
    """The barely pruned candidate with a waiver of EFF-001 that expired before --today."""
    return Plan(candidate="barely_pruned", claimed_amount=0.03,
                waivers=[{"rule": "EFF-001", "reason": "The size target is met by the structured pruning of 1.2.0.",
                          "approved_by": OWNER, "expires": "2026-11-01"}])


def active_waiver(shared: Shared) -> Plan:
    """The passing twin of expired_waiver: the same waiver, still in force on --today."""
    return Plan(candidate="barely_pruned", claimed_amount=0.03,
                waivers=[{"rule": "EFF-001", "reason": "The size target is met by the structured pruning of 1.2.0.",
                          "approved_by": OWNER, "expires": "2027-03-31"}])


def signoff_for_another_file(shared: Shared) -> Plan:
    """The model owner's sign-off carries the sha256 of the baseline, not of the evaluated candidate."""
    return Plan(approval="baseline")


def thin_group_hurt(shared: Shared) -> Plan:
    """Group d has 20 rows (under min_slice_size 50) and the candidate flips all of its labels."""
    return Plan(thin_group=True, candidate_kwargs={"flip_where": [3, -99.0, -4.0]})


def ranking_damage(shared: Shared) -> Plan:
    """Every label kept, the ranking of scores within each predicted class scrambled."""
    return Plan(candidate_kwargs={"flatten": True})


def _flip_first_label(folder: Path) -> None:
    path = folder / "eval.csv"
    lines = path.read_bytes().split(b"\n")
    last = lines[1][-1:]
    lines[1] = lines[1][:-1] + (b"1" if last == b"0" else b"0")
    path.write_bytes(b"\n".join(lines))
