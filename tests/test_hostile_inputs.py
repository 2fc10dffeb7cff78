"""Hostile input files and bad data values: exit 2 naming the file (and column and row), no traceback, nothing
written; each refusal has a passing twin (a regular file, a link inside the folder, a finite value, a large
field that is read)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import FEATURES, write_yaml

from governance import data as data_module
from governance.cli import main
from governance.data import DUPLICATE_COLUMN, NOT_A_NUMBER, NOT_AN_INPUT, NOT_FLAT, NOT_UTF8, ROW_TOO_LARGE
from governance.dataset import EMPTY
from governance.hashing import IS_DEVICE, IS_FIFO, IS_FOLDER, sha256_file

FAST = {"bootstrap": {"resamples": 0}, "latency": None, "robustness": None}
SECRET = "TOPSECRET-first-line-of-another-file"


@pytest.fixture()
def rel(release_dir, tmp_path) -> Path:
    """A private copy of the conftest release, fast to gate (no bootstrap, timing or perturbation)."""
    d = tmp_path / "rel"
    shutil.copytree(release_dir, d)
    edit(d, evaluation=FAST)
    return d


def edit(d: Path, **changes) -> Path:
    manifest = yaml.safe_load((d / "release.yaml").read_text())
    manifest.update(changes)
    return write_yaml(d / "release.yaml", manifest)


@contextmanager
def deadline(seconds: int):
    """A hang (a FIFO read blocks forever) becomes a test failure, not a stuck suite."""
    def _expired(*_):
        raise TimeoutError(f"governance check still running after {seconds}s: it is blocked on an input")

    old = signal.signal(signal.SIGALRM, _expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def check(capsys, d: Path, out: Path) -> tuple[int, str]:
    with deadline(60):
        code = main(["check", str(d / "release.yaml"), "--out", str(out), "--quiet"])
    return code, capsys.readouterr().err


def refused(capsys, d: Path, tmp_path: Path) -> str:
    out = tmp_path / "out"
    code, err = check(capsys, d, out)
    assert code == 2, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert not out.exists()
    assert sorted(p.name for p in out.parent.iterdir() if p.name.startswith(".out")) == []  # no lock, no stage
    return err


# --- input files: refused before they are read -------------------------------------------------------
def provenance(d: Path, datasets: dict) -> None:
    """A minimal valid provenance.yaml naming ``datasets`` (name -> (role, path))."""
    sha = sha256_file(d / "baseline.skops")
    write_yaml(d / "provenance.yaml", {"datasets": {n: {"role": r, "path": p} for n, (r, p) in datasets.items()},
                                       "models": {"lr": {"sha256": sha}}})


def _fifo(d: Path, name: str) -> str:
    (d / name).unlink()
    os.mkfifo(d / name)
    return name


def _folder(d: Path, name: str) -> str:
    (d / "a-folder").mkdir()
    return "a-folder"


@pytest.mark.parametrize("make, template", [(_fifo, IS_FIFO), (_folder, IS_FOLDER),
                                            (lambda d, name: "/dev/zero", IS_DEVICE)],
                         ids=["fifo", "folder", "device"])
@pytest.mark.parametrize("field", ["data", "candidate"])
def test_an_input_that_is_not_a_regular_file_is_refused_before_it_is_read(rel, tmp_path, capsys, make, template,
                                                                          field):
    manifest = yaml.safe_load((rel / "release.yaml").read_text())
    spec = manifest[field]
    spec["path"] = make(rel, spec["path"])
    edit(rel, **{field: spec})
    err = refused(capsys, rel, tmp_path)
    path = spec["path"] if spec["path"].startswith("/") else str(rel / spec["path"])
    if (field, make) == ("data", _folder):  # data may be a folder of Parquet files (docs/dask.md); not an empty one
        template = EMPTY
    assert f"release.yaml: {field}.path: " in err
    assert template.format(path=path) in err


def test_a_symlink_out_of_the_release_folder_is_refused_and_the_file_never_quoted(rel, tmp_path, capsys):
    secret = tmp_path / "elsewhere" / "secret.csv"
    secret.parent.mkdir()
    secret.write_text(f"{SECRET}\nnot,a,valid,table,at,all,here\n")
    (rel / "eval.csv").unlink()
    (rel / "eval.csv").symlink_to(secret)
    err = refused(capsys, rel, tmp_path)
    assert "data.path" in err and "outside the release folder" in err
    assert SECRET not in err


def test_a_policy_or_its_parent_linking_out_of_its_folder_is_refused_and_never_quoted(rel, tmp_path, capsys):
    """The policy was read through a symlink out of the release folder and its keys quoted in the error
    ("unknown key 'db_password'"); a card or a data file linked out was already refused."""
    secret = tmp_path / "elsewhere" / "creds.yaml"
    secret.parent.mkdir()
    secret.write_text(f"{SECRET}: hunter2\n")
    policy = rel / "policy.yaml"
    (rel / "evil.yaml").symlink_to(secret)
    edit(rel, policy="evil.yaml")
    err = refused(capsys, rel, tmp_path)
    assert "release.yaml: policy" in err and "outside the release folder" in err and SECRET not in err
    edit(rel, policy="child.yaml")
    (rel / "child.yaml").write_text("name: child\nextends: evil.yaml\nrules: []\n")
    err = refused(capsys, rel, tmp_path)
    assert "child.yaml: extends" in err and "outside the release folder" in err and SECRET not in err
    shutil.copy(policy, tmp_path / "elsewhere" / "shared.yaml")  # an explicit path out, no symlink: the author's call
    (rel / "child.yaml").write_text(f"name: child\nextends: {tmp_path / 'elsewhere' / 'shared.yaml'}\n")
    assert main(["policy", "lint", str(rel / "child.yaml")]) == 0


def test_a_provenance_dataset_that_is_a_fifo_or_links_outside_is_refused(rel, tmp_path, capsys):
    outside = tmp_path / "train-outside.csv"
    shutil.copy(rel / "eval.csv", outside)
    (rel / "train.csv").symlink_to(outside)
    os.mkfifo(rel / "finetune.csv")
    provenance(rel, {"train": ("training", "train.csv")})
    edit(rel, provenance="provenance.yaml")
    err = refused(capsys, rel, tmp_path)
    assert "provenance.yaml: datasets.train.path" in err and "outside the release folder" in err
    provenance(rel, {"tune": ("fine-tuning", "finetune.csv")})
    err = refused(capsys, rel, tmp_path)
    assert "provenance.yaml: datasets.tune.path" in err and "named pipe" in err


def test_the_passing_twin_links_inside_the_folder_and_large_fields_are_read(rel, tmp_path, capsys, monkeypatch):
    """Regular files, symlinks that stay inside the release folder, a 3 MiB text field in a non-feature column
    (blocks start at 1 MiB here, so it is read only by growing the block) and numbers written in exponent form
    all pass: the refusals above are about the files, not the release."""
    monkeypatch.setattr(data_module, "BLOCK_START", 1 << 20)
    frame = pd.read_csv(rel / "eval.csv")
    frame["notes"] = "ok"
    frame.loc[700, "notes"] = "x" * (3 << 20)
    (rel / "data").mkdir()
    text = frame.to_csv(index=False).replace(f"{frame.loc[3, 'x0']!r}", f"{frame.loc[3, 'x0']:.6E}", 1)
    (rel / "data" / "eval.csv").write_text(text)
    (rel / "eval.csv").unlink()
    (rel / "eval.csv").symlink_to(rel / "data" / "eval.csv")  # inside: allowed
    shutil.copy(rel / "data" / "eval.csv", rel / "data" / "train.csv")
    (rel / "train.csv").symlink_to("data/train.csv")
    provenance(rel, {"train": ("training", "train.csv")})
    manifest = yaml.safe_load((rel / "release.yaml").read_text())
    manifest["data"]["features"] = FEATURES
    edit(rel, provenance="provenance.yaml", data=manifest["data"])
    out = tmp_path / "out"
    code, err = check(capsys, rel, out)
    assert code == 0, err
    assert (out / "verdict.json").is_file()


def test_a_file_the_gate_cannot_read_is_exit_2(release_dir, tmp_path):
    """chmod 000 does not stop root, so as root the check runs as the user nobody (a real permission error)."""
    shared = Path(tempfile.mkdtemp(prefix="gov-unreadable-"))
    try:
        d = shared / "rel"
        shutil.copytree(release_dir, d)
        edit(d, evaluation=FAST)
        for p in [shared, *d.rglob("*"), d]:
            p.chmod(0o777 if p.is_dir() else 0o644)
        (d / "eval.csv").chmod(0o000)
        argv = [sys.executable, "-m", "governance", "check", str(d / "release.yaml"), "--out", str(shared / "out")]
        if os.geteuid() == 0:
            if shutil.which("setpriv") is None:
                pytest.skip("running as root without setpriv: no way to be a user a file is unreadable to")
            argv = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *argv]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=120, cwd=shared)
        assert done.returncode == 2, done.stderr
        assert "eval.csv" in done.stderr and "Permission denied" in done.stderr and "Traceback" not in done.stderr
        assert not (shared / "out").exists()
    finally:
        shutil.rmtree(shared, ignore_errors=True)


# --- data errors: the data file, the column and the row ------------------------------------------------
def test_an_infinite_feature_value_names_the_data_file_column_and_row(rel, tmp_path, capsys):
    frame = pd.read_csv(rel / "eval.csv")
    frame.loc[6, "x1"] = float("inf")
    frame.to_csv(rel / "eval.csv", index=False)
    err = refused(capsys, rel, tmp_path)
    assert "eval.csv: x1: data row 7: inf is not a finite number" in err
    assert ".skops" not in err


@pytest.mark.parametrize("row", [2, 1400], ids=["early", "late"])
def test_text_in_a_numeric_column_names_the_data_file_column_and_row(rel, tmp_path, capsys, row):
    frame = pd.read_csv(rel / "eval.csv").astype({"x2": object})
    frame.loc[row - 1, "x2"] = "n/a?"
    frame.to_csv(rel / "eval.csv", index=False)
    err = refused(capsys, rel, tmp_path)
    assert f"eval.csv: x2: {NOT_A_NUMBER.format(row=row, value='n/a?')}" in err
    assert ".skops" not in err


def test_text_after_the_first_csv_block_is_found_by_row(tmp_path, capsys, rel):
    """pyarrow fixes a column's type from the first 4 MiB block; a later text value is named by row too."""
    frame = pd.read_csv(rel / "eval.csv")
    big = pd.concat([frame] * 40, ignore_index=True)  # ~60,000 rows, > 4 MiB
    big = big.astype({"x3": object})
    big.loc[len(big) - 5, "x3"] = "oops"
    big.to_csv(rel / "eval.csv", index=False)
    edit(rel, data={**yaml.safe_load((rel / "release.yaml").read_text())["data"], "chunk_rows": 20000})
    err = refused(capsys, rel, tmp_path)
    assert f"eval.csv: x3: {NOT_A_NUMBER.format(row=len(big) - 4, value='oops')}" in err


def test_a_row_larger_than_the_block_limit_says_what_to_do(rel, tmp_path, capsys, monkeypatch):
    """Blocks are held to 1 MiB here so a 3 MiB field exceeds them (the passing twin reads it: up to 128 MiB)."""
    monkeypatch.setattr(data_module, "BLOCK_START", 1 << 20)
    monkeypatch.setattr(data_module, "BLOCK_MAX", 1 << 20)
    frame = pd.read_csv(rel / "eval.csv")
    frame["notes"] = "ok"
    frame.loc[700, "notes"] = "x" * (3 << 20)
    frame.to_csv(rel / "eval.csv", index=False)
    manifest = yaml.safe_load((rel / "release.yaml").read_text())
    edit(rel, data={**manifest["data"], "features": FEATURES})
    err = refused(capsys, rel, tmp_path)
    assert "eval.csv: " in err and "larger than 1 MiB" in err and "shorten or remove the large field" in err
    assert "block size" not in err
    assert ROW_TOO_LARGE.split("{")[0] in err


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_a_column_named_twice_is_exit_2_naming_it(rel, tmp_path, capsys, kind):
    """pyarrow reads both; a read by name then failed deep inside it (an internal error, exit 3)."""
    frame = pd.read_csv(rel / "eval.csv")
    names = list(frame.columns)
    twice = names[1]
    names[2] = twice
    if kind == "csv":
        lines = (rel / "eval.csv").read_text().splitlines()
        (rel / "eval.csv").write_text("\n".join([",".join(names), *lines[1:]]) + "\n")
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_arrays([pa.array(frame[c]) for c in frame.columns], names=names)
        pq.write_table(table, rel / "eval.parquet")
        manifest = yaml.safe_load((rel / "release.yaml").read_text())
        edit(rel, data={**manifest["data"], "path": "eval.parquet"})
    err = refused(capsys, rel, tmp_path)
    assert f"eval.{kind}: {twice}: " + DUPLICATE_COLUMN.format(column=twice, times=2) in err


def test_a_csv_that_is_not_utf8_names_the_column_and_row(rel, tmp_path, capsys):
    """A latin-1 export (Excel's default on some systems): the text column's bad value by row, not exit 3."""
    frame = pd.read_csv(rel / "eval.csv")
    column = "region"  # a sensitive column: read as text, sliced by value
    frame[column] = "r" + frame[column].astype(str)
    frame.loc[299, column] = "M\u00fcnchen"
    frame.to_csv(rel / "eval.csv", index=False, encoding="latin-1")
    err = refused(capsys, rel, tmp_path)
    assert f"eval.csv: {column}: " + NOT_UTF8.format(row=300, value=b"M\xfcnchen") in err


def test_a_blank_sensitive_cell_is_the_missing_slice_in_a_csv_as_in_parquet(rel, tmp_path, capsys):
    """An empty (or NA) sensitive cell in a CSV was a slice named "" (or "NA") while data quality counted it as
    missing and a Parquet null was "(missing)": the same rows now give the same evidence in either format."""
    import json

    from governance.data import MISSING

    frame = pd.read_csv(rel / "eval.csv")
    frame["region"] = "r" + frame["region"].astype(str)
    frame.loc[::40, "region"] = None
    frame.to_csv(rel / "eval.csv", index=False)
    frame.to_parquet(rel / "eval.parquet", index=False)
    manifest = yaml.safe_load((rel / "release.yaml").read_text())
    evidence = {}
    for name in ("eval.csv", "eval.parquet"):
        edit(rel, data={**manifest["data"], "path": name})
        code, err = check(capsys, rel, tmp_path / name)
        assert code in (0, 1), err
        evidence[name] = json.loads((tmp_path / name / "evidence.json").read_text())
    slices = evidence["eval.csv"]["models"]["candidate"]["slices"]["region"]
    assert slices[MISSING]["count"] == len(frame[::40]) and "" not in slices
    assert evidence["eval.csv"]["models"] == evidence["eval.parquet"]["models"]
    assert evidence["eval.csv"]["data_quality"]["columns"]["region"]["missing"] == len(frame[::40])


def test_a_nested_column_is_exit_2_unless_data_features_leaves_it_out(rel, tmp_path, capsys):
    """A struct or list column (pandas writes dicts and lists so) became a feature by default and failed deep in the
    leakage hashes (exit 3); named features leave it out of every reader that casts columns."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    frame = pd.read_csv(rel / "eval.csv")
    table = pa.Table.from_pandas(frame, preserve_index=False)
    table = table.append_column("tags", pa.array([[i % 3, 1] for i in range(len(frame))]))
    pq.write_table(table, rel / "eval.parquet")
    manifest = yaml.safe_load((rel / "release.yaml").read_text())
    edit(rel, data={**manifest["data"], "path": "eval.parquet"})
    err = refused(capsys, rel, tmp_path)
    assert "eval.parquet: tags: " + NOT_FLAT.format(type="list<element: int64>") + NOT_AN_INPUT in err
    edit(rel, data={**manifest["data"], "path": "eval.parquet", "features": FEATURES})
    code, err = check(capsys, rel, tmp_path / "named")
    assert code in (0, 1), err


def test_a_model_that_knows_its_column_names_reads_them_in_its_order_and_names_the_extra_ones(rel, tmp_path, capsys):
    """scikit-learn refuses columns in another order than fitted: the file's order is not the model's business, so
    the columns are put in the fitted order (same evidence); an id column the model never saw is named, with the
    fix (data.features), not scikit-learn's message."""
    import json

    from governance.models.skops_model import FEATURES_DIFFER

    code, err = check(capsys, rel, tmp_path / "as-fitted")
    assert code in (0, 1), err
    frame = pd.read_csv(rel / "eval.csv")
    frame[list(reversed(frame.columns))].to_csv(rel / "eval.csv", index=False)
    code, err = check(capsys, rel, tmp_path / "reversed")
    assert code in (0, 1), err
    evidence = [json.loads((tmp_path / out / "evidence.json").read_text()) for out in ("as-fitted", "reversed")]
    assert evidence[0]["models"]["candidate"]["overall"] == evidence[1]["models"]["candidate"]["overall"]
    frame.assign(customer_id=range(len(frame))).to_csv(rel / "eval.csv", index=False)
    err = refused(capsys, rel, tmp_path)
    assert FEATURES_DIFFER.format(names=", ".join(FEATURES),
                                  differ="the data's feature columns also hold 'customer_id'") in err


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_an_empty_target_cell_is_a_missing_label_by_row_in_either_format(rel, tmp_path, capsys, kind):
    """A CSV's empty label read "target value '' is not a class", a Parquet null a missing label: now one message."""
    frame = pd.read_csv(rel / "eval.csv").astype({"label": "Int64"})
    frame.loc[41, "label"] = None
    if kind == "csv":
        frame.to_csv(rel / "eval.csv", index=False)
    else:
        frame.to_parquet(rel / "eval.parquet", index=False)
        manifest = yaml.safe_load((rel / "release.yaml").read_text())
        edit(rel, data={**manifest["data"], "path": "eval.parquet"})
    err = refused(capsys, rel, tmp_path)
    assert f"eval.{kind}: label: missing target value in data row 42" in err


def test_a_positive_label_yaml_read_as_a_number_names_the_class_as_written(rel, tmp_path, capsys):
    """Models fitted on float labels have classes '0.0' and '1.0'; positive_label: 1.0 (or true) reads as 1."""
    import skops.io as sio
    from sklearn.linear_model import LogisticRegression

    frame = pd.read_csv(rel / "eval.csv")
    model = LogisticRegression(max_iter=500).fit(frame[FEATURES], frame["label"].astype(float))
    for name in ("baseline.skops", "pruned.skops"):
        sio.dump(model, rel / name)
    err = refused(capsys, rel, tmp_path)
    assert "positive_label: 1 is not one of the classes ['0.0', '1.0']" in err
    assert "quote it, positive_label: '1.0'" in err


def test_a_feature_blank_through_the_first_block_is_typed_by_its_first_values(rel, tmp_path, capsys, monkeypatch):
    """pyarrow types a column null from an all-blank first block; the first value after it was refused ("'36.7'
    cannot be read as null"), so a large CSV sorted with its missing values first could not be gated. Read in a
    small first block, the file now gives what it gives read whole (here: the models' own refusal of NaN)."""
    frame = pd.read_csv(rel / "eval.csv")
    column = FEATURES[0]
    frame[column] = frame[column].astype(object)
    frame.loc[:799, column] = ""
    frame.to_csv(rel / "eval.csv", index=False)
    whole = check(capsys, rel, tmp_path / "whole")  # the default block holds the whole file
    monkeypatch.setattr(data_module, "BLOCK_START", 1 << 12)  # a 4 kB first block: all blank in that column
    small = check(capsys, rel, tmp_path / "small")
    assert "cannot be read as null" not in small[1]
    assert small == whole, (small, whole)
