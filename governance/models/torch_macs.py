"""Size facts of a torch module: parameters, non-zeros and over which tensors, multiply-adds per row.

Multiply-adds are counted by running one sample under a dispatch mode that sees every matrix multiply
and convolution the module really executes, so the count follows the module's actual shapes (a
structurally pruned, smaller layer counts less) for ``nn.Module``s and exported programs alike.
``macs_effective`` scales each op by the share of non-zero entries of its weight operand (a tensor stored
as a parameter or buffer): what a sparse kernel would have to do, not what the dense kernel does.
torch is passed in (imported by the loader), never imported here at module level.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import numpy as np

from .protocols import SizeFacts


def size_facts(torch: Any, module: Callable[[Any], Any], named: list[tuple[str, Any]], x: Any | None,
               rows: int) -> SizeFacts:
    """Facts over the tensors ``named``; multiply-adds from running ``module(x)`` on ``rows`` identical rows.

    ``x=None`` (no sample row) or an op the dispatch mode cannot follow leaves the multiply-adds unknown
    rather than guessed.
    """
    facts = SizeFacts(
        parameters=sum(int(p.numel()) for _, p in named),
        nonzero_parameters=sum(int(torch.count_nonzero(p.detach())) for _, p in named),
        sparsity_scope=_scope(named, module, torch),
        macs_dense=None,
        macs_effective=None,
        macs_scope=None,
    )
    if x is None:
        return facts
    weights = {p.untyped_storage().data_ptr() for _, p in named}
    if isinstance(module, torch.nn.Module):
        weights |= {b.untyped_storage().data_ptr() for b in module.buffers()}
    try:
        dense, effective, ops = _count_macs(torch, module, x, weights)
    except Exception:  # noqa: BLE001 - an op the dispatch mode cannot follow: the count stays unknown, not guessed
        return facts
    facts["macs_dense"] = dense // rows
    facts["macs_effective"] = round(effective / rows)
    facts["macs_scope"] = (", ".join(f"{n} {op}" for op, n in sorted(ops.items())) or "no") + (
        " matrix-multiply/convolution ops; element-wise ops not counted")
    return facts


def _scope(named: list[tuple[str, Any]], module: Any, torch: Any) -> str:
    """Which tensors the sparsity is over, e.g. 'all 4 parameter tensors (2 weight, 2 bias) of 2 Linear layers'."""
    kinds = Counter(name.rsplit(".", 1)[-1] if name else "unnamed" for name, _ in named)
    ordered = sorted(kinds.items(), key=lambda kv: (kv[0] != "weight", kv[0]))  # weights first
    text = f"all {len(named)} parameter tensors ({', '.join(f'{n} {k}' for k, n in ordered)})"
    if isinstance(module, torch.nn.Module) and not isinstance(module, torch.fx.GraphModule):
        owners = dict(module.named_modules())  # an exported program's submodules are untyped: name no layers
        layers: dict[str, set[str]] = {}
        for name, _ in named:
            owner = name.rpartition(".")[0]
            layers.setdefault(type(owners.get(owner, module)).__name__, set()).add(owner)
        text += " of " + ", ".join(f"{len(v)} {k} layer{'s' if len(v) > 1 else ''}" for k, v in layers.items())
    return text + "; buffers excluded"


def _count_macs(torch: Any, module: Callable[[Any], Any], x: Any, weights: set[int]) -> tuple[int, float, Counter]:
    """Run ``module(x)`` and sum the multiply-adds of its matrix multiplies and convolutions (dense, effective)."""
    from torch.utils._python_dispatch import TorchDispatchMode

    aten = torch.ops.aten
    matmuls = {aten.linear: (0, 1), aten.mm: (0, 1), aten.bmm: (0, 1), aten.matmul: (0, 1),
               aten.addmm: (1, 2), aten.baddbmm: (1, 2), aten.addbmm: (1, 2)}
    convs = {aten.conv1d, aten.conv2d, aten.conv3d, aten.convolution, aten._convolution}
    transposed_convs = {aten.conv_transpose1d, aten.conv_transpose2d, aten.conv_transpose3d}
    total: dict[str, float] = {"dense": 0, "effective": 0.0}
    ops: Counter = Counter()

    def density(*operands: Any) -> float:
        for t in operands:  # the operand that is a stored weight (a view of a parameter or buffer)
            if isinstance(t, torch.Tensor) and t.numel() and t.untyped_storage().data_ptr() in weights:
                return float(torch.count_nonzero(t)) / t.numel()
        return 1.0

    class MacCounter(TorchDispatchMode):
        @classmethod
        def _should_skip_dynamo(cls) -> bool:
            # torch wraps a mode's __torch_dispatch__ in torch._disable_dynamo unless this says no; that wrapper
            # imports torch._dynamo on first use (about 3 s per check). One eager forward pass never compiles.
            return False

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            out = func(*args, **(kwargs or {}))
            packet = func.overloadpacket
            macs, share = 0, 1.0
            if packet in matmuls:
                i, j = matmuls[packet]
                a, b = args[i], args[j]
                macs = out.numel() * a.shape[-1]
                share = density(b, a)
            elif packet in convs or packet in transposed_convs:
                w = args[1]
                transposed = packet in transposed_convs or (packet in (aten.convolution, aten._convolution) and args[6])
                per = int(w.shape[1]) * int(np.prod(w.shape[2:]))
                macs = (args[0].numel() if transposed else out.numel()) * per
                share = density(w)
            if macs:
                total["dense"] += int(macs)
                total["effective"] += macs * share
                ops[str(packet).rsplit(".", 1)[-1]] += 1
            return out

    with torch.inference_mode(), MacCounter():
        module(x)
    return int(total["dense"]), total["effective"], ops
