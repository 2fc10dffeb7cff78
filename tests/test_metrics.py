"""governance.metrics against the real libraries (scikit-learn, fairlearn) as oracles.

Everything the gate reports is computed from folded counts; these tests rebuild the
counts from random rows and require the library value on the same rows, to 1e-9.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import sklearn.metrics as skm
from fairlearn import metrics as flm
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.exceptions import UndefinedMetricWarning

from governance import metrics as gm

TOL = 1e-9
FAST = settings(max_examples=60, deadline=None)
SEEDS = st.integers(0, 2**32 - 1)


def cm_of(y_true: np.ndarray, y_pred: np.ndarray, k: int) -> np.ndarray:
    """Confusion matrix cm[true, pred] via bincount (the way the folding layer counts)."""
    y_true, y_pred = np.asarray(y_true, np.int64), np.asarray(y_pred, np.int64)
    return np.bincount(y_true * k + y_pred, minlength=k * k).reshape(k, k)


def quiet(fn, *args, **kwargs):
    """Call a library metric with its expected ill-defined-input warnings silenced
    (UndefinedMetricWarning for 0/0 precision etc., UserWarning for a class missing
    from y_true / a 1 x 1 confusion matrix)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        warnings.simplefilter("ignore", UserWarning)
        return fn(*args, **kwargs)


def close(ours: float | None, ref: float) -> bool:
    """Library NaN <-> our None; otherwise equal to TOL."""
    ref = float(ref)
    if math.isnan(ref):
        return ours is None
    return ours is not None and abs(ours - ref) <= TOL


def sklearn_label_metrics(y_true, y_pred, **avg) -> dict[str, float]:
    return {
        "accuracy": skm.accuracy_score(y_true, y_pred),
        "balanced_accuracy": quiet(skm.balanced_accuracy_score, y_true, y_pred),
        "precision": quiet(skm.precision_score, y_true, y_pred, **avg),
        "recall": quiet(skm.recall_score, y_true, y_pred, **avg),
        "f1": quiet(skm.f1_score, y_true, y_pred, **avg),
    }


def fairlearn_rates(y_true, y_pred, pos_label: int) -> dict[str, float]:
    return {
        "selection_rate": flm.selection_rate(y_true, y_pred, pos_label=pos_label),
        "false_positive_rate": quiet(flm.false_positive_rate, y_true, y_pred, pos_label=pos_label),
        "false_negative_rate": quiet(flm.false_negative_rate, y_true, y_pred, pos_label=pos_label),
        "true_positive_rate": quiet(flm.true_positive_rate, y_true, y_pred, pos_label=pos_label),
    }


def assert_binary_matches(y_true, y_pred, positive: int) -> dict:
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    got = gm.confusion_metrics(cm_of(y_true, y_pred, 2), positive)
    assert got["count"] == len(y_true)
    ref = sklearn_label_metrics(y_true, y_pred, average="binary", pos_label=positive)
    ref |= fairlearn_rates(y_true, y_pred, positive)
    for key, value in ref.items():
        assert close(got[key], value), (key, got[key], value)
    return got


# ---------------------------------------------------------------- constants


def test_metric_tables_are_consistent():
    assert set(gm.HIGHER_IS_BETTER) == set(gm.METRICS) | set(gm.REGRESSION_METRICS)
    assert [m for m in gm.REGRESSION_METRICS if gm.HIGHER_IS_BETTER[m]] == ["r2"]  # errors: lower is better
    assert [m for m in gm.METRICS if not gm.HIGHER_IS_BETTER[m]] == [
        "log_loss",
        "false_positive_rate",
        "false_negative_rate",
    ]
    assert gm.FAIRNESS_HIGHER_IS_WORSE == {
        "demographic_parity_difference": True,
        "demographic_parity_ratio": False,
        "equalized_odds_difference": True,
        "equalized_odds_ratio": False,
        "mae_difference": True,
    }


# ---------------------------------------------------------------- confusion metrics


@FAST
@given(
    pairs=st.lists(st.tuples(st.integers(0, 1), st.integers(0, 1)), min_size=1, max_size=60),
    positive=st.integers(0, 1),
)
def test_binary_confusion_metrics_match_sklearn_and_fairlearn(pairs, positive):
    y_true, y_pred = (np.array(c) for c in zip(*pairs))
    got = assert_binary_matches(y_true, y_pred, positive)
    assert all(got[k] is not None for k in got)


@pytest.mark.parametrize("positive", [0, 1])
@pytest.mark.parametrize(
    "y_true, y_pred",
    [
        pytest.param([0, 1, 1, 0, 1], [0, 0, 0, 0, 0], id="no-predicted-positives"),
        pytest.param([0, 1, 1, 0, 1], [1, 1, 1, 1, 1], id="all-predicted-positive"),
        pytest.param([1, 1, 1], [1, 0, 1], id="only-positives-true"),
        pytest.param([0, 0, 0], [0, 1, 0], id="only-negatives-true"),
        pytest.param([0, 0, 0], [0, 0, 0], id="single-class-everywhere"),
        pytest.param([1], [1], id="one-row"),
        pytest.param([1, 0], [0, 1], id="all-wrong"),
    ],
)
def test_binary_degenerate_cases_match_libraries(y_true, y_pred, positive):
    assert_binary_matches(y_true, y_pred, positive)


def test_binary_hand_checked():
    # true\pred   0  1
    #   0         5  1
    #   1         2  2
    got = gm.confusion_metrics(np.array([[5, 1], [2, 2]]), positive=1)
    assert got["count"] == 10
    assert got["accuracy"] == pytest.approx(0.7)
    assert got["balanced_accuracy"] == pytest.approx((5 / 6 + 2 / 4) / 2)
    assert got["precision"] == pytest.approx(2 / 3)
    assert got["recall"] == got["true_positive_rate"] == pytest.approx(0.5)
    assert got["f1"] == pytest.approx(4 / 7)
    assert got["selection_rate"] == pytest.approx(0.3)
    assert got["false_positive_rate"] == pytest.approx(1 / 6)
    assert got["false_negative_rate"] == pytest.approx(0.5)
    # No true positives at all: fairlearn's nan_to_num makes TPR *and* FNR 0, not 1.
    none_pos = gm.confusion_metrics(np.array([[3, 1], [0, 0]]), positive=1)
    assert none_pos["true_positive_rate"] == 0.0 and none_pos["false_negative_rate"] == 0.0


@FAST
@given(seed=SEEDS, k=st.integers(3, 5), n=st.integers(1, 80), skew=st.booleans())
def test_multiclass_confusion_metrics_match_sklearn(seed, k, n, skew):
    rng = np.random.default_rng(seed)
    # skew: draw from few classes so some classes are absent from true, pred or both.
    hi = int(rng.integers(1, k + 1)) if skew else k
    y_true = rng.integers(0, hi, n)
    y_pred = np.where(rng.random(n) < 0.6, y_true, rng.integers(0, k, n))
    got = gm.confusion_metrics(cm_of(y_true, y_pred, k), positive=None)
    assert got["count"] == n
    ref = sklearn_label_metrics(y_true, y_pred, average="macro")
    for key, value in ref.items():
        assert close(got[key], value), (key, got[key], value)
    for key in ("selection_rate", "false_positive_rate", "false_negative_rate", "true_positive_rate"):
        assert got[key] is None


@pytest.mark.parametrize(
    "y_true, y_pred",
    [
        pytest.param([2, 2, 2], [2, 2, 2], id="single-class"),
        pytest.param([0, 0, 1, 1], [2, 2, 2, 2], id="predicted-class-never-true"),
        pytest.param([0, 1, 2, 3], [3, 3, 3, 3], id="one-predicted-class"),
    ],
)
def test_multiclass_degenerate_cases_match_sklearn(y_true, y_pred):
    got = gm.confusion_metrics(cm_of(y_true, y_pred, 5), positive=None)
    for key, value in sklearn_label_metrics(y_true, y_pred, average="macro").items():
        assert close(got[key], value), (key, got[key], value)


@pytest.mark.parametrize("k, positive", [(2, 1), (2, 0), (4, None)])
def test_empty_confusion_matrix_gives_none(k, positive):
    got = gm.confusion_metrics(np.zeros((k, k), np.int64), positive)
    assert got.pop("count") == 0
    assert len(got) == 9 and all(v is None for v in got.values())


@pytest.mark.parametrize(
    "cm, positive",
    [
        (np.zeros((2, 3), np.int64), None),
        (np.array([[1, -1], [0, 2]]), 1),
        (np.array([[1.5, 0], [0, 2]]), 1),
        (np.ones((3, 3), np.int64), 1),
        (np.ones((2, 2), np.int64), 2),
    ],
)
def test_invalid_confusion_matrix_raises(cm, positive):
    with pytest.raises(ValueError):
        gm.confusion_metrics(cm, positive)


# ---------------------------------------------------------------- ROC AUC


def _tied_scores(rng: np.random.Generator, n: int, decimals: int) -> tuple[np.ndarray, np.ndarray]:
    y = rng.random(n) < rng.uniform(0.1, 0.9)
    scores = np.round(np.clip(rng.normal(0.5 + 0.2 * y, 0.25), 0, 1), decimals)
    return scores, y


@FAST
@given(seed=SEEDS, n=st.integers(1, 300), decimals=st.integers(1, 2))
def test_auc_matches_sklearn_with_ties(seed, n, decimals):
    scores, y = _tied_scores(np.random.default_rng(seed), n, decimals)
    table = gm.compact_scores(scores, y)
    assert table[0].dtype == np.float64 and table[1].dtype == table[2].dtype == np.int64
    assert np.all(np.diff(table[0]) > 0)
    assert table[1].sum() == y.sum() and table[2].sum() == (~y).sum()
    ref = quiet(skm.roc_auc_score, y, scores)  # NaN (with a warning) when one class is absent
    assert close(gm.auc_from_score_counts(*table), ref)


@FAST
@given(seed=SEEDS, n=st.integers(0, 200), decimals=st.integers(1, 2))
def test_chunked_compaction_merges_to_the_same_table(seed, n, decimals):
    rng = np.random.default_rng(seed)
    scores, y = _tied_scores(rng, n, decimals)
    cuts = np.sort(rng.integers(0, n + 1, 2))  # 3 chunks, possibly empty
    parts = [gm.compact_scores(s, c) for s, c in zip(np.split(scores, cuts), np.split(y, cuts))]
    whole = gm.compact_scores(scores, y)
    a, b, c = parts
    for merged in (
        gm.merge_score_counts(a, b, c),
        gm.merge_score_counts(c, a, b),
        gm.merge_score_counts(gm.merge_score_counts(a, b), c),
        gm.merge_score_counts(a, gm.merge_score_counts(b, c)),
    ):
        for got, want in zip(merged, whole):
            np.testing.assert_array_equal(got, want)
            assert got.dtype == want.dtype
        assert gm.auc_from_score_counts(*merged) == gm.auc_from_score_counts(*whole)


def test_merge_of_nothing_and_empty_tables_is_empty():
    for merged in (gm.merge_score_counts(), gm.merge_score_counts(gm.compact_scores([], []))):
        assert [len(x) for x in merged] == [0, 0, 0]
    assert gm.auc_from_score_counts(*gm.merge_score_counts()) is None


def test_auc_hand_checked_and_edge_inputs():
    # pos scores {0.8, 0.5}, neg scores {0.5, 0.2}: pairs win, tie, win, win -> 3.5 / 4
    table = gm.compact_scores([0.8, 0.5, 0.5, 0.2], [True, True, False, False])
    assert gm.auc_from_score_counts(*table) == 0.875
    # An unsorted / duplicated table is canonicalised before ranking.
    s, p, q = table
    dup = (np.r_[s[::-1], s], np.r_[p[::-1], 0 * p], np.r_[q[::-1], 0 * q])
    assert gm.auc_from_score_counts(*dup) == 0.875
    with pytest.raises(ValueError):
        gm.compact_scores([0.1, np.nan], [True, False])
    with pytest.raises(ValueError):
        gm.compact_scores([0.1, 0.2], [True])


@FAST
@given(seed=SEEDS, n=st.integers(2, 100))
def test_auc_with_huge_counts_keeps_its_value(seed, n):
    # Scaling every count by 2**31 leaves AUC unchanged but forces the float path
    # (2 * P * N >= 2**62), so both code paths must agree.
    scores, y = _tied_scores(np.random.default_rng(seed), n, 1)
    s, p, q = gm.compact_scores(scores, y)
    small = gm.auc_from_score_counts(s, p, q)
    big = gm.auc_from_score_counts(s, p * 2**31, q * 2**31)
    assert (small is None) == (big is None)
    if small is not None:
        assert abs(small - big) <= 1e-12


@FAST
@given(seed=SEEDS, k=st.integers(3, 5), n=st.integers(10, 200))
def test_macro_ovr_auc_matches_sklearn(seed, k, n):
    rng = np.random.default_rng(seed)
    y = np.r_[np.arange(k), rng.integers(0, k, n)]  # every class present
    raw = rng.integers(0, 4, (y.size, k)) + 1 + 2 * np.eye(k, dtype=np.int64)[y]
    proba = raw / raw.sum(axis=1, keepdims=True)  # small integer rows -> many tied scores
    tables = [gm.compact_scores(proba[:, c], y == c) for c in range(k)]
    ref = skm.roc_auc_score(y, proba, multi_class="ovr", average="macro")
    assert close(gm.macro_ovr_auc(tables), ref)


def test_macro_ovr_auc_none_when_a_class_is_degenerate():
    proba = np.array([[0.6, 0.3, 0.1], [0.2, 0.5, 0.3], [0.1, 0.1, 0.8]])
    y = np.array([0, 1, 1])  # class 2 never true
    tables = [gm.compact_scores(proba[:, c], y == c) for c in range(3)]
    assert gm.macro_ovr_auc(tables) is None
    assert gm.macro_ovr_auc([]) is None


# ---------------------------------------------------------------- log loss


@FAST
@given(seed=SEEDS, n=st.integers(1, 200))
def test_binary_log_loss_matches_sklearn_with_exact_0_and_1(seed, n):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    p = rng.choice(np.array([0.0, 1.0, 0.3, 1e-20, 1 - 1e-17]), n)
    p = np.where(rng.random(n) < 0.5, p, rng.random(n))  # P(class 1)
    p_true = np.where(y == 1, p, 1.0 - p)
    terms = gm.clipped_neg_log(p_true)
    assert np.all(np.isfinite(terms))
    ref = skm.log_loss(y, p, labels=[0, 1])
    assert abs(gm.log_loss_from_sum(terms.sum(), n) - ref) <= TOL
    # Folding chunk sums gives the same mean.
    chunked = sum(gm.clipped_neg_log(c).sum() for c in np.array_split(p_true, 3))
    assert abs(gm.log_loss_from_sum(chunked, n) - ref) <= TOL


@FAST
@given(seed=SEEDS, k=st.integers(3, 5), n=st.integers(1, 200))
def test_multiclass_log_loss_matches_sklearn(seed, k, n):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    proba = rng.dirichlet(np.ones(k), n)
    onehot = rng.random(n) < 0.3  # exact 0/1 rows: confidently right or wrong
    proba[onehot] = np.eye(k)[rng.integers(0, k, onehot.sum())]
    terms = gm.clipped_neg_log(proba[np.arange(n), y])
    ref = skm.log_loss(y, proba, labels=list(range(k)))
    assert abs(gm.log_loss_from_sum(terms.sum(), n) - ref) <= TOL


def test_log_loss_clip_bounds_and_empty():
    eps = np.finfo(np.float64).eps
    assert gm.clipped_neg_log(np.array([0.0]))[0] == -np.log(eps)
    assert gm.clipped_neg_log(np.array([1.0]))[0] == -np.log(1 - eps)
    assert gm.log_loss_from_sum(0.0, 0) is None


# ---------------------------------------------------------------- fairness


def _group_metrics(y_true, y_pred, sf) -> dict[str, dict]:
    return {
        g: gm.confusion_metrics(cm_of(y_true[sf == g], y_pred[sf == g], 2), positive=1)
        for g in np.unique(sf)
    }


def _fairlearn_gaps(y_true, y_pred, sf) -> dict[str, float]:
    kw = {"sensitive_features": sf}
    return {
        "demographic_parity_difference": flm.demographic_parity_difference(y_true, y_pred, **kw),
        "demographic_parity_ratio": flm.demographic_parity_ratio(y_true, y_pred, **kw),
        "equalized_odds_difference": flm.equalized_odds_difference(y_true, y_pred, **kw),
        "equalized_odds_ratio": flm.equalized_odds_ratio(y_true, y_pred, **kw),
    }


@FAST
@given(
    seed=SEEDS,
    n_groups=st.integers(2, 6),
    n=st.integers(0, 150),
    base=st.sampled_from([0.0, 0.05, 0.5, 1.0]),
    sel=st.sampled_from([0.0, 0.1, 0.5]),
)
def test_fairness_gaps_match_fairlearn(seed, n_groups, n, base, sel):
    rng = np.random.default_rng(seed)
    sf = np.array([f"g{i}" for i in np.r_[np.arange(n_groups), rng.integers(0, n_groups, n)]])
    m = sf.size
    # base/sel 0 or 1 produce groups with no positives or no selections -> NaN ratios.
    y_true = (rng.random(m) < base).astype(np.int64)
    y_pred = np.where(rng.random(m) < sel, 1 - y_true, y_true)
    groups = _group_metrics(y_true, y_pred, sf)
    got = gm.fairness_gaps(groups)
    ref = _fairlearn_gaps(y_true, y_pred, sf)
    assert set(got) == set(gm.FAIRNESS_METRICS)
    for key, value in ref.items():
        assert close(got[key], value), (key, got[key], value)

    frame = quiet(
        flm.MetricFrame,
        metrics={
            "selection_rate": flm.selection_rate,
            "true_positive_rate": flm.true_positive_rate,
            "false_positive_rate": flm.false_positive_rate,
            "false_negative_rate": flm.false_negative_rate,
            "accuracy": skm.accuracy_score,
        },
        y_true=y_true,
        y_pred=y_pred,
        sensitive_features=sf,
    )
    assert sorted(frame.by_group.index) == sorted(groups)
    for g, row in frame.by_group.iterrows():
        for key, value in row.items():
            assert close(groups[g][key], value), (g, key, groups[g][key], value)


@pytest.mark.parametrize(
    "y_pred",
    [
        pytest.param([0, 1, 0, 0, 0, 0], id="tpr-all-zero"),  # TPR ratio NaN -> EO ratio NaN
        pytest.param([0, 0, 1, 0, 0, 0], id="fpr-all-zero"),  # FPR ratio NaN is ignored
    ],
)
def test_fairness_worst_case_nan_asymmetry_matches_fairlearn(y_pred):
    y_true = np.array([0, 0, 1, 1, 0, 0])
    y_pred = np.array(y_pred)
    sf = np.array(["a", "a", "a", "b", "b", "b"])
    got = gm.fairness_gaps(_group_metrics(y_true, y_pred, sf))
    for key, value in _fairlearn_gaps(y_true, y_pred, sf).items():
        assert close(got[key], value), (key, got[key], value)
    # hand check: tpr-all-zero -> fairlearn min([nan, 0.0]) is nan; fpr-all-zero -> 0.0
    assert got["equalized_odds_ratio"] == (None if y_pred[1] else 0.0)


def test_fairness_gaps_need_two_nonempty_groups():
    one = gm.confusion_metrics(np.array([[3, 1], [1, 2]]), positive=1)
    empty = gm.confusion_metrics(np.zeros((2, 2), np.int64), positive=1)
    other = gm.confusion_metrics(np.array([[1, 3], [0, 2]]), positive=1)
    assert all(v is None for v in gm.fairness_gaps({}).values())
    assert all(v is None for v in gm.fairness_gaps({"a": one}).values())
    assert all(v is None for v in gm.fairness_gaps({"a": one, "b": empty}).values())
    # An empty group neither adds a gap nor hides one.
    two = gm.fairness_gaps({"a": one, "b": other})
    assert two == gm.fairness_gaps({"a": one, "b": other, "c": empty})
    assert two["demographic_parity_difference"] == pytest.approx(5 / 6 - 3 / 7)
    # Multiclass groups carry no selection rate: nothing to compare.
    mc = gm.confusion_metrics(np.eye(3, dtype=np.int64), positive=None)
    assert all(v is None for v in gm.fairness_gaps({"a": mc, "b": mc}).values())
