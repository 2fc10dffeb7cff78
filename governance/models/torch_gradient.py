"""Input gradients of a torch module for FGSM: d(summed per-row cross-entropy of the true label)/d(features).

torch is passed in (imported by the loader), never imported here at module level.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def loss_gradient(torch: Any, forward: Callable[[Any], Any], x: Any, target: Any, *, output: str,
                  positive_column: int) -> Any:
    """Gradient w.r.t. ``x`` of the summed cross-entropy of ``forward(x)`` (a tensor) against class indices ``target``.

    ``output`` is ``logits`` or ``probabilities`` (what the module returns). A single-output network gives
    P(positive) and ``positive_column`` says which class index that is (the loss is then binary
    cross-entropy). The sum keeps each row's gradient independent of the others (the module runs in eval
    mode). ``x`` must require grad.
    """
    fn = torch.nn.functional
    with torch.enable_grad():
        out = forward(x)
        out = out.reshape(-1, 1) if out.ndim == 1 else out
        if out.shape[1] == 1:
            score, is_pos = out[:, 0], (target == positive_column).to(out.dtype)
            loss = (fn.binary_cross_entropy_with_logits(score, is_pos, reduction="sum")
                    if output == "logits"
                    else fn.binary_cross_entropy(score.clamp(1e-12, 1 - 1e-12), is_pos, reduction="sum"))
        elif output == "logits":
            loss = fn.cross_entropy(out, target, reduction="sum")
        else:
            loss = fn.nll_loss(torch.log(out.clamp_min(1e-12)), target, reduction="sum")
        (grad,) = torch.autograd.grad(loss, x)
    return grad
