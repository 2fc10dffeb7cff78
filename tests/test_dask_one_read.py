"""One read of the evaluation data with ``--engine dask`` (issue 10, item 4): the workers fold the leakage row hashes,
the personal-data sample, the data-quality counts and the feature profile from the partition stream they score, and
the client reads only its first chunk (latency, robustness, the profile's categorical columns).

A real in-process cluster (``LocalCluster(processes=False)``: no socket, nothing leaves the process) and real files.
Counting the rows ``DataSource.chunks`` yields is instrumentation (the real method runs and is delegated to); the
workers never call it (they read their row groups themselves), so the count is the client's.
"""

from __future__ import annotations

import pickle
import shutil
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from builders import FAST, FEATURES, dataset, fine_tuning_set, provenance_for, sha, write_yaml

from governance.data import DataSource
from governance.evidence.collect import collect
from governance.evidence.leakage import EvaluationHasher
from governance.evidence.pii import PiiSampler
from governance.evidence.profile import FeatureProfile
from governance.manifest import load_manifest

distributed = pytest.importorskip("distributed")

from governance.evidence.distributed import DaskEngine  # noqa: E402 (after the skip: needs the extra)

ROOT = Path(__file__).resolve().parents[1]
#: the evidence fields the workers now compute (provenance and documentation never read the rows)
FACTS = ("provenance", "leakage", "pii", "documentation", "data_quality", "feature_profile")


def _contact(n: int) -> list[str | None]:
    """A free-text column that holds personal data in some rows: emails, phone numbers, a card number."""
    out: list[str | None] = []
    for i in range(n):
        if i % 5 == 0:
            out.append(f"write to user{i}@example.com")
        elif i % 7 == 0:
            out.append(f"+1 415 555 {i:04d}")
        elif i == 333:
            out.append("card 4111 1111 1111 1111")
        else:
            out.append(None if i % 11 == 0 else "no contact")
    return out


def _as_parquet(d: Path, csv: str, row_group: int) -> None:
    frame = pd.read_csv(d / csv)
    frame["contact"] = _contact(len(frame))
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), d / "eval.parquet", row_group_size=row_group)


@pytest.fixture(scope="module")
def classification(release_dir, tmp_path_factory) -> Path:
    """The conftest release (1,500 rows) as Parquet in row groups of 300 (chunks of 400: they do not line up), a
    personal-data column that is not a feature, and a provenance whose fine-tuning set shares 12 evaluation rows."""
    d = tmp_path_factory.mktemp("dask-one-read") / "rel"
    shutil.copytree(release_dir, d)
    _as_parquet(d, "eval.csv", 300)
    ft = fine_tuning_set(d, 12)
    prov = provenance_for(d)
    prov["datasets"]["eval"] = {**dataset("evaluation", "eval.parquet"), "sha256": sha(d / "eval.parquet")}
    prov["datasets"]["ft"] = dataset("fine-tuning", ft.name)
    write_yaml(d / "provenance.yaml", prov)
    manifest = yaml.safe_load((d / "release.yaml").read_text())
    manifest["data"] = {**manifest["data"], "path": "eval.parquet", "features": FEATURES}
    manifest["evaluation"] = FAST
    manifest["provenance"] = "provenance.yaml"
    return write_yaml(d / "release.yaml", manifest)


@pytest.fixture(scope="module")
def regression(tmp_path_factory) -> Path:
    """The regression example (2,000 rows, its provenance with a training set for leakage) as Parquet in row groups
    of 450, chunks of 300, with a personal-data column; ``day_of_week`` is profiled as categorical (first chunk)."""
    d = tmp_path_factory.mktemp("dask-one-read-regression") / "rel"
    shutil.copytree(ROOT / "examples" / "regression", d)
    _as_parquet(d, "eval.csv", 450)
    manifest = yaml.safe_load((d / "release.yaml").read_text())
    manifest.pop("approvals")
    manifest["data"] = {**manifest["data"], "path": "eval.parquet", "chunk_rows": 300,
                        "features": ["price", "promotion", "temperature", "day_of_week", "footfall"]}
    manifest["evaluation"] = {**FAST, "bootstrap": {"resamples": 50, "seed": 2}}
    return write_yaml(d / "release.yaml", manifest)


class ClientRows:
    """Rows ``DataSource.chunks`` yields, per file: the real method, counted."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.rows: Counter[str] = Counter()
        real = DataSource.chunks
        counter = self

        def chunks(source: DataSource, extra=()) -> Iterator:
            for chunk in real(source, extra):
                counter.rows[source.path.name] += len(chunk)
                yield chunk

        monkeypatch.setattr(DataSource, "chunks", chunks)


def _on_cluster(manifest: Path, workers: int = 2) -> dict:
    with distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster:
        engine = DaskEngine(scheduler=cluster.scheduler_address)
        evidence = collect(load_manifest(manifest), engine=engine).model_dump(mode="json")
    assert engine.partitions > 1
    return evidence


def test_the_client_reads_only_the_first_chunk_and_the_facts_are_the_local_engines(classification, monkeypatch):
    local = collect(load_manifest(classification)).model_dump(mode="json")
    reads = ClientRows(monkeypatch)
    dask = _on_cluster(classification)
    monkeypatch.undo()
    assert reads.rows == Counter({"eval.parquet": 400})  # the first chunk only: never a second stream
    for name in FACTS:
        assert dask[name] == local[name], name
    assert dask["data"]["rows"] == local["data"]["rows"] == 1500
    # the facts are real, so equal means something: overlap found, identifiers found, every row counted
    assert dask["leakage"]["datasets"]["ft"]["overlap_rows"] >= 12
    pii = dask["pii"]
    assert pii["rows_total"] == 1500 and pii["columns"]["contact"]["matches"]["email"] == 300
    assert pii["columns"]["contact"]["matches"]["phone"] > 0 and pii["columns"]["contact"]["matches"]["payment_card"]
    assert dask["data_quality"]["rows"] == 1500 and dask["feature_profile"]["rows"] == 1500


def test_regression_on_the_cluster_reads_the_first_chunk_and_gives_the_local_facts(regression, monkeypatch):
    local = collect(load_manifest(regression)).model_dump(mode="json")
    reads = ClientRows(monkeypatch)
    dask = _on_cluster(regression)
    monkeypatch.undo()
    assert reads.rows == Counter({"eval.parquet": 300})
    for name in FACTS:
        assert dask[name] == local[name], name
    assert dask["leakage"] is not None and "demand-train" in dask["leakage"]["datasets"]
    assert dask["pii"]["rows_total"] == 2000 and dask["pii"]["columns"]["contact"]["matches"]["email"] == 400
    # decided once, on the client's first chunk, so every partition profiled the column the same way
    assert "day_of_week" in dask["feature_profile"]["categorical"]


def _texts(n: int) -> pa.Table:
    return pa.table({"v": [f"row {i}" for i in range(n)], "k": np.arange(n)})


def test_pii_samples_merged_from_parts_are_the_one_samplers_sample():
    """Keyed by a hash of the global row index: parts at any offsets, merged in a tree, draw the same bottom-k."""
    table, k = _texts(1000), 40
    whole = PiiSampler(max_rows=k)
    for start in range(0, 1000, 64):
        whole.update(table.slice(start, 64))
    parts = []
    for lo, hi in ((0, 130), (130, 520), (520, 1000)):  # partitions that do not line up with the chunks
        part = PiiSampler(max_rows=k)
        for start in range(lo, hi, 64):
            part.update(table.slice(start, min(64, hi - start)), offset=start)
        parts.append(part)
    # pickled as a worker's facts travel: at most k candidates each (up to 2k are held between cuts)
    assert any(part._kept is not None and part._kept.num_rows > k for part in parts)
    travelled = [pickle.loads(pickle.dumps(part)) for part in parts]
    assert all(part._kept is not None and part._kept.num_rows <= k for part in travelled)
    merged = travelled[0].merge(travelled[1]).merge(travelled[2])
    (ours, _, rows), (theirs, _, total) = merged.result(), whole.result()
    assert rows == total == 1000
    assert ours is not None and theirs is not None and ours.num_rows == theirs.num_rows == k
    assert sorted(ours.column("k").to_pylist()) == sorted(theirs.column("k").to_pylist())


def test_leakage_hashes_merge_exactly_and_a_sketched_profile_travels():
    table = pa.table({"a": np.arange(600) % 37, "b": [f"t{i % 11}" for i in range(600)]})
    whole, left, right = (EvaluationHasher(["a", "b"]) for _ in range(3))
    whole.update(table)
    left.update(table.slice(0, 250))
    right.update(table.slice(250))
    ours, theirs = left.merge(right).result(), whole.result()
    assert ours.rows == theirs.rows == 600
    assert np.array_equal(ours.hashes, theirs.hashes) and np.array_equal(ours.counts, theirs.counts)
    # past its exact limit a numeric column is a KLL sketch: a worker's profile must still pickle (as bytes)
    profile = FeatureProfile(["x"], exact_limit=10)
    profile.update(pa.table({"x": np.linspace(0.0, 1.0, 200)}))
    assert profile.to_json()["columns"]["x"]["kll"] is not None
    assert pickle.loads(pickle.dumps(profile)).to_json() == profile.to_json()
