"""The Dask engine: score the evaluation data's partitions on a cluster and merge their accumulators in a tree.

Why this shape: the accumulators merge associatively, so each worker folds its partitions (Parquet row groups) into
its own accumulator with the same per-chunk step as the local engine (``collect.fold_chunk``), and only the small
accumulators travel. Models never travel: a ``WorkerPlugin`` carries the manifest path and the model files' sha256,
and each worker loads each model once, from its own path, after checking the hash (workers must see the release
folder at the same path, e.g. a shared volume or the same image). Global row offsets come from the row-group
metadata, so row-indexed evidence (the sample of broken flips, the personal-data sample) is the local engine's.
The same partition stream also folds the evaluation-data facts (leakage row hashes, the personal-data sample, the
data-quality counts, the feature profile: ``provenance_facts.FactsState``), which merge in the same tree, so the
client never streams the evaluation file: it reads the first rows (latency, robustness, the profile's categorical
columns) and hashes the file. Provenance, the training sets' side of leakage, robustness and latency stay on the
client (docs/dask.md).
"""

from __future__ import annotations

import contextvars
import copy
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from ..errors import InputError
from ..manifest import Release
from .accumulator import Accumulator
from .provenance_facts import FactsState
from .regression import RegressionAccumulator

#: dask (distributed) is an optional extra
DASK_MISSING = "the dask engine needs dask[distributed]: pip install 'pruning-governance[dask]'"
#: the engine splits Parquet row groups; CSV has none
NEEDS_PARQUET = "the dask engine reads Parquet (its row groups are the partitions): convert {name} to Parquet"
#: precomputed predictions are read in order, so they cannot be split across workers
PREDICTIONS_LOCAL = "format 'predictions' is read in row order and cannot be split across workers: use --engine local"
#: a worker's copy of a model file is not the one the client hashed
HASH_MISMATCH = "the worker's copy of {path} has sha256 {seen}, not {expected} as on the client"
#: a local cluster of no workers would wait forever
NO_WORKERS = "--workers must be at least 1"
#: --scheduler and --workers are the two ways to get a cluster: one at a time
ONE_CLUSTER = "give either --scheduler ADDR (an existing cluster) or --workers N (a local one), not both"
#: the scheduler address does not answer (or is not an address): bad input, not a bug
NO_SCHEDULER = "cannot reach the Dask scheduler at {address}: {reason}"
#: seconds to wait for --scheduler before giving up
CONNECT_TIMEOUT_S = 20
#: what distributed's nanny sets in a worker's environment that a check's local cluster leaves out:
#: MALLOC_TRIM_THRESHOLD_ (65,536) gives memory back to the OS sooner in long-lived workers, but setting it also
#: fixes glibc's mmap threshold at 128 KB, so every piece of a network's activations is fresh pages from the kernel;
#: a cluster that lives for one check scores 1.2x faster without it (docs/scale.md), its workers' peak RSS about
#: 100 MB higher, still bound by the chunk. An existing cluster (--scheduler) keeps its own settings.
LOCAL_UNSET = ("MALLOC_TRIM_THRESHOLD_",)


def _distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise InputError(None, "--engine", DASK_MISSING) from None
    return distributed


@dataclass(frozen=True)
class Partition:
    """Row groups of one Parquet file and the global index of their first row."""

    path: str
    row_groups: tuple[int, ...]
    offset: int
    rows: int


def partitions(path: Path) -> list[Partition]:
    """One partition per row group, in file order, with offsets from the footer (nothing but metadata is read); a
    folder of Parquet files (governance/dataset.py): every file's row groups, files in sorted relative-path order,
    offsets continuing across files as the local engine's stream does."""
    from ..data import open_parquet
    from ..dataset import is_folder, list_files

    files = [f.path for f in list_files(path)] if is_folder(path) else [path]
    out, offset = [], 0
    for file in files:
        meta = open_parquet(file).metadata
        for i in range(meta.num_row_groups):
            n = meta.row_group(i).num_rows
            if n:
                out.append(Partition(str(file), (i,), offset, n))
            offset += n
    return out


@dataclass(frozen=True)
class _Failed:
    """An InputError raised on a worker, as plain data (InputError does not survive pickling)."""

    file: str | None
    field: str | None
    message: str

    def error(self) -> InputError:
        return InputError(self.file, self.field, self.message)


try:
    from distributed import WorkerPlugin as _WorkerPlugin
except ImportError:  # the extra is missing: DaskEngine refuses with DASK_MISSING before a plugin is made
    _WorkerPlugin = object  # type: ignore[assignment,misc]


class ModelPlugin(_WorkerPlugin):
    """Loads the release's two models once per worker, from their paths, after checking their sha256; only paths,
    hashes and flags are pickled, never a model."""

    def __init__(self, manifest: str, hashes: dict[str, str], trust_pickle: bool, device: str) -> None:
        self.manifest, self.hashes, self.trust_pickle, self.device = manifest, hashes, trust_pickle, device
        self.name = f"pruning-governance-models-{uuid.uuid4().hex}"  # one per check: checks share a cluster safely
        self._lock = threading.Lock()
        self._loaded: tuple[Release, dict] | _Failed | None = None

    def __getstate__(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k not in ("_lock", "_loaded")}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._lock, self._loaded = threading.Lock(), None

    def setup(self, worker: Any = None) -> None:
        self.models()

    def teardown(self, worker: Any = None) -> None:
        self._loaded = None

    def models(self) -> tuple[Release, dict] | _Failed:
        """(release, adapters), loaded on first use and kept; a bad file is a _Failed, reported by every task."""
        with self._lock:
            if self._loaded is None:
                try:
                    self._loaded = self._load()
                except InputError as exc:
                    self._loaded = _Failed(exc.file, exc.field, exc.message)
            return self._loaded

    def _load(self) -> tuple[Release, dict]:
        from ..hashing import sha256_file
        from ..manifest import load_manifest
        from ..models import load_model, model_path

        release = load_manifest(self.manifest)
        adapters = {}
        for role, expected in self.hashes.items():
            spec = getattr(release.manifest, role)
            path = model_path(release, role)
            if (seen := sha256_file(path)) != expected:
                raise InputError(path, role, HASH_MISMATCH.format(path=path, seen=seen, expected=expected))
            adapters[role] = load_model(spec, path, field=role, manifest=release.path,
                                        trust_pickle=self.trust_pickle, device=self.device)
        return release, adapters


def _partition_chunks(source: Any, part: Partition, extra: list[str]) -> Iterator[Any]:
    """The partition's rows as the local engine's chunks (same checks and encoding, the same columns in ``raw``:
    those ``DataSource.chunks(extra)`` reads, in file order), with global offsets."""
    import pyarrow as pa

    from ..data import _arrow_error, _rechunk, open_parquet

    spec = source.spec
    wanted = {*source.features, spec.target, *spec.sensitive, *extra}
    columns = [n for n in source.names if n in wanted]
    offset = part.offset
    try:
        batches = open_parquet(Path(part.path)).iter_batches(  # pre_buffer off: memory bound by the chunk
            batch_size=spec.chunk_rows, row_groups=list(part.row_groups), columns=columns)
        for table in _rechunk(batches, spec.chunk_rows):
            yield source._chunk(table, offset)
            offset += table.num_rows
    except pa.ArrowException as exc:
        raise _arrow_error(source.path, exc) from None


#: what a partition task returns: its accumulator and its facts, folded from the same rows
_Folded = tuple[Accumulator | RegressionAccumulator, FactsState]


def _fold_partition(plugin_name: str, part: Partition, empty: Accumulator | RegressionAccumulator,
                    classes: list[str], positive: int | None, facts: FactsState) -> _Folded | _Failed:
    """Runs on a worker: fold one partition into fresh copies of ``empty`` (with the worker's loaded models; task
    regression folds errors into a ``RegressionAccumulator`` the same way) and of the empty ``facts`` (the leakage
    hashes, personal-data sample, data-quality counts and profile), from one read of its rows (with the further
    columns the facts use, ``FactsState.columns``)."""
    from distributed import get_worker

    from ..data import DataSource
    from ..models import model_path
    from .collect import fold_chunk
    from .regression import fold_regression_chunk

    loaded = cast(ModelPlugin, get_worker().plugins[plugin_name]).models()
    if isinstance(loaded, _Failed):
        return loaded
    release, adapters = loaded
    acc, state = copy.deepcopy(empty), copy.deepcopy(facts)
    paths = {role: model_path(release, role) for role in adapters}
    try:
        source = DataSource(Path(part.path), release.manifest.data, release.path)
        for chunk in _partition_chunks(source, part, state.columns):
            if isinstance(acc, RegressionAccumulator):
                fold_regression_chunk(release, acc, chunk, adapters, paths, Path(part.path))
            else:
                fold_chunk(release, acc, chunk, adapters, classes, positive, paths, Path(part.path))
            state.update(chunk, source)
    except InputError as exc:
        return _Failed(exc.file, exc.field, exc.message)
    return acc, state


def _merge(left: _Folded | _Failed, right: _Folded | _Failed) -> _Folded | _Failed:
    """Runs on a worker: one node of the merge tree (left before right, so the first failure in row order wins);
    accumulator and facts merge side by side."""
    if isinstance(left, _Failed):
        return left
    if isinstance(right, _Failed):
        return right
    return left[0].merge(right[0]), left[1].merge(right[1])  # type: ignore[arg-type]


@dataclass
class DaskEngine:
    """``collect``'s engine for a Dask cluster: an existing one (``scheduler``) or a local one of ``workers``.

    Its life in a check: ``start`` (before the client hashes the inputs and loads its own models) checks that the
    release can be split and gets the cluster ready in a background thread: the local cluster started, both models
    loaded on every worker, about 2 s of a check's fixed cost that now overlaps the client's own start-up; ``fold``
    waits for that, scores the partitions and begins closing the cluster in the background; ``close`` waits for
    the close (``collect`` calls it at the end, and before timing the models, so latency is measured on a quiet
    machine) and closes a cluster that never folded (a check that failed on bad input first)."""

    scheduler: str | None = None
    workers: int | None = None
    trust_pickle: bool = False
    device: str = "cpu"
    #: how many partitions the last run had (for tests and logs)
    partitions: int = field(default=0, init=False)
    _parts: list[Partition] = field(default_factory=list, init=False, repr=False)
    _pool: ThreadPoolExecutor | None = field(default=None, init=False, repr=False)
    _ready: Future | None = field(default=None, init=False, repr=False)
    _closing: Future | None = field(default=None, init=False, repr=False)
    _abandoned: threading.Event = field(default_factory=threading.Event, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.scheduler is not None and self.workers is not None:
            raise InputError(None, "--scheduler", ONE_CLUSTER)
        if self.workers is not None and self.workers < 1:
            raise InputError(None, "--workers", NO_WORKERS)
        _distributed()  # a missing extra is bad input before any model runs

    def start(self, release: Release, paths: dict[str, Path]) -> None:
        """Refuse what cannot be split (precomputed predictions, CSV, no rows), then begin connecting: a thread
        starts (or reaches) the cluster and registers the models' plugin; its errors are raised by ``fold``."""
        from ..dataset import is_folder, resolve_data

        self.close()  # a second check with the same engine starts afresh
        m = release.manifest
        for role in paths:
            if getattr(m, role).format == "predictions":
                raise InputError(release.path, f"{role}.format", PREDICTIONS_LOCAL)
        data_path = resolve_data(release)  # a file, or a folder of Parquet files
        if not is_folder(data_path) and not data_path.name.lower().endswith((".parquet", ".pq")):
            raise InputError(release.path, "data.path", NEEDS_PARQUET.format(name=data_path.name))
        parts = partitions(data_path)
        if not parts:
            raise InputError(data_path, None, "the evaluation data has no rows")
        self._parts, self.partitions = parts, len(parts)
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="pruning-governance-dask")
        self._abandoned = threading.Event()
        # copy_context: the thread reuses the check's file digests (hashing.digests_reused), no second read
        self._ready = self._pool.submit(contextvars.copy_context().run, self._connect, release, paths,
                                        self._abandoned)

    def _connect(self, release: Release, paths: dict[str, Path],
                 abandoned: threading.Event) -> tuple[_OwnedClient, ModelPlugin | None]:
        """(client, registered plugin): runs in the start thread; every worker has loaded both models when it
        returns (``register_plugin`` waits for each worker's ``setup``). No plugin when the check failed while
        the cluster was starting (``abandoned``): its workers need not load models only to drop them."""
        from ..hashing import sha256_file

        owned = self._client()
        if abandoned.is_set():
            return owned, None
        try:
            plugin = ModelPlugin(str(release.path.resolve()), {r: sha256_file(p) for r, p in paths.items()},
                                 self.trust_pickle, self.device)
            owned.client.register_plugin(plugin)
        except BaseException:
            owned.close()
            raise
        return owned, plugin

    def ready(self) -> None:
        """Wait until the cluster started by ``start`` can fold (every worker holds both models); raises its
        InputError (an unreachable scheduler, a worker's model file that is not the client's)."""
        if self._ready is not None:
            self._ready.result()

    def fold(self, release: Release, acc: Accumulator, classes: list[str], positive: int | None,
             paths: dict[str, Path], *, facts: FactsState,
             progress: Callable[[int], None] | None = None) -> tuple[Accumulator, FactsState]:
        distributed = _distributed()
        if self._ready is None:
            self.start(release, paths)
        ready, self._ready = cast(Future, self._ready), None
        owned, plugin = ready.result()  # the cluster is ready (or its InputError is raised here)
        assert plugin is not None  # only close() abandons a start
        client = owned.client
        try:
            level = [client.submit(_fold_partition, plugin.name, p, acc, classes, positive, facts, pure=False)
                     for p in self._parts]
            rows = {f.key: p.rows for f, p in zip(level, self._parts)}
            done = distributed.as_completed(level) if progress is not None else ()
            while len(level) > 1:  # a balanced tree, its shape set by the partitions alone (not the workers)
                level = [client.submit(_merge, level[i], level[i + 1], pure=False) if i + 1 < len(level)
                         else level[i] for i in range(0, len(level), 2)]
            seen = 0
            for future in done:  # rows folded so far, a partition at a time (each dropped once counted)
                if future.status == "error":  # a task that raised (not bad data): now, not after every partition
                    future.result()
                seen += rows[future.key]
                cast(Callable[[int], None], progress)(seen)
            result = level[0].result()
        finally:  # the workers drop the models; the cluster closes while the client builds the evidence
            self._closing = cast(ThreadPoolExecutor, self._pool).submit(_unregister_and_close, owned, plugin)
        if isinstance(result, _Failed):
            raise result.error()
        merged, state = result
        return cast(Accumulator, merged), state

    def close(self) -> None:
        """Wait until the cluster is closed; idempotent. A start that never folded (bad input found first) is
        waited for and closed, and its own error dropped (the check is already failing on another)."""
        ready, closing, pool = self._ready, self._closing, self._pool
        self._ready = self._closing = self._pool = None
        try:
            if ready is not None:
                self._abandoned.set()
                try:
                    owned, plugin = ready.result()
                except Exception:  # noqa: BLE001 (the start failed: nothing to close, and a check error wins)
                    pass
                else:
                    _unregister_and_close(owned, plugin)
            if closing is not None:
                closing.result()
        finally:
            if pool is not None:
                pool.shutdown()

    def _client(self) -> _OwnedClient:
        distributed = _distributed()
        if self.scheduler is not None:
            try:
                return _OwnedClient(distributed.Client(self.scheduler, timeout=CONNECT_TIMEOUT_S))
            except (OSError, ValueError, TypeError) as exc:  # refused, timed out, or a malformed address
                reason = str(exc) or type(exc).__name__
                message = NO_SCHEDULER.format(address=self.scheduler, reason=reason)
                raise InputError(None, "--scheduler", message) from None
        import dask

        spawn = "distributed.nanny.pre-spawn-environ"
        env = {k: v for k, v in dask.config.get(spawn).items() if k not in LOCAL_UNSET}
        with dask.config.set({spawn: env}):  # the threads stay at one (OMP_NUM_THREADS=1 and the like)
            # the scheduler serves HTTP (health, metrics) even without a dashboard, by default on 8787: a random
            # local port never collides with a dashboard the user already runs (a warning on stderr if it did)
            cluster = distributed.LocalCluster(n_workers=self.workers or 1, threads_per_worker=1, host="127.0.0.1",
                                               dashboard_address="127.0.0.1:0", scheduler_kwargs={"dashboard": False})
        return _OwnedClient(distributed.Client(cluster), cluster)


def _unregister_and_close(owned: _OwnedClient, plugin: ModelPlugin | None) -> None:
    """The workers drop the models (an existing cluster lives on), then the client, and a local cluster, close."""
    try:
        if plugin is not None:
            owned.client.unregister_worker_plugin(plugin.name)
    finally:
        owned.close()


class _OwnedClient:
    """A client, and the local cluster it was made for (None: an existing cluster, left running)."""

    def __init__(self, client: Any, cluster: Any = None) -> None:
        self.client, self.cluster = client, cluster

    def __enter__(self) -> Any:
        return self.client

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        try:
            self.client.close()
        finally:
            if self.cluster is not None:
                self.cluster.close()
