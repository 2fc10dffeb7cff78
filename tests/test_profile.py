"""Feature profiles: distances cross-checked against scipy, mergeable, JSON round trip, odd columns."""

from __future__ import annotations

import json
import math

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.distance import jensenshannon
from scipy.stats import wasserstein_distance

from governance.evidence.profile import (
    CONSTANT_REFERENCE,
    NO_VALUES,
    OVERFLOW,
    FeatureProfile,
    categorical_features,
    feature_distances,
)


def _profile(table: pa.Table, categorical: list[str] = (), **kw: int) -> FeatureProfile:  # type: ignore[assignment]
    p = FeatureProfile(table.column_names, categorical, **kw)
    p.update(table)
    return p


def _oracle_w(a: np.ndarray, b: np.ndarray) -> float:
    return float(wasserstein_distance(a, b) / np.std(a))


def _oracle_js(a: list[str], b: list[str]) -> float:
    keys = sorted(set(a) | set(b))
    p = np.array([a.count(k) for k in keys], float)
    q = np.array([b.count(k) for k in keys], float)
    return float(jensenshannon(p / p.sum(), q / q.sum()))


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(2, 300), st.integers(1, 300))
def test_exact_distances_equal_scipy(seed: int, n_ref: int, n_cur: int) -> None:
    rng = np.random.default_rng(seed)
    a = rng.normal(rng.uniform(-3, 3), rng.uniform(0.1, 5), n_ref)
    b = rng.normal(rng.uniform(-3, 3), rng.uniform(0.1, 5), n_cur)
    ca = rng.choice(list("abcde"), n_ref).tolist()
    cb = rng.choice(list("abcdefg"[: rng.integers(1, 8)]), n_cur).tolist()
    ref = _profile(pa.table({"x": a, "c": ca}), ["c"])
    cur = ref.empty_like()
    cur.update(pa.table({"x": b, "c": cb}))
    d = feature_distances(ref, cur)
    if np.std(a) > 0:
        assert d["x"].exact and d["x"].error_bound == 0
        assert d["x"].distance == pytest.approx(_oracle_w(a, b), abs=1e-9)
    assert d["c"].method == "jensen_shannon" and d["c"].exact
    assert d["c"].distance == pytest.approx(_oracle_js(ca, cb), abs=1e-9)


@pytest.mark.parametrize("shape", ["normal", "lognormal", "mixture"])
def test_sketched_distance_within_stated_bound(shape: str) -> None:
    rng = np.random.default_rng(7)
    n = 30_000
    if shape == "normal":
        a, b = rng.normal(0, 1, n), rng.normal(0.25, 1.3, n + 5000)
    elif shape == "lognormal":
        a, b = rng.lognormal(0, 0.6, n), rng.lognormal(0.1, 0.6, n)
    else:
        a = np.concatenate([rng.normal(-2, 0.5, n // 2), rng.normal(2, 0.5, n // 2)])
        b = np.concatenate([rng.normal(-2, 0.5, n // 4), rng.normal(2, 0.5, 3 * n // 4)])
    ref = _profile(pa.table({"x": a}), exact_limit=1000)
    cur = ref.empty_like()
    for part in np.array_split(b, 5):
        cur.update(pa.table({"x": part}))
    d = feature_distances(ref, cur)["x"]
    truth = _oracle_w(a, b)
    assert not d.exact and 0 < d.error_bound < 0.25
    assert abs(d.distance - truth) <= d.error_bound
    assert abs(d.distance - truth) < d.error_bound / 2  # in practice well inside the worst-case bound


def test_one_side_exact_one_sketched() -> None:
    rng = np.random.default_rng(3)
    a, b = rng.normal(0, 1, 500), rng.normal(1, 1, 20_000)
    ref = _profile(pa.table({"x": a}), exact_limit=1000)
    cur = ref.empty_like()
    cur.update(pa.table({"x": b}))
    d = feature_distances(ref, cur)["x"]
    assert not d.exact
    assert abs(d.distance - _oracle_w(a, b)) <= d.error_bound


def test_merge_equals_profile_of_union() -> None:
    rng = np.random.default_rng(1)
    t = pa.table({"x": rng.normal(5, 2, 3000), "k": rng.integers(0, 4, 3000),
                  "c": rng.choice(["u", "v", None], 3000).tolist()})
    whole = _profile(t, ["k", "c"])
    parts = [_profile(t.slice(i, 1000), ["k", "c"]) for i in (0, 1000, 2000)]
    left = parts[0].merge(parts[1]).merge(parts[2])
    right = parts[0].merge(parts[1].merge(parts[2]))
    cur = _profile(pa.table({"x": rng.normal(6, 2, 800), "k": rng.integers(0, 6, 800),
                             "c": rng.choice(["u", "w"], 800).tolist()}), ["k", "c"])
    want = feature_distances(whole, cur)
    for merged in (left, right):
        assert merged.rows == 3000
        got = feature_distances(merged, cur)
        for name in want:
            assert got[name].distance == pytest.approx(want[name].distance, abs=1e-12)
            assert got[name].exact
        assert merged.summary()["x"]["mean"] == pytest.approx(float(np.mean(t["x"])), rel=1e-12)
        assert merged.summary()["x"]["std"] == pytest.approx(float(np.std(t["x"])), rel=1e-10)
        assert merged.to_json()["columns"]["c"] == whole.to_json()["columns"]["c"]


def test_merge_of_sketches_within_bound() -> None:
    rng = np.random.default_rng(2)
    a, b = rng.gamma(2, 1, 24_000), rng.gamma(2.4, 1, 9_000)
    parts = [_profile(pa.table({"x": p}), exact_limit=5000) for p in np.array_split(a, 4)]
    merged = parts[0].merge(parts[1]).merge(parts[2].merge(parts[3]))
    cur = merged.empty_like()
    cur.update(pa.table({"x": b}))
    d = feature_distances(merged, cur)["x"]
    assert not d.exact
    assert abs(d.distance - _oracle_w(a, b)) <= d.error_bound
    assert merged.summary()["x"]["std"] == pytest.approx(float(np.std(a)), rel=1e-10)


def test_json_round_trip() -> None:
    rng = np.random.default_rng(4)
    t = pa.table({"x": rng.normal(size=400), "y": rng.normal(size=400), "c": rng.choice(list("ab"), 400)})
    for limit in (10_000, 100):  # exact values and sketch only
        p = _profile(t, ["c"], exact_limit=limit)
        data = json.loads(json.dumps(p.to_json()))
        back = FeatureProfile.from_json(data)
        assert back.to_json() == p.to_json()
        cur = _profile(pa.table({"x": rng.normal(1, 1, 300), "y": rng.normal(size=300),
                                 "c": rng.choice(list("abc"), 300)}), ["c"], exact_limit=limit)
        assert feature_distances(back, cur) == feature_distances(p, cur)
        back.update(t)  # a profile read back keeps folding
        assert back.rows == 800


def test_a_small_set_profile_is_deterministic_whatever_the_chunking() -> None:
    t = pa.table({"x": np.random.default_rng(5).normal(size=999)})
    one = _profile(t)
    chunked = FeatureProfile(["x"])
    for start in range(0, 999, 77):
        chunked.update(t.slice(start, 77))
    assert json.dumps(one.to_json()) == json.dumps(chunked.to_json())  # byte-identical evidence
    assert one.to_json()["columns"]["x"]["kll"] is None  # no randomised sketch while the values are held


def test_from_json_rejects_other_input() -> None:
    p = _profile(pa.table({"x": [1.0, 2.0]}))
    bad = p.to_json() | {"format": "something-else"}
    with pytest.raises(ValueError, match="not a feature profile"):
        FeatureProfile.from_json(bad)
    broken = json.loads(json.dumps(p.to_json()))
    broken["columns"]["x"]["values"] = "!!"  # not base64
    with pytest.raises(ValueError, match="not a feature profile"):
        FeatureProfile.from_json(broken)
    broken["columns"]["x"]["values"] = None  # neither values nor a sketch
    with pytest.raises(ValueError, match="either values or a sketch"):
        FeatureProfile.from_json(broken)
    del broken["columns"]["x"]
    with pytest.raises(ValueError, match="not a feature profile"):
        FeatureProfile.from_json(broken)


def test_all_null_column() -> None:
    ref = _profile(pa.table({"x": pa.array([None] * 5, pa.float64()), "c": pa.array([None] * 5, pa.string())}),
                   ["c"])
    empty = feature_distances(ref, ref)
    assert empty["x"].distance == 0.0 and empty["c"].distance == 0.0
    assert empty["x"].reference_missing_share == 1.0
    cur = ref.empty_like()
    cur.update(pa.table({"x": [1.0, 2.0], "c": ["a", "b"]}))
    d = feature_distances(ref, cur)
    assert d["x"].distance is None and d["x"].note == NO_VALUES.format(side="reference", rows=5)
    assert d["c"].distance is None and d["c"].current_missing_share == 0.0


def test_constant_reference() -> None:
    ref = _profile(pa.table({"x": [3.0] * 10}))
    same = ref.empty_like()
    same.update(pa.table({"x": [3.0] * 4}))
    assert feature_distances(ref, same)["x"].distance == 0.0
    other = ref.empty_like()
    other.update(pa.table({"x": [3.0, 4.0]}))
    d = feature_distances(ref, other)["x"]
    assert d.distance is None and d.note == CONSTANT_REFERENCE.format(value=3.0)


def test_missing_values_are_left_out_and_reported() -> None:
    a = [1.0, 2.0, None, 4.0, float("nan")]
    ref = _profile(pa.table({"x": pa.array(a, pa.float64())}))
    cur = ref.empty_like()
    cur.update(pa.table({"x": [2.0, 3.0, 5.0]}))
    d = feature_distances(ref, cur)["x"]
    assert d.reference_missing_share == pytest.approx(2 / 5) and d.current_missing_share == 0.0
    assert d.distance == pytest.approx(_oracle_w(np.array([1.0, 2.0, 4.0]), np.array([2.0, 3.0, 5.0])), abs=1e-12)


def test_category_only_on_one_side_is_the_maximum() -> None:
    ref = _profile(pa.table({"c": ["a"] * 10}), ["c"])
    cur = ref.empty_like()
    cur.update(pa.table({"c": ["b"] * 7}))
    assert feature_distances(ref, cur)["c"].distance == pytest.approx(math.sqrt(math.log(2)), abs=1e-12)


def test_categories_over_the_limit_share_one_bucket() -> None:
    values = [f"v{i % 50}" for i in range(500)]
    ref = _profile(pa.table({"c": values}), ["c"], max_categories=20)
    col = ref.to_json()["columns"]["c"]
    assert len(col["counts"]) == 20 and col["overflow"] == 300 and col["overflow_values"] == 30
    d = feature_distances(ref, ref)["c"]
    assert d.distance == 0.0 and not d.exact
    assert OVERFLOW not in col["counts"]


def test_dictionary_bool_and_integer_categories() -> None:
    t = pa.table({"d": pa.array(["x", "y", "x"]).dictionary_encode(), "b": [True, False, True],
                  "k": pa.array([1, 2, 1], pa.int64()), "f": [0.5, 1.5, 2.5], "n": pa.array([None] * 3, pa.int64())})
    assert categorical_features(t, [], []) == ["d", "b", "k"]
    assert categorical_features(t, ["f"], ["k"]) == ["d", "b", "f"]
    ref = _profile(t, categorical_features(t, [], []))
    assert ref.to_json()["columns"]["d"]["counts"] == {"x": 2, "y": 1}
    assert ref.to_json()["columns"]["b"]["counts"] == {"True": 2, "False": 1}


def test_profiles_of_other_features_do_not_mix() -> None:
    a = _profile(pa.table({"x": [1.0]}))
    b = _profile(pa.table({"x": [1.0]}), ["x"])
    with pytest.raises(ValueError, match="different features"):
        a.merge(b)
    with pytest.raises(ValueError, match="different features"):
        feature_distances(a, b)
    with pytest.raises(ValueError, match="lacks feature columns"):
        a.update(pa.table({"y": [1.0]}))
    with pytest.raises(ValueError, match="not numeric"):
        a.update(pa.table({"x": ["text"]}))


def test_dates_and_decimals_are_numeric() -> None:
    import datetime as dt
    import decimal

    days = [dt.date(2024, 1, 1) + dt.timedelta(days=i) for i in range(30)]
    t = pa.table({"day": pa.array(days), "amount": pa.array([decimal.Decimal(i) / 4 for i in range(30)])})
    assert categorical_features(t, [], []) == []
    ref = _profile(t)
    later = ref.empty_like()
    later.update(pa.table({"day": pa.array([d + dt.timedelta(days=30) for d in days]), "amount": t["amount"]}))
    d = feature_distances(ref, later)
    ordinals = np.array([x.toordinal() for x in days], float)
    assert d["day"].distance == pytest.approx(_oracle_w(ordinals, ordinals + 30), abs=1e-9)
    assert d["amount"].distance == 0.0


def test_a_code_read_as_float_on_one_side_is_the_same_category() -> None:
    ref = _profile(pa.table({"k": pa.array([1, 2, 2], pa.int64())}), ["k"])
    cur = ref.empty_like()
    cur.update(pa.table({"k": pa.array([1.0, 2.0, 2.0])}))
    assert feature_distances(ref, cur)["k"].distance == 0.0


def test_a_wide_table_holds_fewer_values_per_column_so_the_profile_stays_small():
    from governance.evidence.profile import EXACT_BUDGET, EXACT_FLOOR, EXACT_LIMIT

    assert FeatureProfile([f"x{i}" for i in range(5)]).exact_limit == EXACT_LIMIT
    wide = FeatureProfile([f"x{i}" for i in range(2000)] + ["c"], categorical=["c"])
    assert wide.exact_limit == max(EXACT_FLOOR, EXACT_BUDGET // 2000) < EXACT_LIMIT
    assert FeatureProfile.from_json(wide.to_json()).exact_limit == wide.exact_limit
    assert wide.empty_like().exact_limit == wide.exact_limit
