"""Partition-invariant Poisson bootstrap weights: a function of (global row index, replicate, seed) only.

Metrics that are not functions of counts (regression errors, log loss, ROC AUC) get their intervals from a
Poisson bootstrap: replicate ``r`` gives row ``i`` a random weight ``w[i, r]`` with mean 1 and variance 1, and
each replicate's metric is computed from weighted sums. As the number of rows grows this is equivalent to the
multinomial (resampling-rows) bootstrap, and unlike it the weights need no knowledge of the total row count, so
chunks and partitions fold independently.

TFMA draws its weights inside the combiner, so its intervals depend on how rows reach the workers. Here the
weights come from a stream keyed by (seed, the row's *global* block): the same row gets the same weights whether
it is read in one chunk or in a thousand, on one machine or on many, and asking for more replicates leaves the
first ones unchanged.

**The weight distribution** (exact): one uniform byte ``u`` per (row, replicate) is mapped to
``w = #{c in (94, 189, 235, 251, 255) : u >= c}``, so ``P(w = 0..5) = (94, 95, 46, 16, 4, 1) / 256``. Its mean is
exactly 1 and its variance exactly 1 (the two moments the bootstrap's validity rests on: a generalized bootstrap
with exchangeable mean-1, variance-1 weights). Against Poisson(1), whose probabilities are
(0.3679, 0.3679, 0.1839, 0.0613, 0.0153, 0.0031; 0.0006 beyond 5), each probability differs by at most 0.0043
(w = 2: 0.1797 vs 0.1839), weights above 5 never occur, and the third and fourth central moments are 0.984 and
3.81 (Poisson(1): 1 and 4).

**The stream** (exact): global block ``b`` (rows ``b * BLOCK .. b * BLOCK + BLOCK - 1``) draws little-endian
uint64 words from ``numpy.random.SFC64(SeedSequence([seed_lo, seed_hi, b_lo, b_hi]))`` (the 32-bit halves of
``seed mod 2**64`` and ``b``), read as bytes; replicate group ``g`` (replicates ``g * GROUP ..``) of the block is
bytes ``g * BLOCK * GROUP ..`` in (row, replicate) order. Blocks draw independent streams, so any row range costs
only its own blocks, and the layout makes one block's weights a (rows x replicates) matrix: the weighted sums of
a chunk are one dense or sparse product per block and group.

**Precision**: sums are accumulated in float64, one block at a time; a different chunking only changes the order
of float64 additions, so results agree to about 1e-12 of the magnitudes summed (not bit for bit) across chunkings
and partitions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

__all__ = ["BLOCK", "COUNTS", "GROUP", "METHOD", "Feed", "accumulate", "replicate_sums", "weights"]

BLOCK = 4096  # rows per global block (one independent stream each)
GROUP = 64  # replicates per group: the unit in which a block's weights are laid out and multiplied
#: slots of 256 per weight 0..5: mean 1, variance 1 (module docstring)
COUNTS = (94, 95, 46, 16, 4, 1)
_THRESHOLDS = tuple(int(c) for c in np.cumsum(COUNTS)[:-1])  # (94, 189, 235, 251, 255)
_DENSE_SLOTS = 16  # a feed whose rows fall in at most this many output slots uses a dense product
SUPER = 16  # blocks per run: sparse feeds (histograms) are multiplied and scattered once per run
METHOD = ("Poisson bootstrap: row i weighted w[i,r] in replicate r, P(w=0..5) = (94,95,46,16,4,1)/256 (mean 1, "
          "variance 1, within 0.0043 of Poisson(1) per value), a deterministic function of (global row index, r, "
          "seed), so intervals do not depend on chunking or partitioning; percentile intervals")


def _stream_seed(seed: int, block: int) -> np.random.SeedSequence:
    """Fixed-length entropy (four 32-bit words), so distinct (seed, block) pairs never share a stream."""
    s = seed % (1 << 64)
    return np.random.SeedSequence([s & 0xFFFFFFFF, s >> 32, block & 0xFFFFFFFF, block >> 32])


def _stream(seed: int, block: int) -> np.random.SFC64:
    """The bit stream of one global block; its replicate groups are drawn from it in order."""
    return np.random.SFC64(_stream_seed(seed, block))


class _Draw:
    """Buffers for drawing one replicate group of a block at a time (a (BLOCK, GROUP) tile stays in cache)."""

    def __init__(self) -> None:
        self.counts = np.empty(BLOCK * GROUP, dtype=np.uint8)
        self.hit = np.empty(BLOCK * GROUP, dtype=np.bool_)

    def group(self, bits: np.random.SFC64, out: np.ndarray | None = None) -> np.ndarray:
        """The next group's weights, (BLOCK, GROUP): uint8, or written (as float64) into ``out`` if given."""
        raw = bits.random_raw(BLOCK * GROUP // 8).astype("<u8", copy=False).view(np.uint8)
        k, hit = self.counts, self.hit
        np.greater_equal(raw, _THRESHOLDS[0], out=k.view(np.bool_))
        for c in _THRESHOLDS[1:]:  # comparisons on bytes: about twice as fast as a table lookup
            np.greater_equal(raw, c, out=hit)
            np.add(k, hit.view(np.uint8), out=k)
        if out is None:
            return k.reshape(BLOCK, GROUP).copy()
        np.copyto(out.reshape(-1), k, casting="unsafe")
        return out


def _spans(first_row: int, rows: int) -> list[tuple[int, int, int]]:
    """(block, first local row in the block, rows) for each global block that rows first_row.. touch."""
    out, start = [], first_row
    end = first_row + rows
    while start < end:
        b = start // BLOCK
        stop = min(end, (b + 1) * BLOCK)
        out.append((b, start - b * BLOCK, stop - start))
        start = stop
    return out


def weights(first_row: int, rows: int, replicates: int, seed: int) -> np.ndarray:
    """The weights of global rows ``first_row .. first_row + rows - 1``: shape (replicates, rows), uint8 in 0..5.

    ``weights(a, n, R, s)[r, j]`` depends only on (a + j, r, s): any split of the rows into chunks, in any
    order, yields the same weights, and ``weights(a, n, R2, s)[:R]`` equals ``weights(a, n, R, s)``."""
    if first_row < 0 or rows < 0 or replicates < 0:
        raise ValueError("first_row, rows and replicates must be non-negative")
    out = np.empty((replicates, rows), dtype=np.uint8)
    if rows == 0 or replicates == 0:
        return out
    draw, done = _Draw(), 0
    for b, lo, n in _spans(first_row, rows):
        bits = _stream(seed, b)
        for r0 in range(0, replicates, GROUP):
            take = min(GROUP, replicates - r0)
            out[r0:r0 + take, done:done + n] = draw.group(bits)[lo:lo + n, :take].T
        done += n
    return out


@dataclass(frozen=True)
class Feed:
    """One set of weighted sums to fold: row ``i`` adds ``values[i, e]`` to slot ``codes[i, e]`` of ``out``
    (shape (slots, replicates), float64, accumulated in place) with the row's weight in each replicate."""

    codes: np.ndarray  # (rows, E) int
    values: np.ndarray  # (rows, E) float
    out: np.ndarray  # (slots, replicates) float64


def accumulate(first_row: int, feeds: Sequence[Feed], replicates: int, seed: int) -> None:
    """Fold a chunk of rows (global indices ``first_row ..``) into every feed's ``out``; the feeds share one draw
    of the weights, so several statistics of the same rows cost the random numbers once.

    Rows go in runs of up to ``SUPER`` blocks. Per replicate group, each block's weights are drawn into a tile that
    stays in cache; a feed whose rows touch few slots multiplies it at once (dense BLAS), one that touches many
    (histograms) multiplies the run's stacked weights by its sparse (slots x rows) matrix, so its per-slot sums are
    written once per run, not once per block. Memory: one run's weights for one group, and each feed's
    (slots present x replicates) sums."""
    rows = feeds[0].codes.shape[0] if feeds else 0
    if rows == 0 or replicates == 0:
        return
    with _one_blas_thread():
        _accumulate(first_row, feeds, replicates, seed, rows)


def _one_blas_thread() -> Any:
    """BLAS limited to one thread: the products are small (a block of rows by one replicate group), and OpenBLAS'
    threaded GEMM on them is ten times slower than one thread on a busy machine (and than a loop of GEMVs)."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


def _accumulate(first_row: int, feeds: Sequence[Feed], replicates: int, seed: int, rows: int) -> None:
    draw = _Draw()
    tile = np.empty((BLOCK, GROUP), dtype=np.float64)
    spans = _spans(first_row, rows)
    done = 0
    for run in (spans[i:i + SUPER] for i in range(0, len(spans), SUPER)):
        size = sum(n for _, _, n in run)
        parts = [_Part(f.codes[done:done + size], f.values[done:done + size], replicates) for f in feeds]
        stacked = np.empty((size, GROUP)) if any(p.sparse for p in parts) else None
        streams = [_stream(seed, b) for b, _, _ in run]
        for r0 in range(0, replicates, GROUP):
            take = min(GROUP, replicates - r0)
            off = 0
            for (_, lo, n), bits in zip(run, streams):
                w = draw.group(bits, tile)[lo:lo + n, :take]
                for part in parts:
                    if not part.sparse:  # one (slots x rows) @ (rows x replicates) product, single-threaded
                        part.sums[:, r0:r0 + take] += part.matrix[:, off:off + n] @ w
                if stacked is not None:
                    stacked[off:off + n, :take] = w
                off += n
            for part in parts:
                if part.sparse:
                    assert stacked is not None
                    part.sums[:, r0:r0 + take] = part.matrix @ stacked[:, :take]
        for f, part in zip(feeds, parts):
            f.out[part.slots] += part.sums
        done += size


class _Part:
    """One feed's entries within a run of rows as a (slots present x rows) matrix: dense when the slots are few
    (a BLAS product per block), sparse otherwise (work proportional to the entries)."""

    def __init__(self, codes: np.ndarray, values: np.ndarray, replicates: int) -> None:
        n, e = codes.shape
        self.slots, inverse = np.unique(codes.ravel(), return_inverse=True)
        inverse = inverse.reshape(-1)
        row = np.repeat(np.arange(n), e)
        flat = np.asarray(values, dtype=np.float64).ravel()
        self.sparse = len(self.slots) > _DENSE_SLOTS
        self.sums = np.zeros((len(self.slots), replicates))
        self.matrix: np.ndarray | sp.csc_matrix
        if self.sparse:  # CSC: the product reads the weights row after row, scattering into the (cached) sums
            self.matrix = sp.csc_matrix((flat, (inverse, row)), shape=(len(self.slots), n))
        else:
            self.matrix = np.bincount(inverse * n + row, weights=flat,
                                      minlength=len(self.slots) * n).reshape(len(self.slots), n)


def replicate_sums(first_row: int, values: np.ndarray, cells: np.ndarray | None, n_cells: int, replicates: int,
                   seed: int) -> np.ndarray:
    """Per replicate and cell, the weighted sums of each value column: shape (replicates, n_cells, m).

    ``values`` is (rows,) or (rows, m) float; ``cells`` gives each row's cell code in [0, n_cells) (None: one
    cell). Include a column of ones in ``values`` to get each replicate's weighted row count. Rows are
    processed one global block at a time, so memory is bounded by replicates x BLOCK whatever the chunk."""
    vals = np.asarray(values, dtype=np.float64)
    vals = vals[:, None] if vals.ndim == 1 else vals
    rows, m = vals.shape
    out = np.zeros((n_cells * m, replicates), dtype=np.float64)
    if rows and replicates:
        codes = np.zeros(rows, dtype=np.int64) if cells is None else np.asarray(cells, dtype=np.int64)
        accumulate(first_row, [Feed(codes[:, None] * m + np.arange(m)[None, :], vals, out)], replicates, seed)
    return np.ascontiguousarray(out.T).reshape(replicates, n_cells, m)
