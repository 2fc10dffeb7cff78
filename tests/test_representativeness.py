"""Representativeness end to end: real releases with a production sample on disk, the distances in the evidence
cross-checked against scipy on the files as pandas reads them, the evaluation profile recorded with or without a
production block, and the rule gating the release."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from builders import FEATURES, gate, make_frame, make_release, run, write_yaml
from scipy.spatial.distance import jensenshannon
from scipy.stats import wasserstein_distance

from governance.evidence.profile import FeatureProfile, feature_distances
from governance.findings import Status
from governance.rules.representativeness import NO_PRODUCTION_SAMPLE

RULE = {"id": "REP-001", "kind": "representativeness", "min_production_rows": 500}


def _normed_w(ref: pd.Series, cur: pd.Series) -> float:
    ref, cur = ref.dropna().to_numpy(float), cur.dropna().to_numpy(float)
    return float(wasserstein_distance(ref, cur) / np.std(ref))


def _js(ref: pd.Series, cur: pd.Series) -> float:
    ref, cur = ref.dropna().astype(str), cur.dropna().astype(str)
    keys = sorted(set(ref) | set(cur))
    p = ref.value_counts().reindex(keys, fill_value=0).to_numpy(float)
    q = cur.value_counts().reindex(keys, fill_value=0).to_numpy(float)
    return float(jensenshannon(p / p.sum(), q / q.sum()))


def _production(folder, *, shift: float = 0.0, p_c: float = 0.1, n: int = 1200, seed: int = 9) -> pd.DataFrame:
    """Production rows like the evaluation data's, with x0 shifted by ``shift`` and group c at share ``p_c``."""
    df = make_frame(n, seed)
    rng = np.random.default_rng(seed)
    df["group"] = rng.choice(["a", "b", "c"], n, p=[(1 - p_c) * 2 / 3, (1 - p_c) / 3, p_c])
    df["x0"] = df["x0"] + shift
    df = df.drop(columns=["label"])
    df.to_csv(folder / "production.csv", index=False)
    return df


def test_classification_distances_match_scipy_and_the_rule_fails_on_a_shifted_feature(release_dir, tmp_path):
    manifest = make_release(release_dir, tmp_path)
    prod = _production(manifest.parent, shift=0.6, p_c=0.4)
    manifest = make_release(release_dir, tmp_path, production={"path": "production.csv", "chunk_rows": 256})
    findings, ev = gate(manifest, RULE)
    evaluation = pd.read_csv(manifest.parent / "eval.csv")
    rep = ev.production.representativeness
    assert rep is not None and rep.exact and set(rep.features) == set(FEATURES)
    for name in FEATURES:
        d = rep.features[name]
        assert d.method == "normed_wasserstein"
        assert d.distance == pytest.approx(_normed_w(evaluation[name], prod[name]), abs=1e-9)
        assert d.reference_rows == len(evaluation) and d.current_rows == len(prod)
    assert rep.worst_feature == "x0" and rep.worst_distance > 0.5
    (f,) = findings
    assert f.status == Status.FAIL
    assert f.details["worst_feature"] == "x0"
    worst = f.details["worst_slice"]  # group c (alone or within a region) is 4x as common in production
    assert worst["dimension"] in {"group", "group & region"} and worst["value"].startswith("c")
    assert worst["share_ratio"] > 3
    # the production profile is the monitor's reference: it reads back and gives the same distances
    back = FeatureProfile.from_json(rep.production_profile)
    reference = FeatureProfile.from_json(ev.feature_profile)
    assert feature_distances(reference, back) == rep.features


def test_classification_pass_on_a_production_sample_like_the_evaluation_set(release_dir, tmp_path):
    manifest = make_release(release_dir, tmp_path)
    _production(manifest.parent)
    manifest = make_release(release_dir, tmp_path, production={"path": "production.csv"})
    (f,), _ = gate(manifest, RULE)
    assert f.status == Status.PASS, f.message
    assert f.details["worst_slice"]["share_ratio"] < 2


def test_without_production_the_evaluation_profile_is_still_recorded(release_dir, tmp_path):
    manifest = make_release(release_dir, tmp_path)
    (f,), ev = gate(manifest, RULE)
    assert f.status == Status.INCONCLUSIVE and f.message == NO_PRODUCTION_SAMPLE
    evaluation = pd.read_csv(manifest.parent / "eval.csv")
    profile = FeatureProfile.from_json(ev.feature_profile)
    assert profile.rows == len(evaluation) and profile.features == FEATURES and profile.categorical == []
    fresh = profile.empty_like()
    for start in range(0, len(evaluation), 300):  # chunked differently from the gate's 400 rows: same profile
        fresh.update(pa_table(evaluation.iloc[start:start + 300][FEATURES]))
    assert fresh.to_json() == profile.to_json()


def pa_table(df: pd.DataFrame) -> pa.Table:
    return pa.Table.from_pandas(df, preserve_index=False)


def _regression_release(d, *, production: pd.DataFrame) -> object:
    """A predictions-format regression release with a text and a few-level integer feature."""
    rng = np.random.default_rng(3)
    n = 1500
    df = pd.DataFrame({"f0": rng.normal(size=n), "kind": rng.choice(["u", "v", "w"], n, p=[0.6, 0.3, 0.1]),
                       "level": rng.integers(1, 4, n), "group": rng.choice(["a", "b"], n)})
    df["y"] = 3 * df.f0 + rng.normal(size=n)
    df.to_csv(d / "eval.csv", index=False)
    base = df.y + rng.normal(scale=0.5, size=n)
    pd.DataFrame({"pred": base}).to_csv(d / "baseline.csv", index=False)
    pd.DataFrame({"pred": base + rng.normal(scale=0.01, size=n)}).to_csv(d / "candidate.csv", index=False)
    production.to_csv(d / "production.csv", index=False)
    write_yaml(d / "policy.yaml", {"name": "p", "rules": [{**RULE, "severity": "block"}]})
    write_yaml(d / "release.yaml", {
        "name": "reg", "version": "1", "task": "regression",
        "baseline": {"path": "baseline.csv", "format": "predictions"},
        "candidate": {"path": "candidate.csv", "format": "predictions"},
        "data": {"path": "eval.csv", "target": "y", "sensitive": ["group"], "chunk_rows": 500},
        "production": {"path": "production.csv", "chunk_rows": 300},
        "policy": "policy.yaml",
        "evaluation": {"bootstrap": {"resamples": 0}, "latency": None, "robustness": None}})
    return df


def test_regression_categorical_features_match_scipy_and_check_exits_1(tmp_path, capsys):
    rng = np.random.default_rng(4)
    n = 1100
    prod = pd.DataFrame({"f0": rng.normal(0.05, 1, n), "kind": rng.choice(["u", "v", "w", "z"], n,
                                                                          p=[0.3, 0.3, 0.3, 0.1]),
                         "level": rng.integers(1, 4, n), "group": rng.choice(["a", "b"], n)})
    prod.loc[::40, "f0"] = np.nan  # missing values in production only: left out, reported as a share
    evaluation = _regression_release(tmp_path, production=prod)
    code, _, err = run(capsys, "check", tmp_path / "release.yaml", "--out", tmp_path / "out")
    assert code == 1, err
    ev = json.loads((tmp_path / "out" / "evidence.json").read_text())
    rep = ev["production"]["representativeness"]
    assert FeatureProfile.from_json(ev["feature_profile"]).categorical == ["kind", "level"]
    assert rep["features"]["kind"]["method"] == "jensen_shannon"
    assert rep["features"]["kind"]["distance"] == pytest.approx(_js(evaluation["kind"], prod["kind"]), abs=1e-9)
    assert rep["features"]["level"]["distance"] == pytest.approx(_js(evaluation["level"], prod["level"]), abs=1e-9)
    assert rep["features"]["f0"]["distance"] == pytest.approx(_normed_w(evaluation["f0"], prod["f0"]), abs=1e-9)
    assert rep["features"]["f0"]["current_missing_share"] == pytest.approx(prod["f0"].isna().mean())
    assert rep["features"]["f0"]["reference_missing_share"] == 0.0
    assert rep["worst_feature"] == "kind"
    verdict = json.loads((tmp_path / "out" / "verdict.json").read_text())
    (finding,) = [f for f in verdict["findings"] if f["rule_id"] == "REP-001"]
    assert finding["status"] == "fail" and finding["details"]["worst_feature"] == "kind"
