"""The whole evidence path (chunked read -> cells -> metrics) against scikit-learn and fairlearn as oracles."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from builders import random_release as _random_release
from fairlearn import metrics as flm
from sklearn import metrics as skm

from governance.evidence.accumulator import Accumulator

TOL = 1e-9


def _oracle_binary(y, proba) -> dict[str, float]:
    pred = np.argmax(proba, axis=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {
            "accuracy": skm.accuracy_score(y, pred),
            "balanced_accuracy": skm.balanced_accuracy_score(y, pred),
            "precision": skm.precision_score(y, pred, zero_division=0),
            "recall": skm.recall_score(y, pred, zero_division=0),
            "f1": skm.f1_score(y, pred, zero_division=0),
            "roc_auc": skm.roc_auc_score(y, proba[:, 1]) if len(set(y)) == 2 else None,
            "log_loss": skm.log_loss(y, proba, labels=[0, 1]),
            "selection_rate": flm.selection_rate(y, pred),
            "false_positive_rate": flm.false_positive_rate(y, pred),
            "false_negative_rate": flm.false_negative_rate(y, pred),
        }


def _close(ours, theirs, what):
    if theirs is None:
        assert ours is None, what
    else:
        assert ours == pytest.approx(theirs, abs=TOL), what


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_binary_evidence_equals_sklearn_and_fairlearn(tmp_path, seed):
    df, probs, ev = _random_release(tmp_path, seed, n=600 + 37 * seed)
    y = df["label"].to_numpy()
    assert ev.data.rows == len(df)
    for role, proba in probs.items():
        got = ev.models[role]
        for metric, value in _oracle_binary(y, proba).items():
            _close(got.overall[metric], value, f"{role} overall {metric}")
        pred = np.argmax(proba, axis=1)
        for dim, cols in (("sex", ["sex"]), ("race", ["race"]), ("sex & race", ["sex", "race"])):
            frame = flm.MetricFrame(
                metrics={"accuracy": skm.accuracy_score, "selection_rate": flm.selection_rate,
                         "false_positive_rate": flm.false_positive_rate, "recall": skm.recall_score},
                y_true=y, y_pred=pred, sensitive_features=df[cols])
            by_group = frame.by_group
            assert len(got.slices[dim]) == len(by_group)
            for key, row in by_group.iterrows():
                name = " & ".join(key) if isinstance(key, tuple) else key
                stats = got.slices[dim][name]
                for metric in ("accuracy", "selection_rate", "false_positive_rate", "recall"):
                    _close(stats[metric], row[metric], f"{role} {dim}={name} {metric}")
                mask = np.all([df[c].to_numpy() == v for c, v in zip(cols, name.split(" & "))], axis=0)
                assert stats["count"] == int(mask.sum())
                _close(stats["roc_auc"], skm.roc_auc_score(y[mask], proba[mask, 1]) if len(set(y[mask])) == 2
                       else None, f"{role} {dim}={name} roc_auc")
                _close(stats["log_loss"], skm.log_loss(y[mask], proba[mask], labels=[0, 1]), f"{role} log_loss")
            for gap, fn in (("demographic_parity_difference", flm.demographic_parity_difference),
                            ("demographic_parity_ratio", flm.demographic_parity_ratio),
                            ("equalized_odds_difference", flm.equalized_odds_difference),
                            ("equalized_odds_ratio", flm.equalized_odds_ratio)):
                _close(got.fairness[dim][gap], fn(y, pred, sensitive_features=df[cols]), f"{role} {dim} {gap}")


def test_multiclass_evidence_equals_sklearn(tmp_path):
    df, probs, ev = _random_release(tmp_path, 5, n=500, k=3, chunk=64)
    y = df["label"].to_numpy()
    for role, proba in probs.items():
        pred = np.argmax(proba, axis=1)
        got = ev.models[role].overall
        _close(got["accuracy"], skm.accuracy_score(y, pred), "accuracy")
        _close(got["balanced_accuracy"], skm.balanced_accuracy_score(y, pred), "balanced_accuracy")
        for m, fn in (("precision", skm.precision_score), ("recall", skm.recall_score), ("f1", skm.f1_score)):
            _close(got[m], fn(y, pred, average="macro", zero_division=0), m)
        _close(got["log_loss"], skm.log_loss(y, proba, labels=[0, 1, 2]), "log_loss")
        _close(got["roc_auc"], skm.roc_auc_score(y, proba, multi_class="ovr", average="macro"), "roc_auc")
        # multiclass fairness is one-vs-rest, the worst class (checked against fairlearn in test_multiclass_fairness)
        assert got["selection_rate"] is None and set(ev.models[role].fairness) == {"sex", "race", "sex & race"}


def test_agreement_counts_fixed_and_broken_flips(tmp_path):
    df, probs, ev = _random_release(tmp_path, 3, n=400)
    y = df["label"].to_numpy()
    pb, pc = (np.argmax(probs[r], axis=1) for r in ("baseline", "candidate"))
    assert ev.agreement.same_prediction == pytest.approx(np.mean(pb == pc), abs=TOL)
    assert ev.agreement.fixed == int(np.sum((pb != y) & (pc == y)))
    assert ev.agreement.broken == int(np.sum((pb == y) & (pc != y)))


def test_accumulator_merge_is_associative_and_equals_one_pass():
    rng = np.random.default_rng(11)
    n, k = 900, 3
    keys = [("a",), ("b",), ("c",), ("d",)]
    cell_of_row = rng.integers(0, len(keys), size=n)
    y = rng.integers(0, k, size=n)
    pb, pc = (rng.dirichlet(np.ones(k), size=n) for _ in range(2))

    def fold(rows, order_keys):
        acc = Accumulator(k, None)
        ids = acc.cell_ids(order_keys)  # different partitions see cells in different orders
        lookup = {key: i for key, i in zip(order_keys, ids)}
        cells = np.array([lookup[keys[c]] for c in cell_of_row[rows]])
        acc.update(cells, y[rows], pb[rows], pc[rows])
        return acc

    whole = fold(np.arange(n), keys)
    parts = [fold(np.arange(n)[s], keys[::-1] if i % 2 else keys) for i, s in
             enumerate((slice(0, 200), slice(200, 650), slice(650, n)))]
    left = parts[0].merge(parts[1]).merge(parts[2])
    right = parts[0].merge(parts[1].merge(parts[2]))
    for merged in (left, right):
        for key in keys:
            cw, cm = [whole.keys.index(key)], [merged.keys.index(key)]
            for model in (0, 1):
                a, b = whole.metrics(cw, model), merged.metrics(cm, model)
                assert a.keys() == b.keys()
                for name in a:
                    _close(b[name], a[name], f"{key} {name}")
        assert merged.rows == n
        assert merged.agreement() == whole.agreement()
