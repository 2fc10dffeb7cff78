"""Personal data in the evaluation data: a uniform sample of rows, drawn over the whole file, scanned for direct
identifiers.

What is sampled: ``MAX_ROWS`` rows at most, chosen uniformly over the whole file by a hash of each row's position
(the rows of smallest priority ``splitmix64(index ^ seed)``, a bottom-k sample: every row has the same chance, and
the sample is the same whatever ``data.chunk_rows`` is; a file of at most ``MAX_ROWS`` rows is scanned entirely).
Memory stays bounded: at most ``2 * MAX_ROWS`` candidate rows of the scannable columns are held while the file
streams. Every column that can hold text or whole numbers is scanned (CSV columns are read as their exact text;
Parquet integer and text columns; floating-point, boolean and date columns are listed as not scanned). What is
recorded: how many rows were scanned out of how many, and per column how many non-empty values were examined and
in how many each detector matched. No value is ever copied into the evidence.

Detectors (each looks for the identifier anywhere in the value, so free text counts too):

* ``email``: ``local@domain.tld``;
* ``phone``: 7 to 15 digits written as a phone number: with a leading ``+``, a bracketed area code, or at least
  two separators (space, ``-``, ``.``); dates, times, IP addresses, SSNs and card numbers are removed first.
  A bare run of digits is not a phone number (it is far more often an identifier or an amount);
* ``ssn``: a US social security number ``AAA-GG-SSSS`` (area not 000, 666 or 9xx; group not 00; serial not 0000);
* ``payment_card``: 13 to 19 digits (spaces or dashes allowed between them) starting with 2 to 6 (the major card
  networks' ranges) whose Luhn check digit is valid;
* ``ip_address``: IPv4 or IPv6 addresses, validated with the standard library's ``ipaddress``.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Literal, get_args

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .tables import iter_tables

Detector = Literal["email", "phone", "ssn", "payment_card", "ip_address"]
DETECTORS: tuple[Detector, ...] = get_args(Detector)
MAX_ROWS = 50_000
_PRIORITY = "__pg_priority__"

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_SSN = re.compile(r"(?<![\d-])(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![\d-])")
_CARD = re.compile(r"(?<![\d-])(?:\d[ -]?){12,18}\d(?![\d-])")
_IPV4 = re.compile(r"(?<![\d.])\d{1,3}(?:\.\d{1,3}){3}(?![\d.])")
_IPV6 = re.compile(r"(?<![\w:.])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?![\w:])")
_DATETIME = re.compile(r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?"
                       r"|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}|\d{1,2}:\d{2}(?::\d{2})?")
_PHONE = re.compile(r"(?<![\w+])(?:\+\d{7,15}|(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?\d{1,5}(?:[ .-]\d{1,5}){0,5})"
                    r"(?![\w])")
#: a plain number of at most 12 digits cannot hold any of the identifiers: skipped without a Python-level look
_PLAIN_NUMBER = r"^\s*[-+]?\d{0,12}(?:\.\d*)?(?:[eE][-+]?\d+)?\s*$"
#: what a value needs for :func:`detect` to find anything: an ASCII digit, an "@", or any non-ASCII character
#: (``str.isdigit`` and ``re``'s ``\d`` take Unicode digits too)
_MAYBE = r"[0-9@]|[^\x00-\x7f]"


def luhn_valid(digits: str) -> bool:
    """The Luhn (mod 10) check used by payment-card numbers."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _cards(value: str) -> list[str]:
    out = []
    for m in _CARD.finditer(value):
        digits = re.sub(r"[ -]", "", m.group())
        if 13 <= len(digits) <= 19 and digits[0] in "23456" and luhn_valid(digits):
            out.append(m.group())
    return out


def _ips(value: str) -> list[str]:
    out = []
    for m in _IPV4.finditer(value):
        try:
            ipaddress.IPv4Address(m.group())
            out.append(m.group())
        except ValueError:
            pass
    if value.count(":") >= 2:
        for m in _IPV6.finditer(value):
            try:
                ipaddress.IPv6Address(m.group())
                out.append(m.group())
            except ValueError:
                pass
    return out


def _phone(value: str) -> bool:
    for m in _PHONE.finditer(value):
        text = m.group()
        digits = sum(ch.isdigit() for ch in text)
        if not 7 <= digits <= 15:
            continue
        separators = len(re.findall(r"\d[ .-]+(?=[\d(])", text))
        if text.startswith("+") or "(" in text or separators >= 2:
            return True
    return False


def detect(value: str) -> set[str]:
    """Which kinds of personal identifier occur in ``value``."""
    found: set[str] = set()
    if "@" in value and _EMAIL.search(value):
        found.add("email")
    if not any(ch.isdigit() for ch in value):
        return found
    rest = value
    ssns = _SSN.findall(rest)
    if ssns:
        found.add("ssn")
    cards = _cards(rest)
    if cards:
        found.add("payment_card")
    ips = _ips(rest)
    if ips:
        found.add("ip_address")
    for token in (*ssns, *cards, *ips):
        rest = rest.replace(token, " ")
    rest = _DATETIME.sub(" ", rest)
    if "@" in rest:
        rest = _EMAIL.sub(" ", rest)
    if _phone(rest):
        found.add("phone")
    return found


def _scannable(t: pa.DataType) -> bool:
    return (pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_integer(t)
            or (pa.types.is_dictionary(t) and _scannable(t.value_type)))


def method_text(max_rows: int = MAX_ROWS) -> str:
    return (f"uniform sample of at most {max_rows} rows over the whole file (row-position hash, independent of "
            f"chunking); every text or integer column; detectors: {', '.join(DETECTORS)}")


def _as_text(column: pa.ChunkedArray) -> pa.ChunkedArray:
    if pa.types.is_dictionary(column.type):
        column = pc.cast(column, column.type.value_type)
    return column if pa.types.is_large_string(column.type) else pc.cast(column, pa.large_string())


class PiiSampler:
    """The bottom-k sample, fed chunk by chunk from whichever stream reads the file (the gate: the scoring pass).

    A chunk contributes only rows below the current k-th smallest priority, and the candidates are cut back to
    ``max_rows`` whenever they reach twice that, so memory stays bounded. ``schema``: the file's columns as the
    chunks hold them (CSV: all text); without it, the first chunk's."""

    def __init__(self, schema: pa.Schema | None = None, max_rows: int = MAX_ROWS) -> None:
        self.max_rows = max_rows
        self.scannable: list[str] | None = None
        self.not_scanned: list[str] = []
        if schema is not None:
            self._columns(schema)
        self._kept: pa.Table | None = None
        self._threshold = np.uint64(np.iinfo(np.uint64).max)
        self.rows = 0

    def _columns(self, schema: pa.Schema) -> None:
        self.scannable = [n for n, f in zip(schema.names, schema) if _scannable(f.type)]
        self.not_scanned = [n for n in schema.names if n not in self.scannable]

    def update(self, table: pa.Table, offset: int | None = None) -> None:
        """Fold one chunk; ``offset``: the global index of its first row (default: the rows seen so far, right
        when one sampler sees the whole file in order; a Dask worker's partition starts elsewhere)."""
        from .leakage import position_priority

        if self.scannable is None:
            self._columns(table.schema)
        scannable = self.scannable or []
        priority = position_priority(self.rows if offset is None else offset, table.num_rows)
        self.rows += table.num_rows
        kept = self._kept
        full = kept is not None and kept.num_rows >= self.max_rows
        pick = np.flatnonzero(priority < self._threshold) if full else np.arange(table.num_rows)
        if not len(pick):
            return
        part = table.select(scannable).take(pa.array(pick))
        part = pa.table({**{n: _as_text(part.column(n)) for n in scannable},
                         _PRIORITY: pa.array(priority[pick], pa.uint64())})
        kept = part if kept is None else pa.concat_tables([kept, part])
        if kept.num_rows >= 2 * self.max_rows:
            kept, self._threshold = _bottom(kept, self.max_rows)
        self._kept = kept

    def merge(self, other: PiiSampler) -> PiiSampler:
        """A new sampler over both parts' rows (the Dask engine's merge tree). Exact and order-independent: each
        side keeps at least its own bottom ``max_rows`` by priority (a hash of the global row index), so the bottom
        ``max_rows`` of the union of what both keep is the bottom ``max_rows`` of all the rows, the same sample one
        sampler over the whole file draws."""
        out = PiiSampler(max_rows=self.max_rows)
        out.scannable = self.scannable if self.scannable is not None else other.scannable
        out.not_scanned = self.not_scanned if self.scannable is not None else other.not_scanned
        out.rows = self.rows + other.rows
        parts = [t for t in (self._kept, other._kept) if t is not None]
        kept = pa.concat_tables(parts) if len(parts) > 1 else (parts[0] if parts else None)
        out._threshold = min(self._threshold, other._threshold)  # each side holds max_rows below its own
        if kept is not None and kept.num_rows >= 2 * self.max_rows:
            kept, out._threshold = _bottom(kept, self.max_rows)
        out._kept = kept
        return out

    def __getstate__(self) -> dict:
        """Pickled (a Dask worker's facts on their way to the merge tree) with only the bottom ``max_rows``
        candidates: the rest can never enter the sample, and up to twice as many text rows would travel."""
        state = self.__dict__.copy()
        kept = state["_kept"]
        if kept is not None and kept.num_rows > self.max_rows:
            state["_kept"], state["_threshold"] = _bottom(kept, self.max_rows)
        return state

    def result(self) -> tuple[pa.Table | None, list[str], int]:
        """(the sampled rows of the scannable columns as text, the columns not scanned, rows seen)."""
        kept = self._kept
        if kept is not None and kept.num_rows > self.max_rows:
            kept, self._threshold = _bottom(kept, self.max_rows)
        return (kept.drop_columns([_PRIORITY]) if kept is not None else None), self.not_scanned, self.rows


def sample_rows(path: Path, chunk_rows: int, max_rows: int = MAX_ROWS) -> tuple[pa.Table | None, list[str], int]:
    """(the sampled rows of the scannable columns as text, the columns not scanned, rows in the file), reading
    ``path`` on its own (the gate feeds a :class:`PiiSampler` from the scoring pass instead)."""
    sampler = PiiSampler(max_rows=max_rows)
    for table in iter_tables(path, None, chunk_rows, csv_text=True):
        sampler.update(table)
    return sampler.result()


def _bottom(table: pa.Table, k: int) -> tuple[pa.Table, np.uint64]:
    """The ``k`` rows of smallest priority, and the largest priority kept (rows above it can never enter)."""
    order = pc.sort_indices(table, sort_keys=[(_PRIORITY, "ascending")])[:k]
    kept = table.take(order)
    return kept, np.uint64(pc.max(kept.column(_PRIORITY)).as_py())


def scan_pii(path: Path, chunk_rows: int, *, max_rows: int = MAX_ROWS, sampler: PiiSampler | None = None):
    """Scan a uniform sample of ``path`` (``sampler``: one already fed by the scoring pass; else ``path`` is read
    here); returns the evidence's ``PiiScan`` (counts only)."""
    from .schema import PiiColumn, PiiScan

    if sampler is not None:
        max_rows = sampler.max_rows
    sample, not_scanned, total = sampler.result() if sampler is not None else sample_rows(path, chunk_rows, max_rows)
    columns: dict[str, PiiColumn] = {}
    scanned = sample if sample is not None else pa.table({})  # no scannable column: nothing to count
    rows = scanned.num_rows
    for name in scanned.column_names:
        column = scanned.column(name)
        counts: dict[str, int] = dict.fromkeys(DETECTORS, 0)
        filled = pc.fill_null(pc.invert(pc.match_substring_regex(column, r"^\s*$")), False)
        plain = pc.fill_null(pc.match_substring_regex(column, _PLAIN_NUMBER), True)
        # detect() finds nothing in ASCII text without a digit or an "@": Arrow leaves those out, not Python
        maybe = pc.fill_null(pc.match_substring_regex(column, _MAYBE), False)
        for value in pc.filter(column, pc.and_(pc.and_(filled, pc.invert(plain)), maybe)).to_pylist():
            for kind in detect(value):
                counts[kind] += 1
        columns[name] = PiiColumn(sampled=int(pc.sum(pc.cast(filled, pa.int64())).as_py() or 0), matches=counts)
    return PiiScan(method=method_text(max_rows), detectors=list(DETECTORS), rows_sampled=rows, rows_scanned=rows,
                   rows_total=total, columns=columns, not_scanned=not_scanned)
