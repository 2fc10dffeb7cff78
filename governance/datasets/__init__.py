"""Data bundled with the package: the UCI Adult census-income data (CC BY 4.0), for ``governance demo``.

``adult.parquet`` (48,842 rows, zstd) was made from the original UCI files by ``scripts/make_adult.py``;
``adult.provenance.yaml`` is its datasheet: source, licence, citation, collection, preprocessing, personal-data
columns and the sha256 of the Parquet and of the two source files.

Becker, B. & Kohavi, R. (1996). Adult. UCI Machine Learning Repository. https://doi.org/10.24432/C5XW20
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

ADULT = "adult.parquet"
ADULT_DATASHEET = "adult.provenance.yaml"
CITATION = ("Becker, B. & Kohavi, R. (1996). Adult. UCI Machine Learning Repository. "
            "https://doi.org/10.24432/C5XW20")


def path(name: str = ADULT) -> Path:
    """The installed file ``name`` of this package (a real file: the wheel is unpacked on install)."""
    return Path(str(resources.files(__name__).joinpath(name)))


def load_adult(columns: list[str] | None = None):
    """The Adult table (pyarrow), with a ``split`` column (train/test) as in the original files."""
    import pyarrow.parquet as pq

    return pq.read_table(path(ADULT), columns=columns)


def datasheet() -> dict[str, Any]:
    """The datasheet as a mapping (``dataset`` follows governance.provenance.DatasetProvenance)."""
    import yaml

    return yaml.safe_load(path(ADULT_DATASHEET).read_text(encoding="utf-8"))
