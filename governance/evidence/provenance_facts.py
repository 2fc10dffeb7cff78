"""Release facts recorded at collection: provenance as declared with the files it names hashed, leakage
against the training data, a personal-data scan of the evaluation data, and which card sections are filled.

Collection records; it never decides. The ``provenance``, ``leakage``, ``pii_scan`` and ``documentation`` rules
compare these facts with the rest of the evidence (the hashes of the files actually evaluated).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..data import DataSource
from ..errors import InputError
from ..hashing import check_input_file, file_ref
from ..manifest import Release
from ..provenance import LEAKAGE_ROLES, load_provenance
from .schema import Documentation, ProvenanceEvidence


def provenance_path(release: Release) -> Path | None:
    """The provenance file the manifest names (None when it names none); a missing file is bad input."""
    if release.manifest.provenance is None:
        return None
    return release.resolve(release.manifest.provenance, "provenance")


def collect_provenance(release: Release) -> ProvenanceEvidence | None:
    """The provenance as declared, and the sha256 of every local file its datasets name."""
    path = provenance_path(release)
    if path is None:
        return None
    declared = load_provenance(path)
    files, unavailable = {}, {}
    for name, ds in declared.datasets.items():
        if ds.path is None:
            continue
        local = _local(ds.path, path)
        if local.exists() or local.is_symlink():  # a FIFO, folder or link out of the release folder: exit 2
            check_input_file(local, named_in=path, field=f"datasets.{name}.path", root=release.folder)
            files[name] = file_ref(local, release.folder)
        else:
            unavailable[name] = f"file not found: {local}"
    return ProvenanceEvidence(file=file_ref(path, release.folder), declared=declared, files=files,
                              unavailable=unavailable)


def _local(ds_path: str, provenance_file: Path) -> Path:
    p = Path(ds_path)
    return p if p.is_absolute() else provenance_file.parent / p


def _leakage(release: Release, provenance: ProvenanceEvidence, source: DataSource, data_path: Path):
    from .leakage import measure_leakage
    from .tables import column_names

    path = provenance_path(release)
    assert path is not None
    sets: dict[str, tuple[str, Path | None, str | None, list[str] | None]] = {}
    for name, ds in provenance.declared.datasets.items():
        if ds.role not in LEAKAGE_ROLES:
            continue
        if name in provenance.files and ds.path is not None:
            sets[name] = (ds.role, _local(ds.path, path), None, ds.key)
        else:
            sets[name] = (ds.role, None, provenance.unavailable.get(name, "no local file ('path') to compare"), ds.key)
    if not sets:
        return None
    key = release.manifest.data.key
    if key is None:
        key = _evaluation_key(provenance, path, data_path)
        if key:
            lacking = [c for c in key if c not in column_names(data_path)]
            if lacking:
                raise InputError(path, "key", f"key column {lacking[0]!r} of the evaluation dataset is not in "
                                              f"{data_path.name}")
    columns = [*source.features, release.manifest.data.target]
    return measure_leakage(data_path, columns, sets, release.manifest.data.chunk_rows, release.folder, key=key)


def _evaluation_key(provenance: ProvenanceEvidence, provenance_file: Path, data_path: Path) -> list[str] | None:
    """The key of the declared dataset that is the evaluated file (same local file), else of the only
    ``evaluation`` dataset."""
    for ds in provenance.declared.datasets.values():
        local = _local(ds.path, provenance_file) if ds.path is not None else None
        if local is not None and local.is_file() and local.samefile(data_path):
            return ds.key
    evaluation = [ds for ds in provenance.declared.datasets.values() if ds.role == "evaluation"]
    return evaluation[0].key if len(evaluation) == 1 else None


def collect_documentation(release: Release) -> Documentation:
    from ..card import load_card
    from .documentation import filled_sections

    if release.manifest.card is None:
        return Documentation(card_file=None, sections=filled_sections(None))
    path = release.resolve(release.manifest.card, "card")
    if not path.is_file():
        raise InputError(release.path, "card", f"card file not found: {path}")
    return Documentation(card_file=file_ref(path, release.folder), sections=filled_sections(load_card(path)))


def release_facts(release: Release, source: DataSource, data_path: Path) -> dict[str, Any]:
    """The evidence fields ``provenance``, ``leakage``, ``pii`` and ``documentation`` for this release."""
    from .pii import scan_pii

    provenance = collect_provenance(release)
    return {
        "provenance": provenance,
        "leakage": _leakage(release, provenance, source, data_path) if provenance is not None else None,
        "pii": scan_pii(data_path, release.manifest.data.chunk_rows),
        "documentation": collect_documentation(release),
    }
