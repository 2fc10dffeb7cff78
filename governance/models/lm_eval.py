"""lm-evaluation-harness per-sample files (``lm_eval --log_samples``) as the two runs of a release.

The harness writes one ``samples_<task>_<date>.jsonl`` per task (``lm_eval/loggers/evaluation_tracker.py``); each
line is one document: ``doc_id``, ``doc``, ``target``, ``arguments``, ``resps``, ``filtered_resps``, ``filter``,
``metrics`` (the metric names), ``doc_hash``, ``prompt_hash``, ``target_hash`` and each per-sample metric merged in
(``"acc": 1.0``; ``lm_eval/evaluator.py``, the ``log_samples`` block). For multiple-choice tasks each filtered
response is one choice's ``[loglikelihood, is_greedy]`` and the prediction is the argmax of the log-likelihoods
(``lm_eval/api/task.py``, ``process_results``), so the softmax over them is the model's confidence.

Both runs are joined on (task, doc_id). A task or a document in one run only, or a ``doc_hash``, ``prompt_hash`` or
``target_hash`` that differs (another dataset revision, few-shot seed or chat template), is bad input (exit 2) naming
the task and the document: a paired comparison of different prompts would be meaningless.

Files are parsed by pyarrow's JSON reader with an explicit schema (only the fields used); in the harness' layout
``doc``, ``arguments`` and ``resps`` are cut away first and the choices' log-likelihoods go to numpy's number parser,
so a line costs about the same whatever its prompt (``benchmarks/lm_eval.py``).

The harness logs a document once per filter of its task (``gsm8k``: ``strict-match`` and ``flexible-extract``), each
line naming its ``filter``. One filter is judged per task: the one ``lm_eval.filter`` names, else the filter of the
baseline file's first line (the task's first filter); both runs must carry it, and a run that applied another
filter only is bad input (its responses are not the ones the baseline's were scored on).
"""

from __future__ import annotations

import contextlib
import fnmatch
import hashlib
import io
import json
import os
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from ..errors import InputError
from ..evidence.schema import FileRef
from ..hashing import check_input_file, shown_path
from ..manifest import LmEvalSpec, Release

#: the harness' file name: samples_<task>_<date_id>.jsonl, date_id = isoformat with ':' replaced by '-'
SAMPLES_NAME = re.compile(r"^samples_(?P<task>.+)_(?P<date>\d{4}-\d{2}-\d{2}T[0-9.\-]+)\.jsonl$")
#: the per-sample metrics tried, in order, when the manifest names none for a task
METRIC_ORDER = ("acc", "exact_match")
#: fields of a samples line that are not metric values
_NOT_METRICS = {"doc_id", "doc", "target", "arguments", "resps", "filtered_resps", "filter", "metrics", "doc_hash",
                "prompt_hash", "target_hash"}
_HASHES = ("doc_hash", "prompt_hash", "target_hash")

NO_SAMPLES = "no lm-eval samples files (samples_<task>_<date>.jsonl) at {path}"
MISNAMED = ("{file} is not named as the harness names a samples file (samples_<task>_<date>.jsonl, the date as "
            "2024-05-01T12-30-45.123456), so its task cannot be told: rename it, or move it out of the run")
TWO_FILES = "task {task!r} has two samples files in this run: {first} and {second}; keep one"
BAD_FILE = "not an lm-eval samples file ({problem})"
MISSING_FIELD = "task {task!r} doc {doc}: no {field} (every line of a samples file needs it)"
DUPLICATE_DOC = "task {task!r}: doc {doc} appears twice"
TASK_ONE_RUN = "task {task!r} is in the {role} run only ({file}): both runs must evaluate the same tasks"
DOC_ONE_RUN = "task {task!r}: doc {doc} is in the {role} run only: both runs must score the same documents"
FILTER_MISSING = ("task {task!r}: this run logs no lines of filter {filter!r} (filters: {filters}); lm_eval.filter "
                  "must name a filter both runs applied")
FILTER_DIFFERS = ("task {task!r}: the baseline run is judged on {base}, the candidate run applied only "
                  "{found}: the runs did not score the same responses, so they cannot be compared")
METRIC_ONE_RUN = ("task {task!r}: {metric} is a per-sample metric of the {role} run but is missing or not a number on "
                  "the first line of the {other} run: both runs must carry the metric judged")
METRIC_NOT_NUMBER = ("task {task!r}: {metric} on line 1 is {value!r:.60}, not a number: the gate judges {metric} "
                     "when a run logs it, so it will not judge another metric in its place")
#: evidence.warnings for a task logged under several filters with none declared (template: task, filter, filters)
FILTER_CHOSEN = ("task {task}: the runs log {count} filters ({filters}); judged on {filter}, the baseline file's "
                 "first (lm_eval.filter chooses another)")
HASH_DIFFERS = ("task {task!r} doc {doc}: {field} differs between the runs ({why}): the two runs did not score the "
                "same thing, so they cannot be compared")
HASH_ONE_RUN = ("task {task!r} doc {doc}: the {role} run has no target_hash where the other run has one: both runs "
                "must log it for every document, or neither (an older harness version)")
_HASH_WHY = {"doc_hash": "another dataset revision or split?", "prompt_hash": "another few-shot seed, num_fewshot "
             "or chat template?", "target_hash": "another answer key?"}
NO_METRIC = ("task {task!r}: no 0/1 per-sample metric to judge (metrics: {metrics}); name one in "
             "lm_eval.metric, e.g. {{{task}: acc}}, or list the task in lm_eval.exclude")
METRIC_MISSING = "task {task!r}: metric {metric!r} is not in the {role} run (metrics: {metrics})"
NOT_BINARY = ("task {task!r} doc {doc}: {metric} is {value}, not 0 or 1: the gate judges per-sample correctness "
              "(set lm_eval.metric to a 0/1 metric for this task, or list it in lm_eval.exclude when it has none, "
              "as truthfulqa_mc2's acc, a probability mass)")
ALL_EXCLUDED = "every task of the baseline run is excluded: nothing is left to judge"
TWO_CAPABILITIES = "task {task!r} matches two capability groups, {first} and {second}: list it under one"

#: MMLU subject -> category, as lm_eval/tasks/mmlu/_generate_configs.py tags them (task mmlu_<subject>, group
#: mmlu_<category>)
MMLU_SUBJECTS: dict[str, str] = {
    **dict.fromkeys((
        "abstract_algebra", "anatomy", "astronomy", "college_biology", "college_chemistry", "college_computer_science",
        "college_mathematics", "college_physics", "computer_security", "conceptual_physics", "electrical_engineering",
        "elementary_mathematics", "high_school_biology", "high_school_chemistry", "high_school_computer_science",
        "high_school_mathematics", "high_school_physics", "high_school_statistics", "machine_learning"), "stem"),
    **dict.fromkeys((
        "formal_logic", "high_school_european_history", "high_school_us_history", "high_school_world_history",
        "international_law", "jurisprudence", "logical_fallacies", "moral_disputes", "moral_scenarios", "philosophy",
        "prehistory", "professional_law", "world_religions"), "humanities"),
    **dict.fromkeys((
        "econometrics", "high_school_geography", "high_school_government_and_politics", "high_school_macroeconomics",
        "high_school_microeconomics", "high_school_psychology", "human_sexuality", "professional_psychology",
        "public_relations", "security_studies", "sociology", "us_foreign_policy"), "social_sciences"),
    **dict.fromkeys((
        "business_ethics", "clinical_knowledge", "college_medicine", "global_facts", "human_aging", "management",
        "marketing", "medical_genetics", "miscellaneous", "nutrition", "professional_accounting",
        "professional_medicine", "virology"), "other"),
}
#: capability group -> task patterns, used when the manifest declares none (LLM-KICK's knowledge-intensive tasks
#: apart from reasoning, reading comprehension and trustworthiness)
DEFAULT_CAPABILITIES: dict[str, list[str]] = {
    "knowledge": ["mmlu*", "arc_easy", "arc_challenge", "openbookqa", "triviaqa", "nq_open", "sciq", "webqs"],
    "reasoning": ["hellaswag", "winogrande", "piqa", "siqa", "social_iqa", "copa", "gsm8k*", "mathqa", "logiqa*",
                  "bbh*"],
    "reading": ["boolq", "rte", "race", "squad*", "drop", "lambada*", "cb", "multirc", "record", "wic", "wsc*"],
    "safety": ["truthfulqa*", "toxigen", "crows_pairs*", "bbq*", "winogender*"],
}
UNASSIGNED = "unassigned"


@dataclass
class Run:
    """One task of one run, sorted by doc_id."""

    task: str
    file: FileRef
    doc_id: np.ndarray
    hashes: dict[str, pa.Array]
    metrics: dict[str, np.ndarray]
    confidence: np.ndarray | None  # multiple choice: the top choice's softmax probability
    filter: str | None = None  # the filter whose lines were kept (None: the file names no filter)
    filters: tuple[str, ...] = ()  # every filter the file logs, in the order first seen


@dataclass
class TaskPair:
    """One task of both runs, joined on doc_id."""

    task: str
    group: str
    capability: str
    metric: str
    files: tuple[FileRef, FileRef]
    doc_id: np.ndarray
    correct: tuple[np.ndarray, np.ndarray]  # 0/1 per doc, baseline and candidate
    confidence: tuple[np.ndarray, np.ndarray] | None  # multiple choice: top-choice softmax probability
    hit: tuple[np.ndarray, np.ndarray] | None  # multiple choice: acc (argmax of the log-likelihoods is the gold)
    filter: str | None = None  # the harness filter judged (None: the files name none)
    filters: tuple[str, ...] = ()  # every filter the baseline file logs


def samples_files(release: Release, role: str) -> dict[str, Path]:
    """task -> its samples file: ``<role>.path`` is a folder (searched recursively) or a glob."""
    spec = getattr(release.manifest, role)
    field = f"{role}.path"
    pattern = spec.path
    base = Path(pattern) if Path(pattern).is_absolute() else release.folder / pattern
    if any(c in pattern for c in "*?["):
        anchor = Path(base.anchor) if base.is_absolute() else release.folder
        found = sorted(anchor.glob(str(base.relative_to(anchor))))
    elif base.is_dir():
        found = sorted(base.rglob("samples_*.jsonl"))
    else:
        found = [base] if base.exists() else []
    out: dict[str, Path] = {}
    for path in found:
        match = SAMPLES_NAME.match(path.name)
        if match is None:
            if path.name.endswith(".jsonl"):  # skipped, its task would drop out of both runs without a word
                raise InputError(release.path, field, MISNAMED.format(file=os.path.relpath(path, release.folder)))
            continue  # the harness' results_<date>.json and other files beside the samples
        check_input_file(path, named_in=release.path, field=field, root=release.folder)
        task = match["task"]
        if task in out:
            raise InputError(release.path, field, TWO_FILES.format(task=task, first=out[task], second=path))
        out[task] = path
    if not out:
        raise InputError(release.path, field, NO_SAMPLES.format(path=base))
    return out


def _first_line(raw: bytes, path: Path) -> dict[str, Any]:
    end = raw.find(b"\n")
    line = raw[: end if end >= 0 else len(raw)]  # not split: that would copy the whole file
    try:
        first = json.loads(line)
    except ValueError as exc:
        raise InputError(path, None, BAD_FILE.format(problem=f"line 1 is not JSON: {exc}")) from None
    if not isinstance(first, dict):
        raise InputError(path, None, BAD_FILE.format(problem="line 1 is not a JSON object"))
    return first


def _choice_pairs(value: Any) -> str | None:
    """How a multiple-choice line's filtered_resps holds one [loglikelihood, is_greedy] per choice: ``numbers``
    (``[-2.74, true]``, the evaluator's own values), ``text`` (``["-2.74", "True"]``: the harness' EvaluationTracker
    writes every response through ``sanitize_list``, which makes each one a string), None when it is not such a line
    (a generation task's answers)."""
    if not (isinstance(value, list) and len(value) > 1 and all(isinstance(r, list) and len(r) == 2 for r in value)):
        return None
    if all(isinstance(r[0], (int, float)) and not isinstance(r[0], bool) and isinstance(r[1], bool) for r in value):
        return "numbers"
    if all(isinstance(r[0], str) and _is_number(r[0]) and r[1] in ("True", "False") for r in value):
        return "text"
    return None


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


#: where the harness' responses begin (json.dumps' default separators) and how each line starts
_TAIL = b', "filtered_resps": '
_HEAD = b'{"doc_id": '


def _cut(raw: bytes) -> bytes | None:
    """Every line cut to its doc_id and its fields from ``filtered_resps`` on, skipping ``doc``, ``arguments`` and
    ``resps`` (the prompts: most of the bytes, none of them used), so reading costs the same whatever the prompt
    length. Vectorised over the whole file (numpy for line bounds and the doc_id's digits, one C-level search for
    the responses' key), with no Python loop per line. The harness writes doc_id first, then doc ... resps,
    filtered_resps, filter; a key sequence cannot occur inside a JSON string (its quotes are escaped), and the
    last occurrence on a line is taken. None when a line has another layout: then every line is parsed whole."""
    arr = np.frombuffer(raw, dtype=np.uint8)
    ends = np.flatnonzero(arr == 10)
    if raw and raw[-1:] != b"\n":
        ends = np.append(ends, len(raw))
    starts = np.concatenate([[0], ends[:-1] + 1]).astype(np.int64)
    filled = ends > starts
    if not filled.all():  # blank lines are allowed (a trailing one above all); nothing else may be empty
        if any(raw[s:e].strip() for s, e in zip(starts[~filled], ends[~filled])):
            return None
        starts, ends = starts[filled], ends[filled]
    head = np.frombuffer(_HEAD, dtype=np.uint8)
    window = starts[:, None] + len(head) + np.arange(21)  # '{"doc_id": ', then at most 20 digits and a sign
    if not len(starts) or (window[:, -1] >= len(arr)).any():
        return None
    if not (arr[starts[:, None] + np.arange(len(head))] == head).all():
        return None
    chars = arr[window]
    head_end = starts + len(head) + np.argmin(((chars >= 48) & (chars <= 57)) | (chars == 45), axis=1)
    if not (arr[head_end] == 44).all():  # a ',' follows the doc_id
        return None
    tails = np.fromiter((m.start() for m in re.finditer(re.escape(_TAIL), raw)), dtype=np.int64)
    last = np.searchsorted(tails, ends) - 1  # the last occurrence before each line's end
    if (last < 0).any() or (tails[np.maximum(last, 0)] <= head_end).any():
        return None
    # keep [start, head_end) and [tail, end of line], newline included: +1 where a kept span opens, -1 where it
    # closes, and a running sum marks the kept bytes (spans never overlap)
    marks = np.zeros(len(arr) + 1, dtype=np.int8)
    marks[starts] += 1
    marks[head_end] -= 1
    marks[tails[last]] += 1
    marks[np.minimum(ends + 1, len(arr))] -= 1
    return arr[np.cumsum(marks[:-1], dtype=np.int8) > 0].tobytes()


def _parse(raw: bytes, fields: list[pa.Field], choice: str | None) -> pa.Table:
    """Parse with an explicit schema (only the fields used). Multiple choice written as numbers, whole lines: each
    ``[loglikelihood, is_greedy]`` must be one list type for the reader, so the booleans that end each pair become
    numbers (the same text inside a string elsewhere stays valid JSON and is not read); written as text, each pair
    is two strings already."""
    if choice == "numbers":
        raw = raw.replace(b"false]", b"0]").replace(b"true]", b"1]")
    # blocks of ~1 MiB are parsed on every core; a line longer than a block cannot be parsed, so a block holds
    # at least the longest line (one vectorised scan for newlines)
    ends = np.flatnonzero(np.frombuffer(raw, dtype=np.uint8) == 10)
    longest = int(np.diff(ends, prepend=-1).max()) if ends.size else 0
    block = max(1 << 20, 2 * max(longest, len(raw) - 1 - (int(ends[-1]) if ends.size else -1)) + 2)
    return pj.read_json(io.BytesIO(raw), read_options=pj.ReadOptions(block_size=block, use_threads=True),
                        parse_options=pj.ParseOptions(explicit_schema=pa.schema(fields),
                                                      unexpected_field_behavior="ignore"))


def read_run(task: str, path: Path, folder: Path, wanted: str | None = None) -> Run:
    """One samples file: doc ids, hashes, per-sample metric values and (multiple choice) the top-choice softmax, of
    the lines of one filter: ``wanted``, else the first line's (a file without filters keeps every line)."""
    raw = path.read_bytes()
    ref = FileRef(path=shown_path(path, folder), sha256=hashlib.sha256(raw).hexdigest(), bytes=len(raw))
    first = _first_line(raw, path)
    names = first.get("metrics")
    if not isinstance(names, list):
        names = [k for k, v in first.items() if k not in _NOT_METRICS and isinstance(v, (int, float))]
    for name in METRIC_ORDER:  # a default metric that is not a number must not hand the judging to another one
        if name in first and not isinstance(first[name], (int, float)):  # a bool is a number here (True: 1)
            raise InputError(path, name, METRIC_NOT_NUMBER.format(task=task, metric=name, value=first[name]))
    names = [str(n) for n in names if n in first and isinstance(first[n], (int, float))]
    choice = _choice_pairs(first.get("filtered_resps"))
    fields = [pa.field("doc_id", pa.int64()), pa.field("filter", pa.string()),
              *(pa.field(h, pa.string()) for h in _HASHES)]
    fields += [pa.field(n, pa.bool_() if isinstance(first[n], bool) else pa.float64()) for n in names]
    if choice:
        inner = pa.float64() if choice == "numbers" else pa.string()
        fields.append(pa.field("filtered_resps", pa.list_(pa.list_(inner))))
    table = None
    if (rows := _cut(raw)) is not None:
        with contextlib.suppress(pa.ArrowInvalid, pa.ArrowTypeError):  # not the harness' layout: parse it all
            table = _parse(rows, fields, choice)
    if table is None:
        try:
            table = _parse(raw, fields, choice)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise InputError(path, None, BAD_FILE.format(problem=str(exc).splitlines()[0])) from None
    if table.column("doc_id").null_count:
        raise InputError(path, "doc_id", MISSING_FIELD.format(task=task, doc="?", field="doc_id"))
    table, kept, filters = _one_filter(table, task, path, wanted)
    doc_id = table.column("doc_id").to_numpy()
    ordered = bool(np.all(doc_id[1:] > doc_id[:-1]))  # the harness writes documents in order: nothing to sort
    order = np.arange(len(doc_id)) if ordered else np.argsort(doc_id, kind="stable")
    doc_id = doc_id[order]
    if len(doc_id) > 1 and (dup := np.flatnonzero(doc_id[1:] == doc_id[:-1])).size:
        raise InputError(path, "doc_id", DUPLICATE_DOC.format(task=task, doc=int(doc_id[dup[0]])))
    take = pa.array(order)
    columns = {name: table.column(name).combine_chunks() if ordered else table.column(name).combine_chunks().take(take)
               for name in table.column_names}
    for name in (*_HASHES, *names):
        col = columns[name]
        if col.null_count and name != "target_hash":
            missing = int(doc_id[np.flatnonzero(col.is_null().to_numpy(zero_copy_only=False))[0]])
            raise InputError(path, name, MISSING_FIELD.format(task=task, doc=missing, field=name))
    hashes = {h: columns[h] for h in _HASHES}
    metrics = {n: columns[n].to_numpy(zero_copy_only=False).astype(np.float64) for n in names}
    confidence = None
    if choice:  # filtered_resps is a column, in doc_id order like every other
        values, counts = _pairs(columns["filtered_resps"], path)
        confidence = _top_choice(values, counts, path)
    return Run(task, ref, doc_id, hashes, metrics, confidence, kept, filters)


def _one_filter(table: pa.Table, task: str, path: Path, wanted: str | None
                ) -> tuple[pa.Table, str | None, tuple[str, ...]]:
    """The lines of one filter (``wanted``, else the first line's), the filter kept and every filter logged."""
    column = table.column("filter")
    filters = tuple(str(f) for f in pc.unique(column).to_pylist() if f is not None)
    if not filters:
        if wanted is not None:
            raise InputError(path, "filter", FILTER_MISSING.format(task=task, filter=wanted, filters="none"))
        return table, None, ()
    kept = wanted if wanted is not None else column[0].as_py()
    if wanted is not None and wanted not in filters:
        raise InputError(path, "filter", FILTER_MISSING.format(task=task, filter=wanted, filters=", ".join(filters)))
    if len(filters) == 1 and not column.null_count and kept == filters[0]:
        return table, kept, filters
    mask = pc.is_null(column) if kept is None else pc.fill_null(pc.equal(column, kept), False)
    return table.filter(mask), kept, filters


def _pairs(column: pa.Array, path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Whole-line parse: the log-likelihoods (first of each pair) and the choices per line, in doc_id order."""
    pairs = column.flatten()
    if column.null_count or pairs.null_count or not (pc.list_value_length(pairs).to_numpy() == 2).all():
        raise InputError(path, "filtered_resps", BAD_FILE.format(
            problem="a multiple-choice line's filtered_resps must be one [loglikelihood, is_greedy] per choice"))
    values = pairs.flatten()
    if pa.types.is_string(values.type):  # the tracker's text: every other string is a log-likelihood
        values = values.take(pa.array(np.arange(0, len(values), 2)))
        try:
            lls = pc.cast(values, pa.float64()).to_numpy(zero_copy_only=False)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            raise InputError(path, "filtered_resps", BAD_FILE.format(
                problem="a log-likelihood is missing or not finite")) from None
    else:
        lls = values.to_numpy()[0::2]
    return lls, pc.list_value_length(column).to_numpy().astype(np.int64)


def _top_choice(lls: np.ndarray, counts: np.ndarray, path: Path) -> np.ndarray:
    """Each row's largest softmax probability over its choices' log-likelihoods."""
    if (counts < 1).any() or not np.isfinite(lls).all():
        raise InputError(path, "filtered_resps", BAD_FILE.format(problem="a log-likelihood is missing or not finite"))
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    top = np.maximum.reduceat(lls, starts)
    with np.errstate(over="ignore"):  # ll - top overflows to -inf for choices ~1e308 apart: exp gives 0, as it should
        total = np.add.reduceat(np.exp(lls - np.repeat(top, counts)), starts)
    return 1.0 / total  # exp(top - top) / sum exp(ll - top)


def _match(task: str, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatchcase(task, p) for p in patterns)


def group_of(task: str, spec: LmEvalSpec) -> str:
    """The harness group of ``task``: a declared one, else MMLU's category (mmlu_<subject> -> mmlu_<category>),
    else the task itself (a task outside any group is its own)."""
    for group, patterns in spec.groups.items():
        if _match(task, patterns):
            return group
    if task.startswith("mmlu_"):
        for subject, category in MMLU_SUBJECTS.items():
            if task == f"mmlu_{subject}" or task.endswith(f"_{subject}"):
                return f"mmlu_{category}"
    return task


def capability_of(task: str, spec: LmEvalSpec, where: Path) -> str:
    """The capability group of ``task`` (declared, else the built-in map); a task in two groups is bad input."""
    groups = spec.capabilities if spec.capabilities is not None else DEFAULT_CAPABILITIES
    hits = [name for name, patterns in groups.items() if _match(task, patterns)]
    if len(hits) > 1:
        raise InputError(where, "lm_eval.capabilities", TWO_CAPABILITIES.format(task=task, first=hits[0],
                                                                               second=hits[1]))
    return hits[0] if hits else UNASSIGNED


def _metric(task: str, spec: LmEvalSpec, runs: tuple[Run, Run], where: Path) -> str:
    """The per-sample metric judged for ``task``: declared, else acc, else exact_match, else the only 0/1 one."""
    declared = next((m for p, m in spec.metric.items() if fnmatch.fnmatchcase(task, p)), None)
    if declared is not None:
        for role, run in zip(("baseline", "candidate"), runs):
            if declared not in run.metrics:
                raise InputError(run.file.path, declared, METRIC_MISSING.format(
                    task=task, metric=declared, role=role, metrics=", ".join(run.metrics) or "none"))
        return declared
    shared = [m for m in runs[0].metrics if m in runs[1].metrics]
    for name in METRIC_ORDER:
        if name in shared:
            return name
        for role, run, other, other_run in (("baseline", runs[0], "candidate", runs[1]),
                                            ("candidate", runs[1], "baseline", runs[0])):
            if name in run.metrics:  # judging another metric instead would switch it silently
                raise InputError(other_run.file.path, name, METRIC_ONE_RUN.format(task=task, metric=name, role=role,
                                                                                  other=other))
    binary = [m for m in shared if all(np.isin(r.metrics[m], (0.0, 1.0)).all() for r in runs)]
    if len(binary) == 1:
        return binary[0]
    raise InputError(where, "lm_eval.metric", NO_METRIC.format(task=task, metrics=", ".join(shared) or "none"))


def _join(task: str, runs: tuple[Run, Run]) -> None:
    """Refuse documents in one run only and differing hashes, naming the task and the first such document."""
    base, cand = runs
    if len(base.doc_id) != len(cand.doc_id) or not np.array_equal(base.doc_id, cand.doc_id):
        for role, run, other in (("baseline", base, cand), ("candidate", cand, base)):
            only = np.setdiff1d(run.doc_id, other.doc_id)
            if only.size:
                raise InputError(run.file.path, "doc_id", DOC_ONE_RUN.format(task=task, doc=int(only[0]), role=role))
    for name in _HASHES:
        b, c = base.hashes[name], cand.hashes[name]
        if name == "target_hash" and (b.null_count or c.null_count):
            # older harness versions write no target_hash: a document without one in both runs is not compared,
            # but one with it in one run only is refused (else one blanked line would switch the check off)
            one = pc.xor(b.is_null(), c.is_null()).to_numpy(zero_copy_only=False)
            if one.any():
                i = int(np.flatnonzero(one)[0])
                role, run = ("candidate", cand) if c[i].as_py() is None else ("baseline", base)
                raise InputError(run.file.path, name, HASH_ONE_RUN.format(task=task, doc=int(base.doc_id[i]),
                                                                         role=role))
        differs = pc.fill_null(pc.not_equal(b, c), False).to_numpy(zero_copy_only=False)
        if differs.any():
            doc = int(base.doc_id[np.flatnonzero(differs)[0]])
            raise InputError(cand.file.path, name, HASH_DIFFERS.format(task=task, doc=doc, field=name,
                                                                      why=_HASH_WHY[name]))


def excluded_tasks(release: Release) -> list[str]:
    """The tasks of either run that ``lm_eval.exclude`` leaves out (not read, not judged)."""
    spec = release.manifest.lm_eval or LmEvalSpec()
    found = {t for role in ("baseline", "candidate") for t in samples_files(release, role)}
    return sorted(t for t in found if _match(t, spec.exclude))


def load_pairs(release: Release) -> list[TaskPair]:
    """Both runs read and joined, one entry per task (sorted by task name); excluded tasks are left out."""
    spec = release.manifest.lm_eval or LmEvalSpec()
    files = {role: {t: p for t, p in samples_files(release, role).items() if not _match(t, spec.exclude)}
             for role in ("baseline", "candidate")}
    if not files["baseline"]:
        raise InputError(release.path, "lm_eval.exclude", ALL_EXCLUDED)
    for role, other in (("baseline", "candidate"), ("candidate", "baseline")):
        if only := sorted(set(files[role]) - set(files[other])):
            raise InputError(release.path, f"{other}.path", TASK_ONE_RUN.format(task=only[0], role=role,
                                                                               file=files[role][only[0]]))
    tasks = sorted(files["baseline"])
    declared = {task: declared_filter(task, spec) for task in tasks}
    # threads: parsing (pyarrow) and hashing release the GIL, so files are read side by side
    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        read = {(role, task): pool.submit(read_run, task, files[role][task], release.folder, declared[task])
                for task in tasks for role in ("baseline", "candidate")}
        # in order, so the first bad file named is the same on every run
        done = {key: future.result() for key, future in read.items()}
    pairs = []
    for task in tasks:
        runs = _same_filter(task, (done["baseline", task], done["candidate", task]), files["candidate"][task],
                            release.folder)
        _join(task, runs)
        metric = _metric(task, spec, runs, release.path)
        correct = []
        for run in runs:
            values = run.metrics[metric]
            if (bad := np.flatnonzero((values != 0.0) & (values != 1.0))).size:
                raise InputError(run.file.path, metric, NOT_BINARY.format(
                    task=task, doc=int(run.doc_id[bad[0]]), metric=metric, value=values[bad[0]]))
            correct.append(values.astype(np.int8))
        both_mc = runs[0].confidence is not None and runs[1].confidence is not None
        conf = (runs[0].confidence, runs[1].confidence) if both_mc else None
        hit = (tuple(r.metrics["acc"].astype(np.int8) for r in runs)
               if both_mc and all("acc" in r.metrics and np.isin(r.metrics["acc"], (0.0, 1.0)).all() for r in runs)
               else None)
        pairs.append(TaskPair(task=task, group=group_of(task, spec), capability=capability_of(task, spec,
                                                                                              release.path),
                              metric=metric, files=(runs[0].file, runs[1].file), doc_id=runs[0].doc_id,
                              correct=(correct[0], correct[1]),
                              confidence=conf if hit is not None else None,  # type: ignore[arg-type]
                              hit=hit, filter=runs[0].filter, filters=runs[0].filters))  # type: ignore[arg-type]
    return pairs


def declared_filter(task: str, spec: LmEvalSpec) -> str | None:
    return next((f for p, f in spec.filter.items() if fnmatch.fnmatchcase(task, p)), None)


def _same_filter(task: str, runs: tuple[Run, Run], candidate: Path, folder: Path) -> tuple[Run, Run]:
    """Both runs on the baseline's filter: the candidate is read again on it when it logged several filters in
    another order; a candidate that never applied it is bad input."""
    base, cand = runs
    if base.filter == cand.filter:
        return runs
    if base.filter is not None and base.filter in cand.filters:
        return base, read_run(task, candidate, folder, base.filter)
    found = ", ".join(repr(f) for f in cand.filters) or "no filter"
    raise InputError(cand.file.path, "filter", FILTER_DIFFERS.format(
        task=task, base="no filter" if base.filter is None else f"filter {base.filter!r}", found=found))


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def choice_line(doc_id: int, doc: dict[str, Any], context: str, choices: list[str], gold: int,
                lls: list[float], *, written: bool = True) -> dict[str, Any]:
    """One multiple-choice line (for tests, examples and benchmarks): acc is the argmax of the log-likelihoods,
    acc_norm the argmax per character of the choice. ``written``: as the harness' EvaluationTracker writes it to
    the samples file (responses as strings, arguments as ``gen_args_i`` / ``arg_j``, the target as a string);
    else the evaluator's own values (``[loglikelihood, is_greedy]`` as numbers)."""
    top = int(np.argmax(lls))
    norm = int(np.argmax([ll / max(len(c), 1) for ll, c in zip(lls, choices)]))
    pairs = [[float(ll), i == top] for i, ll in enumerate(lls)]
    line = {
        "doc_id": doc_id, "doc": doc, "target": gold,
        "arguments": [[context, f" {c}"] for c in choices],
        "resps": [[p] for p in pairs], "filtered_resps": pairs, "filter": "none", "metrics": ["acc", "acc_norm"],
        "doc_hash": _hash(json.dumps(doc, indent=2, ensure_ascii=False)), "prompt_hash": _hash(context),
        "target_hash": _hash(str(gold)), "acc": float(top == gold), "acc_norm": float(norm == gold),
    }
    return _as_written(line) if written else line


def generation_line(doc_id: int, doc: dict[str, Any], prompt: str, target: str, answer: str, *,
                    written: bool = True) -> dict[str, Any]:
    """One generate_until line (exact_match), as the harness writes it (``written``) or holds it."""
    line = {
        "doc_id": doc_id, "doc": doc, "target": target, "arguments": [[prompt, {"until": ["\n\n"]}]],
        "resps": [[answer]], "filtered_resps": [answer], "filter": "strict-match", "metrics": ["exact_match"],
        "doc_hash": _hash(json.dumps(doc, indent=2, ensure_ascii=False)), "prompt_hash": _hash(prompt),
        "target_hash": _hash(str(target)), "exact_match": float(answer.strip() == target.strip()),
    }
    return _as_written(line) if written else line


def _text(value: Any) -> Any:
    """The harness' ``sanitize_list``: nested lists kept, every leaf made a string."""
    return [_text(v) for v in value] if isinstance(value, (list, tuple)) else str(value)


def _as_written(line: dict[str, Any]) -> dict[str, Any]:
    """A line as ``EvaluationTracker.save_results_samples`` writes it (lm_eval/loggers/evaluation_tracker.py): the
    responses through ``sanitize_list``, the arguments as ``{"gen_args_i": {"arg_j": ...}}``, the target a string;
    the hashes were taken before (in the evaluator), so they are the same."""
    return {**line, "target": str(line["target"]),
            "arguments": {f"gen_args_{i}": {f"arg_{j}": a for j, a in enumerate(arg)}
                          for i, arg in enumerate(line["arguments"])},
            "resps": _text(line["resps"]), "filtered_resps": _text(line["filtered_resps"])}


def write_samples(folder: Path, task: str, lines: list[dict[str, Any]],
                  date_id: str = "2026-06-01T12-00-00.000000") -> Path:
    """``folder/samples_<task>_<date_id>.jsonl``, one JSON object per line (the harness' file name and layout)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"samples_{task}_{date_id}.jsonl"
    path.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines), encoding="utf-8")
    return path
