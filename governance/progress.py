"""Progress of a gate run: rows scored, and the phase it is in (scoring, timing, intervals, documents).

A progress sink is any ``rows -> None`` callable (what ``CheckOptions.progress`` yields); one that also has
``phase(name, total)`` (``Phases``) is told when a long stage begins, with the row total when it is known
(Parquet's footer holds it; a CSV's is not known without reading it), so a bar can show an ETA and a CI log one
line per phase instead of sitting still for the 20 s that latency timing and the PDF can take.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

#: the phases the gate reports, in the order they happen
LOADING, SCORING, TIMING, INTERVALS, DECIDING, DOCUMENTS = (
    "loading the models and hashing the inputs", "scoring rows", "timing the models", "bootstrap intervals",
    "deciding", "rendering the documents (HTML, PDF)")
PRODUCTION = "scoring the production sample"
#: with ``--engine dask``, between LOADING and SCORING: the client waits for the cluster it began starting at LOADING
WORKERS = "starting the Dask workers (each loads both models)"


@runtime_checkable
class Phases(Protocol):
    """A progress sink that is also told when a phase begins."""

    def __call__(self, rows: int) -> None: ...

    def phase(self, name: str, total: int | None = None) -> None: ...


def phase(progress: object, name: str, total: int | None = None) -> None:
    """Tell ``progress`` that phase ``name`` begins (nothing when it does not listen for phases)."""
    if isinstance(progress, Phases):
        progress.phase(name, total)
