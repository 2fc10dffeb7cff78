"""What an adapter is, and the optional capabilities some formats have, as ``runtime_checkable`` protocols.

Every adapter is a ``ModelAdapter``. Evidence code asks for more with ``isinstance`` (never ``getattr``
or ``hasattr`` probes), so a type checker sees the method once the check narrows the type, and a format
declares what it can do just by implementing the method:

==================  =========  ================  ===========  ==================
capability          skops /    torch /           onnx         predictions
                    pickle     torch-export
==================  =========  ================  ===========  ==================
``Rescorable``      yes        yes               yes          no (a file of scores)
``EfficiencyFacts`` yes        yes               yes          no
``InputGradient``   no         yes               no           no
``Regressor``       yes        yes               yes          yes (one column)
``WholeBatch``      no         yes               yes          no
==================  =========  ================  ===========  ==================

``isinstance`` on these protocols checks that the methods exist, not their signatures; the signatures
are for readers and type checkers (tests/test_adapter_protocols.py pins the table above).
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Protocol, TypedDict, runtime_checkable

import numpy as np
import pyarrow as pa
from typing_extensions import NotRequired  # typing's from Python 3.11; typing_extensions comes with pydantic

__all__ = ["Description", "EfficiencyFacts", "InputGradient", "ModelAdapter", "Regressor", "Rescorable", "SizeFacts",
           "WholeBatch"]


class Description(TypedDict):
    """What ``describe()`` returns (parameter counts None where the format has no meaningful count)."""

    format: str
    parameters: int | None
    nonzero_parameters: int | None
    bytes: int


class SizeFacts(TypedDict):
    """What ``efficiency_facts()`` returns; every value None when unknown (never guessed)."""

    parameters: int | None
    nonzero_parameters: int | None
    sparsity_scope: str | None
    macs_dense: int | None
    macs_effective: int | None
    macs_scope: str | None
    weight_bits: NotRequired[int | None]  # the narrowest element type of the weight tensors (8: int8-quantized)
    weight_format: NotRequired[str | None]  # how that was read, e.g. "int8 weights; MatMulInteger nodes"
    tree_nodes: NotRequired[int | None]  # trees and tree ensembles: nodes, leaves, the deepest tree's depth
    tree_leaves: NotRequired[int | None]
    tree_depth: NotRequired[int | None]


def unknown_size_facts() -> SizeFacts:
    """A ``SizeFacts`` with nothing known: each adapter's ``efficiency_facts`` starts from it."""
    return SizeFacts(parameters=None, nonzero_parameters=None, sparsity_scope=None, macs_dense=None,
                     macs_effective=None, macs_scope=None)


@runtime_checkable
class ModelAdapter(Protocol):
    """What every format has: scores for the evaluation data's chunks, in row order, plus a description."""

    classes: list | None
    """Class labels in output-column order when the model knows them (sklearn ``classes_``), else None."""

    def predict_proba(self, features: pa.Table, row_offset: int) -> np.ndarray:
        """float64 (n, K) probabilities in ``classes`` order, or (n, 1) = P(positive) for single-output binary models.

        ``features`` holds this chunk's feature columns; ``row_offset`` is the index of its first row.
        """
        ...

    def describe(self) -> Description:
        """``{"format", "parameters", "nonzero_parameters", "bytes"}`` (parameter counts None where not meaningful)."""
        ...

    def finish(self, n_rows: int) -> None:
        """Called once after the last chunk with the total row count (predictions files check their length)."""
        ...


@runtime_checkable
class Rescorable(Protocol):
    """The model can be run again on any rows, in any order, as often as asked.

    Robustness scores perturbed copies of rows and efficiency times repeated batches through ``rescore``;
    precomputed predictions (a file read once, in row order) lack it, so both are skipped for them.
    """

    def rescore(self, features: pa.Table, row_offset: int) -> np.ndarray:
        """Like ``predict_proba``, for rows that need not be the data's own; ``row_offset`` only labels errors."""
        ...


@runtime_checkable
class EfficiencyFacts(Protocol):
    """The adapter can state its own size facts (parameters, sparsity and its scope, multiply-adds per row)."""

    def efficiency_facts(self, sample: pa.Table) -> SizeFacts:
        """Facts measured on this model; ``sample`` holds feature rows (one is enough) for counting multiply-adds."""
        ...


@runtime_checkable
class InputGradient(Protocol):
    """The adapter can differentiate its loss with respect to its inputs (FGSM robustness levels)."""

    def input_gradient(self, features: pa.Table, y: np.ndarray, row_offset: int, positive_column: int = 1
                       ) -> np.ndarray:
        """Gradient of the summed per-row cross-entropy of the true labels ``y`` w.r.t. the features, float64 (n, d)."""
        ...


@runtime_checkable
class Regressor(Protocol):
    """The adapter can return one real value per row (``task: regression``): scikit-learn ``predict``, a torch or
    ONNX network's single output as is (no sigmoid, whatever ``output:`` says), a predictions file's one column."""

    def predict_values(self, features: pa.Table, row_offset: int) -> np.ndarray:
        """float64 (n,) predictions; more than one output per row is an input error."""
        ...


@runtime_checkable
class WholeBatch(Protocol):
    """The adapter scores a large chunk in pieces (torch and ONNX on the CPU: cache-sized passes, the same scores), and
    can run each batch in one call instead: what latency times, as a server would call the model on that batch."""

    def whole_batches(self) -> AbstractContextManager[None]:
        """Within this block every call scores its batch in one pass."""
        ...
