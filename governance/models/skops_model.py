"""scikit-learn models saved with skops: only the types named in ``trusted_types`` (plus skops' defaults) load."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from ..errors import InputError
from ._common import as_proba, file_bytes, one_line, one_value, require
from .protocols import Description, SizeFacts, unknown_size_facts

#: a regressor asked for class probabilities (template: name)
NO_PREDICT_PROBA = ("the {name} in this file has no predict_proba; the gate needs class probabilities (a regressor? "
                    "set task: regression)")
#: a classifier in a regression release (template: name)
IS_CLASSIFIER = "the {name} in this file is a classifier (it has predict_proba / classes_); task: regression needs a " \
                "regressor"
#: the model knows its input columns by name and the data's differ (template: names, differ)
FEATURES_DIFFER = ("the model was fitted on the columns {names}; {differ}: name the model's inputs in data.features "
                   "(other columns, such as ids or timestamps, are then left out)")


class SklearnAdapter:
    """Any object with ``predict_proba`` (scikit-learn API); shared by the skops and pickle loaders.

    Capabilities (models/protocols.py): ``Rescorable`` and ``EfficiencyFacts``; no ``InputGradient``.
    """

    def __init__(self, model: Any, path: Path, *, fmt: str, field: str) -> None:
        # a regressor (``predict`` only) loads for task: regression; asked for probabilities it is refused
        self._no_proba = not callable(getattr(model, "predict_proba", None))
        if self._no_proba and not callable(getattr(model, "predict", None)):
            raise InputError(path, f"{field}.path",
                             f"the {type(model).__name__} in this file has neither predict_proba nor predict")
        self.model = model
        self.path = path
        self.fmt = fmt
        self.field = field
        raw = getattr(model, "classes_", None)
        self.classes: list | None = np.asarray(raw).tolist() if raw is not None else None
        # Models fitted on a DataFrame check column names; models fitted on arrays warn if given names.
        self._by_name = hasattr(model, "feature_names_in_")
        self._fitted_names = [str(c) for c in model.feature_names_in_] if self._by_name else []

    def _call(self, method: str, features: pa.Table, row_offset: int) -> Any:
        n = features.num_rows
        frame = features.to_pandas()
        if self._by_name:
            frame = self._in_fitted_order(frame)
        X = frame if self._by_name else frame.to_numpy()
        try:
            with warnings.catch_warnings():
                # numpy's "invalid value encountered in log1p" (a RuntimeWarning) from a user's FunctionTransformer
                # would reach stderr before the one error line: a NaN score it makes is refused by the score checks
                warnings.simplefilter("ignore", UserWarning)
                warnings.simplefilter("ignore", RuntimeWarning)
                return getattr(self.model, method)(X)
        except Exception as exc:  # a model/data mismatch is the user's input, not a crash
            raise InputError(
                self.path,
                self.field,
                f"{method} failed on rows {row_offset}-{row_offset + n - 1}: {one_line(exc)}",
            ) from exc

    def _in_fitted_order(self, frame: Any) -> Any:
        """The columns in the order the model was fitted on (a file's column order is not the model's business);
        columns the model does not know, or lacks, are the manifest's to fix: data.features names the inputs."""
        names = self._fitted_names
        if list(frame.columns) == names:
            return frame
        extra = [c for c in frame.columns if c not in names]
        missing = [c for c in names if c not in frame.columns]
        if not extra and not missing:
            return frame[names]
        parts = ([f"the data's feature columns also hold {', '.join(map(repr, extra))}"] if extra else []) + (
            [f"lack {', '.join(map(repr, missing))}"] if missing else [])
        raise InputError(self.path, self.field, FEATURES_DIFFER.format(
            names=", ".join(names), differ=" and ".join(parts)))

    def predict_proba(self, features: pa.Table, row_offset: int) -> np.ndarray:
        if self._no_proba:
            raise InputError(self.path, f"{self.field}.path", NO_PREDICT_PROBA.format(name=type(self.model).__name__))
        out = self._call("predict_proba", features, row_offset)
        width = len(self.classes) if self.classes is not None else None
        return as_proba(out, features.num_rows, path=self.path, field=self.field, width=width)

    def predict_values(self, features: pa.Table, row_offset: int) -> np.ndarray:
        """``Regressor``: the estimator's ``predict`` (a classifier's would be labels: refused)."""
        if not self._no_proba or self.classes is not None:
            raise InputError(self.path, f"{self.field}.path", IS_CLASSIFIER.format(name=type(self.model).__name__))
        return one_value(self._call("predict", features, row_offset), features.num_rows, path=self.path,
                         field=self.field)

    #: ``Rescorable``: scoring keeps no state, so any rows can be scored again in any order.
    rescore = predict_proba

    def describe(self) -> Description:
        # A tree's node count or a pipeline's coefficients are not comparable "parameters": leave them unknown.
        return {"format": self.fmt, "parameters": None, "nonzero_parameters": None, "bytes": file_bytes(self.path)}

    def finish(self, n_rows: int) -> None:
        return None

    def efficiency_facts(self, sample: pa.Table) -> SizeFacts:
        """``EfficiencyFacts``: size facts that mean something for this kind of estimator.

        Linear models (``coef_``, also as a Pipeline's last step): parameters = coefficients + intercepts,
        sparsity over exactly those, multiply-adds per row = coefficients (effective: non-zero ones);
        preprocessing steps are not counted. Trees and tree ensembles have no weight tensors: parameters,
        sparsity and multiply-adds stay None and ``sparsity_scope`` reports node and leaf counts instead,
        since pruning a tree removes nodes, and ``tree_nodes``/``tree_leaves``/``tree_depth`` give them as numbers.
        Anything else: unknown (None), never guessed.
        """
        facts = unknown_size_facts()
        est, where = self.model, ""
        steps = getattr(est, "steps", None)
        if steps:  # a Pipeline: describe its final estimator
            est, where = steps[-1][1], " (the pipeline's last step; earlier steps not counted)"
        name = type(est).__name__
        coef = getattr(est, "coef_", None)
        if coef is not None:
            coef = np.atleast_2d(np.asarray(coef, dtype=np.float64))
            intercept = np.atleast_1d(np.asarray(getattr(est, "intercept_", np.zeros(0)), dtype=np.float64))
            return SizeFacts(
                parameters=int(coef.size + intercept.size),
                nonzero_parameters=int(np.count_nonzero(coef) + np.count_nonzero(intercept)),
                sparsity_scope=f"coef_ ({coef.shape[0]}x{coef.shape[1]}) and intercept_ ({intercept.size}) "
                               f"of {name}{where}",
                macs_dense=int(coef.size),
                macs_effective=int(np.count_nonzero(coef)),
                macs_scope=f"coef_ of {name}: features x outputs{where}",
            )
        trees = [est] if hasattr(est, "tree_") else [t for t in np.ravel(getattr(est, "estimators_", []))
                                                      if hasattr(t, "tree_")]
        if trees:
            nodes = sum(int(t.tree_.node_count) for t in trees)
            leaves = sum(int(t.tree_.n_leaves) for t in trees)
            depth = max(int(t.tree_.max_depth) for t in trees)
            facts["sparsity_scope"] = (f"not applicable to trees: {name} has {len(trees)} tree"
                                       f"{'s' if len(trees) > 1 else ''}, {nodes} nodes, {leaves} leaves{where}")
            facts["tree_nodes"], facts["tree_leaves"], facts["tree_depth"] = nodes, leaves, depth  # what pruning cuts
        return facts


def load(
    spec: Any, path: Path, *, field: str, manifest: Path, trust_pickle: bool = False, device: str = "cpu"
) -> SklearnAdapter:
    """``skops.io.load(path, trusted=spec.trusted_types)``; untrusted types are reported, never loaded."""
    sio = require("skops.io", fmt="skops", manifest=manifest, field=field)
    from skops.io.exceptions import UntrustedTypesFoundException

    trusted = list(spec.trusted_types)
    try:
        model = sio.load(path, trusted=trusted)
    except UntrustedTypesFoundException as exc:
        try:
            untrusted = [t for t in sio.get_untrusted_types(file=path) if t not in trusted]
        except Exception:  # noqa: BLE001  # pragma: no cover - the archive was readable a moment ago
            untrusted = []
        names = ", ".join(untrusted) if untrusted else one_line(exc)
        raise InputError(
            manifest,
            f"{field}.trusted_types",
            f"untrusted types in {path}: {names}; add them to trusted_types if you trust them",
        ) from exc
    except Exception as exc:  # zip, JSON or schema errors: whatever it is, it is not a usable skops file
        raise InputError(path, f"{field}.path", f"not a valid skops file ({one_line(exc)})") from exc
    return SklearnAdapter(model, path, fmt="skops", field=field)
