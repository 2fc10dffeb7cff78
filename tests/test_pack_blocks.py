"""The NIST pack blocks what pruning breaks: calibration, robustness, a candidate that saves nothing or is the
baseline itself, and a pruning claim the weights contradict. Each planted defect has an honest twin that passes.

Real scikit-learn models saved with skops, real files in tmp_path, evidence collected by the real pipeline and
decided by the packaged pack (only the rule under test is asserted: other pack rules, such as the sign-off, block
these bare releases for their own reasons).
"""

from __future__ import annotations

import copy
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from governance.cli import main
from governance.engine import evaluate
from governance.evidence.collect import collect
from governance.evidence.robustness import DECLARED_CATEGORICAL, perturbable_features
from governance.findings import Finding, Status
from governance.hashing import sha256_file
from governance.manifest import load_manifest
from governance.packaged import builtin_policies
from governance.policy import load_policy
from governance.rules.robustness import NOTHING_PERTURBED

skops_io = pytest.importorskip("skops.io")
from sklearn.linear_model import LogisticRegression  # noqa: E402

NUMERIC = ["x0", "x1", "x2", "x3", "x4"]  # x4 is x0 plus a little jitter: a near-duplicate column
FEATURES = [*NUMERIC, "level"]  # level: a label-encoded category (integer codes 1-5)
TODAY = date(2026, 1, 15)


def _frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    df = pd.DataFrame(X, columns=NUMERIC[:4])
    df["x4"] = df["x0"] + rng.normal(scale=0.01, size=n)
    df["level"] = rng.integers(1, 6, size=n)  # a label-encoded category with five codes
    logit = 1.5 * X[:, 0] - 1.0 * X[:, 1] + 0.5 * X[:, 2] + 0.3 * X[:, 3] - 0.2
    df["label"] = (logit + rng.logistic(size=n) * 0.5 > 0).astype(int)
    df["group"] = rng.choice(["a", "b"], size=n)
    return df


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Evaluation data and a logistic-regression baseline fitted on the six features."""
    train, evaluation = _frame(3000, 1), _frame(1500, 2)
    base = LogisticRegression(max_iter=1000).fit(train[FEATURES], train["label"])
    return base, evaluation


def _pruned(base: LogisticRegression) -> LogisticRegression:
    """Honest magnitude pruning: the smallest-magnitude coefficient set to zero."""
    out = copy.deepcopy(base)
    coef = base.coef_.copy()
    coef[0, np.argmin(np.abs(coef[0]))] = 0.0
    out.coef_ = coef
    return out


def _release(folder: Path, world, candidate, *, baseline_file: str = "baseline.skops",
             candidate_file: str = "candidate.skops", data: dict | None = None, sigmas: list[float] | None = None,
             provenance: dict | None = None) -> Path:
    base, evaluation = world
    folder.mkdir(parents=True, exist_ok=True)
    skops_io.dump(base, folder / baseline_file)
    if candidate is not None:
        skops_io.dump(candidate, folder / candidate_file)
    evaluation.to_csv(folder / "eval.csv", index=False)
    manifest = {
        "name": "pack-blocks", "version": "1", "task": "binary_classification", "positive_label": 1,
        "baseline": {"path": baseline_file, "format": "skops"},
        "candidate": {"path": candidate_file, "format": "skops"},
        "data": {"path": "eval.csv", "target": "label", "sensitive": ["group"], "features": FEATURES, **(data or {})},
        "policy": "builtin:nist-ai-rmf",
        "evaluation": {"bootstrap": {"resamples": 0}, "latency": None,
                       "robustness": {"sigmas": sigmas or [0.3], "fgsm_epsilons": [], "max_rows": 1500}},
    }
    if provenance is not None:
        (folder / "provenance.yaml").write_text(yaml.safe_dump(provenance(folder), sort_keys=False))
        manifest["provenance"] = "provenance.yaml"
    path = folder / "release.yaml"
    path.write_text(yaml.safe_dump(manifest, sort_keys=False))
    return path


def _decide(manifest: Path) -> dict[str, Finding]:
    verdict = evaluate(load_policy(builtin_policies()["nist-ai-rmf"]), collect(load_manifest(manifest)), TODAY)
    return {f.rule_id: f for f in verdict.findings}


def _blocks(f: Finding) -> bool:
    return f.status == Status.FAIL and f.severity == "block" and f.blocks


# --- calibration ------------------------------------------------------------------------------------------------
def test_a_calibration_break_blocks_and_honest_pruning_passes(world, tmp_path):
    base, _ = world
    overconfident = copy.deepcopy(base)  # same decisions (the sign of every logit is kept), far too sure of them
    overconfident.coef_, overconfident.intercept_ = base.coef_ * 6, base.intercept_ * 6
    broken = _decide(_release(tmp_path / "broken", world, overconfident))["CAL-001"]
    assert _blocks(broken), broken.message
    assert broken.details["change"] > 0.05 and "more than the allowed" in broken.message
    honest = _decide(_release(tmp_path / "honest", world, _pruned(base)))["CAL-001"]
    assert honest.status == Status.PASS and honest.severity == "block", honest.message


# --- robustness -------------------------------------------------------------------------------------------------
def test_a_robustness_collapse_blocks_and_honest_pruning_passes(world, tmp_path):
    base, _ = world
    fragile = copy.deepcopy(base)  # a large weight on x4 - x0: near zero on clean rows, huge under noise
    fragile.coef_ = base.coef_.copy()
    fragile.coef_[0, 4] += 20.0
    fragile.coef_[0, 0] -= 20.0
    found = _decide(_release(tmp_path / "fragile", world, fragile))
    rob = found["ROB-001"]
    assert _blocks(rob), rob.message
    assert rob.observed > 0.15 and "more than the allowed" in rob.message
    assert found["PERF-001"].status == Status.PASS  # clean accuracy hides it: only the noise shows it
    honest = _decide(_release(tmp_path / "honest", world, _pruned(base)))["ROB-001"]
    assert honest.status == Status.PASS and honest.severity == "block", honest.message
    assert honest.details["perturbed"] == NUMERIC and "level" in honest.details["unperturbed"]


# --- efficiency and identity -------------------------------------------------------------------------------------
def test_the_baseline_resaved_larger_blocks_on_size_and_identity(world, tmp_path):
    base, _ = world
    bloated = copy.deepcopy(base)  # the baseline with a large text attribute: same scores, a bigger file
    bloated.notes_ = "".join(np.random.default_rng(0).choice(list("0123456789abcdef"), size=600))
    found = _decide(_release(tmp_path / "bloated", world, bloated))
    eff, same = found["EFF-001"], found["EFF-002"]
    assert _blocks(eff) and "larger than the baseline" in eff.message and eff.details["size_reduction"] < 0
    assert _blocks(same) and not same.details["same_file"] and "identical scores" in same.message
    honest = _decide(_release(tmp_path / "honest", world, _pruned(base)))
    assert honest["EFF-002"].status == Status.PASS and honest["EFF-002"].severity == "block"


def test_the_same_file_twice_blocks(world, tmp_path):
    f = _decide(_release(tmp_path / "same", world, None, candidate_file="baseline.skops"))["EFF-002"]
    assert _blocks(f) and f.details["same_file"] and "same file" in f.message


# --- a pruning claim the weights contradict ---------------------------------------------------------------------
def _provenance(amount: float):
    def write(folder: Path) -> dict:
        base_sha = sha256_file(folder / "baseline.skops")
        return {
            "datasets": {"eval": {"role": "evaluation", "path": "eval.csv", "sha256": sha256_file(folder / "eval.csv"),
                                  "source": "synthetic", "license": "CC0-1.0"}},
            "models": {
                "base": {"sha256": base_sha},
                "cand": {"sha256": sha256_file(folder / "candidate.skops"), "parent": base_sha,
                         "pruning": {"method": "magnitude", "settings": {"amount": amount}}},
            },
        }
    return write


def test_a_pruning_claim_the_weights_contradict_blocks(world, tmp_path):
    base, _ = world  # one of 7 parameters (6 coefficients and the intercept) zeroed: sparsity 1/7
    claimed = _decide(_release(tmp_path / "claim", world, _pruned(base), provenance=_provenance(0.5)))["PROV-001"]
    assert _blocks(claimed), claimed.message
    assert "claims pruning amount: 0.5" in claimed.message and "14.3%" in claimed.message
    assert "14.3% of the baseline's weights removed, more than 0.05 short of the claim" in claimed.message
    honest = _decide(_release(tmp_path / "honest", world, _pruned(base), provenance=_provenance(0.15)))["PROV-001"]
    assert honest.status == Status.PASS, honest.message
    assert any("matches the measured 14.3% removed" in v for v in honest.details["verified"])


# --- which features get noise -----------------------------------------------------------------------------------
def test_label_encoded_and_declared_categories_get_no_noise(world):
    import pyarrow as pa

    _, evaluation = world
    table = pa.Table.from_pandas(evaluation[[*FEATURES, "group"]], preserve_index=False)
    perturbed, left = perturbable_features(table)
    assert perturbed == NUMERIC
    assert "5 distinct" in left["level"] and "data.continuous" in left["level"]
    assert left["group"].startswith("not numeric")
    perturbed, left = perturbable_features(table, categorical=["x3"], continuous=["level"])
    assert perturbed == ["x0", "x1", "x2", "x4", "level"] and left["x3"] == DECLARED_CATEGORICAL


def test_the_evidence_lists_what_was_perturbed(world, tmp_path):
    base, _ = world
    manifest = _release(tmp_path / "declared", world, _pruned(base), data={"categorical": ["x3"]})
    rob = collect(load_manifest(manifest)).robustness
    assert rob.features == ["x0", "x1", "x2", "x4"]
    assert rob.unperturbed["x3"] == DECLARED_CATEGORICAL and "5 distinct" in rob.unperturbed["level"]


def test_nothing_to_perturb_is_not_a_pass(world, tmp_path):
    base, _ = world
    manifest = _release(tmp_path / "none", world, _pruned(base), data={"categorical": NUMERIC})
    f = _decide(manifest)["ROB-001"]
    assert f.status == Status.INCONCLUSIVE and f.message.startswith(NOTHING_PERTURBED.split("{")[0])
    assert set(f.details["unperturbed"]) == set(FEATURES)


@pytest.mark.parametrize("data,field", [
    ({"categorical": ["nope"]}, "data.categorical"),        # not a column at all
    ({"features": FEATURES, "continuous": ["group"]}, "data.continuous"),  # not a feature
    ({"categorical": ["x0"], "continuous": ["x0"]}, "data.categorical and data.continuous"),  # both
])
def test_bad_feature_declarations_are_exit_2(world, tmp_path, capsys, data, field):
    base, _ = world
    manifest = _release(tmp_path / "bad", world, _pruned(base), data=data)
    assert main(["check", str(manifest), "--out", str(tmp_path / "out"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "release.yaml" in err and field in err and "Traceback" not in err


# --- a torch MLP through safetensors: honest unstructured pruning saves space, a re-saved baseline does not ----
TORCH_ARCH = '''
import torch


class Net(torch.nn.Module):
    def __init__(self, hidden: int = 48) -> None:
        super().__init__()
        self.layers = torch.nn.Sequential(torch.nn.Linear(6, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, hidden),
                                          torch.nn.ReLU(), torch.nn.Linear(hidden, 2))

    def forward(self, x):
        return self.layers(x)
'''


@pytest.fixture(scope="module")
def torch_release(world, tmp_path_factory):
    """A folder with arch.py, a (seeded, untrained) MLP baseline and two candidates: 50% magnitude-pruned, and the
    baseline re-saved with a large metadata block (same tensors, a bigger file)."""
    torch = pytest.importorskip("torch")
    from safetensors.torch import save_file
    from torch.nn.utils import prune

    d = tmp_path_factory.mktemp("torch_pack")
    (d / "arch.py").write_text(TORCH_ARCH)
    namespace: dict = {}
    exec(TORCH_ARCH, namespace)  # the same class the gate will import from arch.py
    torch.manual_seed(0)
    base = namespace["Net"]()
    state = {k: v.contiguous() for k, v in base.state_dict().items()}
    save_file(state, d / "baseline.safetensors")
    pruned = copy.deepcopy(base)
    layers = [m for m in pruned.modules() if isinstance(m, torch.nn.Linear)]
    prune.global_unstructured([(m, "weight") for m in layers], pruning_method=prune.L1Unstructured, amount=0.5)
    for m in layers:
        prune.remove(m, "weight")
    save_file({k: v.contiguous() for k, v in pruned.state_dict().items()}, d / "pruned.safetensors")
    padding = "".join(np.random.default_rng(1).choice(list("0123456789abcdef"), size=4000))
    save_file(state, d / "resaved.safetensors", metadata={"note": padding})
    world[1].to_csv(d / "eval.csv", index=False)
    return d


def _torch_manifest(folder: Path, candidate: str, claim: float | None = None) -> Path:
    manifest = {
        "name": "pack-blocks-torch", "version": "1", "task": "binary_classification", "positive_label": 1,
        "baseline": {"path": "baseline.safetensors", "format": "torch", "architecture": "arch:Net"},
        "candidate": {"path": f"{candidate}.safetensors", "format": "torch", "architecture": "arch:Net"},
        "data": {"path": "eval.csv", "target": "label", "sensitive": ["group"], "features": FEATURES},
        "policy": "builtin:nist-ai-rmf",
        "evaluation": {"bootstrap": {"resamples": 0}, "latency": None,
                       "robustness": {"sigmas": [0.3], "fgsm_epsilons": [], "max_rows": 500}},
    }
    if claim is not None:
        base_sha = sha256_file(folder / "baseline.safetensors")
        prov = {"datasets": {"eval": {"role": "evaluation", "path": "eval.csv",
                                      "sha256": sha256_file(folder / "eval.csv"), "source": "synthetic",
                                      "license": "CC0-1.0"}},
                "models": {"base": {"sha256": base_sha},
                           "cand": {"sha256": sha256_file(folder / f"{candidate}.safetensors"), "parent": base_sha,
                                    "pruning": {"method": "global magnitude", "settings": {"amount": claim}}}}}
        (folder / f"provenance-{candidate}-{claim}.yaml").write_text(yaml.safe_dump(prov))
        manifest["provenance"] = f"provenance-{candidate}-{claim}.yaml"
    path = folder / f"release-{candidate}-{claim}.yaml"
    path.write_text(yaml.safe_dump(manifest, sort_keys=False))
    return path


def test_torch_honest_pruning_saves_space_and_matches_its_claim(torch_release):
    found = _decide(_torch_manifest(torch_release, "pruned", claim=0.5))
    assert found["EFF-001"].status == Status.PASS and found["EFF-001"].severity == "block", found["EFF-001"].message
    assert found["EFF-001"].observed > 0.2
    assert found["EFF-002"].status == Status.PASS
    assert found["PROV-001"].status == Status.PASS, found["PROV-001"].message


def test_torch_pruning_claimed_beyond_the_weights_blocks(torch_release):
    f = _decide(_torch_manifest(torch_release, "pruned", claim=0.9))["PROV-001"]
    assert _blocks(f) and "claims pruning amount: 0.9" in f.message


def test_torch_baseline_resaved_larger_blocks(torch_release):
    found = _decide(_torch_manifest(torch_release, "resaved"))
    eff = found["EFF-001"]
    assert _blocks(eff) and eff.message.startswith("the candidate is ") and "% larger than the baseline" in eff.message
    assert _blocks(found["EFF-002"]) and "identical scores" in found["EFF-002"].message


def test_the_demo_declares_its_coded_census_fields_categorical(tmp_path):
    """The demo's label-encoded categories (workclass, occupation, ...) used to get Gaussian noise."""
    import pyarrow.parquet as pq

    from governance.datasets import path as dataset_path
    from governance.demo import arch, files
    from governance.demo.train import CANDIDATES, encode

    release = load_manifest(files.manifest(tmp_path, CANDIDATES[0], list(arch.HIDDEN), quick=True,
                                           has_provenance=False))
    assert release.manifest.data.categorical == list(arch.CATEGORIES)
    table = encode(pq.read_table(dataset_path("adult.parquet")).slice(0, 2000))
    perturbed, left = perturbable_features(table, release.manifest.data.categorical)
    assert perturbed == ["age", "fnlwgt", "capital_gain", "capital_loss", "hours_per_week"]
    assert {c: left[c] for c in arch.CATEGORIES} == {c: DECLARED_CATEGORICAL for c in arch.CATEGORIES}
    assert "16 distinct" in left["education_num"]  # education level 1-16: a coded ordinal, left alone too


def test_distinct_models_options(world, tmp_path):
    from governance.rules.base import PolicyDefaults
    from governance.rules.identity import DistinctModels, distinct_models

    base, _ = world
    resaved = copy.deepcopy(base)
    resaved.notes_ = "re-saved"
    same_scores = collect(load_manifest(_release(tmp_path / "resaved", world, resaved)))
    honest = collect(load_manifest(_release(tmp_path / "honest", world, _pruned(base))))
    same_file = collect(load_manifest(_release(tmp_path / "same", world, None, candidate_file="baseline.skops")))

    def status(evidence, **params) -> Status:
        rule = DistinctModels(id="EFF-002", kind="distinct_models", **params)
        return distinct_models(rule, evidence, PolicyDefaults()).status

    assert status(same_scores) == Status.FAIL
    assert status(same_scores, allow_identical_scores=True) == Status.PASS  # only a byte copy fails then
    assert status(same_file, allow_identical_scores=True) == Status.FAIL
    diff = honest.agreement.max_abs_score_difference
    assert status(honest) == Status.PASS and status(honest, score_tolerance=diff * 2) == Status.FAIL
    # the baseline converted (ONNX, float32) moves scores by ~1e-7: still the baseline under the default tolerance
    converted = same_scores.model_copy(update={"agreement": same_scores.agreement.model_copy(
        update={"max_abs_score_difference": 1.4e-7})})
    assert status(converted) == Status.FAIL and status(converted, score_tolerance=0.0) == Status.PASS


def test_precomputed_predictions_leave_efficiency_not_judged(tmp_path):
    """Score files are not models: their sizes say nothing about what pruning saved (was: judged on file sizes)."""
    from builders import random_release as _random_release

    from governance.rules.base import PolicyDefaults
    from governance.rules.efficiency import PREDICTIONS, EfficiencyRule, efficiency

    evidence = _random_release(tmp_path, 3, n=300)[2]
    f = efficiency(EfficiencyRule(id="EFF-001", kind="efficiency", min_size_reduction=0.1), evidence,
                   PolicyDefaults())
    assert f.status == Status.INCONCLUSIVE and f.message == PREDICTIONS.format(
        roles="baseline and candidate models", verb="are")
