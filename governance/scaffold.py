"""``governance init [DIR] [--from-models BASELINE CANDIDATE --data DATA]``: the first files of a release.

Writes four commented files into DIR: ``release.yaml`` (the release manifest), ``policy.yaml`` (the default
pack, ``extends: builtin:nist-ai-rmf``, ready for a team's changes), ``card.yaml`` (model-card facts to fill in)
and ``provenance.yaml`` (where the data and models came from). Given the models and the data, it fills in what
can be read from them: paths (relative to DIR), formats (from the file extensions), the data's columns (a guess
at the target and sensitive columns, marked as such) and the sha256 of every file. Each file is built here as
a dict with its comments and written by governance/release_files.py (the demo's writer too): every file is
validated with the model ``governance check`` reads it with before anything is written, and existing files are
never overwritten without ``--force``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import InputError
from .hashing import sha256_file, shown_path
from .release_files import Comments, KeyPath, ReleaseFile, card_file, write

FILES = ("release.yaml", "policy.yaml", "card.yaml", "provenance.yaml")
PACK = "builtin:nist-ai-rmf"
#: what the commented sign-off holds until a person fills it in; the manifest refuses both (governance/manifest.py)
PLACEHOLDER_NAME = "<your name>"
PLACEHOLDER_SHA256 = "<sha256 of the candidate file>"
TORCH_ARCHITECTURE = "arch:Net"  # the torch architecture init writes (a class in arch.py)

#: file extension -> model format (README, "Model formats")
FORMATS = {".skops": "skops", ".safetensors": "torch", ".pt2": "torch-export", ".onnx": "onnx",
           ".pkl": "pickle", ".pickle": "pickle", ".joblib": "joblib", ".csv": "predictions",
           ".parquet": "predictions", ".pq": "predictions"}
#: column names taken as the target, in this order of preference (else the last column)
TARGET_NAMES = ("label", "target", "y", "outcome", "class", "income", "default", "churn")
#: column names that usually hold a sensitive attribute (protected characteristics and their proxies)
SENSITIVE_NAMES = ("sex", "gender", "race", "ethnicity", "age_group", "age_band", "agegroup", "religion",
                   "disability", "nationality", "national_origin", "marital_status", "group", "region")


@dataclass(frozen=True)
class Inputs:
    """What init was given (all optional): the two model files and the evaluation data."""

    baseline: Path | None = None
    candidate: Path | None = None
    data: Path | None = None
    train: Path | None = None  # the training data: declared, so the gate can look for leakage


sha256 = sha256_file  # the project's one streaming hash (governance.hashing)


#: init never overwrites a release file unless told (template: files)
ALREADY_EXISTS = "already exists; nothing written (use --force to overwrite {files})"

def model_format(path: Path) -> str:
    name = path.name.lower()
    for ext, fmt in FORMATS.items():
        if name.endswith(ext):
            return fmt
    raise InputError(path, "--from-models", f"cannot tell the model format from the extension of {path.name!r} "
                                            f"(known: {', '.join(sorted(FORMATS))})")


def data_columns(path: Path) -> list[str]:
    import pyarrow as pa

    from .dataset import is_folder

    if is_folder(path):  # a folder of Parquet files (governance/dataset.py): its files' common columns
        from .evidence.tables import column_names

        try:
            return column_names(path)
        except InputError as exc:
            raise InputError(exc.file, "--data", exc.message) from None
    name = path.name.lower()
    try:
        if name.endswith((".parquet", ".pq")):
            import pyarrow.parquet as pq

            return list(pq.read_schema(path).names)
        if name.endswith((".csv", ".csv.gz", ".csv.bz2")):
            import pyarrow.csv as pcsv

            with pcsv.open_csv(path) as reader:
                return list(reader.schema.names)
    except (pa.ArrowException, OSError) as exc:
        first = str(exc).strip().splitlines()[0]
        raise InputError(path, "--data", f"cannot read the data's columns: {first}") from None
    raise InputError(path, "--data", "unsupported data format: use .csv or .parquet")


def guess_columns(columns: list[str]) -> tuple[str, list[str]]:
    lower = {c.lower(): c for c in columns}
    target = next((lower[n] for n in TARGET_NAMES if n in lower), columns[-1])
    sensitive = [c for c in columns if c.lower() in SENSITIVE_NAMES and c != target]
    return target, sensitive


#: more distinct target values than this is a regression target (or a column that is not a label)
MAX_CLASSES = 1000
#: labels taken as the positive class of a binary target, in this order of preference (compared as text)
POSITIVE_NAMES = ("1", "1.0", "true", "yes", "y", "positive", "pos", ">50k", "default", "churn", "fraud")


@dataclass(frozen=True)
class TargetProfile:
    """What the target column says about the task: its kind and (classification) its labels, sorted as
    scikit-learn orders ``classes_``."""

    task: str  # binary_classification | multiclass_classification | regression | unknown
    labels: tuple[Any, ...] = ()
    note: str = ""


def _label(value: Any) -> Any:
    """A label as the manifest writes it: integral floats (CSV widens integers) back to int, the rest as read."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def target_profile(path: Path, target: str) -> TargetProfile:
    """Stream the target column once (bounded: stops counting past ``MAX_CLASSES`` distinct values) and say which
    task it fits: two labels binary, up to ``MAX_CLASSES`` labels multiclass, non-integral numbers or more labels
    regression."""
    from .evidence.tables import column_names, iter_tables

    if target not in column_names(path):
        return TargetProfile("unknown", note=f"no column {target!r} in the data: name the target column")
    seen: set[Any] = set()
    numeric, integral = True, True
    for table in iter_tables(path, [target], 65536):
        col = table.column(0)
        for value in col.drop_null().unique().to_pylist():
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                numeric = False
            elif isinstance(value, float) and not value.is_integer():
                integral = False
            seen.add(value)
        if len(seen) > MAX_CLASSES or (numeric and not integral and len(seen) > 20):
            return TargetProfile("regression", note="a number with many distinct values: a regression target")
    labels = tuple(sorted({_label(v) for v in seen}, key=lambda v: (str(type(v)), v)))
    if numeric and not integral:
        return TargetProfile("regression", note="non-integral numbers: a regression target")
    if len(labels) == 2:
        return TargetProfile("binary_classification", labels)
    if len(labels) > 2:
        return TargetProfile("multiclass_classification", labels)
    return TargetProfile("unknown", labels, note=f"the target has {len(labels)} distinct value(s): is it the label?")


def positive_label(labels: tuple[Any, ...]) -> Any:
    """The label most likely meant as positive: a conventional name (1, true, yes, ...), else the last sorted."""
    by_text = {str(v).strip().lower(): v for v in labels}
    return next((by_text[n] for n in POSITIVE_NAMES if n in by_text), labels[-1])


def _untrusted_types(path: Path) -> list[str]:
    try:
        import skops.io as sio

        return list(sio.get_untrusted_types(file=str(path)))
    except Exception:  # noqa: BLE001 - only a hint in a comment; the gate checks the file itself
        return []


FORMAT_NOTE = 'from the file name; formats: README.md, "Model formats"'
TORCH_NOTE = ("TODO: module:Class, an nn.Module subclass in a .py\n"
              "file in this folder (arch.py next to this file, or a/b.py as a.b)")


def _model(role: str, path: Path | None, folder: Path, comment: str) -> tuple[dict[str, Any], Comments]:
    """One model's block of the manifest and its comments (under the key ``role``)."""
    rel = shown_path(path, folder) if path is not None else ("baseline.skops" if role == "baseline" else "pruned.skops")
    fmt = model_format(path) if path is not None else "skops"
    data: dict[str, Any] = {"path": rel, "format": fmt}
    inline: dict[KeyPath, str] = {(role,): comment, (role, "format"): FORMAT_NOTE}
    after: dict[KeyPath, str] = {}
    if fmt == "skops":
        data["trusted_types"] = []
        inline[(role, "trusted_types")] = "skops trusts only its defaults and the types listed here"
        if found := (_untrusted_types(path) if path is not None else []):
            after[(role, "trusted_types")] = (f"# the file holds types skops does not trust by default: "
                                              f"[{', '.join(found)}]\n"
                                              "# review them (only trust files from a source you trust), then list "
                                              "them above")
    elif fmt == "torch":
        data["architecture"] = TORCH_ARCHITECTURE
        inline[(role, "architecture")] = TORCH_NOTE
        after[(role, "architecture")] = "# architecture_kwargs: {}     # keyword arguments for the class"
    elif fmt == "predictions":
        after[(role, "format")] = "# columns: [p0, p1]           # probability columns in class order (default: all)"
    elif fmt in ("pickle", "joblib", "torch-export"):
        after[(role, "format")] = "# loading this format can run code hidden in the file: governance check needs " \
                                  "--trust-pickle"
    return data, Comments(inline=inline, after=after)


def release_file(folder: Path, name: str, inputs: Inputs, columns: list[str] | None) -> ReleaseFile:
    """release.yaml: the manifest, with what init could read filled in and a sign-off that cannot pass as written."""
    from .manifest import load_manifest

    target, sensitive = guess_columns(columns) if columns else ("label", [])
    profile = target_profile(inputs.data, target) if inputs.data is not None and columns else TargetProfile("unknown")
    candidate_rel = shown_path(inputs.candidate, folder) if inputs.candidate is not None else "pruned.skops"
    baseline, b_notes = _model("baseline", inputs.baseline, folder, "the model in production today")
    candidate, c_notes = _model("candidate", inputs.candidate, folder, "the pruned model that would replace it")
    task = profile.task if profile.task != "unknown" else "binary_classification"
    head: dict[str, Any] = {"name": name, "version": "0.1.0", "task": task}
    task_note = (f"inferred from the target's values ({profile.note or f'{len(profile.labels)} labels'}): check it"
                 if profile.task != "unknown" else
                 f"TODO: check it{' (' + profile.note + ')' if profile.note else ''}; or multiclass_classification "
                 f"(with classes:) or regression")
    label_notes: dict[KeyPath, str] = {}
    if task == "binary_classification":
        head["positive_label"] = positive_label(profile.labels) if profile.labels else 1
        label_notes[("positive_label",)] = ("guessed among the target's labels " + str(list(profile.labels)) +
                                            ": the label of the positive class" if profile.labels else
                                            "TODO: the label of the positive class")
    elif task == "multiclass_classification":
        head["classes"] = list(profile.labels)
        label_notes[("classes",)] = ("the target's labels, sorted as scikit-learn orders classes_: they must be in "
                                     "the models' output order (check model.classes_)")
    data = {
        **head,
        "baseline": baseline, "candidate": candidate,
        "data": {"path": shown_path(inputs.data, folder) if inputs.data is not None else "eval.csv",
                 "target": target, "sensitive": sensitive},
        "policy": "policy.yaml", "card": "card.yaml", "provenance": "provenance.yaml",
    }
    inline = {
        ("task",): task_note,
        **label_notes,
        ("data",): "evaluation rows the models never saw in training",
        ("data", "target"): "guessed from the column names: check it" if columns else
                             "TODO: the column with the true label",
        ("data", "sensitive"): ("guessed from the column names: check them" if columns and sensitive else
                                "TODO: columns of groups to slice by (not model inputs); with none, the pack's "
                                "slice and fairness rules are not judged, and they block"),
        ("policy",): "the NIST AI RMF pack, with your team's changes",
        ("card",): "model-card facts: what a measurement cannot know",
        ("provenance",): "where the data and the models came from",
        **b_notes.inline, **c_notes.inline,
    }
    after = {("data", "sensitive"): "# features: [...]               # default: every column but the target and "
                                    "the sensitive ones", **b_notes.after, **c_notes.after}
    header = (f"Release manifest, written by `governance init`: may the candidate (the pruned model) replace the "
              f"baseline?\nPaths are relative to this file's folder; unknown keys are an error. Gate it with:\n"
              f"  governance check {shown_path(folder / 'release.yaml', Path.cwd())} --out out/{name}\n"
              f'Every key: README.md ("The release manifest") and `governance schema manifest`.')
    footer = (  # never a sign-off that could count: both placeholders are refused until a person fills them in
        "# Human sign-off, required by the pack's SIGN-001: who approved this exact candidate file (its sha256).\n"
        "# Uncomment and fill in after reviewing the audit report; re-pruning changes the hash and voids it.\n"
        f"# candidate_sha256: `sha256sum {candidate_rel}`, or the audit report's table of inputs (the file "
        f"evaluated).\n"
        "# approvals:\n"
        "#   - role: model-owner\n"
        f'#     name: "{PLACEHOLDER_NAME}"\n'
        f"#     date: {dt.date.today().isoformat()}      # the day of the sign-off; a later date does not count yet\n"
        '#     statement: "Reviewed the audit report."\n'
        f'#     candidate_sha256: "{PLACEHOLDER_SHA256}"')
    return ReleaseFile("release.yaml", data, Comments(header, inline, after, footer), load_manifest)


POLICY_EXAMPLE = """\
# disable: [ROB-001]              # e.g. when the model's inputs cannot be perturbed meaningfully
# rules:
#   - id: SLICE-001               # replaces the pack's rule of the same id
#     kind: slice_metric_drop
#     metric: accuracy
#     by: ["*"]                   # every sensitive column of the release, and their intersection
#     max_drop: 0.03
#     min_slice_size: 50
#     multiple_comparisons: holm  # many small slices: fail only on a significant excess drop
#     severity: block
#     rmf: [MEASURE 2.11]
#     rationale: "No group may lose more than three points of accuracy to pruning."
"""


def policy_file(name: str) -> ReleaseFile:
    """policy.yaml: the default pack, unchanged, with a commented example of a team's change."""
    from .policy import load_policy

    header = ("Team policy, written by `governance init`: the default pack derived from NIST AI RMF 1.0, unchanged "
              "so far.\nA rule with the same id replaces the pack's; a new id adds a rule; `disable` drops inherited "
              "rules.\nSee the resulting rules with:  governance policy explain policy.yaml\n"
              "Every rule kind and key:       docs/policy-reference.md")
    return ReleaseFile("policy.yaml", {"name": f"{name}-policy", "extends": PACK},
                       Comments(header, after={("extends",): POLICY_EXAMPLE}), load_policy)


#: init's hints for card fields whose description in governance/card.py does not say what to write
CARD_HINTS: dict[KeyPath, str] = {
    ("model_details", "description"): "what the model does, for whom, and what this release changes",
    ("model_details", "pruning", "target_sparsity"): "fraction of weights set to zero, e.g. 0.5",
}


def card(name: str) -> ReleaseFile:
    """card.yaml: every field of the card model, empty except the name, version and date."""
    header = ("Model-card facts, written by `governance init`: what the team knows and no measurement can tell.\n"
              "The numbers (overall, per slice, calibration, efficiency) come from the evidence, never from here.\n"
              'A fact left empty shows as "[More Information Needed]" in the model card. Every key: '
              "governance/card.py.")
    facts = {"model_details": {"name": name, "version": "0.1.0", "date": dt.date.today()}}
    return card_file("card.yaml", facts, header, CARD_HINTS)


def provenance_file(folder: Path, inputs: Inputs) -> ReleaseFile:
    """provenance.yaml: the sha256 of every given file, the rest for a person to fill in."""
    from .provenance import load_provenance

    def model(role: str, path: Path | None, parent: str | None) -> dict[str, Any]:
        out: dict[str, Any] = {"sha256": sha256(path) if path is not None else None}
        if parent is not None:
            out["parent"] = parent
        out |= {"source": None, "training_code_revision": None}
        if role == "candidate":
            out["pruning"] = None
        return out

    evaluation = {"role": "evaluation",
                  "path": shown_path(inputs.data, folder) if inputs.data is not None else "eval.csv",
                  "sha256": sha256(inputs.data) if inputs.data is not None else None,
                  "source": None, "license": None, "collection_period": None, "collection_process": None,
                  "consent_basis": None, "preprocessing": None, "personal_data": None}
    datasets: dict[str, Any] = {"evaluation": evaluation}
    inline: dict[KeyPath, str] = {
        ("datasets", "evaluation", "role"): "the release's evaluation data",
        ("datasets", "evaluation", "source"): "who produced or supplied the data",
        ("datasets", "evaluation", "license"): "an SPDX id (e.g. CC-BY-4.0) or the licence's name",
        ("datasets", "evaluation", "collection_period"): "e.g. {start: 2025-01-01, end: 2025-06-30}",
        ("datasets", "evaluation", "collection_process"): "how the rows were collected",
        ("datasets", "evaluation", "consent_basis"): "the legal or consent basis for using the data",
        ("datasets", "evaluation", "personal_data"): "columns holding personal data; [] declares that none does",
    }
    if inputs.data is None:
        inline[("datasets", "evaluation", "sha256")] = "TODO: sha256sum of the data file"
    after: dict[KeyPath, str] = {}
    if inputs.train is not None:
        datasets["training"] = {"role": "training", "path": shown_path(inputs.train, folder),
                                "sha256": sha256(inputs.train), "source": None, "license": None, "personal_data": None}
        inline[("datasets", "training")] = ("the rows the models learnt from: the gate counts evaluation rows found "
                                            "in them")
    else:
        after[("datasets", "evaluation")] = (
            "# training:                     # declare the training data: the pack's leakage rule needs it\n"
            "#   role: training\n"
            "#   path: train.csv             # a local file, compared row by row with the evaluation data\n"
            "#   sha256: null\n#   source: null\n#   license: null")
    baseline_hash = sha256(inputs.baseline) if inputs.baseline is not None else None
    models = {"baseline": model("baseline", inputs.baseline, None),
              "candidate": model("candidate", inputs.candidate, baseline_hash)}
    for role in models:
        if inputs.baseline is None:
            inline[("models", role, "sha256")] = f"TODO: sha256sum of the {role} model file (how the gate finds it)"
        inline[("models", role, "source")] = "who trained it, with what"
        inline[("models", role, "training_code_revision")] = "e.g. the git commit of the training code"
    inline[("models", "candidate", "parent")] = "the baseline's sha256: the lineage of the pruning"
    inline[("models", "candidate", "pruning")] = "e.g. {method: magnitude pruning, settings: {amount: 0.5}}"
    header = ("Provenance, written by `governance init`: where the release's data and models came from.\n"
              "Paths are relative to this file. The gate hashes the files it evaluates and compares them with the\n"
              "sha256 declared here, so a file that changed by one byte no longer matches.")
    # without the models' hashes the file cannot load yet (a sha256 is required): it is checked once filled in
    return ReleaseFile("provenance.yaml", {"datasets": datasets, "models": models}, Comments(header, inline, after),
                       load_provenance if inputs.baseline is not None else None)


#: --data / --train-data names neither a file nor a folder
NO_DATA = "no such file or folder (data: a CSV or Parquet file, or a folder of Parquet files)"


def scaffold(folder: Path, inputs: Inputs, *, force: bool = False, name: str | None = None) -> list[Path]:
    """Write the four files into ``folder``; return their paths. Refuses to overwrite unless ``force``."""
    from .dataset import is_folder

    for field, path in (("--from-models", inputs.baseline), ("--from-models", inputs.candidate),
                        ("--data", inputs.data), ("--train-data", inputs.train)):
        if path is not None and not path.is_file() and not (field != "--from-models" and is_folder(path)):
            raise InputError(path, field, "file not found" if field == "--from-models" else NO_DATA)
    if (inputs.baseline is None) != (inputs.candidate is None) or (inputs.baseline is None) != (inputs.data is None):
        raise InputError(None, "--from-models", "give both models and the data: --from-models BASELINE CANDIDATE "
                                                "--data DATA")
    same = inputs.baseline is not None and inputs.candidate is not None and \
        sha256(inputs.baseline) == sha256(inputs.candidate)
    if same:
        raise InputError(inputs.candidate, "--from-models", "baseline and candidate are the same file (equal "
                                                            "sha256): the gate would compare a model with itself")
    targets = [folder / f for f in FILES]
    existing = [p for p in targets if p.exists()]
    if existing and not force:
        raise InputError(existing[0], None, ALREADY_EXISTS.format(files=", ".join(p.name for p in existing)))
    name = name or (folder.resolve().name or "my-release")
    columns = data_columns(inputs.data) if inputs.data is not None else None
    files = release_files(folder, name, inputs, columns)
    return write(folder, files)


def release_files(folder: Path, name: str, inputs: Inputs, columns: list[str] | None) -> list[ReleaseFile]:
    """The four files, in the order of ``FILES``."""
    return [release_file(folder, name, inputs, columns), policy_file(name), card(name),
            provenance_file(folder, inputs)]
