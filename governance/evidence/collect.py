"""Collect evidence: run both models over the data in chunks, fold into one accumulator, measure."""

from __future__ import annotations

import importlib.metadata
import itertools
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np
import pyarrow as pa
from pydantic import TypeAdapter

from .. import __version__
from ..data import Chunk, DataSource, encode_text, missing_labels, score_rows
from ..errors import InputError
from ..hashing import digests_reused, file_ref
from ..manifest import Release
from ..metrics import AUC_GRID_BINS, METRICS, class_fairness_gaps, fairness_gaps, worst_class_gaps
from ..progress import INTERVALS, SCORING, TIMING, WORKERS, phase
from .accumulator import AUC_BINNED_WARNING, Accumulator, slice_cells
from .bootstrap import COUNT_METHOD, COUNT_METRICS, METHOD, SliceRef, compared, resample_metrics
from .consistency import CLASS_DIMENSION
from .efficiency import measure_efficiency
from .production import add_production, open_production, rescore
from .provenance_facts import FactsState, ReleaseFacts
from .recovery import with_recovery
from .replicates import AUC_METHOD, LOG_LOSS_METHOD
from .robustness import RobustnessAccumulator, numeric_features, perturbable_features
from .schema import (
    ROLES,
    Agreement,
    AucBinning,
    Calibration,
    CalibrationStats,
    ClassCounts,
    Comparison,
    Comparisons,
    DataEvidence,
    Efficiency,
    Evidence,
    ModelEvidence,
    Robustness,
    Role,
)

if TYPE_CHECKING:
    from ..policy import Policy

LIBRARIES = ("numpy", "pyarrow", "pydantic", "scikit-learn", "skops", "torch", "safetensors", "onnxruntime", "onnx",
             "fairlearn")
Progress = Callable[[int], None]


def library_versions() -> dict[str, str]:
    out = {}
    for name in LIBRARIES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return out


#: evidence.warnings when both models are one file (the identity rule fails on it too)
SAME_FILE_WARNING = "baseline and candidate are the same file: this gate compares a model with itself"
#: why an intersection was not formed (template: cells, budget)
OVER_BUDGET = "{cells:,} cells over the budget of {budget:,} (evaluation.intersection_budget)"


def _dimensions(sensitive: list[str], keys: Sequence[tuple[str, ...]], intersections: str | list[list[str]] = "default",
                budget: int = 5000) -> tuple[dict[str, list[int]], dict[str, str]]:
    """Each sensitive column, plus the intersections asked for (default: the full one) that stay under ``budget``
    occurring cells; the skipped ones with why. Every combination of six columns, or a product of two columns of
    thousands of values, would drown the gate and its documents in slices no one can read."""
    idx = list(range(len(sensitive)))
    if intersections == "none":
        wanted: list[tuple[int, ...]] = []
    elif intersections == "all":
        wanted = [c for r in range(2, len(idx) + 1) for c in itertools.combinations(idx, r)]
    elif intersections == "default":
        wanted = [tuple(idx)] if len(idx) > 1 else []
    else:
        wanted = [tuple(sorted(sensitive.index(c) for c in cols)) for cols in intersections]
    dims = {sensitive[i]: [i] for i in idx}
    skipped: dict[str, str] = {}
    for combo in wanted:
        name = " & ".join(sensitive[i] for i in combo)
        if name in dims or name in skipped:
            continue
        cells = len({tuple(key[i] for i in combo) for key in keys})
        if cells > budget:
            skipped[name] = OVER_BUDGET.format(cells=cells, budget=budget)
        else:
            dims[name] = list(combo)
    return dims, skipped


TASK_IS_BINARY = "multiclass_classification but {what}: set task: binary_classification (and positive_label)"
TASK_IS_MULTICLASS = "binary_classification but {what}: set task: multiclass_classification and classes: {classes}"
TARGET_HAS_MORE_CLASSES = "; if the task has more than two classes, set task: multiclass_classification and classes"


def _classes(release: Release, adapters: dict) -> list[str]:
    """The class labels, in the models' output order, as text."""
    m = release.manifest
    known = {role: [str(c) for c in a.classes] for role, a in adapters.items() if a.classes is not None}
    if len({tuple(v) for v in known.values()}) > 1:
        raise InputError(release.path, "candidate", f"baseline and candidate disagree on the classes: "
                                                    f"{known['baseline']} vs {known['candidate']}")
    declared = [str(c) for c in m.classes] if m.classes is not None else None
    from_models = next(iter(known.values()), None)
    if from_models is not None:  # the task first: its fix is the one to name when the classes differ too
        _task_fits(release, from_models, "the models have")
    if declared is not None and from_models is not None and declared != from_models:
        raise InputError(release.path, "classes", f"declared classes {declared} differ from the models' {from_models}")
    classes = declared or from_models or (["0", "1"] if m.task == "binary_classification" else None)
    if classes is None:
        raise InputError(release.path, "classes", "multiclass models that do not name their classes need 'classes:'")
    _task_fits(release, classes, "the models have" if declared is None else "'classes' lists")
    if m.task == "binary_classification" and str(m.positive_label) not in classes:
        near = [c for c in classes if _same_number(c, m.positive_label)]  # YAML read 1.0 as 1, True as 1
        hint = f" (the class is written {near[0]!r}: quote it, positive_label: {near[0]!r})" if near else ""
        raise InputError(release.path, "positive_label",
                         f"{m.positive_label!r} is not one of the classes {classes}{hint}")
    return classes


def _label_list(labels: list[str]) -> str:
    return "[" + ", ".join(labels) + "]"


def _task_fits(release: Release, labels: list[str], source: str) -> None:
    """Refuse a declared task that this many class labels contradict, naming the fix."""
    n, task = len(labels), release.manifest.task
    what = f"{source} {n} class{'es' if n != 1 else ''}"
    if task == "binary_classification" and n > 2:
        raise InputError(release.path, "task", TASK_IS_MULTICLASS.format(what=what, classes=_label_list(labels)))
    if task == "multiclass_classification" and n == 2:
        raise InputError(release.path, "task", TASK_IS_BINARY.format(what=what))
    if n < 2:
        raise InputError(release.path, "classes", f"{what}: a classifier needs at least two")


def _same_number(label: str, value: object) -> bool:
    """A class label that names the same number as ``value`` ('1.0' and 1)."""
    try:
        return float(label) == float(str(value))
    except ValueError:
        return False


def _check_task(release: Release, classes: list[str], role: str, raw: np.ndarray, target: np.ndarray) -> None:
    """Refuse a declared task the model's output width contradicts, before any score is used (naming the fix)."""
    width = 1 if np.ndim(raw) == 1 else int(np.shape(raw)[1])
    task = release.manifest.task
    what = f"the {role} model returns {width} score{'s' if width != 1 else ''} per row"
    if task == "binary_classification" and width > 2:
        seen = sorted({str(v) for v in target.tolist()})
        labels = _label_list(seen) if len(seen) == width else "[one label per score column, in order]"
        raise InputError(release.path, "task", TASK_IS_MULTICLASS.format(what=what, classes=labels))
    if task == "multiclass_classification" and width <= 2 < len(classes):
        raise InputError(release.path, "task", TASK_IS_BINARY.format(what=what))


def _probabilities(raw: np.ndarray, classes: list[str], positive: int | None, where: Path,
                   first_row: int) -> np.ndarray:
    """Check a model's scores and return (rows, K) probabilities."""
    raw = np.asarray(raw, dtype=np.float64)
    if raw.ndim == 1:
        raw = raw[:, None]
    if raw.ndim == 2 and raw.shape[1] == 1 and positive is not None:
        p = raw[:, 0]
        raw = np.empty((len(p), 2))
        raw[:, positive], raw[:, 1 - positive] = p, 1.0 - p
    if raw.ndim != 2 or raw.shape[1] != len(classes):
        raise InputError(where, "scores", f"model returned shape {raw.shape}, expected (rows, {len(classes)}) "
                                          f"for classes {classes}")
    bad = ~np.isfinite(raw).all(axis=1)
    if bad.any():
        row = first_row + int(np.flatnonzero(bad)[0]) + 1
        raise InputError(where, "scores", f"model returned NaN or infinite scores ({int(bad.sum())} rows in this "
                                          f"chunk, first at data row {row})")
    if (raw < -1e-9).any() or (raw > 1 + 1e-9).any() or not np.allclose(raw.sum(axis=1), 1.0, atol=1e-6):
        raise InputError(where, "scores", "scores are not probabilities (each row must lie in [0, 1] and sum to 1); "
                                          "for torch models set 'output: logits' if the network returns logits")
    return raw


def _encode(target: np.ndarray, classes: list[str], data: Path, column: str, first_row: int) -> np.ndarray:
    inverse, uniq = encode_text(pa.chunked_array([pa.array(target, pa.string())]))
    lookup = {c: i for i, c in enumerate(classes)}
    codes = np.array([lookup.get(u, -1) for u in uniq], dtype=np.int64)
    if (codes < 0).any():
        unknown = [str(u) for u, c in zip(uniq, codes) if c < 0]
        row = first_row + int(np.flatnonzero(codes[inverse] < 0)[0]) + 1
        hint = TARGET_HAS_MORE_CLASSES if len(classes) == 2 and len(uniq) > 2 else ""
        raise InputError(data, column, f"target value {unknown[0]!r} (first at data row {row}) is not a class the "
                                       f"models predict (classes: {', '.join(classes)}){hint}")
    return codes[inverse]


NOT_FEATURES = "not feature columns of {data}: {columns} (features: {features})"
NOT_NUMERIC = "not numeric in {data}, so noise cannot be added to them: {columns}"


def _perturbed(release: Release, first: pa.Table, data_path: Path) -> tuple[list[str], dict[str, str]]:
    """The features robustness noise goes to (from the first chunk), and those left alone with why."""
    spec = release.manifest.data
    numeric = set(numeric_features(first))
    if wrong := [c for c in spec.continuous if c not in numeric]:
        raise InputError(release.path, "data.continuous", NOT_NUMERIC.format(data=data_path.name,
                                                                             columns=", ".join(map(repr, wrong))))
    return perturbable_features(first, spec.categorical, spec.continuous)


class Engine(Protocol):
    """Folds every row of the evaluation data elsewhere (``evidence/distributed.py``): into a copy of ``acc`` and,
    from the same rows, into copies of the empty ``facts``; returns both merged, telling ``progress`` the rows
    folded so far. ``start`` comes first (the engine gets ready in the background while the client hashes and
    loads), ``ready`` waits for that, ``close`` comes last, on every path."""

    def start(self, release: Release, paths: dict[str, Path]) -> None: ...

    def ready(self) -> None: ...

    def fold(self, release: Release, acc: Accumulator, classes: list[str], positive: int | None,
             paths: dict[str, Path], *, facts: FactsState,
             progress: Progress | None = None) -> tuple[Accumulator, FactsState]: ...

    def close(self) -> None: ...


def fold_elsewhere(engine: Engine, release: Release, acc: Accumulator, classes: list[str], positive: int | None,
                   paths: dict[str, Path], source: DataSource, facts: ReleaseFacts,
                   progress: Progress | None = None) -> tuple[Accumulator, Iterator[Chunk]]:
    """Let ``engine`` fold every row, scores and facts alike, and give ``facts`` the merged state: the evaluation
    data is not read again here. Returns the merged accumulator and the client's stream, whose first chunk was read
    first (it decides the profile's categorical columns, as in the local pass); the client reads from it only the
    rows latency and robustness need. Phases: the wait for the workers (``WORKERS``), then ``SCORING``, so the
    scoring phase is the workers' throughput and the start-up shows on its own."""
    chunks = source.chunks(facts.columns)
    first = next(chunks)
    phase(progress, WORKERS)
    engine.ready()
    phase(progress, SCORING, source.total_rows)
    merged, state = engine.fold(release, acc, classes, positive, paths, facts=facts.worker_state(first.features),
                                progress=progress)
    facts.absorb(state)
    return merged, itertools.chain([first], chunks)


def quiet(engine: Engine | None, latency: object) -> None:
    """Before the models are timed (``latency`` set): wait for the engine's cluster to finish closing, so nothing
    else runs on the machine while latency is measured."""
    if engine is not None and latency is not None:
        engine.close()


def fold_chunk(release: Release, acc: Accumulator, chunk: Chunk, adapters: dict, classes: list[str],
               positive: int | None, paths: dict[str, Path], data_path: Path) -> np.ndarray:
    """Score one chunk with both models and fold it into ``acc`` (also a Dask worker's per-partition step, so
    both engines fold rows the same way); returns the chunk's class indices. Many classes: in pieces of at most
    ``data.SCORE_NUMBERS`` scores per model (the accumulator is the same for any split into pieces)."""
    if len(chunk) > (step := score_rows(len(classes))):
        return np.concatenate([fold_chunk(release, acc, piece, adapters, classes, positive, paths, data_path)
                               for piece in chunk.pieces(step)])
    raws = {r: adapters[r].predict_proba(chunk.features, chunk.offset) for r in ("baseline", "candidate")}
    for r, raw in raws.items():
        _check_task(release, classes, r, raw, chunk.target)
    probs = [_probabilities(raws[r], classes, positive, paths[r], chunk.offset) for r in ("baseline", "candidate")]
    y = _encode(chunk.target, classes, data_path, release.manifest.data.target, chunk.offset)
    acc.update(acc.cells_for(chunk.sensitive, len(chunk)), y, probs[0], probs[1],
               rows=chunk.offset + np.arange(len(chunk)))
    return y


def collect(release: Release, *, trust_pickle: bool = False, device: str = "cpu",
            progress: Progress | None = None, engine: Engine | None = None, policy: Policy | None = None) -> Evidence:
    """The evidence for ``release``; every input file is hashed once (provenance, leakage and the evidence's input
    hashes share the digest) and the evaluation file is streamed once (see ``docs/scale.md``). ``policy``: the
    policy the evidence is for, consulted by ``evaluation.bootstrap.score_intervals: auto`` (None: compute them)."""
    with digests_reused():
        if release.manifest.task == "lm_eval":  # two lm-evaluation-harness runs: no models, no data file
            from .lm_eval import collect_lm_eval

            return with_recovery(collect_lm_eval(release))
        try:
            return with_recovery(_collect(release, trust_pickle=trust_pickle, device=device, progress=progress,
                                          engine=engine, skip_scores=score_intervals_skipped(release, policy)))
        finally:
            if engine is not None:  # a cluster started for this check is closed on every path
                engine.close()


#: why classification's log-loss and ROC AUC intervals were not computed (evidence.comparisons.missing)
SCORE_INTERVALS_NEVER = "{metric}: not computed (evaluation.bootstrap.score_intervals: never)"
SCORE_INTERVALS_UNREAD = ("{metric}: not computed, since no rule of policy {policy!r} reads a {metric} interval "
                          "(evaluation.bootstrap.score_intervals: auto; set it to always to compute them)")


def score_intervals_skipped(release: Release, policy: Policy | None) -> dict[str, str] | None:
    """Metric -> why its interval is not computed, when the Poisson bootstrap of log loss and ROC AUC is skipped;
    None to compute it: always, auto with no policy to consult, or auto with a rule that reads those intervals."""
    from ..rules.needs import score_interval_readers

    ev = release.manifest.evaluation
    metrics = ("log_loss", "roc_auc") if ev.roc_auc else ("log_loss",)
    if ev.bootstrap.score_intervals == "never":
        return {m: SCORE_INTERVALS_NEVER.format(metric=m) for m in metrics}
    if ev.bootstrap.score_intervals == "auto" and policy is not None and not score_interval_readers(policy.rules):
        return {m: SCORE_INTERVALS_UNREAD.format(metric=m, policy=policy.name) for m in metrics}
    return None


def _collect(release: Release, *, trust_pickle: bool = False, device: str = "cpu",
             progress: Progress | None = None, engine: Engine | None = None,
             skip_scores: dict[str, str] | None = None) -> Evidence:
    from ..dataset import resolve_data
    from ..models import load_model, model_path

    m = release.manifest
    data_path = resolve_data(release)  # a file, or a folder of Parquet files (governance/dataset.py)
    paths = {role: model_path(release, role) for role in ("baseline", "candidate")}
    source = DataSource(data_path, m.data, release.path)
    for field in ("categorical", "continuous"):  # robustness noise: the declared columns must be features
        if unknown := [c for c in getattr(m.data, field) if c not in source.features]:
            raise InputError(release.path, f"data.{field}", NOT_FEATURES.format(
                columns=", ".join(map(repr, unknown)), data=data_path.name, features=", ".join(source.features)))
    if engine is not None:  # a cluster gets ready while the client hashes the inputs and loads its models
        engine.start(release, paths)
    # provenance (files hashed), leakage plan, card sections: first, so bad input fails fast; the leakage hashes
    # and the personal-data sample come from the scoring pass's stream below (one read of the evaluation file)
    facts = ReleaseFacts(release, source, data_path)
    production = open_production(release, source)  # its path and header too, before any model runs
    adapters = {role: load_model(getattr(m, role), paths[role], field=role, manifest=release.path,
                                 trust_pickle=trust_pickle, device=device) for role in paths}
    if m.task == "regression":  # errors, not classes: its own accumulator and evidence (evidence/regression.py)
        from .regression import collect_regression

        return collect_regression(release, source, facts, adapters, paths, data_path, device=device,
                                  progress=progress, engine=engine, production=production)
    classes = _classes(release, adapters)
    positive = classes.index(str(m.positive_label)) if m.task == "binary_classification" else None
    ev = m.evaluation
    acc = Accumulator(len(classes), positive, roc_auc=ev.roc_auc, bins=ev.calibration_bins,
                      examples=ev.broken_examples, seed=ev.bootstrap.seed,
                      replicates=0 if skip_scores is not None else ev.bootstrap.resamples,
                      replicate_budget=ev.bootstrap.replicate_budget, auc_budget=ev.roc_auc_exact_budget)
    rob: RobustnessAccumulator | None = None
    sample = None  # the first rows, kept for timing the models after the pass

    def to_probabilities(role: str, raw: np.ndarray, offset: int) -> np.ndarray:
        return _probabilities(raw, classes, positive, paths[role], offset)

    rows = 0
    merged, chunks = None, source.chunks(facts.columns)
    if engine is not None:
        merged, chunks = fold_elsewhere(engine, release, acc, classes, positive, paths, source, facts, progress)
    else:
        phase(progress, SCORING, source.total_rows)
    for chunk in chunks:
        if merged is None:
            facts.update(chunk)
            y = fold_chunk(release, acc, chunk, adapters, classes, positive, paths, data_path)
        else:
            y = _encode(chunk.target, classes, data_path, m.data.target, chunk.offset)
        if sample is None:
            sample = chunk.features.slice(0, max(ev.latency.batch_sizes) if ev.latency else 1)
        if ev.robustness is not None:
            if rob is None:
                features, left = _perturbed(release, chunk.features, data_path)
                rob = RobustnessAccumulator(ev.robustness, features, unperturbed=left)
            if rob.wants_more():
                rob.update(chunk.features, y, adapters, chunk.offset, to_probabilities)
        rows += len(chunk)
        if progress is not None and merged is None:
            progress(rows)
        if merged is not None and (rob is None or not rob.wants_more()):
            break  # the workers scored every row: the client reads only the rows latency and robustness use
    if merged is not None:
        acc, rows = merged, merged.rows
    for adapter in adapters.values():
        adapter.finish(rows)
    phase(progress, TIMING)
    quiet(engine, ev.latency)
    efficiency = measure_efficiency(adapters, paths, sample, ev.latency, device)
    phase(progress, INTERVALS)
    robustness = None
    notes = [n for role in ("baseline", "candidate") for n in getattr(adapters[role], "notes", [])]
    if rob is not None and rob.skipped:
        notes.append(rob.skipped)  # e.g. the predictions format cannot be re-scored: loud, rules will error
    elif rob is not None and (result := rob.result()) is not None:
        robustness = result.model_copy(update={"feature_std": dict(rob.feature_std or {}),
                                               "std_source": rob.std_source, "notes": list(rob.notes)})
    evidence = build_evidence(release, acc, source, classes, positive, paths, adapters, data_path,
                              efficiency=efficiency, robustness=robustness, notes=notes, skip_scores=skip_scores)
    evidence = evidence.model_copy(update=facts.finish())  # with an engine: the workers' merged facts

    def score_production(chunk: Chunk, where: Path) -> tuple[dict[str, np.ndarray], np.ndarray | None]:
        raws = {r: rescore(adapters[r], chunk) for r in ROLES}
        probs: dict[str, np.ndarray] = {r: _probabilities(raws[r], classes, positive, where, chunk.offset)
                                        for r in ROLES}
        spec = m.production
        if spec is None or spec.target is None:
            return probs, None
        missing = missing_labels(chunk.target)  # labels not known yet: -1
        known = np.where(missing, classes[0], chunk.target) if missing.any() else chunk.target
        labels = _encode(known, classes, where, spec.target, chunk.offset)
        labels[missing] = -1
        return probs, labels

    return add_production(release, evidence, production, acc, adapters, score_production, classes=classes,
                          positive=positive, progress=progress, eval_profile=facts.profile)



def slice_refs(acc: Accumulator, sensitive: list[str], classes: list[str],
               dims: dict[str, list[int]] | None = None) -> dict[str, dict[str, SliceRef]]:
    """dimension -> slice value -> the cells (and true class) it covers; ``class`` slices by the true label.
    ``dims``: the dimensions formed (default: ``_dimensions`` with its defaults)."""
    groups = slice_cells(acc.keys, dims if dims is not None else _dimensions(sensitive, acc.keys)[0])
    refs = {name: {v: SliceRef(cells) for v, cells in values.items()} for name, values in groups.items()}
    everything = list(range(len(acc.keys)))
    refs[CLASS_DIMENSION] = {label: SliceRef(everything, k) for k, label in enumerate(classes)}
    return refs


def _comparisons(acc: Accumulator, refs: dict[str, dict[str, SliceRef]], points: dict, spec,
                 skip_scores: dict[str, str] | None = None) -> Comparisons:
    """Paired intervals for every metric of every slice (point values from ``points``); ``skip_scores``: why log
    loss and ROC AUC have none (``score_intervals_skipped``)."""
    named = {"\0overall": SliceRef(list(range(len(acc.keys))))}
    named.update({f"{d}\0{v}": ref for d, values in refs.items() for v, ref in values.items()})
    draws = resample_metrics(acc, named, spec.resamples, spec.seed)
    methods = {metric: COUNT_METHOD for metric in COUNT_METRICS}
    missing: dict[str, str] = dict(skip_scores or {})
    if acc.boot is not None:  # log loss and ROC AUC: the Poisson bootstrap's replicate sums (replicates.py)
        point_of = {"\0overall": (points["baseline"]["overall"], points["candidate"]["overall"])}
        point_of.update({f"{d}\0{v}": (points["baseline"]["slices"][d][v], points["candidate"]["slices"][d][v])
                         for d, values in refs.items() for v in values})
        scores, missing = acc.boot.draws(named, {k: (b.get("roc_auc"), c.get("roc_auc"))
                                                 for k, (b, c) in point_of.items()})
        for key, values in scores.items():
            draws.setdefault(key, {}).update(values)
        methods.update({"log_loss": LOG_LOSS_METHOD, "roc_auc": AUC_METHOD} if acc.auc_classes
                       else {"log_loss": LOG_LOSS_METHOD})

    def compare(key: str, base: dict, cand: dict) -> dict[str, Comparison]:
        out: dict[str, Comparison] = {}
        for metric in METRICS:
            out[metric] = compared(base.get(metric), cand.get(metric), draws.get(key, {}), metric, spec.confidence)
        return out

    overall = compare("\0overall", points["baseline"]["overall"], points["candidate"]["overall"])
    slices = {d: {v: compare(f"{d}\0{v}", points["baseline"]["slices"][d][v], points["candidate"]["slices"][d][v])
                  for v in values} for d, values in refs.items()}
    return Comparisons(method=METHOD, resamples=spec.resamples, seed=spec.seed, confidence=spec.confidence,
                       overall=overall, slices=slices, methods=methods, missing=missing)


_SLICE_CALIBRATION = TypeAdapter(dict[str, dict[str, CalibrationStats]])
_CLASS_COUNTS = TypeAdapter(dict[str, dict[str, ClassCounts]])


def _calibrations(acc: Accumulator, refs: dict[str, SliceRef], roles: Sequence[Role]
                  ) -> dict[str, dict[str, CalibrationStats]]:
    """Slice value -> model -> calibration of one dimension's slices (class slices have none), vectorised over the
    slices and validated in one call (one model construction per slice and model costs more than the numbers)."""
    names = [v for v, ref in refs.items() if ref.true_class is None]
    per_model = [acc.calibrations([refs[v] for v in names], i) for i in range(len(roles))]
    return _SLICE_CALIBRATION.validate_python({v: {r: per_model[i][s] for i, r in enumerate(roles)}
                                               for s, v in enumerate(names)})


def build_evidence(release: Release, acc: Accumulator, source: DataSource, classes: list[str],
                   positive: int | None, paths: dict[str, Path], adapters: dict, data_path: Path, *,
                   efficiency: Efficiency | None = None, robustness: Robustness | None = None,
                   notes: list[str] | None = None, skip_scores: dict[str, str] | None = None) -> Evidence:
    from ..models import model_ref, model_source

    m = release.manifest
    dims, skipped = _dimensions(m.data.sensitive, acc.keys, m.evaluation.intersections,
                                m.evaluation.intersection_budget)
    refs = slice_refs(acc, m.data.sensitive, classes, dims)
    everything = list(range(len(acc.keys)))
    total = acc.rows
    folder = release.folder
    files = {"manifest": file_ref(release.path, folder), "data": file_ref(data_path, folder),
             **{role: model_ref(p, folder) for role, p in paths.items()}}
    points: dict[str, dict] = {}
    models: dict[Role, ModelEvidence] = {}
    for i, role in enumerate(ROLES):
        slices = {d: acc.metrics_many(values, i) for d, values in refs.items()}  # one batch per dimension
        for values in slices.values():
            for stats in values.values():
                stats["share"] = (stats["count"] or 0) / total if total else None
        class_counts: dict[str, dict[str, ClassCounts]] = {}
        if positive is not None:
            fairness = {d: fairness_gaps(s) for d, s in slices.items() if d != CLASS_DIMENSION}
        else:  # multiclass: one-vs-rest counts per slice and class, and the worst class's gap per dimension
            class_counts = _CLASS_COUNTS.validate_python(
                {d: dict(zip(values, acc.class_counts_many(list(values.values()), i)))
                 for d, values in refs.items() if d != CLASS_DIMENSION})
            fairness = {d: worst_class_gaps(class_fairness_gaps(
                {v: (int(slices[d][v]["count"] or 0), c.true, c.predicted, c.correct) for v, c in counts.items()}))
                for d, counts in class_counts.items()}
        overall = acc.metrics(everything, i)
        points[role] = {"overall": overall, "slices": slices}
        binning = acc.roc_auc_binning(everything, i)
        if binning:  # each slice's bound too: a rule on a slice's AUC must know how far binning can move it
            binning["slices"] = {d: dict(zip(values, acc.auc_error_bounds(list(values.values()), i)))
                                 for d, values in refs.items()}
        models[role] = ModelEvidence(format=getattr(m, role).format, file=files[role],
                                     source=model_source(paths[role]),
                                     description=adapters[role].describe(), overall=overall,
                                     slices=slices, fairness=fairness, class_counts=class_counts,
                                     roc_auc_binned=AucBinning.model_validate(binning) if binning else None)
    roles = ROLES
    calibration = Calibration(
        bins=acc.bins,
        score="positive-class probability" if positive is not None else "top-label confidence",
        models={r: CalibrationStats(**acc.calibration(everything, i, curve=True)) for i, r in enumerate(roles)},
        slices={d: _calibrations(acc, values, roles) for d, values in refs.items() if d != CLASS_DIMENSION},
    )
    overall_agreement = acc.agreement()
    agreement = Agreement(
        rows=int(overall_agreement["count"] or 0), same_prediction=overall_agreement["same_prediction"],
        fixed=int(overall_agreement["fixed"] or 0), broken=int(overall_agreement["broken"] or 0),
        max_abs_score_difference=acc.max_abs_diff,
        slices={d: dict(zip(values, acc.agreements(list(values.values())))) for d, values in refs.items()},
        broken_examples=[int(r) for r in acc.broken_rows],
    )
    warnings = list(notes or [])
    if files["baseline"].sha256 == files["candidate"].sha256:
        warnings.append(SAME_FILE_WARNING)
    elif agreement.max_abs_score_difference == 0.0:
        warnings.append("baseline and candidate gave identical scores on every row: check the candidate is "
                        "really the pruned model")
    warnings += [f"intersection {name} not formed: {why}" for name, why in skipped.items()]
    if acc.auc_binned:
        bounds = [models[r].roc_auc_binned for r in ROLES]
        warnings.append(AUC_BINNED_WARNING.format(bins=AUC_GRID_BINS, budget=acc.auc_budget, **{
            r: "an undefined amount" if b is None or b.error_bound is None else f"{b.error_bound:.2g}"
            for r, b in zip(ROLES, bounds)}))
    dimensions = {name: [m.data.sensitive[i] for i in cols] for name, cols in dims.items()}
    dimensions[CLASS_DIMENSION] = [CLASS_DIMENSION]
    return Evidence(
        tool={"name": "pruning-governance", "version": __version__},
        created_at=datetime.now(timezone.utc),
        libraries=library_versions(),
        release={"name": m.name, "version": m.version},
        task=m.task,
        inputs=files,
        data=DataEvidence(file=files["data"], rows=acc.rows, target=m.data.target, sensitive=list(m.data.sensitive),
                          features=source.features, classes=classes,
                          positive_label=str(m.positive_label) if positive is not None else None),
        dimensions=dimensions,
        dimensions_skipped=skipped,
        models=models,
        agreement=agreement,
        comparisons=(_comparisons(acc, refs, points, m.evaluation.bootstrap, skip_scores)
                     if m.evaluation.bootstrap.resamples else None),
        calibration=calibration,
        efficiency=efficiency,
        robustness=robustness,
        approvals=[a.model_dump(mode="json") for a in m.approvals],
        warnings=warnings,
    )
