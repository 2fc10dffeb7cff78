"""``governance init [DIR] [--from-models BASELINE CANDIDATE --data DATA]``: the first files of a release.

Writes four commented files into DIR: ``release.yaml`` (the release manifest), ``policy.yaml`` (the default
pack, ``extends: builtin:nist-ai-rmf``, ready for a team's changes), ``card.yaml`` (model-card facts to fill in)
and ``provenance.yaml`` (where the data and models came from). Given the models and the data, it fills in what
can be read from them: paths (relative to DIR), formats (from the file extensions), the data's columns (a guess
at the target and sensitive columns, marked as such) and the sha256 of every file. Every file is validated
with the model ``governance check`` reads it with before anything is written, and existing files are never
overwritten without ``--force``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass
from pathlib import Path

from .errors import InputError
from .hashing import sha256_file

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


def _q(value: object) -> str:
    """A YAML scalar (JSON is YAML): strings quoted, so paths and names survive as written."""
    return json.dumps(value, ensure_ascii=False)


def _rel(path: Path, folder: Path) -> str:
    return Path(os.path.relpath(path.resolve(), folder.resolve())).as_posix()


def model_format(path: Path) -> str:
    name = path.name.lower()
    for ext, fmt in FORMATS.items():
        if name.endswith(ext):
            return fmt
    raise InputError(path, "--from-models", f"cannot tell the model format from the extension of {path.name!r} "
                                            f"(known: {', '.join(sorted(FORMATS))})")


def data_columns(path: Path) -> list[str]:
    import pyarrow as pa

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
        raise InputError(path, "--data", f"cannot read the data's columns: {str(exc).strip().splitlines()[0]}") from None
    raise InputError(path, "--data", "unsupported data format: use .csv or .parquet")


def guess_columns(columns: list[str]) -> tuple[str, list[str]]:
    lower = {c.lower(): c for c in columns}
    target = next((lower[n] for n in TARGET_NAMES if n in lower), columns[-1])
    sensitive = [c for c in columns if c.lower() in SENSITIVE_NAMES and c != target]
    return target, sensitive


def _untrusted_types(path: Path) -> list[str]:
    try:
        import skops.io as sio

        return list(sio.get_untrusted_types(file=str(path)))
    except Exception:  # noqa: BLE001 - only a hint in a comment; the gate checks the file itself
        return []


def _c(text: str, comment: str, column: int = 34) -> str:
    """``text`` with a comment aligned at ``column``."""
    return f"{text}{' ' * max(1, column - len(text))}# {comment}"


def _model_block(role: str, path: Path | None, folder: Path, comment: str) -> str:
    rel = _rel(path, folder) if path is not None else ("baseline.skops" if role == "baseline" else "pruned.skops")
    fmt = model_format(path) if path is not None else "skops"
    lines = [_c(f"{role}:", comment),
             f"  path: {_q(rel)}",
             _c(f"  format: {fmt}", 'from the file name; formats: README.md, "Model formats"')]
    if fmt == "skops":
        found = _untrusted_types(path) if path is not None else []
        lines.append(_c("  trusted_types: []", "skops trusts only its defaults and the types listed here"))
        if found:
            lines.append(f"  # the file holds types skops does not trust by default: [{', '.join(found)}]")
            lines.append("  # review them (only trust files from a source you trust), then list them above")
    elif fmt == "torch":
        lines.append(f'  architecture: "{TORCH_ARCHITECTURE}"      # TODO: module:Class, an nn.Module subclass in a .py')
        lines.append("                                # file in this folder (arch.py next to this file, or a/b.py as a.b)")
        lines.append("  # architecture_kwargs: {}     # keyword arguments for the class")
    elif fmt == "predictions":
        lines.append("  # columns: [p0, p1]           # probability columns in class order (default: all columns)")
    elif fmt in ("pickle", "joblib", "torch-export"):
        lines.append("  # loading this format can run code hidden in the file: governance check needs --trust-pickle")
    return "\n".join(lines)


def release_yaml(folder: Path, name: str, inputs: Inputs, columns: list[str] | None) -> str:
    target, sensitive = guess_columns(columns) if columns else ("label", [])
    data_path = _rel(inputs.data, folder) if inputs.data is not None else "eval.csv"
    guessed = "guessed from the column names: check it" if columns else "TODO: the column with the true label"
    sens_note = ("guessed from the column names: check them" if columns and sensitive else
                 "TODO: columns of groups to slice by (not model inputs)")
    candidate = _rel(inputs.candidate, folder) if inputs.candidate is not None else "pruned.skops"
    approval = (  # never a sign-off that could count: both placeholders are refused until a person fills them in
        "# Human sign-off, required by the pack's SIGN-001: who approved this exact candidate file (its sha256).\n"
        "# Uncomment and fill in after reviewing the audit report; re-pruning changes the hash and voids it.\n"
        f"# candidate_sha256: `sha256sum {candidate}`, or the audit report's table of inputs (the file evaluated).\n"
        "# approvals:\n"
        "#   - role: model-owner\n"
        f'#     name: "{PLACEHOLDER_NAME}"\n'
        f"#     date: {dt.date.today().isoformat()}      # the day of the sign-off; a later date does not count yet\n"
        '#     statement: "Reviewed the audit report."\n'
        f'#     candidate_sha256: "{PLACEHOLDER_SHA256}"\n')
    return f"""\
# Release manifest, written by `governance init`: may the candidate (the pruned model) replace the baseline?
# Paths are relative to this file's folder; unknown keys are an error. Gate it with:
#   governance check {_q(_rel(folder / "release.yaml", Path.cwd()))[1:-1]} --out out/{name}
# Every key: README.md ("The release manifest") and `governance schema manifest`.
name: {_q(name)}
version: "0.1.0"
task: binary_classification       # or multiclass_classification
positive_label: 1                 # binary only: the label of the positive class
{_model_block("baseline", inputs.baseline, folder, "the model in production today")}
{_model_block("candidate", inputs.candidate, folder, "the pruned model that would replace it")}
data:                             # evaluation rows the models never saw in training
  path: {_q(data_path)}
{_c(f"  target: {_q(target)}", guessed)}
{_c(f"  sensitive: {_q(sensitive)}", sens_note)}
  # features: [...]               # default: every column but the target and the sensitive ones
policy: policy.yaml               # the NIST AI RMF pack, with your team's changes
card: card.yaml                   # model-card facts: what a measurement cannot know
provenance: provenance.yaml       # where the data and the models came from
{approval}"""


def policy_yaml(name: str) -> str:
    return f"""\
# Team policy, written by `governance init`: the default pack derived from NIST AI RMF 1.0, unchanged so far.
# A rule with the same id replaces the pack's; a new id adds a rule; `disable` drops inherited rules.
# See the resulting rules with:  governance policy explain policy.yaml
# Every rule kind and key:       docs/policy-reference.md
name: {_q(name + "-policy")}
extends: {PACK}
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


def card_yaml(name: str) -> str:
    return f"""\
# Model-card facts, written by `governance init`: what the team knows and no measurement can tell.
# The numbers (overall, per slice, calibration, efficiency) come from the evidence, never from here.
# A fact left empty shows as "[More Information Needed]" in the model card. Every key: governance/card.py.
model_details:
  name: {_q(name)}
  description: null               # what the model does, for whom, and what this release changes
  owners: []                      # people or team responsible
  contact: null
  license: null                   # a Hugging Face license id, e.g. apache-2.0
  version: "0.1.0"
  date: {dt.date.today().isoformat()}
  base_model: null                # the model the baseline is (or derives from)
  architecture: null
  pruning:
    method: null                  # e.g. global magnitude pruning (torch.nn.utils.prune.global_unstructured)
    target_sparsity: null         # fraction of weights set to zero, e.g. 0.5
    scope: null                   # which tensors were pruned, e.g. all Linear weights
    fine_tuning: null             # what was done after pruning
  references: []
intended_use:
  primary_uses: []
  primary_users: []
  out_of_scope_uses: []
factors:
  relevant: []                    # groups, instruments, environments that matter
  evaluation: []                  # which of them were evaluated, and why
training_data:
  description: null
  datasets: []
  preprocessing: null
evaluation_data:
  description: null
  datasets: []
  motivation: null
  preprocessing: null
ethical_considerations: []
caveats_and_recommendations: []
limitations: []
tags: []
"""


def provenance_yaml(folder: Path, inputs: Inputs) -> str:
    def model(role: str, path: Path | None, parent: str | None) -> str:
        if path is None:
            head = f"    sha256: null                # TODO: sha256sum of the {role} model file (how the gate finds it)"
        else:
            head = f"    sha256: {_q(sha256(path))}"
        lines = [f"  {role}:", head]
        if parent is not None:
            lines.append(f"    parent: {_q(parent)}  # the baseline's sha256: the lineage of the pruning")
        lines += ["    source: null                  # who trained it, with what",
                  "    training_code_revision: null  # e.g. the git commit of the training code"]
        if role == "candidate":
            lines.append("    pruning: null                 # e.g. {method: magnitude pruning, settings: {amount: 0.5}}")
        return "\n".join(lines)

    data_path = _rel(inputs.data, folder) if inputs.data is not None else "eval.csv"
    data_hash = (f"    sha256: {_q(sha256(inputs.data))}" if inputs.data is not None else
                 "    sha256: null                  # TODO: sha256sum of the data file")
    baseline_hash = sha256(inputs.baseline) if inputs.baseline is not None else None
    if inputs.train is not None:
        training = f"""\
  training:                       # the rows the models learnt from: the gate counts evaluation rows found in them
    role: training
    path: {_q(_rel(inputs.train, folder))}
    sha256: {_q(sha256(inputs.train))}
    source: null
    license: null
    personal_data: null
"""
    else:
        training = """\
  # training:                     # declare the training data: the pack's leakage rule needs it
  #   role: training
  #   path: train.csv             # a local file, compared row by row with the evaluation data
  #   sha256: null
  #   source: null
  #   license: null
"""
    return f"""\
# Provenance, written by `governance init`: where the release's data and models came from.
# Paths are relative to this file. The gate hashes the files it evaluates and compares them with the
# sha256 declared here, so a file that changed by one byte no longer matches.
datasets:
  evaluation:
    role: evaluation              # the release's evaluation data
    path: {_q(data_path)}
{data_hash}
    source: null                  # who produced or supplied the data
    license: null                 # an SPDX id (e.g. CC-BY-4.0) or the licence's name
    collection_period: null       # e.g. {{start: 2025-01-01, end: 2025-06-30}}
    collection_process: null      # how the rows were collected
    consent_basis: null           # the legal or consent basis for using the data
    preprocessing: null
    personal_data: null           # columns holding personal data; [] declares that none does
{training}models:
{model("baseline", inputs.baseline, None)}
{model("candidate", inputs.candidate, baseline_hash)}
"""


def _validate(folder: Path, texts: dict[str, str], hashes_known: bool) -> None:
    """Load each text with the model the gate uses (from a temporary copy); a bug here must not write files."""
    import tempfile

    from .card import load_card
    from .manifest import load_manifest
    from .policy import load_policy

    loaders = [("release.yaml", load_manifest), ("policy.yaml", load_policy), ("card.yaml", load_card)]
    if hashes_known:
        try:
            from .provenance import load_provenance

            loaders.append(("provenance.yaml", load_provenance))
        except ImportError:
            pass
    with tempfile.TemporaryDirectory() as tmp:
        for name, text in texts.items():
            (Path(tmp) / name).write_text(text, encoding="utf-8")
        for name, load in loaders:
            try:
                load(Path(tmp) / name)
            except InputError as exc:  # name the file it would have been, not the temporary copy
                raise InputError(folder / name, exc.field, f"{exc.message} (nothing written)") from None


def scaffold(folder: Path, inputs: Inputs, *, force: bool = False, name: str | None = None) -> list[Path]:
    """Write the four files into ``folder``; return their paths. Refuses to overwrite unless ``force``."""
    for field, path in (("--from-models", inputs.baseline), ("--from-models", inputs.candidate),
                        ("--data", inputs.data), ("--train-data", inputs.train)):
        if path is not None and not path.is_file():
            raise InputError(path, field, "file not found")
    if (inputs.baseline is None) != (inputs.candidate is None) or (inputs.baseline is None) != (inputs.data is None):
        raise InputError(None, "--from-models", "give both models and the data: --from-models BASELINE CANDIDATE "
                                                "--data DATA")
    if inputs.baseline is not None and sha256(inputs.baseline) == sha256(inputs.candidate):
        raise InputError(inputs.candidate, "--from-models", "baseline and candidate are the same file (equal "
                                                            "sha256): the gate would compare a model with itself")
    targets = [folder / f for f in FILES]
    existing = [p for p in targets if p.exists()]
    if existing and not force:
        raise InputError(existing[0], None, f"already exists; nothing written (use --force to overwrite "
                                            f"{', '.join(p.name for p in existing)})")
    name = name or (folder.resolve().name or "my-release")
    columns = data_columns(inputs.data) if inputs.data is not None else None
    texts = {"release.yaml": release_yaml(folder, name, inputs, columns), "policy.yaml": policy_yaml(name),
             "card.yaml": card_yaml(name), "provenance.yaml": provenance_yaml(folder, inputs)}
    _validate(folder, texts, hashes_known=inputs.baseline is not None)
    folder.mkdir(parents=True, exist_ok=True)
    for path in targets:
        path.write_text(texts[path.name], encoding="utf-8")
    return targets
