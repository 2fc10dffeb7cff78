"""Personal data in the evaluation data: a bounded sample of every column scanned for direct identifiers.

What is sampled: the first ``ROWS_PER_CHUNK`` rows of each chunk of the data (chunks of the manifest's
``data.chunk_rows``), at most ``MAX_ROWS`` rows in all, every column that can hold text or whole numbers (CSV
columns are read as their exact text; Parquet integer and text columns; floating-point, boolean and date columns
are listed as not scanned). What is recorded: per column, how many non-empty values were examined and in how many
each detector matched. No value is ever copied into the evidence.

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

import pyarrow as pa
import pyarrow.compute as pc

from .tables import iter_tables

DETECTORS = ("email", "phone", "ssn", "payment_card", "ip_address")
ROWS_PER_CHUNK = 1000
MAX_ROWS = 50_000

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


def method_text(rows_per_chunk: int = ROWS_PER_CHUNK, max_rows: int = MAX_ROWS) -> str:
    return (f"first {rows_per_chunk} rows of each chunk, at most {max_rows} rows; every text or integer column; "
            f"detectors: {', '.join(DETECTORS)}")


def scan_pii(path: Path, chunk_rows: int, *, rows_per_chunk: int = ROWS_PER_CHUNK, max_rows: int = MAX_ROWS):
    """Scan a bounded sample of ``path``; returns the evidence's ``PiiScan`` (counts only)."""
    from .schema import PiiColumn, PiiScan

    sampled: dict[str, int] = {}
    matches: dict[str, dict[str, int]] = {}
    not_scanned: list[str] = []
    rows = 0
    for table in iter_tables(path, None, chunk_rows, csv_text=True):
        take = min(rows_per_chunk, max_rows - rows, table.num_rows)
        if take <= 0:
            break
        sample = table.slice(0, take)
        rows += take
        for name, column in zip(sample.column_names, sample.columns):
            if not _scannable(column.type):
                if name not in not_scanned and name not in sampled:
                    not_scanned.append(name)
                continue
            if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
                column = pc.cast(column, pa.string())
            counts = matches.setdefault(name, dict.fromkeys(DETECTORS, 0))
            filled = pc.fill_null(pc.invert(pc.match_substring_regex(column, r"^\s*$")), False)
            plain = pc.fill_null(pc.match_substring_regex(column, _PLAIN_NUMBER), True)
            for value in pc.filter(column, pc.and_(filled, pc.invert(plain))).to_pylist():
                for kind in detect(value):
                    counts[kind] += 1
            sampled[name] = sampled.get(name, 0) + int(pc.sum(pc.cast(filled, pa.int64())).as_py() or 0)
    return PiiScan(method=method_text(rows_per_chunk, max_rows), detectors=list(DETECTORS), rows_sampled=rows,
                   columns={c: PiiColumn(sampled=sampled[c], matches=matches[c]) for c in sampled},
                   not_scanned=[c for c in not_scanned if c not in sampled])
