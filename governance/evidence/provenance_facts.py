"""Release facts recorded at collection: provenance as declared with the files it names hashed, leakage
against the training data, a personal-data scan of the evaluation data, and which card sections are filled.

The evaluation file is read once: :class:`ReleaseFacts` checks the declarations first (cheap: provenance, key
columns, the card), then takes every chunk of the scoring pass (leakage hashes, the personal-data sample, the
data-quality counts, the feature profile: a :class:`FactsState`) and finishes after it (each training set read once
against the evaluation rows' hashes). With the Dask engine the workers fold their partitions into copies of an empty
:class:`FactsState` (:meth:`ReleaseFacts.worker_state`) from the same stream they score, the copies merge in the
engine's tree, and the client takes the merged one (:meth:`ReleaseFacts.absorb`) instead of reading the file again.

Collection records; it never decides. The ``provenance``, ``leakage``, ``pii_scan`` and ``documentation`` rules
compare these facts with the rest of the evidence (the hashes of the files actually evaluated).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from ..card import CARD_NOT_FOUND
from ..data import Chunk, DataSource
from ..dataset import is_folder, list_files
from ..errors import InputError
from ..hashing import check_input_file, file_ref, shown_path
from ..manifest import Release
from ..provenance import LEAKAGE_ROLES, load_provenance
from .schema import Documentation, ProvenanceEvidence

if TYPE_CHECKING:
    from .leakage import EvaluationHasher
    from .pii import PiiSampler
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
            if is_folder(local):  # a folder of Parquet files: every file checked, hashed as its listing's digest
                list_files(local, root=release.folder, named_in=path, field=f"datasets.{name}.path")
            else:
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
    data_path: Path
    hashed: list[str] = field(init=False)
    #: the hashed columns some compared file stores as float32: compared at float32 precision in every file
    narrow: list[str] = field(init=False)

    def __post_init__(self) -> None:
        from .leakage import leakage_narrow

        self.hashed = list(self.key) if self.key else list(self.columns)
        self.narrow = leakage_narrow(self.data_path, self.hashed, self.sets, self.key)


def _leakage_plan(release: Release, provenance: ProvenanceEvidence, source: DataSource,
                  data_path: Path) -> _LeakagePlan | None:
    """The leakage comparison, validated (key columns present) without reading the data's rows."""
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
            lacking = [c for c in key if c not in source.names]  # the header or footer, as already read
            if lacking:
                raise InputError(path, "key", f"key column {lacking[0]!r} of the evaluation dataset is not in "
                                              f"{data_path.name}")
    return _LeakagePlan([*source.features, release.manifest.data.target], sets, key, data_path)


def _evaluation_key(provenance: ProvenanceEvidence, provenance_file: Path, data_path: Path) -> list[str] | None:
    """The key of the declared dataset that is the evaluated file (same local file), else of the only
    ``evaluation`` dataset."""
    for ds in provenance.declared.datasets.values():
        local = _local(ds.path, provenance_file) if ds.path is not None else None
        if local is not None and (local.is_file() or is_folder(local)) and local.samefile(data_path):
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


@dataclass
class FactsState:
    """What a stream of evaluation rows folds for the facts: the leakage row hashes (None without a leakage
    comparison), the personal-data sample, the data-quality counts and the feature profile.

    Picklable (accumulators and column names only: no release, no open file) and mergeable, so a Dask worker folds
    the partitions it scores into one and the engine's tree merges them; the personal-data sample is keyed by the
    chunks' global row offsets, so it is the one the local engine draws."""

    hasher: EvaluationHasher | None
    pii: PiiSampler
    quality: QualityAccumulator
    profile: FeatureProfile

    @property
    def columns(self) -> list[str]:
        """The columns the stream must hold beyond features, target and sensitive (``ReleaseFacts.columns``)."""
        return [*(self.hasher.columns if self.hasher is not None else []), *(self.pii.scannable or [])]

    def update(self, chunk: Chunk, source: DataSource) -> None:
        """Fold one chunk (its ``raw`` columns); ``source`` converts a CSV's text for the leakage columns."""
        assert chunk.raw is not None
        have = set(chunk.features.column_names)  # features as the models read them; target, sensitive as read
        if self.hasher is not None:  # features are converted once, for the models; only the rest here
            rest = source.typed(chunk.raw, [c for c in self.hasher.columns if c not in have], chunk.offset)
            self.hasher.update(pa.table({c: (chunk.features if c in have else rest).column(c)
                                         for c in self.hasher.columns}))
        self.pii.update(chunk.raw, chunk.offset)
        self.profile.update(chunk.features)
        self.quality.update(pa.table({c: (chunk.features if c in have else chunk.raw).column(c)
                                      for c in self.quality.columns}))

    def merge(self, other: FactsState) -> FactsState:
        """The facts of both parts' rows, as new state (neither side is changed in content). Exact and independent
        of the order and split of the rows (each piece's ``merge`` says why), except the feature profile's KLL
        sketches past its exact budget, which merge within their rank error."""
        quality = copy.deepcopy(self.quality)
        quality.merge(other.quality)
        hasher = self.hasher.merge(other.hasher) if self.hasher is not None and other.hasher is not None else None
        return FactsState(hasher, self.pii.merge(other.pii), quality, self.profile.merge(other.profile))


class ReleaseFacts:
    """The evidence fields ``provenance``, ``leakage``, ``pii``, ``documentation``, ``data_quality`` and
    ``feature_profile``, gathered around the one read of the evaluation data: construct before the models load
    (bad declarations fail fast), pass :attr:`columns` to ``DataSource.chunks``, :meth:`update` with every chunk,
    :meth:`finish` after the pass. A distributed engine instead folds copies of :meth:`worker_state` on its
    workers and hands the merged state to :meth:`absorb` before :meth:`finish`."""

    def __init__(self, release: Release, source: DataSource, data_path: Path) -> None:
        from .leakage import EvaluationHasher
        from .pii import PiiSampler

        self.release, self.source, self.data_path = release, source, data_path
        self.provenance = collect_provenance(release)  # hashes the files it names (the digest is reused)
        self.documentation = collect_documentation(release)
        self.plan = _leakage_plan(release, self.provenance, source, data_path) if self.provenance is not None else None
        self.hasher = EvaluationHasher(self.plan.hashed, self.plan.narrow) if self.plan is not None else None
        self.pii = PiiSampler(source.text_schema())
        self.quality = self._quality()
        #: the evaluation set's feature profile (representativeness, the monitor's reference): made at the first
        #: chunk, which decides the categorical columns (``profile.categorical_features``)
        self.profile: FeatureProfile | None = None
        #: further columns the stream must hold for leakage and the personal-data scan (Parquet; CSV reads all)
        self.columns = [*(self.plan.hashed if self.plan is not None else []), *(self.pii.scannable or [])]

    def update(self, chunk: Chunk) -> None:
        """Fold one chunk of the scoring pass (its ``raw`` columns) into the leakage hashes, the PII sample, the
        data-quality counts and the feature profile."""
        FactsState(self.hasher, self.pii, self.quality, self._profile(chunk.features)).update(chunk, self.source)

    def worker_state(self, first: pa.Table) -> FactsState:
        """An empty :class:`FactsState` for a distributed engine's workers to fold their partitions into. ``first``:
        the features of the data's first chunk, which decide the profile's categorical columns here on the client
        (as the local pass decides them), so every partition profiles each column the same way."""
        from .leakage import EvaluationHasher
        from .pii import PiiSampler

        return FactsState(EvaluationHasher(self.plan.hashed, self.plan.narrow) if self.plan is not None else None,
                          PiiSampler(self.source.text_schema()), self._quality(), self._profile(first).empty_like())

    def absorb(self, state: FactsState) -> None:
        """Take the workers' merged state (every row folded there) in place of this pass's own, which saw none."""
        self.hasher, self.pii, self.quality, self.profile = state.hasher, state.pii, state.quality, state.profile

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

    def finish(self) -> dict[str, Any]:
        """The six evidence fields; reads each training set named for leakage once (never the evaluation data:
        its rows came through :meth:`update` or :meth:`absorb`)."""
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
