"""The inputs ``governance demo`` writes for each candidate: release manifest, card facts and provenance.

They are written by the same generator as ``governance init``'s (governance/release_files.py): each file is a dict,
loaded from a temporary copy with the loader ``governance check`` uses before it is written, so the demo cannot hand
the gate a file the gate would refuse, and its card lists the same fields as init's (governance/card.py's model).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from .. import __version__
from ..hashing import sha256_file
from ..release_files import Comments, ReleaseFile, card_file, write
from . import arch
from .train import SENSITIVE, TARGET, Candidate, Settings

ARCH_MODULE = "adult_mlp"  # the architecture file's name in the output folder
ARCH_CLASS = "AdultMLP"  # the nn.Module subclass in it that the manifests name (architecture: module:Class)
POLICY = "builtin:nist-ai-rmf"
NAME = "adult-income-mlp"


sha256 = sha256_file  # the project's one streaming hash (governance.hashing)


def write_architecture(out: Path) -> Path:
    target = out / f"{ARCH_MODULE}.py"
    target.write_text(Path(arch.__file__).read_text(encoding="utf-8"), encoding="utf-8")
    return target


def manifest(out: Path, candidate: Candidate, hidden: list[int], quick: bool, has_provenance: bool) -> Path:
    from ..manifest import load_manifest

    data: dict[str, Any] = {
        "name": NAME,
        "version": f"1.0.0-{candidate.name}",
        "task": "binary_classification",
        "positive_label": 1,
        "baseline": {"path": "baseline.safetensors", "format": "torch", "architecture": f"{ARCH_MODULE}:{ARCH_CLASS}"},
        "candidate": {"path": f"{candidate.name}.safetensors", "format": "torch",
                      "architecture": f"{ARCH_MODULE}:{ARCH_CLASS}", "architecture_kwargs": {"hidden": list(hidden)}},
        "data": {"path": "eval.parquet", "target": TARGET, "sensitive": list(SENSITIVE),
                 "features": list(arch.FEATURES),
                 "categorical": list(arch.CATEGORIES)},  # codes: robustness noise goes to the numeric fields only
        "policy": POLICY,
        "card": f"card-{candidate.name}.yaml",
    }
    if has_provenance:
        data["provenance"] = f"provenance-{candidate.name}.yaml"
    if quick:  # --quick (tests): fewer resamples and timing rounds; the full demo uses the defaults
        data["evaluation"] = {"bootstrap": {"resamples": 200, "seed": 0},
                              "robustness": {"sigmas": [0.1], "fgsm_epsilons": [0.05], "seed": 0, "max_rows": 2000},
                              "latency": {"batch_sizes": [256], "repeats": 5, "warmup": 1}}
    name = f"release-{candidate.name}.yaml"
    header = (f"Release manifest written by `governance demo`: may the {candidate.name} candidate replace the\n"
              f"baseline? Gate it again with:\n"
              f"  governance check {name} --out {candidate.name}\n"
              f"Paths are relative to this file; the architecture is {ARCH_MODULE}.py next to it.")
    (path,) = write(out, [ReleaseFile(name, data, Comments(header), load_manifest)])
    return path


def card(out: Path, candidate: Candidate, settings: Settings, rows: dict[str, int], hidden: list[int],
         seed: int) -> Path:
    widths = " -> ".join(str(w) for w in [len(arch.NUMERIC) + sum(len(v) + 1 for v in arch.CATEGORIES.values()),
                                          *hidden, 2])
    data = {
        "model_details": {
            "name": f"{NAME} ({candidate.name})",
            "description": (f"A multilayer perceptron that estimates whether a person's income exceeds $50K a "
                            f"year from 11 census fields of the UCI Adult data, pruned from the demo's baseline "
                            f"({candidate.name}). Made by `governance demo` to show the release gate on real "
                            f"data; it is not meant for any decision about people."),
            "owners": ["pruning-governance demo (generated)"],
            "license": "cc-by-4.0",  # trained on CC BY 4.0 data: attribution kept with the weights
            "version": f"1.0.0-{candidate.name}",
            "date": dt.date.today().isoformat(),
            "base_model": f"{NAME} baseline (baseline.safetensors in this folder)",
            "architecture": (f"PyTorch MLP ({ARCH_MODULE}.py): log1p and standardisation of 6 numeric fields and "
                             f"one-hot codes of 5 categorical fields, then Linear layers {widths} with ReLU"),
            "pruning": {
                "method": candidate.method,
                "target_sparsity": None if candidate.structured else candidate.amount,
                "scope": (f"{candidate.scope}; {int(candidate.amount * 100)}% of each hidden layer's neurons"
                          if candidate.structured else candidate.scope),
                "fine_tuning": (f"{settings.fine_tune_epochs} epoch(s) of Adam (lr {settings.fine_tune_lr}, batch "
                                f"{settings.batch}, seed {seed + 1}) on the training split with the pruning mask "
                                f"attached, then torch.nn.utils.prune.remove"),
            },
            "references": [
                "Becker, B. & Kohavi, R. (1996). Adult. UCI Machine Learning Repository. https://doi.org/10.24432/C5XW20",
                "Blalock et al. (2020). What is the State of Neural Network Pruning? MLSys.",
                "Hooker et al. (2019). What Do Compressed Deep Neural Networks Forget? arXiv:1911.05248.",
            ],
            "citation": ("Becker, B. & Kohavi, R. (1996). Adult. UCI Machine Learning Repository. "
                         "https://doi.org/10.24432/C5XW20"),
        },
        "intended_use": {
            "primary_uses": ["Demonstrating a release gate for pruned models on a public benchmark."],
            "primary_users": ["engineers evaluating pruning-governance"],
            "out_of_scope_uses": ["Any decision about real people: hiring, pay, credit, benefits, eligibility.",
                                  "Estimating anyone's income today: the data describes the US in 1994."],
        },
        "factors": {
            "relevant": ["Sex, race and age group as recorded by the 1994 census (sensitive attributes, not inputs)."],
            "evaluation": [("Each of sex, race and age group, and their intersections, is evaluated separately, "
                           "because pruning tends to cost small groups first (Hooker et al. 2019).")],
        },
        "training_data": {
            "description": f"The train split of UCI Adult (adult.data): {rows['train']:,} rows.",
            "datasets": ["UCI Adult (Census Income)"],
            "preprocessing": ("scripts/make_adult.py (spaces stripped, '?' as missing, income as 0/1); categorical "
                              "fields as codes of a fixed vocabulary; log1p and standardisation inside the network"),
        },
        "evaluation_data": {
            "description": (f"The test split of UCI Adult (adult.test): {rows['eval']:,} rows never used in "
                            f"training or fine-tuning, with sex, race and age group for slicing."),
            "datasets": ["UCI Adult (Census Income)"],
            "motivation": "The original held-out split, large enough for most single-attribute slices.",
            "preprocessing": "as the training data",
        },
        "ethical_considerations": [
            ("Adult encodes 1994 US census categories for race and sex; they are coarse and do not describe "
            "people's identities today."),
            ("Income labels reflect historical pay gaps between groups; a model that reproduces them is not "
            "neutral, and pruning can widen them."),
        ],
        "caveats_and_recommendations": [
            ("Read the slice tables, not only the overall numbers: the smallest groups (Amer-Indian-Eskimo, Other) "
            "have the widest intervals."),
        ],
        "limitations": ["One train/test split and one seed; no repeated runs.",
                        "A demonstration model: no tuning beyond a fixed training recipe."],
        "tags": ["tabular", "adult", "census-income", "demo"],
        "language": ["en"],
    }
    header = (f"Model-card facts for the {candidate.name} candidate, written by `governance demo`.\n"
              "The numbers (overall, per slice, calibration, efficiency) come from the evidence, never from here.")
    (path,) = write(out, [card_file(f"card-{candidate.name}.yaml", data, header)])
    return path


#: why the demo's census attributes may be model features (pii_scan reports it; the pack requires one)
JUSTIFICATION = ("UCI Adult is a public benchmark of de-identified census records; its personal attributes are the "
                 "benchmark task's inputs. The demo model shows the gate and decides about no one.")


def provenance(out: Path, candidate: Candidate, settings: Settings, seed: int, rows: dict[str, int]) -> Path | None:
    """provenance-<name>.yaml, validated against governance.provenance when that model is available."""
    try:
        from ..provenance import load_provenance
    except ImportError:
        return None
    from ..datasets import datasheet

    sheet = datasheet()["dataset"]
    declared = {k: sheet[k] for k in ("source", "license", "collection_period", "collection_process",
                                      "consent_basis") if sheet.get(k) is not None}
    personal = [c for c in sheet.get("personal_data") or [] if c in {*arch.FEATURES, TARGET, *SENSITIVE}]
    encoding = ("; then governance demo: categorical fields as codes of the vocabularies in "
                f"{ARCH_MODULE}.py (0 = missing), numeric fields as they are")

    def dataset(role: str, file: str, split: str, count: int) -> dict:
        return {"role": role, "path": file, "uri": sheet.get("uri"), "sha256": sha256(out / file),
                "description": f"UCI Adult, {split} split: {count:,} rows", **declared,
                "preprocessing": f"{sheet.get('preprocessing', '')}{encoding}".strip(),
                "personal_data": personal,
                **({"personal_data_justification": JUSTIFICATION} if personal else {})}

    baseline_sha = sha256(out / "baseline.safetensors")
    data = {
        "datasets": {
            "adult-test": dataset("evaluation", "eval.parquet", "test", rows["eval"]),
            "adult-train": dataset("training", "train.parquet", "train", rows["train"]),
        },
        "models": {
            "baseline": {
                "sha256": baseline_sha,
                "description": "the dense MLP trained by governance demo",
                "source": f"trained by governance demo (seed {seed}, {settings.epochs} epochs of Adam)",
                "license": "CC-BY-4.0",
                "training_code": f"governance.demo (pruning-governance {__version__})",
                "datasets": ["adult-train"],
            },
            "candidate": {
                "sha256": sha256(out / f"{candidate.name}.safetensors"),
                "parent": baseline_sha,
                "description": f"{candidate.name}: pruned from the baseline and fine-tuned",
                "source": "derived from the baseline by governance demo",
                "license": "CC-BY-4.0",
                "training_code": f"governance.demo (pruning-governance {__version__})",
                "pruning": {"method": candidate.method,
                            "settings": {"amount": candidate.amount, "scope": candidate.scope,
                                         "fine_tune_epochs": settings.fine_tune_epochs,
                                         "fine_tune_lr": settings.fine_tune_lr, "seed": seed + 1}},
                "datasets": ["adult-train"],
            },
        },
    }
    header = (f"Provenance of the {candidate.name} release, written by `governance demo` from the bundled\n"
              "datasheet (governance/datasets/adult.provenance.yaml). Paths are relative to this file.")
    (path,) = write(out, [ReleaseFile(f"provenance-{candidate.name}.yaml", data, Comments(header), load_provenance)])
    return path
