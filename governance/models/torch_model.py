"""PyTorch models as a safetensors state dict plus the architecture, an ``nn.Module`` subclass.

safetensors holds tensors only, so loading the file cannot run code. The architecture is named as
``module:Class`` and must be a class in a .py file inside the manifest's folder: code the release owner
ships next to the manifest, trusted like the manifest itself, and nothing else (docs/security.md).
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import re
import sys
from collections import Counter
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pyarrow as pa

from ..errors import InputError
from ._common import feature_matrix, file_bytes, one_line, require


def check_device(torch: Any, device: str) -> Any:
    try:
        dev = torch.device(device)
    except Exception as exc:
        raise InputError(None, "device", f"not a torch device: {device!r}") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise InputError(None, "device", f"device {device!r} requested but CUDA is not available to torch")
    return dev


class TorchAdapter:
    """Runs a module on float tensors built from the chunk; logits become probabilities."""

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

    def _forward(self, x: Any) -> Any:
        torch = self._torch
        b = self._batch_rows
        if b is None or x.shape[0] == b:
            return self.module(x)
        outs = []
        for start in range(0, x.shape[0], b):
            block = x[start : start + b]
            rows = block.shape[0]
            if rows < b:  # rows are scored independently (eval mode), so zero padding is harmless
                block = torch.cat([block, block.new_zeros((b - rows, *block.shape[1:]))])
            outs.append(_tensor_out(self.module(block))[:rows])
        return torch.cat(outs)

    def predict_proba(self, features: pa.Table, row_offset: int) -> np.ndarray:
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
                out = _tensor_out(self._forward(t))
        except InputError:
            raise
        except Exception as exc:  # shape mismatches between data and network are input errors
            raise InputError(
                self.path, self.field, f"the model failed on rows {row_offset}-{row_offset + n - 1}: {one_line(exc)}"
            ) from exc
        return self._to_proba(out, n)

    def _to_proba(self, out: Any, n: int) -> np.ndarray:
        torch = self._torch
        if not isinstance(out, torch.Tensor):
            raise InputError(self.path, self.field, f"the model returned {type(out).__name__}, not a tensor")
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
        if self.output == "logits":
            out = torch.sigmoid(out) if k == 1 else torch.softmax(out, dim=1)
        return out.numpy()

    def describe(self) -> dict:
        torch = self._torch
        params = sum(int(p.numel()) for p in self._parameters)
        nonzero = sum(int(torch.count_nonzero(p.detach())) for p in self._parameters)
        return {"format": self.fmt, "parameters": params, "nonzero_parameters": nonzero, "bytes": file_bytes(self.path)}

    def finish(self, n_rows: int) -> None:
        return None

    # -- optional methods, found with getattr by governance.evidence (efficiency, robustness) ---------------
    def efficiency_facts(self, sample: pa.Table) -> dict:
        """Parameters, non-zeros (and over which tensors) and multiply-adds per row, measured on this module.

        Multiply-adds are counted by running ``sample`` (one row is enough) under a dispatch mode that sees
        every matrix multiply and convolution the module really executes, so the count follows the module's
        actual shapes (a structurally pruned, smaller layer counts less) for ``nn.Module``s and exported
        programs alike. ``macs_effective`` scales each op by the share of non-zero entries of its weight
        operand (a tensor stored as a parameter or buffer): what a sparse kernel would have to do, not what
        the dense kernel does.
        """
        torch = self._torch
        named = self._named_parameters()
        facts: dict = {
            "parameters": sum(int(p.numel()) for _, p in named),
            "nonzero_parameters": sum(int(torch.count_nonzero(p.detach())) for _, p in named),
            "sparsity_scope": _scope(named, self.module, torch),
            "macs_dense": None,
            "macs_effective": None,
            "macs_scope": None,
        }
        if sample.num_rows == 0:
            return facts
        x = feature_matrix(sample.slice(0, 1), 0, path=self.path, field=self.field, fmt=self.fmt)
        rows = self._batch_rows or 1  # a fixed-batch exported program runs whole blocks: count one block
        t = torch.from_numpy(np.repeat(x, rows, axis=0)).to(device=self._device, dtype=self._dtype)
        weights = {p.untyped_storage().data_ptr() for _, p in named}
        if isinstance(self.module, torch.nn.Module):
            weights |= {b.untyped_storage().data_ptr() for b in self.module.buffers()}
        try:
            dense, effective, ops = _count_macs(torch, self.module, t, weights)
        except Exception:  # an op the dispatch mode cannot follow: leave the count unknown rather than guess
            return facts
        facts["macs_dense"] = dense // rows
        facts["macs_effective"] = int(round(effective / rows))
        facts["macs_scope"] = (", ".join(f"{n} {op}" for op, n in sorted(ops.items())) or "no") + (
            " matrix-multiply/convolution ops; element-wise ops not counted")
        return facts

    def _named_parameters(self) -> list[tuple[str, Any]]:
        """The tensors ``describe`` counts, with their names when the module can tell them."""
        torch = self._torch
        if isinstance(self.module, torch.nn.Module):
            named = list(self.module.named_parameters())
            if sum(int(p.numel()) for _, p in named) == sum(int(p.numel()) for p in self._parameters):
                return named
        return [("", p) for p in self._parameters]

    def input_gradient(self, features: pa.Table, y: np.ndarray, row_offset: int, positive_column: int = 1) -> np.ndarray:
        """Gradient of the summed per-row cross-entropy w.r.t. the feature matrix, float64 (n, d), for FGSM.

        ``y`` holds class indices in the gate's class order. A single-output network gives P(positive), and
        ``positive_column`` says which class index that is (the loss is then binary cross-entropy). The sum
        keeps each row's gradient independent of the others in the chunk (the module runs in eval mode).
        """
        torch = self._torch
        n = features.num_rows
        x = feature_matrix(features, row_offset, path=self.path, field=self.field, fmt=self.fmt)
        if n == 0:
            return np.empty_like(x)
        t = torch.from_numpy(x).to(device=self._device, dtype=self._dtype).requires_grad_(True)
        target = torch.from_numpy(np.array(y, dtype=np.int64)).to(self._device)
        fn = torch.nn.functional
        try:
            with torch.enable_grad():
                out = _tensor_out(self._forward(t))
                out = out.reshape(-1, 1) if out.ndim == 1 else out
                if out.shape[1] == 1:
                    score, is_pos = out[:, 0], (target == positive_column).to(out.dtype)
                    loss = (fn.binary_cross_entropy_with_logits(score, is_pos, reduction="sum")
                            if self.output == "logits"
                            else fn.binary_cross_entropy(score.clamp(1e-12, 1 - 1e-12), is_pos, reduction="sum"))
                elif self.output == "logits":
                    loss = fn.cross_entropy(out, target, reduction="sum")
                else:
                    loss = fn.nll_loss(torch.log(out.clamp_min(1e-12)), target, reduction="sum")
                (grad,) = torch.autograd.grad(loss, t)
        except Exception as exc:
            raise InputError(
                self.path, self.field, f"the input gradient failed on rows {row_offset}-{row_offset + n - 1}: "
                                       f"{one_line(exc)}"
            ) from exc
        return grad.detach().to(device="cpu", dtype=torch.float64).numpy()


def _scope(named: list[tuple[str, Any]], module: Any, torch: Any) -> str:
    """Which tensors the sparsity is over, e.g. 'all 4 parameter tensors (2 weight, 2 bias) of 2 Linear layers'."""
    kinds = Counter(name.rsplit(".", 1)[-1] if name else "unnamed" for name, _ in named)
    text = f"all {len(named)} parameter tensors ({', '.join(f'{n} {k}' for k, n in sorted(kinds.items(), key=lambda kv: (kv[0] != 'weight', kv[0])))})"
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
    total = {"dense": 0, "effective": 0.0}
    ops: Counter = Counter()

    def density(*operands: Any) -> float:
        for t in operands:  # the operand that is a stored weight (a view of a parameter or buffer)
            if isinstance(t, torch.Tensor) and t.numel() and t.untyped_storage().data_ptr() in weights:
                return float(torch.count_nonzero(t)) / t.numel()
        return 1.0

    class MacCounter(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001
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
    return total["dense"], total["effective"], ops


def _tensor_out(out: Any) -> Any:
    """Unwrap a single-element tuple/list output (common for exported programs)."""
    if isinstance(out, (tuple, list)) and len(out) == 1:
        return out[0]
    return out


#: ``module:Class``: a dotted module path (folders below the manifest's) and one class name
ARCHITECTURE_FORM = re.compile(r"^(?P<module>[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*):(?P<cls>[A-Za-z_]\w*)$")
ARCH_BAD_FORM = ("expected 'module:Class' (a torch.nn.Module subclass in a .py file in the release's folder, "
                 "e.g. 'arch:Net' for arch.py next to the manifest), got {value!r}")
ARCH_NO_FILE = ("module {module!r} is not a file in the release's folder (looked for {path}): the architecture must "
                "be a .py file next to the manifest or below it, never an installed or standard-library module")
ARCH_OUTSIDE = "module {module!r} resolves to {path}, outside the release's folder {folder} (a symlink leaving it)"
ARCH_NOT_CLASS = ("{value!r} is {what}, not a class: name the torch.nn.Module subclass itself "
                  "(e.g. 'arch:Net'); its constructor's keyword arguments go in architecture_kwargs")
ARCH_NOT_MODULE = "{value!r} is a class but not a torch.nn.Module subclass"


def architecture_file(architecture: str, *, manifest: Path, field: str) -> Path:
    """The .py file inside the manifest's folder that ``module:Class`` names, found without importing anything."""
    where = f"{field}.architecture"
    m = ARCHITECTURE_FORM.match(architecture)
    if m is None:
        raise InputError(manifest, where, ARCH_BAD_FORM.format(value=architecture))
    folder = Path(manifest).resolve().parent
    module = m["module"]
    rel = Path(*module.split(".")).with_suffix(".py")
    candidate = folder / rel
    if not candidate.is_file():
        raise InputError(manifest, where, ARCH_NO_FILE.format(module=module, path=rel.as_posix()))
    real = candidate.resolve()
    if not real.is_relative_to(folder):
        raise InputError(manifest, where, ARCH_OUTSIDE.format(module=module, path=real, folder=folder))
    return real


def import_architecture(architecture: str, *, manifest: Path, field: str, torch: Any) -> type:
    """The ``torch.nn.Module`` subclass ``module:Class`` names, from a .py file inside the manifest's folder.

    Nothing outside the release is ever named: the file is found first (``architecture_file``), so ``os:system``
    or ``subprocess:run`` is refused before any import. Importing the file runs its top level (release code,
    trusted like the manifest: docs/security.md); the module gets a private name derived from its content, so
    two releases' ``arch.py`` never collide, and the folder is on ``sys.path`` only while it runs (sibling
    imports work).
    """
    where = f"{field}.architecture"
    path = architecture_file(architecture, manifest=manifest, field=field)
    module_name, _, cls_name = architecture.partition(":")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    private = f"_governance_release_{digest}_{module_name.replace('.', '_')}"
    module = sys.modules.get(private)
    if module is None:
        spec = importlib.util.spec_from_file_location(private, path)
        if spec is None or spec.loader is None:
            raise InputError(manifest, where, ARCH_NO_FILE.format(module=module_name, path=path))
        module = importlib.util.module_from_spec(spec)
        folder = str(Path(manifest).resolve().parent)
        sys.modules[private] = module
        sys.path.insert(0, folder)
        try:
            spec.loader.exec_module(module)
        except (Exception, SystemExit) as exc:  # SyntaxError, ImportError, the module failing or exiting
            sys.modules.pop(private, None)
            raise InputError(manifest, where, f"cannot import module {module_name!r} ({path.name}): "
                                              f"{one_line(exc)}") from exc
        finally:
            if folder in sys.path:
                sys.path.remove(folder)
    obj = getattr(module, cls_name, None)
    if obj is None:
        raise InputError(manifest, where, f"module {module_name!r} has no attribute {cls_name!r}")
    if not isinstance(obj, type):
        what = "a function" if inspect.isroutine(obj) else f"a {type(obj).__name__}"
        raise InputError(manifest, where, ARCH_NOT_CLASS.format(value=architecture, what=what))
    if not issubclass(obj, torch.nn.Module):
        raise InputError(manifest, where, ARCH_NOT_MODULE.format(value=architecture))
    return obj


def _keys(keys: list[str], limit: int = 5) -> str:
    shown = ", ".join(keys[:limit])
    return shown + (f" (+{len(keys) - limit} more)" if len(keys) > limit else "")


def load(
    spec: Any, path: Path, *, field: str, manifest: Path, trust_pickle: bool = False, device: str = "cpu"
) -> TorchAdapter:
    torch = require("torch", fmt="torch", manifest=manifest, field=field)
    st = require("safetensors.torch", fmt="torch", manifest=manifest, field=field)
    dev = check_device(torch, device)
    build = import_architecture(spec.architecture, manifest=manifest, field=field, torch=torch)
    try:
        model = build(**spec.architecture_kwargs)
    except (Exception, SystemExit) as exc:
        where = f"{field}.architecture_kwargs" if isinstance(exc, TypeError) else f"{field}.architecture"
        raise InputError(manifest, where, f"building {spec.architecture} failed: {one_line(exc)}") from exc
    if not isinstance(model, torch.nn.Module):
        raise InputError(
            manifest,
            f"{field}.architecture",
            f"{spec.architecture} returned {type(model).__name__}, not a torch.nn.Module",
        )

    try:
        state = st.load_file(str(path))
    except Exception as exc:
        raise InputError(path, f"{field}.path", f"not a valid safetensors file ({one_line(exc)})") from exc

    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing keys: {_keys(missing)}")
        if unexpected:
            parts.append(f"unexpected keys: {_keys(unexpected)}")
        hint = ""
        if any(k.endswith(("_orig", "_mask")) for k in unexpected):
            hint = "; it was saved with pruning still attached: call torch.nn.utils.prune.remove() before saving"
        raise InputError(
            path,
            f"{field}.path",
            f"state dict does not match {spec.architecture}: {'; '.join(parts)}{hint}",
        )
    try:
        model.load_state_dict(state, strict=True)
    except Exception as exc:  # shape mismatches
        raise InputError(
            path,
            f"{field}.path",
            f"state dict does not match {spec.architecture}: {one_line(exc)}",
        ) from exc

    model = model.to(dev).eval()
    params = [p for _, p in model.named_parameters()]
    dtype = next((p.dtype for p in params if p.is_floating_point()), torch.float32)
    return TorchAdapter(
        model,
        path,
        torch=torch,
        fmt="torch",
        field=field,
        output=spec.output,
        device=dev,
        parameters=params,
        dtype=dtype,
    )
