"""ONNX models, run with onnxruntime (optional extra: ``pip install 'pruning-governance[onnx]'``).

An ONNX file is a graph of standard operators plus tensors (protobuf): loading it does not unpickle or
import code, so the format loads without ``--trust-pickle`` (custom-operator libraries are never
registered, so a graph that needs one fails to load instead of running foreign code).

Input: the graph must take one tensor (rows, features); it gets the chunk's feature columns in data
order as float32 (float64 if the graph asks for double), like the torch adapter. Output, in order of
preference:

1. a probability output the graph itself provides: a sequence of maps (scikit-learn-onnx's ``ZipMap``,
   ``[{class: p}, ...]``) or a tensor whose name contains "prob" (``output_probability`` with
   ``zipmap=False``): used as probabilities, whatever ``output:`` says;
2. otherwise the first floating-point tensor output, read as ``output:`` says (``logits``, the
   default: softmax, or sigmoid for one column; ``probabilities``: as is).

Class labels come from the graph when a node names them (``classlabels_*`` attributes of ZipMap or the
ai.onnx.ml classifiers). A graph exported with a fixed batch size is run in blocks of that size, the last
one zero-padded (rows are independent at inference).
"""

from __future__ import annotations

import importlib
from contextlib import AbstractContextManager
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pyarrow as pa

from ..errors import InputError
from ._common import PIECE_ROWS, as_proba, feature_matrix, file_bytes, one_line, one_value, piece_count, whole_passes
from .protocols import Description, SizeFacts, unknown_size_facts

INSTALL_HINT = "pip install 'pruning-governance[onnx]'"
#: Operators whose presence does not stop us counting multiply-adds: element-wise and bookkeeping ops whose
#: cost is not a multiply-add over weights. A graph with any other operator gets ``macs_dense=None``.
_ELEMENTWISE = {
    "Add", "Sub", "Mul", "Div", "Relu", "LeakyRelu", "PRelu", "Sigmoid", "Tanh", "Softmax", "LogSoftmax", "Identity",
    "Cast", "Clip", "Gelu", "Erf", "Sqrt", "Pow", "Neg", "Exp", "Elu", "Selu", "HardSigmoid", "HardSwish",
    "Softplus", "ZipMap", "ArgMax", "Dropout", "Constant", "Shape", "Gather", "Unsqueeze", "Squeeze", "Concat",
    "Reshape", "Flatten",
}


#: a classifier's graph in a regression release (template: output, the probability output's name)
ONNX_IS_CLASSIFIER = "the graph has a probability output ({output}): task: regression needs a regressor's graph"
#: a file onnxruntime cannot load (template: reason, its one-line error)
NOT_ONNX = "not a loadable ONNX model ({reason})"

def _import(module: str, *, manifest: Path, field: str) -> ModuleType:
    """Import an optional module or fail naming the manifest field, with the install hint of the ``onnx`` extra."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise InputError(
            manifest, f"{field}.format", f"format 'onnx' needs {module}, which is not installed: {INSTALL_HINT}"
        ) from exc


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


class OnnxAdapter:
    """Scores the chunk's feature matrix with an onnxruntime session.

    Capabilities (models/protocols.py): ``Rescorable``, ``EfficiencyFacts`` and ``WholeBatch`` (a dynamic-batch graph
    on the CPU scores a chunk in pieces); no ``InputGradient``.
    """

    def __init__(self, session: Any, path: Path, *, field: str, output: str, pieces: int | None = None) -> None:
        self.session = session
        self._pieces = pieces  # rows per run of a dynamic-batch graph on the CPU (PIECE_ROWS); None: one run
        self.path = path
        self.field = field
        self.classes: list | None = None
        self._facts: SizeFacts | None = None
        inputs = session.get_inputs()
        if len(inputs) != 1:
            raise InputError(
                path,
                f"{field}.path",
                f"the ONNX graph takes {len(inputs)} inputs ({', '.join(i.name for i in inputs)}); the gate passes "
                "one (rows, features) tensor",
            )
        inp = inputs[0]
        self._input = inp.name
        self._dtype = np.float64 if inp.type == "tensor(double)" else np.float32
        if inp.type not in ("tensor(float)", "tensor(double)"):
            raise InputError(
                path, f"{field}.path", f"the ONNX graph's input has type {inp.type}; the gate passes float"
            )
        shape = list(inp.shape or [])
        if len(shape) != 2:
            raise InputError(path, f"{field}.path", f"the ONNX graph takes a {len(shape)}-d input; the gate passes "
                                                     "(rows, features)")
        self._batch_rows = shape[0] if isinstance(shape[0], int) and shape[0] > 0 else None
        self._in_features = shape[1] if isinstance(shape[1], int) else None
        self._output, self._kind = self._pick_output(session.get_outputs(), output)
        self._width: int | None = None

    def _pick_output(self, outputs: list[Any], output: str) -> tuple[str, str]:
        """(output name, how to read it): 'zipmap', 'probabilities' or 'logits'."""
        for o in outputs:
            if o.type.startswith("seq(map("):
                return o.name, "zipmap"
        tensors = [o for o in outputs if o.type in ("tensor(float)", "tensor(double)", "tensor(float16)")]
        for o in tensors:
            if "prob" in o.name.lower():
                return o.name, "probabilities"
        if not tensors:
            raise InputError(
                self.path,
                f"{self.field}.path",
                "the ONNX graph has no floating-point output "
                f"(outputs: {', '.join(f'{o.name}: {o.type}' for o in outputs)})",
            )
        return tensors[0].name, output

    def _run(self, x: np.ndarray) -> Any:
        b = self._batch_rows
        if b is None:
            if (parts := piece_count(x.shape[0], self._pieces)) == 1:
                return self.session.run([self._output], {self._input: x})[0]
            blocks = [(part, part.shape[0]) for part in np.array_split(x, parts)]  # near-equal: no 1-row tail
        elif x.shape[0] == b:
            return self.session.run([self._output], {self._input: x})[0]
        else:  # a fixed batch size: whole blocks, the last one padded with zeros
            blocks = []
            for start in range(0, x.shape[0], b):
                block = x[start : start + b]
                rows = block.shape[0]
                if rows < b:
                    block = np.concatenate([block, np.zeros((b - rows, x.shape[1]), dtype=x.dtype)])
                blocks.append((block, rows))
        outs: list[Any] = []
        for block, rows in blocks:
            out = self.session.run([self._output], {self._input: block})[0]
            if isinstance(out, list):  # ZipMap: one dict per row
                outs.extend(out[:rows])
            else:
                outs.append(np.asarray(out)[:rows])
        return outs if self._kind == "zipmap" else np.concatenate(outs)

    def whole_batches(self) -> AbstractContextManager[None]:
        """``WholeBatch``: one session run per call inside the block (latency times the model this way)."""
        return whole_passes(self)

    def predict_proba(self, features: pa.Table, row_offset: int) -> np.ndarray:
        return self._scores(features, row_offset, activate=True)

    def predict_values(self, features: pa.Table, row_offset: int) -> np.ndarray:
        """``Regressor``: the graph's single tensor output as is (``output:`` is not applied); a graph with a
        probability output is a classifier and refused."""
        if self._kind in ("zipmap", "probabilities"):
            raise InputError(self.path, f"{self.field}.path", ONNX_IS_CLASSIFIER.format(output=self._output))
        return one_value(self._scores(features, row_offset, activate=False), features.num_rows, path=self.path,
                         field=self.field)

    def _scores(self, features: pa.Table, row_offset: int, *, activate: bool) -> np.ndarray:
        n = features.num_rows
        x = feature_matrix(features, row_offset, path=self.path, field=self.field, fmt="onnx")
        if self._in_features is not None and x.shape[1] != self._in_features:
            raise InputError(
                self.path, self.field, f"the model takes {self._in_features} features but the data has {x.shape[1]}"
            )
        if n == 0:
            return np.empty((0, self._width or 1), dtype=np.float64)
        try:
            out = self._run(np.ascontiguousarray(x, dtype=self._dtype))
        except Exception as exc:
            raise InputError(
                self.path, self.field, f"the model failed on rows {row_offset}-{row_offset + n - 1}: {one_line(exc)}"
            ) from exc
        if self._kind == "zipmap":
            keys = self.classes if self.classes is not None else list(out[0].keys())
            try:
                out = np.array([[row[k] for k in keys] for row in out], dtype=np.float64)
            except KeyError:
                found = next(list(row) for row in out if any(k not in row for k in keys))
                raise InputError(self.path, f"{self.field}.path", ZIPMAP_KEYS.format(
                    keys=", ".join(map(repr, found)), labels=", ".join(map(repr, keys)))) from None
        arr = as_proba(out, n, path=self.path, field=self.field, width=self._width)
        self._width = arr.shape[1]
        if self._kind == "logits" and activate:
            arr = 1.0 / (1.0 + np.exp(-arr)) if arr.shape[1] == 1 else _softmax(arr)
        return arr

    #: ``Rescorable``: a session run keeps no state, so any rows can be scored again in any order.
    rescore = predict_proba

    def describe(self) -> Description:
        facts = self._graph_facts()
        return {"format": "onnx", "parameters": facts["parameters"], "nonzero_parameters": facts["nonzero_parameters"],
                "bytes": file_bytes(self.path)}

    def finish(self, n_rows: int) -> None:
        return None

    def efficiency_facts(self, sample: pa.Table) -> SizeFacts:
        """``EfficiencyFacts``: parameters and non-zeros over the graph's floating-point initializers; multiply-adds
        per row from its Gemm/MatMul nodes with initializer weights (None when the graph has other heavy operators,
        e.g. Conv)."""
        return SizeFacts(**self._graph_facts())

    def _graph_facts(self) -> SizeFacts:
        if self._facts is None:
            self._facts = _graph_facts(self.path)
        return self._facts


#: quantization operators (onnxruntime.quantization writes them): their presence makes the graph a quantized one
QUANT_OPS = frozenset({
    "QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear", "MatMulInteger", "ConvInteger", "QLinearMatMul",
    "QLinearConv", "QGemm", "DynamicQuantizeMatMul", "MatMulNBits", "QAttention", "QLinearAdd", "QLinearMul",
})
#: bookkeeping around quantized multiplies (no multiply-add over weights of their own)
_QUANT_BOOKKEEPING = frozenset({"QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear"})
#: quantized weight-consuming operators: (weight input, its zero-point input)
_QUANT_WEIGHT_SLOTS = {"MatMulInteger": (1, 3), "ConvInteger": (1, 3), "DequantizeLinear": (0, 2),
                       "QLinearMatMul": (3, 5), "QLinearConv": (3, 5)}
#: scale inputs of the QDQ / QLinear operators (float initializers that are bookkeeping, not weights)
_SCALE_SLOTS = {"QuantizeLinear": (1,), "DequantizeLinear": (1,), "QLinearMatMul": (1, 4, 6),
                "QLinearConv": (1, 4, 6)}
_INT_BITS = {"int8": 8, "uint8": 8, "int16": 16, "uint16": 16, "int4": 4, "uint4": 4}


def _bits(arr: np.ndarray) -> int | None:
    """Bits per element of a weight tensor's stored type (float32: 32, int8: 8), None for other types."""
    if np.issubdtype(arr.dtype, np.floating):
        return int(arr.dtype.itemsize * 8)
    return _INT_BITS.get(str(arr.dtype))


def _nonzero(q: np.ndarray, zero_point: np.ndarray | None, axis: int) -> int:
    """Elements of a quantized tensor whose dequantized value is not 0 (``q != zero_point``)."""
    if zero_point is None or zero_point.size == 1:
        zp = 0 if zero_point is None else zero_point.reshape(()).astype(np.int64)
        return int(np.count_nonzero(q.astype(np.int64) != zp))
    shape = [1] * q.ndim
    shape[axis % q.ndim] = -1  # per-channel: one zero point along ``axis``
    return int(np.count_nonzero(q.astype(np.int64) != zero_point.astype(np.int64).reshape(shape)))


def _graph_facts(path: Path) -> SizeFacts:
    """Counts from the graph itself (needs the ``onnx`` package; without it every count is None).

    A quantized graph (onnxruntime.quantization: int8/uint8 weight initializers read by MatMulInteger,
    DequantizeLinear, QLinear* nodes) counts its quantized weights as parameters, a weight being zero where its
    integer value equals its zero point (it dequantizes to 0); scales and zero points are bookkeeping, not
    parameters. Counting only the floating-point initializers would leave a quantized graph with its biases and
    scales, and a sparsity that says nothing. ``weight_bits`` is the narrowest element type among the weight
    tensors (initializers of two or more dimensions, or the quantized ones)."""
    facts = unknown_size_facts()
    try:
        onnx = importlib.import_module("onnx")
        from onnx import numpy_helper

        model = onnx.load(str(path))
    except Exception:  # noqa: BLE001 - not installed, or a graph onnxruntime reads but onnx does not: unknown
        return facts
    graph = model.graph
    arrays = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
    quant_ops = sorted({n.op_type for n in graph.node if n.op_type in QUANT_OPS})
    quantized: dict[str, tuple[np.ndarray | None, int]] = {}  # weight -> (zero point, channel axis)
    bookkeeping: set[str] = set()
    aliases: dict[str, str] = {}  # a DequantizeLinear output -> the quantized initializer it reads
    for node in graph.node:
        slots = _QUANT_WEIGHT_SLOTS.get(node.op_type)
        if slots is not None and len(node.input) > slots[0] and node.input[slots[0]] in arrays:
            w = node.input[slots[0]]
            if _bits(arrays[w]) in (4, 8, 16) and not np.issubdtype(arrays[w].dtype, np.floating):
                zp_name = node.input[slots[1]] if len(node.input) > slots[1] else ""
                axis = next((a.i for a in node.attribute if a.name == "axis"), 1)
                quantized[w] = (arrays.get(zp_name), axis if node.op_type == "DequantizeLinear" else -1)
                bookkeeping.add(zp_name)
                if node.op_type == "DequantizeLinear":
                    aliases[node.output[0]] = w
        bookkeeping.update(node.input[i] for i in _SCALE_SLOTS.get(node.op_type, ()) if i < len(node.input))
        if node.op_type in ("MatMulInteger", "ConvInteger") and len(node.input) > 2:
            bookkeeping.update(node.input[2:])  # the zero points
    floats = {n: a for n, a in arrays.items()
              if np.issubdtype(a.dtype, np.floating) and n not in bookkeeping
              and not (quant_ops and a.size == 1)}  # a quantized graph's scalar floats are its scales
    weights: dict[str, np.ndarray] = {**floats, **{n: arrays[n] for n in quantized}}
    nonzero: dict[str, int] = {n: int(np.count_nonzero(a)) for n, a in floats.items()}
    nonzero.update({n: _nonzero(arrays[n], zp, axis) for n, (zp, axis) in quantized.items()})
    facts["parameters"] = int(sum(a.size for a in weights.values()))
    facts["nonzero_parameters"] = int(sum(nonzero.values()))
    facts["sparsity_scope"] = (f"all {len(floats)} floating-point initializers of the ONNX graph" if not quantized
                               else f"{len(quantized)} quantized weight initializers (zero: equal to the zero point) "
                                    f"and {len(floats)} floating-point initializers of the ONNX graph; scales and "
                                    f"zero points left out")
    tensor_bits = [b for n, a in weights.items() if (n in quantized or a.ndim >= 2) and (b := _bits(a)) is not None]
    facts["weight_bits"] = min(tensor_bits) if tensor_bits else None
    if facts["weight_bits"] is not None:
        kinds = sorted({str(arrays[n].dtype) for n in quantized}) or sorted(
            {str(a.dtype) for a in weights.values() if a.ndim >= 2})
        facts["weight_format"] = (f"{'/'.join(kinds)} weights"
                                  + (f" ({len(quantized)} quantized tensors; operators {', '.join(quant_ops)})"
                                     if quant_ops else ""))
    dense = effective = 0
    counted = 0
    for node in graph.node:
        if node.op_type in ("Gemm", "MatMul", "MatMulInteger"):
            name = aliases.get(node.input[1], node.input[1])
            w = weights.get(name)
            if w is None or w.ndim != 2:
                return facts
            dense += int(w.size)
            effective += int(nonzero[name])
            counted += 1
        elif node.domain not in ("", "ai.onnx", "ai.onnx.ml") or (
                node.domain in ("", "ai.onnx") and node.op_type not in _ELEMENTWISE | _QUANT_BOOKKEEPING):
            return facts  # another heavy operator, or a custom domain: multiply-adds unknown
    facts["macs_dense"], facts["macs_effective"] = dense, effective
    facts["macs_scope"] = (f"{counted} {'Gemm/MatMul/MatMulInteger' if quant_ops else 'Gemm/MatMul'} nodes with "
                           "initializer weights; element-wise ops not counted")
    return facts


#: the ZipMap's dictionaries are keyed by other labels than the graph's classifier names (template: keys, labels)
ZIPMAP_KEYS = ("the model's ZipMap output is keyed by [{keys}], not by the class labels its graph names [{labels}]: "
               "export it with the classifier's own labels (skl2onnx: options={{'zipmap': False}} writes a plain "
               "probability tensor)")


def _class_labels(path: Path) -> list | None:
    """Class labels named by a ZipMap or ai.onnx.ml classifier node, if the ``onnx`` package can tell."""
    try:
        onnx = importlib.import_module("onnx")
        model = onnx.load(str(path), load_external_data=False)
    except Exception:  # noqa: BLE001 - not installed or unreadable by onnx: labels stay unknown
        return None
    # the ZipMap first: its keys are what the output's dictionaries hold, whatever the classifier node names
    for node in sorted(model.graph.node, key=lambda n: n.op_type != "ZipMap"):
        for attr in node.attribute:
            if attr.name in ("classlabels_int64s", "classlabels_ints") and attr.ints:
                return [int(v) for v in attr.ints]
            if attr.name == "classlabels_strings" and attr.strings:
                return [v.decode() for v in attr.strings]
    return None


def load(
    spec: Any, path: Path, *, field: str, manifest: Path, trust_pickle: bool = False, device: str = "cpu"
) -> OnnxAdapter:
    ort = _import("onnxruntime", manifest=manifest, field=field)
    if device == "cpu":
        providers: list[Any] = ["CPUExecutionProvider"]
    elif device.startswith("cuda"):
        if "CUDAExecutionProvider" not in ort.get_available_providers():
            raise InputError(None, "device", f"device {device!r} requested but onnxruntime has no CUDA provider "
                                             "(install onnxruntime-gpu)")
        index = device.partition(":")[2] or "0"
        providers = [("CUDAExecutionProvider", {"device_id": int(index)}), "CPUExecutionProvider"]
    else:
        raise InputError(None, "device", f"format 'onnx' runs on cpu or cuda, not {device!r}")
    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only: onnxruntime's warnings would go to stderr
    try:
        session = ort.InferenceSession(str(path), sess_options=options, providers=providers)
    except Exception as exc:
        raise InputError(path, f"{field}.path", NOT_ONNX.format(reason=one_line(exc))) from exc
    adapter = OnnxAdapter(session, path, field=field, output=spec.output,
                          pieces=PIECE_ROWS if device == "cpu" else None)  # on a GPU one large run is fast
    adapter.classes = _class_labels(path)
    return adapter
