"""Data quality of the evaluation set (governance/evidence/quality.py): real CSV and Parquet files, checked against
pandas as the oracle (isna, duplicated, nunique, value_counts)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from builders import FAST, sha, write_yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from governance.cli import main
from governance.data import DataSource
from governance.evidence.collect import collect
from governance.evidence.leakage import row_hashes
from governance.evidence.provenance_facts import ReleaseFacts, release_facts
from governance.evidence.quality import REUSED_METHOD, QualityAccumulator, RowDuplicates
from governance.manifest import load_manifest
from governance.provenance import CLASS_BALANCE_RANGE, CLASS_BALANCE_SUM

FEATURES = ["num", "text", "const", "const_text", "count"]
CHECKED = [*FEATURES, "label", "group"]


def quality_frame(n: int = 400, seed: int = 3) -> pd.DataFrame:
    """Missing numbers and text (CSV: both empty cells and "NA"), a constant column, a constant column with gaps,
    a sensitive column with gaps, an imbalanced label, and 25 rows copied."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({
        "num": rng.normal(size=n).round(3),
        "text": rng.choice(["red", "green", "blue"], size=n).astype(object),
        "const": 7.5,
        "const_text": "same",
        "count": rng.integers(0, 12, size=n),
        "group": rng.choice(["g1", "g2", "g3"], size=n).astype(object),
        "label": rng.choice([0, 1, 2], size=n, p=[0.6, 0.3, 0.1]),
    })
    df.loc[rng.choice(n, 31, replace=False), "num"] = np.nan
    df.loc[rng.choice(n, 17, replace=False), "text"] = None
    df.loc[rng.choice(n, 9, replace=False), "const_text"] = None
    df.loc[rng.choice(n, 5, replace=False), "group"] = None
    return pd.concat([df, df.iloc[rng.choice(n, 25, replace=False)]], ignore_index=True)


def write_release(d: Path, df: pd.DataFrame, fmt: str = "csv", provenance: dict | None = None,
                  chunk_rows: int = 53) -> Path:
    """A predictions-format release (the models' scores are files) over ``df``: the manifest's path."""
    d.mkdir(parents=True, exist_ok=True)
    data = d / f"eval.{fmt}"
    if fmt == "csv":
        text = df.to_csv(index=False)
        # half of the missing text cells as "NA" (a pyarrow and pandas null marker), half as empty cells
        lines = text.splitlines()
        lines = [line.replace(",,", ",NA,", 1) if i % 2 else line for i, line in enumerate(lines)]
        data.write_text("\n".join(lines) + "\n")
    else:
        df.to_parquet(data, index=False)
    rng = np.random.default_rng(0)
    for role in ("baseline", "candidate"):
        p = rng.dirichlet(np.ones(3), size=len(df))
        pd.DataFrame(p, columns=["p0", "p1", "p2"]).to_parquet(d / f"{role}.parquet")
    manifest = {
        "name": "quality", "version": "1", "task": "multiclass_classification", "classes": [0, 1, 2],
        "baseline": {"path": "baseline.parquet", "format": "predictions"},
        "candidate": {"path": "candidate.parquet", "format": "predictions"},
        "data": {"path": data.name, "target": "label", "sensitive": ["group"], "features": FEATURES,
                 "chunk_rows": chunk_rows},
        "policy": "policy.yaml", "evaluation": FAST,
    }
    write_yaml(d / "policy.yaml", {"name": "quality", "rules": [
        {"id": "DQ-001", "kind": "data_quality", "allow_constant": ["const", "const_text"],
         "max_missing_share": 0.1, "max_duplicate_share": 0.1}]})
    if provenance is not None:
        write_yaml(d / "provenance.yaml", provenance)
        manifest["provenance"] = "provenance.yaml"
    return write_yaml(d / "release.yaml", manifest)


def provenance(d: Path, training: dict) -> dict:
    return {"datasets": {"eval": {"role": "evaluation", "path": "eval.csv"}, "train": training},
            "models": {"base": {"sha256": sha(d / "baseline.parquet")},
                       "pruned": {"sha256": sha(d / "candidate.parquet"), "parent": sha(d / "baseline.parquet")}}}


def read_back(path: Path) -> pd.DataFrame:
    return pd.read_csv(path) if path.suffix == ".csv" else pd.read_parquet(path)


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_counts_equal_pandas_on_csv_and_parquet(tmp_path, fmt):
    manifest = write_release(tmp_path, quality_frame(), fmt)
    dq = collect(load_manifest(manifest)).data_quality
    assert dq is not None
    df = read_back(tmp_path / f"eval.{fmt}")
    assert dq.rows == len(df)
    if fmt == "csv":  # the file really holds both kinds of missing text cell
        assert ",NA," in (tmp_path / "eval.csv").read_text() and ",," in (tmp_path / "eval.csv").read_text()
    for c in CHECKED:
        q = dq.columns[c]
        assert q.missing == int(df[c].isna().sum()), c
        assert q.missing_share == pytest.approx(df[c].isna().mean()), c
        assert q.distinct == df[c].nunique() and not q.distinct_at_least, c
        assert q.constant == (df[c].nunique() == 1), c
    assert {c for c, q in dq.columns.items() if q.constant} == {"const", "const_text"}
    assert dq.columns["label"].role == "target" and dq.columns["group"].role == "sensitive"
    assert dq.duplicate_rows == int(df[[*FEATURES, "label"]].duplicated().sum()) >= 25
    assert dq.duplicate_share == pytest.approx(dq.duplicate_rows / len(df)) and dq.duplicate_exact
    expected = df["label"].astype(str).value_counts(normalize=True).to_dict()
    assert dq.class_balance == pytest.approx(expected)
    assert dq.training_class_balance is None and dq.class_balance_distance is None


def test_class_balance_distance_from_the_declared_training_balance(tmp_path):
    df = quality_frame()
    write_release(tmp_path, df)  # the model files exist before the provenance hashes them
    manifest = write_release(tmp_path, df, provenance=provenance(tmp_path, {
        "role": "training", "uri": "s3://bucket/train.parquet", "class_balance": {0: 0.5, 1: 0.3, 2: 0.2}}))
    dq = collect(load_manifest(manifest)).data_quality
    assert dq is not None
    share = df["label"].value_counts(normalize=True)
    tvd = 0.5 * (abs(share[0] - 0.5) + abs(share[1] - 0.3) + abs(share[2] - 0.2))
    assert dq.training_dataset == "train" and dq.training_class_balance == {"0": 0.5, "1": 0.3, "2": 0.2}
    assert dq.class_balance_distance == pytest.approx(tvd) and dq.class_balance_distance > 0.05


def test_duplicates_reuse_the_leakage_row_hashes_when_the_leakage_check_hashes_rows(tmp_path):
    df = quality_frame()
    write_release(tmp_path, df)
    df.iloc[:50][[*FEATURES, "label"]].to_csv(tmp_path / "train.csv", index=False)
    manifest = write_release(tmp_path, df, provenance=provenance(tmp_path, {"role": "training",
                                                                            "path": "train.csv"}))
    ev = collect(load_manifest(manifest))
    assert ev.leakage is not None and ev.data_quality is not None
    read = pd.read_csv(tmp_path / "eval.csv")
    assert ev.data_quality.duplicate_rows == int(read[[*FEATURES, "label"]].duplicated().sum())
    assert ev.data_quality.duplicate_method == REUSED_METHOD.format(columns=", ".join([*FEATURES, "label"]))


@pytest.mark.parametrize(("balance", "message"), [
    ({0: 0.5, 1: 0.4}, CLASS_BALANCE_SUM.format(total=0.9)),
    ({0: 1.5, 1: -0.5}, CLASS_BALANCE_RANGE.format(label="0", share=1.5)),
])
def test_a_bad_declared_class_balance_is_exit_2_naming_the_field(tmp_path, capsys, balance, message):
    df = quality_frame(60)
    write_release(tmp_path, df)
    manifest = write_release(tmp_path, df, provenance=provenance(tmp_path, {
        "role": "training", "uri": "s3://bucket/train.parquet", "class_balance": balance}))
    code = main(["check", str(manifest), "--out", str(tmp_path / "out"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "provenance.yaml" in err and "datasets.train.class_balance" in err and message in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def _accumulator(table: pa.Table, **caps) -> QualityAccumulator:
    acc = QualityAccumulator({c: "feature" for c in ("a", "b")} | {"y": "target"}, markers=None,
                             row_columns=["a", "b", "y"], target="y", **caps)
    for start in range(0, table.num_rows, 300):
        acc.update(table.slice(start, 300))
    return acc


def _table(n: int, seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 60, size=n).astype(float)
    a[rng.random(n) < 0.05] = np.nan
    return pa.table({"a": a, "b": rng.choice(["x", "y", "z"], size=n), "y": rng.choice(["0", "1"], size=n)})


def test_two_parts_merged_equal_one_pass_even_past_the_caps(tmp_path):
    table = _table(4000, 5)
    caps = {"distinct_cap": 20, "duplicate_cap": 100}  # both caps are reached: bounded state, sampled duplicates
    whole = _accumulator(table, **caps)
    first, second = _accumulator(table.slice(0, 1700), **caps), _accumulator(table.slice(1700), **caps)
    first.merge(second)
    assert first.result() == whole.result()
    dq = whole.result()
    assert dq.columns["a"].distinct == 20 and dq.columns["a"].distinct_at_least
    assert dq.columns["b"].distinct == 3 and not dq.columns["b"].distinct_at_least
    assert not dq.duplicate_exact and "estimated" in dq.duplicate_method
    assert whole.duplicates is not None and len(whole.duplicates.hashes) <= 100


def test_the_duplicate_estimate_past_the_cap_is_close_to_the_exact_count():
    rng = np.random.default_rng(11)
    distinct = rng.integers(0, 2**62, size=15_000)
    rows = np.concatenate([distinct, rng.choice(distinct, size=5_000)])  # 5,000 copies of earlier rows
    table = pa.table({"v": rows.astype(float)})
    exact = int(pd.Series(rows).duplicated().sum())
    dup = RowDuplicates(cap=2_000)
    for start in range(0, len(rows), 1_000):
        dup.update(row_hashes(table.slice(start, 1_000), ["v"]))
    estimate, is_exact, sampled = dup.result()
    assert not is_exact and len(dup.hashes) <= 2_000 and 0 < sampled < len(rows)
    assert abs(estimate - exact) / len(rows) < 0.03
    small = RowDuplicates(cap=100_000)
    small.update(row_hashes(table, ["v"]))
    assert small.result() == (exact, True, len(rows))


def test_worker_states_merged_give_what_the_scoring_pass_gave(tmp_path):
    """The Dask engine's path: two parts of the rows folded into worker states, merged and absorbed, give the one
    pass's data-quality counts (nothing reads the file again)."""
    manifest = write_release(tmp_path, quality_frame(), "parquet")
    release = load_manifest(manifest)
    data = release.resolve(release.manifest.data.path, "data.path")
    source = DataSource(data, release.manifest.data, release.path)
    facts = ReleaseFacts(release, source, data)
    chunks = list(source.chunks(facts.columns))
    parts = [facts.worker_state(chunks[0].features) for _ in range(2)]
    for i, chunk in enumerate(chunks):
        parts[i * 2 // len(chunks)].update(chunk, source)
    facts.absorb(parts[0].merge(parts[1]))
    again = facts.finish()["data_quality"]
    assert again == release_facts(release, source, data)["data_quality"]
    assert again.duplicate_rows == int(pd.read_parquet(data)[[*FEATURES, "label"]].duplicated().sum())


def test_the_docs_examples_are_a_valid_rule_and_a_valid_training_dataset():
    import re

    import yaml

    from governance.policy import parse_policy
    from governance.provenance import DatasetProvenance

    docs = Path(__file__).resolve().parent.parent / "docs" / "data-quality.md"
    provenance_block, rule_block = re.findall(r"```yaml\n(.*?)```", docs.read_text(), flags=re.S)
    train = DatasetProvenance.model_validate(yaml.safe_load(provenance_block)["datasets"]["train"])
    assert train.class_balance == {"0": 0.72, "1": 0.28}
    policy = parse_policy({"name": "docs", "rules": yaml.safe_load(rule_block)}, path=docs)
    assert policy.rules[0].kind == "data_quality"


def test_on_a_real_release_the_rule_passes_within_its_limits_and_fails_naming_the_worst_column(tmp_path):
    from builders import gate

    from governance.findings import Status

    manifest = write_release(tmp_path, quality_frame())
    loose = {"id": "DQ-1", "kind": "data_quality", "allow_constant": ["const", "const_text"],
             "max_missing_share": 0.1, "max_duplicate_share": 0.1}
    strict = {"id": "DQ-2", "kind": "data_quality"}
    (ok, bad), _ = gate(manifest, loose, strict)
    assert ok.status == Status.PASS, ok.message
    assert bad.status == Status.FAIL
    share = pd.read_csv(tmp_path / "eval.csv")[CHECKED].isna().mean()
    assert share.idxmax() == "num" == bad.details["worst_column"]
    assert f"column 'num' is {share['num']:.2%} missing" in bad.message
    assert "constant column(s) const, const_text" in bad.message and "repeat an earlier row" in bad.message


@settings(max_examples=200, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(0, 3000), cap=st.integers(1, 300), spread=st.integers(1, 5000))
def test_smallest_distinct_keeps_what_a_capped_count_keeps(seed, n, cap, spread):
    """The partition shortcut keeps what a full np.unique gives a capped column: every distinct hash, or, past the cap,
    the cap + 1 smallest (so the column keeps the same hashes and saturates the same way)."""
    from governance.evidence.quality import _Column, smallest_distinct

    hashes = np.random.default_rng(seed).integers(0, spread, n).astype(np.uint64)  # repeats when spread is small
    want = np.unique(hashes)
    got = smallest_distinct(hashes, cap)
    if len(got) != len(want):  # cut short: only past the cap, and then the cap + 1 smallest
        assert len(want) > cap
        np.testing.assert_array_equal(got, want[:cap + 1])
    else:
        np.testing.assert_array_equal(got, want)
    old, new = _Column("feature"), _Column("feature")
    old.add(want, cap)
    new.add(got, cap)
    assert np.array_equal(old.hashes, new.hashes) and old.saturated == new.saturated
