"""`governance init` infers the task (and the classes or the positive label) from the target's values, and says
in a comment what it inferred and what to check; a 10-class target no longer gets task: binary_classification."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from governance.cli import main
from governance.manifest import load_manifest
from governance.scaffold import MAX_CLASSES, positive_label, target_profile

CREDIT_MODELS = ("baseline.skops", "pruned.skops")


def _init(tmp_path, frame: pd.DataFrame, name: str = "eval.csv"):
    from pathlib import Path

    credit = Path(__file__).resolve().parent.parent / "examples" / "credit"
    data = tmp_path / name
    frame.to_parquet(data) if name.endswith(".parquet") else frame.to_csv(data, index=False)
    out = tmp_path / "rel"
    assert main(["init", str(out), "--from-models", *(str(credit / m) for m in CREDIT_MODELS), "--data",
                 str(data)]) == 0
    return load_manifest(out / "release.yaml").manifest, (out / "release.yaml").read_text()


@pytest.mark.parametrize("name", ["eval.csv", "eval.parquet"])
def test_a_ten_class_target_is_multiclass_with_its_classes_in_sorted_order(tmp_path, capsys, name):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=300), "label": rng.integers(0, 10, 300)})
    m, text = _init(tmp_path, frame, name)
    assert m.task == "multiclass_classification" and m.classes == list(range(10))
    assert "inferred from the target's values" in text and "classes_" in text


def test_a_binary_target_gets_its_positive_label_guessed_and_marked(tmp_path, capsys):
    frame = pd.DataFrame({"x": [0.1, 0.2, 0.3, 0.4], "label": ["no", "yes", "no", "yes"]})
    m, text = _init(tmp_path, frame)
    assert m.task == "binary_classification" and m.positive_label == "yes"
    assert "guessed among the target's labels ['no', 'yes']" in text


def test_a_continuous_target_is_regression_without_classification_fields(tmp_path, capsys):
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"x": rng.normal(size=200), "target": rng.normal(50, 10, 200)})
    m, text = _init(tmp_path, frame)
    assert m.task == "regression" and m.classes is None
    assert "positive_label" not in text.split("\nbaseline:")[0]


def test_target_profile_is_bounded_and_the_positive_label_follows_conventions(tmp_path):
    many = pd.DataFrame({"label": np.arange(MAX_CLASSES + 5)})  # integers, too many for classes
    many.to_csv(tmp_path / "many.csv", index=False)
    assert target_profile(tmp_path / "many.csv", "label").task == "regression"
    assert target_profile(tmp_path / "many.csv", "nope").task == "unknown"
    assert positive_label((0, 1)) == 1 and positive_label(("<=50K", ">50K")) == ">50K"
    assert positive_label(("a", "b")) == "b"
