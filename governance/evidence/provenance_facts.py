"""Release facts recorded at collection: provenance as declared with the files it names hashed, leakage
against the training data, a personal-data scan of the evaluation data, and which card sections are filled.

The evaluation file is read once: :class:`ReleaseFacts` checks the declarations first (cheap: provenance, key
columns, the card), then takes every chunk of the scoring pass (leakage hashes, the personal-data sample) and
finishes after it (each training set read once against the evaluation rows' hashes).

Collection records; it never decides. The ``provenance``, ``leakage``, ``pii_scan`` and ``documentation`` rules
compare these facts with the rest of the evidence (the hashes of the files actually evaluated).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from ..card import CARD_NOT_FOUND
from ..data import Chunk, DataSource
from ..errors import InputError
from ..hashing import check_input_file, file_ref, shown_path
from ..manifest import Release
from ..provenance import LEAKAGE_ROLES, load_provenance
from .schema import Documentation, ProvenanceEvidence

if TYPE_CHECKING:
    from .profile import FeatureProfile
    from .quality import ColumnRole, QualityAccumulator


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
            unavailable[name] = f"file not found: {shown_path(local, release.folder)}"
    return ProvenanceEvidence(file=file_ref(path, release.folder), declared=declared, files=files,
                              unavailable=unavailable)


def _local(ds_path: str, provenance_file: Path) -> Path:
    p = Path(ds_path)
    return p if p.is_absolute() else provenance_file.parent / p


@dataclass
class _LeakagePlan:
    """What leakage compares, fixed before the pass: the evaluation columns hashed and the datasets."""

    columns: list[str]
    sets: dict[str, tuple[str, Path | None, str | None, list[str] | None]]
    key: list[str] | None
    hashed: list[str] = field(init=False)

    def __post_init__(self) -> None:
        self.hashed = list(self.key) if self.key else list(self.columns)


def _leakage_plan(release: Release, provenance: ProvenanceEvidence, source: DataSource,
                  data_path: Path) -> _LeakagePlan | None:
    """The leakage comparison, validated (key columns present) without reading the data's rows."""
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
    return _LeakagePlan([*source.features, release.manifest.data.target], sets, key)


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
        raise InputError(release.path, "card", CARD_NOT_FOUND.format(path=path))
    return Documentation(card_file=file_ref(path, release.folder), sections=filled_sections(load_card(path)))


class ReleaseFacts:
    """The evidence fields ``provenance``, ``leakage``, ``pii``, ``documentation``, ``data_quality`` and
    ``feature_profile``, gathered around the one read of the evaluation data: construct before the models load
    (bad declarations fail fast), pass :attr:`columns` to ``DataSource.chunks``, :meth:`update` with every chunk,
    :meth:`finish` after the pass."""

    def __init__(self, release: Release, source: DataSource, data_path: Path) -> None:
        from .leakage import EvaluationHasher
        from .pii import PiiSampler

        self.release, self.source, self.data_path = release, source, data_path
        self.provenance = collect_provenance(release)  # hashes the files it names (the digest is reused)
        self.documentation = collect_documentation(release)
        self.plan = _leakage_plan(release, self.provenance, source, data_path) if self.provenance is not None else None
        self.hasher = EvaluationHasher(self.plan.hashed) if self.plan is not None else None
        self.pii = PiiSampler(source.text_schema())
        self.quality = self._quality()
        #: the evaluation set's feature profile (representativeness, the monitor's reference): made at the first
        #: chunk, which decides the categorical columns (``profile.categorical_features``)
        self.profile: FeatureProfile | None = None
        #: further columns the stream must hold for leakage and the personal-data scan (Parquet; CSV reads all)
        self.columns = [*(self.plan.hashed if self.plan is not None else []), *(self.pii.scannable or [])]

    def update(self, chunk: Chunk) -> None:
        """Fold one chunk of the scoring pass (its ``raw`` columns) into the leakage hashes, the PII sample and the
        data-quality counts."""
        assert chunk.raw is not None
        if self.hasher is not None:  # features are converted once, for the models; only the rest here
            have = set(chunk.features.column_names)
            rest = self.source.typed(chunk.raw, [c for c in self.hasher.columns if c not in have], chunk.offset)
            self.hasher.update(pa.table({c: (chunk.features if c in have else rest).column(c)
                                         for c in self.hasher.columns}))
        self.pii.update(chunk.raw)
        self._profile(chunk.features).update(chunk.features)
        have = set(chunk.features.column_names)  # features as the models read them; target, sensitive as read
        self.quality.update(pa.table({c: (chunk.features if c in have else chunk.raw).column(c)
                                      for c in self.quality.columns}))

    def _profile(self, first: pa.Table | None) -> FeatureProfile:
        from .profile import FeatureProfile, categorical_features

        if self.profile is None:
            spec = self.release.manifest.data
            categorical = (categorical_features(first, spec.categorical, spec.continuous) if first is not None
                           else spec.categorical)
            self.profile = FeatureProfile(list(self.source.features), categorical)
        return self.profile

    def _quality(self) -> QualityAccumulator:
        """The data-quality counts; rows are hashed here unless the leakage check hashes them by content already."""
        from ..data import _null_markers
        from .quality import QualityAccumulator

        spec, task = self.release.manifest.data, self.release.manifest.task
        roles: dict[str, ColumnRole] = dict.fromkeys(self.source.features, "feature")
        roles.setdefault(spec.target, "target")
        for column in spec.sensitive:
            roles.setdefault(column, "sensitive")
        return QualityAccumulator(roles, markers=_null_markers() if self.source.format == "csv" else None,
                                  row_columns=[*self.source.features, spec.target],
                                  hash_rows=self.plan is None or self.plan.key is not None,
                                  target=spec.target if task != "regression" else None)

    def _training_balance(self) -> tuple[str, dict[str, float]] | None:
        """The first training dataset of the provenance that declares its class balance."""
        if self.provenance is None:
            return None
        return next(((name, ds.class_balance) for name, ds in self.provenance.declared.datasets.items()
                     if ds.role == "training" and ds.class_balance is not None), None)

    def finish(self, *, read_again: bool = False) -> dict[str, Any]:
        """The six evidence fields; reads each training set named for leakage once. ``read_again``: the pass did
        not stream every row here (a distributed engine scored them), so stream the evaluation file now."""
        from .leakage import EvaluationHasher
        from .pii import PiiSampler

        if read_again:
            self.hasher = EvaluationHasher(self.plan.hashed) if self.plan is not None else None
            self.pii = PiiSampler(self.source.text_schema())
            self.quality = self._quality()
            self.profile = None
            for chunk in self.source.chunks(self.columns):
                self.update(chunk)
        return self._fields()

    def _fields(self) -> dict[str, Any]:
        from .leakage import measure_leakage
        from .pii import scan_pii

        chunk_rows = self.release.manifest.data.chunk_rows
        leakage = None
        evaluation = self.hasher.result() if self.hasher is not None else None
        if self.plan is not None and evaluation is not None:
            leakage = measure_leakage(self.data_path, self.plan.columns, self.plan.sets, chunk_rows,
                                      self.release.folder, key=self.plan.key, evaluation=evaluation)
        return {
            "provenance": self.provenance,
            "leakage": leakage,
            "pii": scan_pii(self.data_path, chunk_rows, sampler=self.pii),
            "documentation": self.documentation,
            "data_quality": self.quality.result(evaluation=evaluation, training=self._training_balance()),
            "feature_profile": self._profile(None).to_json(),
        }


def release_facts(release: Release, source: DataSource, data_path: Path) -> dict[str, Any]:
    """The six fields on their own (one read of the data, as in the gate's pass, without the models)."""
    facts = ReleaseFacts(release, source, data_path)
    for chunk in source.chunks(facts.columns):
        facts.update(chunk)
    return facts.finish()
