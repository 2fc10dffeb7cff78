"""Robustness under seeded perturbations, on real models whose behaviour is known in advance."""

from __future__ import annotations

import copy
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from governance.evidence.robustness import (
    RobustnessAccumulator,
    feature_std,
    gaussian_noise,
    numeric_features,
)
from governance.manifest import ModelSpec, RobustnessSpec
from governance.models import load_model

FEATURES = ["x0", "x1", "x2", "x3"]
N = 1200


def to_probabilities(role: str, raw: np.ndarray, row_offset: int) -> np.ndarray:
    """What collect.py does for a binary task whose positive class is index 1."""
    raw = np.asarray(raw, dtype=np.float64)
    return np.column_stack([1 - raw[:, 0], raw[:, 0]]) if raw.shape[1] == 1 else raw


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(N, 4)) * [1.0, 2.0, 0.5, 1.0] + [0.0, 1.0, -1.0, 3.0]
    logit = 1.5 * X[:, 0] - 0.8 * X[:, 1] + 2.0 * X[:, 2] + 0.6 * X[:, 3] - 1.0
    df = pd.DataFrame(X, columns=FEATURES)
    df["group"] = rng.choice(["a", "b"], size=N)
    df["label"] = (logit + rng.logistic(size=N) * 0.3 > 0).astype(int)
    return df


@pytest.fixture(scope="module")
def sklearn_models(frame, tmp_path_factory):
    """A logistic regression and a copy that ignores x3 (its coefficient pruned to zero)."""
    import skops.io as sio
    from sklearn.linear_model import LogisticRegression

    d = tmp_path_factory.mktemp("rob_sk")
    base = LogisticRegression(max_iter=1000).fit(frame[FEATURES], frame["label"])
    blind = copy.deepcopy(base)
    blind.coef_ = base.coef_.copy()
    blind.coef_[0, 3] = 0.0
    out = {}
    for role, model in (("baseline", base), ("candidate", blind)):
        path = d / f"{role}.skops"
        sio.dump(model, path)
        out[role] = load_model(ModelSpec(path=path.name, format="skops"), path, field=role, manifest=d / "r.yaml")
    return out, (base, blind)


def fold(acc: RobustnessAccumulator, frame: pd.DataFrame, adapters, chunk: int, start: int = 0,
         stop: int | None = None, columns: list[str] = FEATURES) -> RobustnessAccumulator:
    stop = len(frame) if stop is None else stop
    for lo in range(start, stop, chunk):
        if not acc.wants_more():
            break
        part = frame.iloc[lo:min(lo + chunk, stop)]
        table = pa.Table.from_pandas(part[columns], preserve_index=False)
        acc.update(table, part["label"].to_numpy(), adapters, lo, to_probabilities)
    return acc


SPEC = RobustnessSpec(sigmas=[0.0, 0.25, 1.0, 3.0], fgsm_epsilons=[0.2], seed=7, max_rows=1000)


def test_sigma_zero_is_clean_accuracy_and_large_noise_hurts(frame, sklearn_models):
    adapters, (base, blind) = sklearn_models
    acc = fold(RobustnessAccumulator(SPEC, FEATURES), frame, adapters, 400)
    assert not acc.wants_more() and acc.rows == 1000
    res = acc.result()
    assert res.seed == 7 and res.features == FEATURES
    assert [(lv.perturbation, lv.level) for lv in res.levels] == [("gaussian", s) for s in SPEC.sigmas]
    assert "FGSM levels skipped" in acc.notes[0]  # scikit-learn models have no input gradient

    rows = frame.iloc[:1000]
    clean = {role: float((m.predict(rows[FEATURES]) == rows["label"]).mean())
             for role, m in (("baseline", base), ("candidate", blind))}
    zero = res.levels[0]
    assert zero.accuracy == clean and zero.drop == {"baseline": 0.0, "candidate": 0.0} and zero.extra_drop == 0.0
    for role in ("baseline", "candidate"):
        accs = [lv.accuracy[role] for lv in res.levels]
        assert accs[3] < accs[2] < accs[1] <= accs[0] + 0.01
        assert accs[3] < clean[role] - 0.15
        for lv in res.levels:
            assert lv.drop[role] == pytest.approx(clean[role] - lv.accuracy[role])
    for lv in res.levels:
        assert lv.extra_drop == pytest.approx(lv.drop["candidate"] - lv.drop["baseline"])
        assert lv.rows == 1000


def test_noise_on_an_ignored_feature_cannot_hurt_the_model_that_ignores_it(frame, sklearn_models):
    adapters, _ = sklearn_models
    res = fold(RobustnessAccumulator(SPEC, ["x3"]), frame, adapters, 300).result()
    assert res.features == ["x3"]
    for lv in res.levels:
        assert lv.drop["candidate"] == 0.0  # its x3 coefficient is zero: predictions cannot move
    assert res.levels[-1].drop["baseline"] > 0.02  # the baseline uses x3
    assert res.levels[-1].extra_drop < 0


def test_results_do_not_depend_on_the_chunk_size(frame, sklearn_models):
    adapters, _ = sklearn_models
    std = feature_std(pa.Table.from_pandas(frame.iloc[:1000][FEATURES]), FEATURES)
    results = [fold(RobustnessAccumulator(SPEC, FEATURES, std), frame, adapters, c).result() for c in (50, 333, 1200)]
    assert results[0] == results[1] == results[2]
    # without a given std it comes from the first chunk: identical whenever that chunk holds every used row
    alone = [fold(RobustnessAccumulator(SPEC, FEATURES), frame, adapters, c) for c in (1000, 1200)]
    assert alone[0].result() == alone[1].result() == results[0]
    assert alone[0].std_source == "the first 1000 rows used (data rows 0-999)"
    assert alone[0].feature_std == pytest.approx(std)


def test_merging_two_halves_equals_one_pass(frame, sklearn_models):
    adapters, _ = sklearn_models
    std = feature_std(pa.Table.from_pandas(frame.iloc[:1000][FEATURES]), FEATURES)
    one = fold(RobustnessAccumulator(SPEC, FEATURES, std), frame, adapters, 250)
    first = fold(RobustnessAccumulator(SPEC, FEATURES, std), frame, adapters, 250, 0, 600)
    second = fold(RobustnessAccumulator(SPEC, FEATURES, std), frame, adapters, 250, 600, N)
    assert first.rows == 600 and second.rows == 400  # the second partition stops at max_rows
    assert first.merge(second).result() == second.merge(first).result() == one.result()
    empty = RobustnessAccumulator(SPEC, FEATURES, std)
    assert empty.result() is None and empty.merge(one).result() == one.result()
    with pytest.raises(ValueError, match="different feature std"):
        one.merge(fold(RobustnessAccumulator(SPEC, FEATURES), frame, adapters, 100, 0, 100))


def test_noise_is_per_row_and_seeded():
    whole = gaussian_noise(3, 0, 3000, 4)
    assert np.array_equal(whole[1000:2500], gaussian_noise(3, 1000, 1500, 4))
    assert np.array_equal(whole[7:9], gaussian_noise(3, 7, 2, 4))
    assert not np.array_equal(whole, gaussian_noise(4, 0, 3000, 4))
    assert abs(whole.mean()) < 0.05 and abs(whole.std() - 1) < 0.05


def test_non_numeric_columns_pass_through_unchanged(frame, tmp_path):
    """A model reading only the text column 'group' must be unaffected by any amount of numeric noise."""
    import skops.io as sio
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    cols = [*FEATURES, "group"]
    table = pa.Table.from_pandas(frame[cols], preserve_index=False)
    assert numeric_features(table) == FEATURES
    assert numeric_features(pa.table({"b": [True], "c": pa.array(["x"]).dictionary_encode(), "i": [1]})) == ["i"]
    models = {
        "baseline": make_pipeline(ColumnTransformer([("g", OneHotEncoder(), ["group"])]), LogisticRegression()),
        "candidate": make_pipeline(ColumnTransformer([("g", OneHotEncoder(), ["group"]),
                                                      ("n", "passthrough", FEATURES)]), LogisticRegression()),
    }
    adapters = {}
    for role, model in models.items():
        model.fit(frame[cols], frame["label"])
        path = tmp_path / f"{role}.skops"
        sio.dump(model, path)
        trusted = sio.get_untrusted_types(file=path)
        adapters[role] = load_model(ModelSpec(path=path.name, format="skops", trusted_types=trusted), path,
                                    field=role, manifest=tmp_path / "r.yaml")
    res = fold(RobustnessAccumulator(SPEC, FEATURES), frame, adapters, 500, columns=cols).result()
    assert all(lv.drop["baseline"] == 0.0 for lv in res.levels)
    assert res.levels[-1].drop["candidate"] > 0.1


def test_predictions_cannot_be_rescored_so_robustness_is_skipped(frame, tmp_path, sklearn_models):
    adapters, _ = sklearn_models
    path = tmp_path / "scores.csv"
    pd.DataFrame({"p": np.full(N, 0.5)}).to_csv(path, index=False)
    preds = load_model(ModelSpec(path=path.name, format="predictions"), path, field="candidate",
                       manifest=tmp_path / "r.yaml")
    acc = fold(RobustnessAccumulator(SPEC, FEATURES), frame, {"baseline": adapters["baseline"], "candidate": preds},
               100)
    assert acc.result() is None and not acc.wants_more() and acc.rows == 0
    assert acc.skipped == ("robustness not measured: the candidate model is precomputed predictions, which cannot "
                           "be re-scored on perturbed inputs")


# --------------------------------------------------------------------------- torch: FGSM
torch = pytest.importorskip("torch")

ARCH = """
import torch

class Net(torch.nn.Sequential):
    def __init__(self, out=2):
        super().__init__(torch.nn.Linear(4, 16), torch.nn.ReLU(), torch.nn.Linear(16, out))

def build(out=2):
    return Net(out)
"""


@pytest.fixture(scope="module")
def torch_folder(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("rob_torch")
    (d / "gov_test_rob_arch.py").write_text(textwrap.dedent(ARCH))
    sys.path.insert(0, str(d))
    yield d
    sys.path.remove(str(d))


def _train(frame: pd.DataFrame, out: int, seed: int, prune_amount: float = 0.0):
    from gov_test_rob_arch import build
    from torch.nn.utils import prune

    torch.manual_seed(seed)
    model = build(out=out)
    X = torch.tensor(frame[FEATURES].to_numpy(), dtype=torch.float32)
    y = torch.tensor(frame["label"].to_numpy())
    opt = torch.optim.Adam(model.parameters(), lr=0.03)
    for _ in range(300):
        opt.zero_grad()
        logits = model(X)
        loss = (torch.nn.functional.cross_entropy(logits, y) if out == 2 else
                torch.nn.functional.binary_cross_entropy_with_logits(logits[:, 0], y.float()))
        loss.backward()
        opt.step()
    if prune_amount:
        for layer in (model[0], model[2]):
            prune.l1_unstructured(layer, name="weight", amount=prune_amount)
            prune.remove(layer, "weight")
    return model.eval()


def _torch_adapters(frame, folder: Path, out: int) -> dict:
    from safetensors.torch import save_file

    adapters = {}
    for role, amount in (("baseline", 0.0), ("candidate", 0.6)):
        path = folder / f"{role}{out}.safetensors"
        save_file(_train(frame, out, 0, amount).state_dict(), path)
        spec = ModelSpec(path=path.name, format="torch", architecture="gov_test_rob_arch:Net",
                         architecture_kwargs={"out": out})
        adapters[role] = load_model(spec, path, field=role, manifest=folder / "r.yaml")
    return adapters


@pytest.mark.parametrize("out", [2, 1])  # softmax over two logits, and one logit = sigmoid(P(positive))
def test_fgsm_hurts_more_than_gaussian_noise_of_the_same_size(frame, torch_folder, out):
    adapters = _torch_adapters(frame, torch_folder, out)
    spec = RobustnessSpec(sigmas=[0.0, 0.2], fgsm_epsilons=[0.0, 0.2], seed=1, max_rows=1000)
    acc = fold(RobustnessAccumulator(spec, FEATURES), frame, adapters, 300)
    res = acc.result()
    assert acc.notes == []
    kinds = [(lv.perturbation, lv.level) for lv in res.levels]
    assert kinds == [("gaussian", 0.0), ("gaussian", 0.2), ("fgsm", 0.0), ("fgsm", 0.2)]
    g0, g, f0, f = res.levels
    assert f0.accuracy == g0.accuracy  # epsilon 0 moves nothing
    for role in ("baseline", "candidate"):
        assert g0.accuracy[role] > 0.85  # the networks learned the task
        assert f.drop[role] > g.drop[role] + 0.05
    # chunking does not change FGSM either (gradients are per row in eval mode)
    again = fold(RobustnessAccumulator(spec, FEATURES, acc.feature_std), frame, adapters, 77).result()
    assert again == res


def test_fgsm_needs_gradients_on_both_sides(frame, torch_folder, sklearn_models):
    torch_adapters = _torch_adapters(frame, torch_folder, 2)
    sk, _ = sklearn_models
    acc = fold(RobustnessAccumulator(SPEC, FEATURES), frame,
               {"baseline": torch_adapters["baseline"], "candidate": sk["candidate"]}, 500)
    assert all(lv.perturbation == "gaussian" for lv in acc.result().levels)
    assert acc.notes == ["FGSM levels skipped: the candidate model exposes no input gradient (FGSM needs torch "
                         "models on both sides)"]


ODD_ARCH = """
import torch

class Thresholded(torch.nn.Module):
    '''A valid network whose output does not depend on its input through anything differentiable.'''
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(4, 2)

    def forward(self, x):
        return self.lin((x > 0).float())

class LogIncome(torch.nn.Module):
    '''Finite on the data (x0 + 4 > 0 there), NaN once noise pushes x0 below -4.'''
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(4, 2)

    def forward(self, x):
        return self.lin(torch.cat([torch.log(x[:, :1] + 4.0), x[:, 1:]], dim=1))
"""


@pytest.mark.parametrize("arch", ["Thresholded", "LogIncome"])
def test_a_model_without_a_gradient_or_finite_scores_under_noise_leaves_those_levels_unmeasured(frame, tmp_path,
                                                                                               arch):
    """Both were exit 2 for a valid release ("the input gradient failed"; "model returned NaN ... at data row N",
    blaming a data row that was fine): now those levels are not measured and the notes say why."""
    from safetensors.torch import save_file

    (tmp_path / "gov_test_odd_arch.py").write_text(textwrap.dedent(ODD_ARCH))
    sys.path.insert(0, str(tmp_path))
    try:
        import importlib

        module = importlib.import_module("gov_test_odd_arch")
        adapters = {}
        clipped = frame.assign(x0=frame["x0"].clip(lower=-3.5))
        for role in ("baseline", "candidate"):
            torch.manual_seed(0 if role == "baseline" else 1)
            path = tmp_path / f"{role}.safetensors"
            save_file(getattr(module, arch)().state_dict(), path)
            spec = ModelSpec(path=path.name, format="torch", architecture=f"gov_test_odd_arch:{arch}")
            adapters[role] = load_model(spec, path, field=role, manifest=tmp_path / "r.yaml")
        spec = RobustnessSpec(sigmas=[0.0, 0.1, 3.0], fgsm_epsilons=[0.1], seed=1, max_rows=1000)
        acc = RobustnessAccumulator(spec, FEATURES)
        for lo in range(0, len(clipped), 250):
            part = clipped.iloc[lo:lo + 250]
            acc.update(pa.Table.from_pandas(part[FEATURES], preserve_index=False), part["label"].to_numpy(),
                       adapters, lo, checked_probabilities)
        levels = [(lv.perturbation, lv.level) for lv in acc.result().levels]
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("gov_test_odd_arch", None)
    if arch == "Thresholded":
        assert levels == [("gaussian", 0.0), ("gaussian", 0.1), ("gaussian", 3.0)]
        assert any("no input gradient" in n for n in acc.notes), acc.notes
    else:
        assert levels == [("gaussian", 0.0), ("gaussian", 0.1), ("fgsm", 0.1)]  # sigma 3 reaches x0 < -4: NaN
        assert any("not measured" in n and "gaussian 3" in n for n in acc.notes), acc.notes


def checked_probabilities(role: str, raw: np.ndarray, row_offset: int) -> np.ndarray:
    """The gate's converter refuses NaN and infinite scores (InputError), as collect.py's does."""
    from governance.errors import InputError

    if not np.all(np.isfinite(raw)):
        raise InputError(None, None, "model returned NaN or infinite scores")
    return to_probabilities(role, raw, row_offset)
