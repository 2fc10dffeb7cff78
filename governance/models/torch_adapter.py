"""The torch adapter: runs an ``nn.Module`` (or an exported program's module) on the chunk's feature matrix.

Loading lives elsewhere (torch_model.py: safetensors + architecture; torch_export.py: .pt2), as do the
multiply-add count (torch_macs.py) and the FGSM gradient (torch_gradient.py). torch is passed in by the
loader, so importing this module never imports torch.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from ..errors import InputError
from ._common import PIECE_ROWS, feature_matrix, file_bytes, one_line, one_value, piece_count, whole_passes
from .protocols import Description, SizeFacts
from .torch_gradient import loss_gradient
from .torch_macs import size_facts


def check_device(torch: Any, device: str) -> Any:
    """The ``torch.device`` for ``--device``; an unknown device or CUDA without CUDA is exit 2, not a crash."""
    try:
        dev = torch.device(device)
    except Exception as exc:
        raise InputError(None, "device", f"not a torch device: {device!r}") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise InputError(None, "device", f"device {device!r} requested but CUDA is not available to torch")
    return dev


class TorchAdapter:
    """Runs a module on float tensors built from the chunk; logits become probabilities.

    Shared by the ``torch`` (safetensors) and ``torch-export`` loaders. Capabilities (models/protocols.py):
    ``Rescorable``, ``EfficiencyFacts`` and ``InputGradient``.
    """

    classes: list | None = None

    def __init__(
        self,
        module: Callable[[Any], Any],
        path: Path,
        *,
        torch: Any,
        fmt: str,
        field: str,
        output: str,
        device: Any,
        parameters: list[Any],
        dtype: Any = None,
        batch_rows: int | None = None,
        in_features: int | None = None,
    ) -> None:
        self.module = module
        self.path = path
        self.fmt = fmt
        self.field = field
        self.output = output
        self._torch = torch
        self._device = device
        self._parameters = parameters
        self._dtype = dtype if dtype is not None else torch.float32
        self._batch_rows = batch_rows  # an exported program traced with a fixed batch size
        self._in_features = in_features
        self._width: int | None = None
        #: sentences for evidence.warnings (collect gathers them): what the gate noticed about this model's outputs
        self.notes: list[str] = []
        self._softmax_checked = False
        self._pieces = PIECE_ROWS if device.type == "cpu" else None  # on an accelerator one large pass is fast

    def _forward(self, x: Any, pieces: int | None = None) -> Any:
        torch = self._torch
        b = self._batch_rows
        if b is None and (parts := piece_count(x.shape[0], pieces)) > 1:
            return torch.cat([tensor_out(self.module(part)) for part in torch.tensor_split(x, parts)])
        if b is None or x.shape[0] == b:
            return self.module(x)
        outs = []
        for start in range(0, x.shape[0], b):
            block = x[start : start + b]
            rows = block.shape[0]
            if rows < b:  # rows are scored independently (eval mode), so zero padding is harmless
                block = torch.cat([block, block.new_zeros((b - rows, *block.shape[1:]))])
            outs.append(tensor_out(self.module(block))[:rows])
        return torch.cat(outs)

    def predict_proba(self, features: pa.Table, row_offset: int) -> np.ndarray:
        return self._scores(features, row_offset, activate=True)

    def whole_batches(self) -> AbstractContextManager[None]:
        """``WholeBatch``: one forward pass per call inside the block (latency times the model this way)."""
        return whole_passes(self)

    def predict_values(self, features: pa.Table, row_offset: int) -> np.ndarray:
        """``Regressor``: the network's single output as is (``output:`` is not applied)."""
        out = self._scores(features, row_offset, activate=False)
        return one_value(out, features.num_rows, path=self.path, field=self.field)

    def _scores(self, features: pa.Table, row_offset: int, *, activate: bool) -> np.ndarray:
        torch = self._torch
        n = features.num_rows
        x = feature_matrix(features, row_offset, path=self.path, field=self.field, fmt=self.fmt)
        if self._in_features is not None and x.shape[1] != self._in_features:
            raise InputError(
                self.path, self.field, f"the model takes {self._in_features} features but the data has {x.shape[1]}"
            )
        if n == 0:
            return np.empty((0, self._width or 1), dtype=np.float64)
        t = torch.from_numpy(x).to(device=self._device, dtype=self._dtype)
        try:
            with torch.inference_mode():
                out = tensor_out(self._forward(t, self._pieces))  # (input_gradient runs one whole pass)
        except InputError:
            raise
        except Exception as exc:  # shape mismatches between data and network are input errors
            raise InputError(
                self.path, self.field, f"the model failed on rows {row_offset}-{row_offset + n - 1}: {one_line(exc)}"
            ) from exc
        return self._to_proba(out, n, activate=activate)

    def _to_proba(self, out: Any, n: int, *, activate: bool = True) -> np.ndarray:
        torch = self._torch
        if not isinstance(out, torch.Tensor):
            raise InputError(self.path, self.field, f"the model returned {type(out).__name__}, not a tensor")
        half = out.dtype in (torch.float16, torch.bfloat16)
        out = out.detach().to(device="cpu", dtype=torch.float64)
        if out.ndim == 1:
            out = out.reshape(-1, 1)
        if out.ndim != 2 or out.shape[0] != n:
            raise InputError(
                self.path,
                self.field,
                f"the model returned shape {tuple(out.shape)} for {n} rows; expected ({n}, outputs)",
            )
        k = out.shape[1]
        if self._width is None:
            self._width = k
        elif k != self._width:
            raise InputError(
                self.path,
                self.field,
                f"the model returned {k} outputs for one chunk and {self._width} for another",
            )
        if self.output == "logits" and activate:
            if k > 1 and not self._softmax_checked:  # once, on the first rows scored
                self._softmax_checked = True
                if n >= 2 and bool(((out >= 0) & (out <= 1)).all()) and \
                        bool(((out.sum(dim=1) - 1).abs() <= 1e-3).all()):
                    self.notes.append(ALREADY_PROBABILITIES.format(field=self.field))
            out = torch.sigmoid(out) if k == 1 else torch.softmax(out, dim=1)
        elif half and k > 1:  # a half-precision softmax sums to 1 within ~1e-3, not the 1e-6 the gate checks
            total = out.sum(dim=1, keepdim=True)
            if bool(((total - 1).abs() <= HALF_SUM_TOLERANCE).all()) and bool((out >= 0).all()):
                out = out / total
        return out.numpy()

    def describe(self) -> Description:
        torch = self._torch
        params = sum(int(p.numel()) for p in self._parameters)
        nonzero = sum(int(torch.count_nonzero(p.detach())) for p in self._parameters)
        return {"format": self.fmt, "parameters": params, "nonzero_parameters": nonzero, "bytes": file_bytes(self.path)}

    def finish(self, n_rows: int) -> None:
        return None

    #: ``Rescorable``: the module runs in eval mode without state, so any rows can be scored again in any order.
    rescore = predict_proba

    def efficiency_facts(self, sample: pa.Table) -> SizeFacts:
        """``EfficiencyFacts``: parameters, non-zeros (and over which tensors) and multiply-adds per row of this
        module, counted on one row of ``sample`` (torch_macs.py says how)."""
        torch = self._torch
        named = self._named_parameters()
        if sample.num_rows == 0:
            return size_facts(torch, self.module, named, None, 1)
        x = feature_matrix(sample.slice(0, 1), 0, path=self.path, field=self.field, fmt=self.fmt)
        rows = self._batch_rows or 1  # a fixed-batch exported program runs whole blocks: count one block
        t = torch.from_numpy(np.repeat(x, rows, axis=0)).to(device=self._device, dtype=self._dtype)
        return size_facts(torch, self.module, named, t, rows)

    def _named_parameters(self) -> list[tuple[str, Any]]:
        """The tensors ``describe`` counts, with their names when the module can tell them."""
        torch = self._torch
        if isinstance(self.module, torch.nn.Module):
            named = list(self.module.named_parameters())
            if sum(int(p.numel()) for _, p in named) == sum(int(p.numel()) for p in self._parameters):
                return named
        return [("", p) for p in self._parameters]

    def input_gradient(self, features: pa.Table, y: np.ndarray, row_offset: int, positive_column: int = 1
                       ) -> np.ndarray:
        """``InputGradient``: gradient of the summed per-row cross-entropy w.r.t. the feature matrix, float64 (n, d),
        for FGSM (torch_gradient.py). ``y`` holds class indices in the gate's class order; a single-output network
        gives P(positive) and ``positive_column`` says which class index that is."""
        torch = self._torch
        n = features.num_rows
        x = feature_matrix(features, row_offset, path=self.path, field=self.field, fmt=self.fmt)
        if n == 0:
            return np.empty_like(x)
        t = torch.from_numpy(x).to(device=self._device, dtype=self._dtype).requires_grad_(True)
        target = torch.from_numpy(np.array(y, dtype=np.int64)).to(self._device)
        try:
            grad = loss_gradient(torch, lambda v: tensor_out(self._forward(v)), t, target, output=self.output,
                                 positive_column=positive_column)
        except Exception as exc:
            raise InputError(
                self.path, self.field, f"the input gradient failed on rows {row_offset}-{row_offset + n - 1}: "
                                       f"{one_line(exc)}"
            ) from exc
        return grad.detach().to(device="cpu", dtype=torch.float64).numpy()


#: a network read as returning logits whose outputs are already probabilities (template: field)
ALREADY_PROBABILITIES = ("the {field} model's outputs are already probabilities (every row of its first chunk lies "
                         "in [0, 1] and sums to 1), yet it is read with 'output: logits', so a second softmax "
                         "squashes its scores toward 1/K: set 'output: probabilities' for it")
#: how far from 1 a float16 / bfloat16 probability row may sum and still be renormalised (bfloat16 keeps 8 bits)
HALF_SUM_TOLERANCE = 2e-2


def tensor_out(out: Any) -> Any:
    """Unwrap a single-element tuple/list output (common for exported programs)."""
    if isinstance(out, (tuple, list)) and len(out) == 1:
        return out[0]
    return out
