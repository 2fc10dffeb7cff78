"""The provenance manifest (``provenance.yaml``): where the release's data and models came from.

It is named by the release manifest's ``provenance:`` key (a path relative to the manifest). Paths inside it
are relative to the provenance file's own folder. One file can serve several releases of a model family: the
gate finds the evaluated data, baseline and candidate among the declared datasets and models *by their sha256*,
so a file that changed by one byte matches nothing. It declares; it does not decide: evidence collection records
the declared values next to the hashes of the files actually used, and the ``provenance``, ``leakage`` and
``pii_scan`` rules compare them. See docs/provenance.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from .iso_date import IsoDate
from .yamlfile import InputModel, load_model_file

DatasetRole = Literal["evaluation", "training", "fine-tuning", "validation", "reference"]
#: roles whose rows must not reappear in the evaluation data (compared by the leakage check)
LEAKAGE_ROLES: tuple[str, ...] = ("training", "fine-tuning", "validation")
SHA256 = r"^[0-9a-f]{64}$"
BLANK_JUSTIFICATION = ("personal_data_justification is blank: say why the personal-data features are used, "
                       "or leave it out")
#: class_balance problems (exit 2, naming the dataset's class_balance field)
CLASS_BALANCE_RANGE = "class_balance: the share of {label!r} is {share}, not between 0 and 1"
CLASS_BALANCE_SUM = "class_balance: the shares sum to {total:.6g}, not 1 (give each class's share of the rows)"


class _Strict(InputModel):
    pass


def _lower_hash(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


class CollectionPeriod(_Strict):
    start: IsoDate | None = None
    end: IsoDate | None = None

    @model_validator(mode="after")
    def _ordered(self) -> CollectionPeriod:
        if self.start is None and self.end is None:
            raise ValueError("give at least one of 'start' and 'end'")
        if self.start is not None and self.end is not None and self.start > self.end:
            raise ValueError(f"start {self.start} is after end {self.end}")
        return self


class DatasetProvenance(_Strict):
    """One dataset: where it is, what exactly it is (its hash), where it came from and on what terms."""

    role: DatasetRole = Field(description="evaluation (the release's data), training, fine-tuning, validation, "
                                          "reference")
    path: str | None = Field(None, description="a local file (CSV or Parquet), relative to provenance.yaml; "
                                               "it is hashed at collection")
    uri: str | None = Field(None, description="where the dataset is kept, when not (only) a local file")
    sha256: str | None = Field(None, pattern=SHA256, description="the dataset file's sha256 (lower-case hex)")
    description: str | None = None
    source: str | None = Field(None, description="who produced or supplied the data")
    license: str | None = Field(None, description="an SPDX id (e.g. CC-BY-4.0) or the licence's name")
    collection_period: CollectionPeriod | None = None
    collection_process: str | None = Field(None, description="how the rows were collected")
    consent_basis: str | None = Field(None, description="the legal or consent basis for using the data")
    preprocessing: str | None = None
    personal_data: list[str] | None = Field(
        None, description="columns that hold personal data; [] declares that none does (absent: not declared)")
    personal_data_justification: str | None = Field(
        None, description="why the personal-data columns that are model features are used, and on what basis "
                          "(NIST AI RMF MAP 4.1 / MEASURE 2.10: such use known and justified); reported by pii_scan")
    key: list[str] | None = Field(
        None, min_length=1, description="columns that identify a record (e.g. [customer_id]): the leakage check "
                                        "compares rows by key (identity) instead of by content; a training set's "
                                        "key stands for the evaluation data's key columns in the same order")
    class_balance: dict[str, float] | None = Field(
        None, min_length=1, description="training sets: the share of rows per class label ({label: share}, "
                                        "summing to 1); data_quality compares the evaluation set's balance with it")

    hashes_lower_case = field_validator("sha256", mode="before")(_lower_hash)

    @field_validator("class_balance", mode="before")
    @classmethod
    def _labels_as_text(cls, value: Any) -> Any:
        """YAML reads ``0: 0.7`` with an integer key; labels are compared as the gate reads them, as text."""
        return {str(k): v for k, v in value.items()} if isinstance(value, dict) else value

    @field_validator("class_balance")
    @classmethod
    def _shares(cls, value: dict[str, float] | None) -> dict[str, float] | None:
        if value is None:
            return None
        for label, share in value.items():
            if not 0.0 <= share <= 1.0:
                raise ValueError(CLASS_BALANCE_RANGE.format(label=label, share=share))
        total = sum(value.values())
        if abs(total - 1.0) > 1e-6:
            raise ValueError(CLASS_BALANCE_SUM.format(total=total))
        return value

    @model_validator(mode="after")
    def _located(self) -> DatasetProvenance:
        if self.path is None and self.uri is None:
            raise ValueError("a dataset needs 'path' (a local file) or 'uri'")
        if self.personal_data is not None and len(set(self.personal_data)) != len(self.personal_data):
            raise ValueError("personal_data lists a column twice")
        if self.key is not None and len(set(self.key)) != len(self.key):
            raise ValueError("key lists a column twice")
        if self.personal_data_justification is not None and not self.personal_data_justification.strip():
            raise ValueError(BLANK_JUSTIFICATION)
        return self


class Pruning(_Strict):
    method: str = Field(description="e.g. 'global magnitude pruning (torch.nn.utils.prune.l1_unstructured)'")
    settings: dict[str, Any] = Field(default_factory=dict, description="e.g. {amount: 0.5, scope: all Linear weights}")


class Quantization(_Strict):
    method: str = Field(description="e.g. 'onnxruntime.quantization.quantize_dynamic (int8 weights)'")
    bits: int = Field(ge=1, le=32, description="bits per quantized weight, e.g. 8")
    settings: dict[str, Any] = Field(default_factory=dict, description="e.g. {weight_type: QInt8, per_channel: false}")


#: what a candidate's declared compression makes it (the model card's tags): provenance field -> tag
COMPRESSION_TAGS = {"pruning": "pruned", "quantization": "quantized"}


class ModelProvenance(_Strict):
    """One model: its hash, the model it was derived from (``parent``), how it was made."""

    sha256: str = Field(pattern=SHA256, description="the model file's sha256 (lower-case hex): how the gate finds "
                                                    "the evaluated baseline and candidate")
    parent: str | None = Field(None, pattern=SHA256,
                               description="sha256 of the model this one was derived from (the candidate's is the "
                                           "baseline's: the lineage of the pruning)")
    description: str | None = None
    source: str | None = None
    license: str | None = None
    pruning: Pruning | None = Field(None, description="candidate: how it was pruned")
    quantization: Quantization | None = Field(None, description="candidate: how it was quantized (with pruning: "
                                                                "both were applied)")
    training_code_revision: str | None = Field(None, description="e.g. the git commit of the training code")
    training_code: str | None = Field(None, description="e.g. the training code's repository")
    datasets: list[str] = Field(default_factory=list,
                                description="names of the datasets (above) it was trained or fine-tuned on")

    hashes_lower_case = field_validator("sha256", "parent", mode="before")(_lower_hash)


class Provenance(_Strict):
    """The content of ``provenance.yaml``. Unknown keys are an error (exit 2), naming file, field and line."""

    datasets: dict[str, DatasetProvenance] = Field(min_length=1, description="dataset name -> its provenance")
    models: dict[str, ModelProvenance] = Field(
        min_length=1, description="model name -> its provenance; the evaluated baseline and candidate are found "
                                  "by their sha256")

    @model_validator(mode="after")
    def _consistent(self) -> Provenance:
        seen: dict[str, str] = {}
        for name, model in self.models.items():
            if model.sha256 in seen:
                raise ValueError(f"models {seen[model.sha256]!r} and {name!r} declare the same sha256")
            seen[model.sha256] = name
            unknown = [d for d in model.datasets if d not in self.datasets]
            if unknown:
                raise ValueError(f"model {name!r} names unknown datasets: {', '.join(unknown)}")
        return self

    def model_by_hash(self, sha256: str | None) -> tuple[str, ModelProvenance] | None:
        return next(((n, m) for n, m in self.models.items() if sha256 is not None and m.sha256 == sha256), None)

    def dataset_by_hash(self, sha256: str | None) -> tuple[str, DatasetProvenance] | None:
        return next(((n, d) for n, d in self.datasets.items() if sha256 is not None and d.sha256 == sha256), None)

    def evaluation_dataset(self, sha256: str | None) -> tuple[str, DatasetProvenance] | None:
        """The declared dataset that is the evaluated data: by hash, else the only one with role evaluation."""
        if (found := self.dataset_by_hash(sha256)) is not None:
            return found
        evaluation = [(n, d) for n, d in self.datasets.items() if d.role == "evaluation"]
        return evaluation[0] if len(evaluation) == 1 else None


def load_provenance(path: str | Path) -> Provenance:
    """Read and validate a ``provenance.yaml``; problems are an InputError naming file, field and line."""
    return load_model_file(Path(path), Provenance, what="provenance manifest")
