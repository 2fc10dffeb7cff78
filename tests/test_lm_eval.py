"""task lm_eval: two lm-evaluation-harness runs (``--log_samples`` files) joined on (task, doc_id) and gated.

Fixtures are written in the harness' format (governance.models.lm_eval.choice_line / generation_line, one
``samples_<task>_<date>.jsonl`` per task); the numbers are checked against plain Python counts over those files and
statsmodels' exact McNemar test.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from builders import run, write_yaml
from scipy.stats import binomtest
from statsmodels.stats.contingency_tables import mcnemar

from governance.evidence.collect import collect
from governance.evidence.lm_eval import EXCLUDED, mcnemar_p
from governance.manifest import LM_EVAL_NO_DATA, LM_EVAL_TASK_NEEDS_FORMAT, load_manifest
from governance.models.lm_eval import (
    DOC_ONE_RUN,
    FILTER_CHOSEN,
    FILTER_DIFFERS,
    FILTER_MISSING,
    HASH_DIFFERS,
    HASH_ONE_RUN,
    METRIC_NOT_NUMBER,
    METRIC_ONE_RUN,
    MISNAMED,
    NO_METRIC,
    NOT_BINARY,
    TASK_ONE_RUN,
    TWO_CAPABILITIES,
    choice_line,
    generation_line,
    write_samples,
)

ROOT = Path(__file__).resolve().parent.parent
#: task -> (documents, choices; 0: generative)
TASKS = {"mmlu_anatomy": (40, 4), "mmlu_philosophy": (30, 4), "arc_easy": (50, 4), "boolq": (60, 2),
         "gsm8k": (25, 0)}


def _runs(folder: Path, seed: int = 0) -> None:
    """A dense and a pruned run of the same documents, correctness and log-likelihoods at random."""
    rng = np.random.default_rng(seed)
    for task, (n, k) in TASKS.items():
        lines: dict[str, list[dict]] = {"dense": [], "pruned": []}
        for i in range(n):
            doc = {"question": f"{task} question {i}", "answer": i % max(k, 1)}
            prompt = f"Question: {doc['question']}\nAnswer:"
            if k == 0:
                for run_name in lines:
                    answer = str(i) if rng.random() < 0.6 else "wrong"
                    lines[run_name].append(generation_line(i, doc, prompt, str(i), answer))
                continue
            choices = [f"choice {c}" for c in range(k)]
            for run_name in lines:
                lines[run_name].append(choice_line(i, doc, prompt, choices, i % k,
                                                   [float(x) for x in rng.normal(-2, 1, k)]))
        for run_name, rows in lines.items():
            write_samples(folder / "runs" / run_name, task, rows)


def _release(folder: Path, **extra) -> Path:
    return write_yaml(folder / "release.yaml", {
        "name": "llm", "version": "1", "task": "lm_eval", "policy": "builtin:pruned-llm",
        "baseline": {"path": "runs/dense", "format": "lm-eval-samples"},
        "candidate": {"path": "runs/pruned", "format": "lm-eval-samples"},
        "evaluation": {"bootstrap": {"resamples": 200}}, **extra})


@pytest.fixture(scope="module")
def llm(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("llm")
    _runs(folder)
    _release(folder)
    return folder


@pytest.fixture(scope="module")
def evidence(llm):
    return collect(load_manifest(llm / "release.yaml"))


def _lines(folder: Path, run_name: str, task: str) -> list[dict]:
    (path,) = (folder / "runs" / run_name).glob(f"samples_{task}_*.jsonl")
    return [json.loads(line) for line in path.read_text().splitlines()]


def _metric(task: str) -> str:
    return "exact_match" if TASKS[task][1] == 0 else "acc"


def test_accuracy_per_task_equals_a_plain_count_of_the_samples_files(llm, evidence):
    total = {"dense": 0.0, "pruned": 0.0}
    for task in TASKS:
        for role, run_name in (("baseline", "dense"), ("candidate", "pruned")):
            values = [line[_metric(task)] for line in _lines(llm, run_name, task)]
            got = evidence.models[role].slices["task"][task]
            assert got["count"] == len(values)
            assert got["accuracy"] == pytest.approx(sum(values) / len(values), abs=1e-12)
            total[run_name] += sum(values)
    n = sum(n for n, _ in TASKS.values())
    assert evidence.models["baseline"].overall["accuracy"] == pytest.approx(total["dense"] / n, abs=1e-12)
    assert evidence.lm_eval.tasks["gsm8k"].metric == "exact_match" and evidence.lm_eval.tasks["boolq"].metric == "acc"


def test_groups_and_capabilities_follow_the_harness_names_and_the_built_in_map(evidence):
    assert evidence.lm_eval.tasks["mmlu_anatomy"].group == "mmlu_stem"
    assert evidence.lm_eval.tasks["mmlu_philosophy"].group == "mmlu_humanities"
    assert evidence.models["baseline"].slices["group"]["mmlu_stem"]["count"] == 40
    caps = evidence.models["baseline"].slices["capability"]
    assert caps["knowledge"]["count"] == 40 + 30 + 50 and caps["reading"]["count"] == 60
    assert caps["reasoning"]["count"] == 25


def test_flips_and_mcnemar_per_task_match_a_plain_count_and_statsmodels(llm, evidence):
    for task in TASKS:
        base = [line[_metric(task)] for line in _lines(llm, "dense", task)]
        cand = [line[_metric(task)] for line in _lines(llm, "pruned", task)]
        pairs = list(zip(base, cand))
        table = [[pairs.count((1.0, 1.0)), pairs.count((1.0, 0.0))], [pairs.count((0.0, 1.0)), pairs.count((0.0, 0.0))]]
        got = evidence.lm_eval.slices["task"][task]
        assert (got.broken, got.fixed) == (table[0][1], table[1][0])
        assert got.mcnemar_p == pytest.approx(mcnemar(table, exact=True).pvalue, rel=1e-9, abs=1e-15)
        assert evidence.comparisons.slices["task"][task]["accuracy"].difference_ci is not None


@pytest.mark.parametrize("broken,fixed", [(0, 0), (1, 0), (5, 5), (3, 12), (40, 15), (0, 30), (200, 170)])
def test_exact_mcnemar_equals_statsmodels_and_scipy_binomtest(broken, fixed):
    table = [[10, broken], [fixed, 7]]
    assert mcnemar_p(broken, fixed) == pytest.approx(mcnemar(table, exact=True).pvalue, rel=1e-9, abs=1e-15)
    if broken + fixed:
        assert mcnemar_p(broken, fixed) == pytest.approx(binomtest(broken, broken + fixed, 0.5).pvalue, rel=1e-9)


def test_calibration_is_the_ece_of_the_top_choice_softmax_on_multiple_choice_tasks(llm, evidence):
    conf, hit = [], []
    for task, (_, k) in TASKS.items():
        if k == 0:
            continue
        for line in _lines(llm, "dense", task):
            lls = np.array([float(ll) for ll, _ in line["filtered_resps"]])  # written as text by the harness
            p = np.exp(lls - lls.max())
            conf.append(float((p / p.sum()).max()))
            hit.append(line["acc"])
    conf_a, hit_a = np.array(conf), np.array(hit)
    bins = np.searchsorted(np.linspace(0, 1, 16)[1:-1], conf_a)
    ece = sum(abs(hit_a[bins == b].mean() - conf_a[bins == b].mean()) * (bins == b).sum()
              for b in range(15) if (bins == b).any()) / len(conf_a)
    stats = evidence.calibration.models["baseline"]
    assert stats.count == len(conf_a) and stats.ece == pytest.approx(ece, abs=1e-12)
    assert all(t.multiple_choice for name, t in evidence.lm_eval.tasks.items() if TASKS[name][1])


def _broken_copy(llm: Path, tmp_path: Path) -> Path:
    shutil.copytree(llm, tmp_path / "rel")
    return tmp_path / "rel"


def _rewrite(path: Path, doc_id: int, **fields) -> None:
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    for line in lines:
        if line["doc_id"] == doc_id:
            line.update(fields)
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))


def _pruned(rel: Path, task: str) -> Path:
    (path,) = (rel / "runs" / "pruned").glob(f"samples_{task}_*.jsonl")
    return path


@pytest.mark.parametrize("field,why", [("doc_hash", "another dataset revision or split?"),
                                       ("prompt_hash", "another few-shot seed, num_fewshot or chat template?")])
def test_a_hash_mismatch_is_exit_2_naming_the_task_and_the_doc(llm, tmp_path, capsys, field, why):
    rel = _broken_copy(llm, tmp_path)
    _rewrite(_pruned(rel, "arc_easy"), 7, **{field: "0" * 64})
    code, _, err = run(capsys, "check", rel / "release.yaml", "--out", tmp_path / "out")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert HASH_DIFFERS.format(task="arc_easy", doc=7, field=field, why=why) in err


def test_a_doc_or_a_task_in_one_run_only_is_exit_2_naming_it(llm, tmp_path, capsys):
    rel = _broken_copy(llm, tmp_path)
    path = _pruned(rel, "boolq")
    path.write_text("".join(line + "\n" for line in path.read_text().splitlines() if json.loads(line)["doc_id"] != 11))
    code, _, err = run(capsys, "check", rel / "release.yaml", "--out", tmp_path / "out")
    assert code == 2 and DOC_ONE_RUN.format(task="boolq", doc=11, role="baseline") in err
    path.unlink()
    code, _, err = run(capsys, "check", rel / "release.yaml", "--out", tmp_path / "out")
    assert code == 2 and len(err.strip().splitlines()) == 1
    only = TASK_ONE_RUN.format(task="boolq", role="baseline", file=rel / "runs" / "dense" / path.name)
    assert only.split(" (")[0] in err


def test_a_metric_that_is_not_0_or_1_is_exit_2_naming_the_doc(llm, tmp_path, capsys):
    rel = _broken_copy(llm, tmp_path)
    _rewrite(_pruned(rel, "mmlu_anatomy"), 3, acc=0.5)
    code, _, err = run(capsys, "check", rel / "release.yaml", "--out", tmp_path / "out")
    assert code == 2 and NOT_BINARY.format(task="mmlu_anatomy", doc=3, metric="acc", value=0.5) in err


@pytest.mark.parametrize("change,message", [
    ({"data": {"path": "x.csv", "target": "y"}}, LM_EVAL_NO_DATA),
    ({"candidate": {"path": "m.skops", "format": "skops"}}, LM_EVAL_TASK_NEEDS_FORMAT.format(role="candidate")),
])
def test_a_manifest_mixing_lm_eval_and_tabular_inputs_is_exit_2(llm, tmp_path, capsys, change, message):
    rel = _broken_copy(llm, tmp_path)
    _release(rel, **change)
    code, _, err = run(capsys, "check", rel / "release.yaml", "--out", tmp_path / "out")
    assert code == 2 and message in err


def test_acc_norm_is_judged_when_the_manifest_names_it(llm, tmp_path):
    rel = _broken_copy(llm, tmp_path)
    _release(rel, lm_eval={"metric": {"arc_*": "acc_norm"}})
    ev = collect(load_manifest(rel / "release.yaml"))
    values = [line["acc_norm"] for line in _lines(rel, "dense", "arc_easy")]
    assert ev.lm_eval.tasks["arc_easy"].metric == "acc_norm"
    assert ev.models["baseline"].slices["task"]["arc_easy"]["accuracy"] == pytest.approx(sum(values) / len(values))


def test_the_example_blocks_on_knowledge_while_the_average_passes(tmp_path, capsys):
    code, out, _ = run(capsys, "check", ROOT / "examples" / "llm" / "release.yaml", "--out", tmp_path / "out")
    assert code == 1 and "BLOCKED by LLM-KNOW-001" in out
    verdict = json.loads((tmp_path / "out" / "verdict.json").read_text())
    status = {f["rule_id"]: f["status"] for f in verdict["findings"]}
    assert status["LLM-KNOW-001"] == "fail" and status["LLM-AVG-001"] == "pass"
    assert status["LLM-CAP-001"] == "pass"
    ev = json.loads((tmp_path / "out" / "evidence.json").read_text())
    knowledge = ev["lm_eval"]["slices"]["capability"]["knowledge"]
    assert knowledge["difference"] < -0.02 and knowledge["mcnemar_p"] < 0.01
    assert ev["models"]["baseline"]["overall"]["accuracy"] - ev["models"]["candidate"]["overall"]["accuracy"] < 0.02
    for name in ("model_card.md", "model_card.html", "audit_report.html", "junit.xml", "evidence.json"):
        assert (tmp_path / "out" / name).stat().st_size > 0


def test_a_file_in_another_key_order_or_spacing_reads_the_same(llm, tmp_path, evidence):
    """The fast path skips the prompts by the harness' key order; any other valid layout is parsed whole."""
    rel = _broken_copy(llm, tmp_path)
    for task in ("arc_easy", "gsm8k"):
        path = _pruned(rel, task)
        lines = [json.loads(line) for line in path.read_text().splitlines()]
        path.write_text("".join(json.dumps(line, sort_keys=True, separators=(",", ":")) + "\n" for line in lines))
    ev = collect(load_manifest(rel / "release.yaml"))
    assert ev.lm_eval.slices == evidence.lm_eval.slices
    assert ev.calibration.models == evidence.calibration.models


def test_runs_named_by_glob_and_declared_capabilities(llm, tmp_path):
    rel = _broken_copy(llm, tmp_path)
    _release(rel, baseline={"path": "runs/dense/samples_*.jsonl", "format": "lm-eval-samples"},
             lm_eval={"capabilities": {"knowledge": ["mmlu_*"], "reading": ["boolq"]}})
    ev = collect(load_manifest(rel / "release.yaml"))
    caps = ev.models["candidate"].slices["capability"]
    assert {v: s["count"] for v, s in caps.items()} == {"knowledge": 70, "reading": 60, "unassigned": 75}


def test_a_task_in_two_capability_groups_or_two_files_for_a_task_is_exit_2(llm, tmp_path, capsys):
    rel = _broken_copy(llm, tmp_path)
    _release(rel, lm_eval={"capabilities": {"knowledge": ["arc_*"], "reasoning": ["arc_easy"]}})
    code, _, err = run(capsys, "check", rel / "release.yaml", "--out", tmp_path / "out")
    assert code == 2 and TWO_CAPABILITIES.format(task="arc_easy", first="knowledge", second="reasoning") in err
    _release(rel)
    path = _pruned(rel, "boolq")
    shutil.copy(path, path.with_name(path.name.replace("2026-06-01", "2026-06-02")))
    code, _, err = run(capsys, "check", rel / "release.yaml", "--out", tmp_path / "out")
    assert code == 2 and "has two samples files in this run" in err


def test_a_perplexity_task_is_exit_2_unless_excluded_and_then_reported(llm, tmp_path, capsys):
    rel = _broken_copy(llm, tmp_path)
    for run_name in ("dense", "pruned"):  # loglikelihood_rolling: perplexities, no 0/1 metric
        write_samples(rel / "runs" / run_name, "wikitext", [
            {"doc_id": i, "doc": {"page": f"text {i}"}, "target": "", "arguments": [[f"text {i}"]],
             "resps": [[-120.5]], "filtered_resps": [-120.5], "filter": "none",
             "metrics": ["word_perplexity", "byte_perplexity", "bits_per_byte"], "doc_hash": "a" * 64,
             "prompt_hash": "b" * 64, "target_hash": "c" * 64, "word_perplexity": [-120.5, 10],
             "byte_perplexity": [-120.5, 50], "bits_per_byte": [-120.5, 50]} for i in range(3)])
    code, _, err = run(capsys, "check", rel / "release.yaml", "--out", tmp_path / "out")
    assert code == 2 and NO_METRIC.format(task="wikitext", metrics="none") in err
    _release(rel, lm_eval={"exclude": ["wikitext"]})
    ev = collect(load_manifest(rel / "release.yaml"))
    assert "wikitext" not in ev.lm_eval.tasks and EXCLUDED.format(tasks="wikitext") in ev.warnings


def test_documents_in_any_order_are_joined_by_doc_id(llm, tmp_path, evidence):
    rel = _broken_copy(llm, tmp_path)
    for task in ("arc_easy", "boolq", "gsm8k"):
        path = _pruned(rel, task)
        lines = path.read_text().splitlines()
        np.random.default_rng(1).shuffle(lines)
        path.write_text("".join(line + "\n" for line in lines))
    ev = collect(load_manifest(rel / "release.yaml"))
    assert ev.lm_eval.slices == evidence.lm_eval.slices
    assert ev.calibration.models == evidence.calibration.models


def _two_filters(rel: Path, first: str = "strict-match", seed: int = 2) -> dict[str, dict[str, float]]:
    """gsm8k logged under two filters, as the harness does (each document once per filter), the flexible-extract
    lines scored at random; the pruned run writes its filters in the order given. Returns run -> filter -> accuracy."""
    rng = np.random.default_rng(seed)
    accuracy: dict[str, dict[str, float]] = {}
    for run_name in ("dense", "pruned"):
        (path,) = (rel / "runs" / run_name).glob("samples_gsm8k_*.jsonl")
        strict = [json.loads(line) for line in path.read_text().splitlines()]
        flexible = [dict(line, filter="flexible-extract", exact_match=float(rng.random() < 0.3)) for line in strict]
        lines = strict + flexible if run_name == "dense" or first == "strict-match" else flexible + strict
        path.write_text("".join(json.dumps(line) + "\n" for line in lines))
        accuracy[run_name] = {name: float(np.mean([x["exact_match"] for x in rows]))
                              for name, rows in (("strict-match", strict), ("flexible-extract", flexible))}
    return accuracy


@pytest.mark.parametrize("first", ["strict-match", "flexible-extract"])
def test_a_task_logged_under_two_filters_is_judged_on_one_and_says_which(llm, tmp_path, evidence, first):
    rel = _broken_copy(llm, tmp_path)
    accuracy = _two_filters(rel, first)
    ev = collect(load_manifest(rel / "release.yaml"))
    task = ev.lm_eval.tasks["gsm8k"]
    assert task.filter == "strict-match" and task.samples == TASKS["gsm8k"][0]  # documents, not lines
    for role, run_name in (("baseline", "dense"), ("candidate", "pruned")):
        got = ev.models[role].slices["task"]["gsm8k"]["accuracy"]
        assert got == pytest.approx(accuracy[run_name]["strict-match"], abs=1e-12)
    assert ev.lm_eval.slices == evidence.lm_eval.slices  # the flexible-extract lines changed nothing
    assert FILTER_CHOSEN.format(task="gsm8k", count=2, filter="strict-match",
                                filters="strict-match, flexible-extract") in ev.warnings

    _release(rel, lm_eval={"filter": {"gsm8k": "flexible-extract"}})
    ev = collect(load_manifest(rel / "release.yaml"))
    assert ev.lm_eval.tasks["gsm8k"].filter == "flexible-extract"
    for role, run_name in (("baseline", "dense"), ("candidate", "pruned")):
        got = ev.models[role].slices["task"]["gsm8k"]["accuracy"]
        assert got == pytest.approx(accuracy[run_name]["flexible-extract"], abs=1e-12)
    assert not any("filters" in w for w in ev.warnings)
    assert ev.lm_eval.tasks["boolq"].filter == "none"  # tasks the pattern does not name keep their own


def test_a_candidate_run_on_another_filter_or_a_declared_filter_missing_is_exit_2(llm, tmp_path, capsys):
    rel = _broken_copy(llm, tmp_path)
    path = _pruned(rel, "gsm8k")
    path.write_text("".join(json.dumps(dict(json.loads(line), filter="flexible-extract")) + "\n"
                            for line in path.read_text().splitlines()))
    code, _, err = run(capsys, "check", rel / "release.yaml", "--out", tmp_path / "out")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert FILTER_DIFFERS.format(task="gsm8k", base="filter 'strict-match'", found="'flexible-extract'") in err
    assert not (tmp_path / "out").exists()

    _release(rel, lm_eval={"filter": {"gsm8k": "flexible-extract"}})
    code, _, err = run(capsys, "check", rel / "release.yaml", "--out", tmp_path / "out")
    assert code == 2 and "runs/dense/samples_gsm8k" in err
    assert FILTER_MISSING.format(task="gsm8k", filter="flexible-extract", filters="strict-match") in err


@pytest.mark.parametrize("first_line,message", [
    ({"acc": None}, METRIC_NOT_NUMBER.format(task="boolq", metric="acc", value=None)),
    ({"acc": "1"}, METRIC_NOT_NUMBER.format(task="boolq", metric="acc", value="1")),
    ({}, METRIC_ONE_RUN.format(task="boolq", metric="acc", role="baseline", other="candidate"))])
def test_a_metric_one_run_lacks_is_exit_2_not_another_metric_judged(llm, tmp_path, capsys, first_line, message):
    rel = _broken_copy(llm, tmp_path)
    path = _pruned(rel, "boolq")
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    lines[0].pop("acc")
    lines[0].update(first_line)  # the first line decides the schema: acc would be dropped and acc_norm judged
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    code, _, err = run(capsys, "check", rel / "release.yaml", "--out", tmp_path / "out")
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert message in err


def test_a_default_metric_written_as_text_in_both_runs_is_exit_2_not_another_metric_judged(llm, tmp_path, capsys):
    """With acc a string in both runs the first line's schema dropped it from both and acc_norm was judged in its
    place, silently."""
    rel = _broken_copy(llm, tmp_path)
    for run_name in ("dense", "pruned"):
        (path,) = (rel / "runs" / run_name).glob("samples_arc_easy_*.jsonl")
        lines = [json.loads(line) for line in path.read_text().splitlines()]
        for line in lines:
            line["acc"] = str(line["acc"])
        path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    code, _, err = run(capsys, "check", rel / "release.yaml", "--out", tmp_path / "out")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert "task 'arc_easy': acc on line 1 is '" in err and "not a number" in err


def test_a_target_hash_in_one_run_only_is_exit_2_even_on_one_document(llm, tmp_path, capsys):
    """Older harness versions write no target_hash, so documents without one in both runs are not compared; one
    blanked line used to switch the answer-key check off for the whole task (then a changed key passed)."""
    rel = _broken_copy(llm, tmp_path)
    path = _pruned(rel, "arc_easy")
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    for line in lines:
        line["target_hash"] = "f" * 64  # another answer key on every document ...
    lines[5]["target_hash"] = None  # ... and one document without a hash
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    code, _, err = run(capsys, "check", rel / "release.yaml", "--out", tmp_path / "out")
    assert code == 2 and HASH_ONE_RUN.format(task="arc_easy", doc=5, role="candidate") in err
    for line in lines:
        line.pop("target_hash")  # the candidate logs none at all
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    code, _, err = run(capsys, "check", rel / "release.yaml", "--out", tmp_path / "out")
    assert code == 2 and HASH_ONE_RUN.format(task="arc_easy", doc=0, role="candidate") in err
    for run_name in ("dense", "pruned"):  # neither run logs one (an older harness): judged on the other hashes
        (path,) = (rel / "runs" / run_name).glob("samples_arc_easy_*.jsonl")
        lines = [json.loads(line) for line in path.read_text().splitlines()]
        for line in lines:
            line.pop("target_hash", None)
        path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    assert collect(load_manifest(rel / "release.yaml")).lm_eval.tasks["arc_easy"].samples == TASKS["arc_easy"][0]


def test_a_samples_file_not_named_as_the_harness_names_it_is_exit_2_not_dropped(llm, tmp_path, capsys):
    """A file the name pattern did not match was skipped, and its task dropped out of both runs without a word."""
    rel = _broken_copy(llm, tmp_path)
    for run_name in ("dense", "pruned"):
        (path,) = (rel / "runs" / run_name).glob("samples_boolq_*.jsonl")
        path.rename(path.with_name("samples_boolq.jsonl"))
    code, _, err = run(capsys, "check", rel / "release.yaml", "--out", tmp_path / "out")
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert MISNAMED.format(file="runs/dense/samples_boolq.jsonl") in err


def test_a_candidate_run_patched_with_the_baselines_files_for_some_tasks_is_blocked(llm, tmp_path, capsys):
    """The pruned run with the dense run's files for the tasks it lost most on differs overall, so the whole-run
    identity check passed it: each task is checked on its own."""
    rel = _broken_copy(llm, tmp_path)
    for task in ("arc_easy", "gsm8k"):
        (dense,) = (rel / "runs" / "dense").glob(f"samples_{task}_*.jsonl")
        shutil.copyfile(dense, _pruned(rel, task))
    (dense,) = (rel / "runs" / "dense").glob("samples_boolq_*.jsonl")
    lines = [json.loads(line) for line in dense.read_text().splitlines()]
    lines[3]["filtered_resps"][0][0] = str(float(lines[3]["filtered_resps"][0][0]) + 1e-9)  # not byte-identical
    _pruned(rel, "boolq").write_text("".join(json.dumps(line) + "\n" for line in lines))
    code, out, _ = run(capsys, "check", rel / "release.yaml", "--out", tmp_path / "out")
    assert code == 1 and "LLM-ID-001" in out
    verdict = json.loads((tmp_path / "out" / "verdict.json").read_text())
    (found,) = [f for f in verdict["findings"] if f["rule_id"] == "LLM-ID-001"]
    assert found["status"] == "fail" and found["details"]["copied_tasks"] == ["arc_easy", "boolq", "gsm8k"]
    assert "3 of 5 tasks have the baseline's results in the candidate run" in found["message"]
    ev = json.loads((tmp_path / "out" / "evidence.json").read_text())
    tasks = ev["lm_eval"]["tasks"]
    assert tasks["gsm8k"]["max_abs_score_difference"] is None and 0 < tasks["boolq"]["max_abs_score_difference"] < 1e-6
    assert tasks["mmlu_anatomy"]["max_abs_score_difference"] > 1e-3
    # the same release with the pruned run's own files passes this rule
    code, _, _ = run(capsys, "check", llm / "release.yaml", "--out", tmp_path / "own")
    own = json.loads((tmp_path / "own" / "verdict.json").read_text())
    assert [f["status"] for f in own["findings"] if f["rule_id"] == "LLM-ID-001"] == ["pass"]


def test_responses_written_as_numbers_read_the_same_as_the_harness_text(llm, tmp_path, evidence):
    """The harness' tracker writes each [loglikelihood, is_greedy] as two strings (sanitize_list); other writers
    (the evaluator's own values, older or patched harnesses) keep numbers: both are multiple choice, same numbers."""
    rel = _broken_copy(llm, tmp_path)
    for run_name in ("dense", "pruned"):
        for path in (rel / "runs" / run_name).glob("samples_*.jsonl"):
            lines = [json.loads(line) for line in path.read_text().splitlines()]
            for line in lines:
                if isinstance(line["filtered_resps"][0], list):
                    line["filtered_resps"] = [[float(ll), greedy == "True"] for ll, greedy in line["filtered_resps"]]
            path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    assert '"filtered_resps": [[-' in _pruned(rel, "boolq").read_text()
    ev = collect(load_manifest(rel / "release.yaml"))
    assert ev.lm_eval.tasks == {name: task.model_copy(update={"files": ev.lm_eval.tasks[name].files})
                                for name, task in evidence.lm_eval.tasks.items()}
    assert ev.lm_eval.slices == evidence.lm_eval.slices
    assert ev.calibration.models == evidence.calibration.models


def test_a_log_likelihood_written_as_text_that_is_not_a_number_is_exit_2(llm, tmp_path, capsys):
    rel = _broken_copy(llm, tmp_path)
    path = _pruned(rel, "arc_easy")
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    lines[4]["filtered_resps"][1][0] = "n/a"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    code, _, err = run(capsys, "check", rel / "release.yaml", "--out", tmp_path / "out")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "filtered_resps" in err and "Traceback" not in err
