"""The production pass (manifest ``production:``): read once in chunks, both models score it, slice shares joined
with the evaluation cells, bad input refused with one line naming the field."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from builders import FEATURES, make_frame, make_release, run, sha

from governance.evidence.collect import collect
from governance.evidence.production import FEATURES_MISSING
from governance.manifest import PRODUCTION_NOT_FOR_LM_EVAL, load_manifest


def _production(d, n=800, seed=5, *, drop=("label", "region"), parquet=False, p_c=0.4):
    """Production rows whose group c is 4x as common as in the evaluation data (p=0.1 there)."""
    df = make_frame(n, seed)
    rng = pd.Series(range(n)).sample(frac=1.0, random_state=seed).to_numpy()
    df["group"] = ["c" if i < p_c * n else ("a" if i % 2 else "b") for i in rng]
    df = df.drop(columns=list(drop))
    path = d / ("production.parquet" if parquet else "production.csv")
    if parquet:
        pq.write_table(pa.Table.from_pandas(df, preserve_index=False), path, row_group_size=100)
    else:
        df.to_csv(path, index=False)
    return path, df


@pytest.mark.parametrize("parquet", [False, True])
def test_slice_shares_match_pandas_and_the_file_is_hashed(release_dir, tmp_path, parquet):
    manifest = make_release(release_dir, tmp_path)
    path, df = _production(manifest.parent, parquet=parquet)
    manifest = make_release(release_dir, tmp_path, production={"path": path.name, "chunk_rows": 128})
    ev = collect(load_manifest(manifest))
    prod = ev.production
    assert prod is not None and prod.rows == len(df) and not prod.labelled
    assert prod.sensitive == ["group"] and prod.missing_sensitive == ["region"]
    assert ev.inputs["production"].sha256 == sha(path)
    evaluation = pd.read_csv(manifest.parent / "eval.csv")
    for value, share in prod.slices["group"].items():
        assert share.production_rows == int((df["group"] == value).sum())
        assert share.evaluation_rows == int((evaluation["group"] == value).sum())
        expected = (df["group"] == value).mean() / (evaluation["group"] == value).mean()
        assert share.share_ratio == pytest.approx(expected, rel=1e-12)
    assert prod.slices["group"]["c"].share_ratio > 3  # c is under-represented in the evaluation data
    assert "region" not in prod.slices and "group & region" not in prod.slices
    assert sum(c.production_rows for c in prod.cells) == len(df)


def test_labels_are_read_when_a_target_is_named(release_dir, tmp_path):
    manifest = make_release(release_dir, tmp_path)
    path, _ = _production(manifest.parent, drop=())
    manifest = make_release(release_dir, tmp_path, production={"path": path.name, "target": "label"})
    ev = collect(load_manifest(manifest))
    assert ev.production is not None and ev.production.labelled
    assert ev.production.sensitive == ["group", "region"] and "group & region" in ev.production.slices


def test_partly_labelled_production_rows_count_only_their_known_labels(release_dir, tmp_path):
    manifest = make_release(release_dir, tmp_path)
    path, df = _production(manifest.parent, drop=())
    df["label"] = df["label"].astype("Int64")
    df.loc[df.index % 3 == 0, "label"] = pd.NA  # a third of the labels have not arrived yet
    df.to_csv(path, index=False)
    manifest = make_release(release_dir, tmp_path, production={"path": path.name, "target": "label"})
    ev = collect(load_manifest(manifest))
    assert ev.production is not None and ev.production.labelled
    assert ev.production.labelled_rows == int(df["label"].notna().sum()) < len(df)


def test_no_production_block_leaves_the_evidence_as_it_was(release_dir, tmp_path):
    ev = collect(load_manifest(make_release(release_dir, tmp_path)))
    assert ev.production is None and "production" not in ev.model_dump(mode="json")


def test_a_missing_feature_column_is_exit_2_naming_the_field(release_dir, tmp_path, capsys):
    manifest = make_release(release_dir, tmp_path)
    path, _ = _production(manifest.parent, drop=("label", FEATURES[2]))
    manifest = make_release(release_dir, tmp_path, production={"path": path.name})
    code, _, err = run(capsys, "check", str(manifest), "--out", str(tmp_path / "out"))
    assert code == 2 and "production.path" in err
    assert FEATURES_MISSING.format(file=path.name, columns=repr(FEATURES[2])) in err
    assert "Traceback" not in err and not (tmp_path / "out" / "verdict.json").exists()


@pytest.mark.parametrize("problem, expected", [
    ("empty", "the production data has no rows"),
    ("bad_label", "is not a class the models predict"),
    ("missing_file", "production.path"),
    ("inf", "not a finite number"),
])
def test_bad_production_files_are_exit_2(release_dir, tmp_path, capsys, problem, expected):
    manifest = make_release(release_dir, tmp_path)
    path, df = _production(manifest.parent, drop=())
    target = None
    if problem == "empty":
        df.iloc[:0].to_csv(path, index=False)
    elif problem == "bad_label":
        df.loc[3, "label"] = 7
        df.to_csv(path, index=False)
        target = "label"
    elif problem == "missing_file":
        path.unlink()
    elif problem == "inf":
        df.loc[5, FEATURES[0]] = float("inf")
        df.to_csv(path, index=False)
    manifest = make_release(release_dir, tmp_path, production={"path": path.name, "target": target})
    code, _, err = run(capsys, "check", str(manifest), "--out", str(tmp_path / "out"))
    assert code == 2 and expected in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_lm_eval_releases_refuse_a_production_block(tmp_path, capsys):
    manifest = tmp_path / "release.yaml"
    manifest.write_text("name: x\nversion: 1\ntask: lm_eval\npolicy: p.yaml\n"
                        "baseline: {path: a, format: lm-eval-samples}\ncandidate: {path: b, format: lm-eval-samples}\n"
                        "production: {path: prod.csv}\n")
    code, _, err = run(capsys, "check", str(manifest), "--out", str(tmp_path / "out"))
    assert code == 2 and PRODUCTION_NOT_FOR_LM_EVAL in err


def test_a_sensitive_column_named_as_production_target_is_refused(release_dir, tmp_path, capsys):
    manifest = make_release(release_dir, tmp_path, production={"path": "eval.csv", "target": "group"})
    code, _, err = run(capsys, "check", str(manifest), "--out", str(tmp_path / "out"))
    assert code == 2 and "production.target" in err


def test_a_feature_named_as_production_target_is_refused(release_dir, tmp_path, capsys):
    """A 0/1 feature was accepted as the production labels."""
    from governance.evidence.production import TARGET_IS_FEATURE

    manifest = make_release(release_dir, tmp_path, production={"path": "eval.csv", "target": FEATURES[0]})
    code, _, err = run(capsys, "check", str(manifest), "--out", str(tmp_path / "out"))
    assert code == 2 and "production.target" in err and TARGET_IS_FEATURE.format(column=FEATURES[0]) in err


def test_the_evaluation_file_as_its_own_production_sample_is_warned(release_dir, tmp_path):
    from governance.evidence.production import SAME_AS_EVALUATION

    manifest = make_release(release_dir, tmp_path, production={"path": "eval.csv"})
    assert SAME_AS_EVALUATION in collect(load_manifest(manifest)).warnings
    path, _ = _production(manifest.parent)
    manifest = make_release(release_dir, tmp_path, production={"path": path.name})
    assert SAME_AS_EVALUATION not in collect(load_manifest(manifest)).warnings


@pytest.mark.parametrize("kind", ["text", "bool"])
def test_a_numeric_feature_written_as_text_or_booleans_in_production_is_exit_2(release_dir, tmp_path, capsys, kind):
    """The feature profile refused the column with a ValueError the command did not expect: exit 3, a bug's code."""
    manifest = make_release(release_dir, tmp_path)
    path, df = _production(manifest.parent, parquet=True)
    column = FEATURES[0]
    df[column] = df[column].astype(str) if kind == "text" else df[column] > df[column].median()
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), path)
    manifest = make_release(release_dir, tmp_path, production={"path": path.name})
    code, _, err = run(capsys, "check", str(manifest), "--out", str(tmp_path / "out"))
    assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert f"production.parquet: {column}: holds {'large_string' if kind == 'text' else 'bool'} values" in err
