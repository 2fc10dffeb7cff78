"""The audit report of an lm_eval release shows the paired tests per capability, group and task (accuracy of both
runs, flips, exact McNemar p), the largest losses first and bounded per dimension."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from governance.engine import evaluate
from governance.evidence.collect import collect
from governance.manifest import load_manifest
from governance.policy import load_policy, resolve_policy_ref
from governance.render import RENDERERS, RenderContext
from governance.render.view.measurements import PAIRED_TESTS_SHOWN, paired_tests

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "llm" / "release.yaml"


@pytest.fixture(scope="module")
def evidence():
    return collect(load_manifest(EXAMPLE))


def test_rows_follow_the_evidence_largest_loss_first(evidence):
    view = paired_tests(evidence)
    assert view is not None
    rows = view["rows"]
    assert rows[0]["dimension"] == "overall" and rows[0]["mcnemar_p"] == evidence.lm_eval.overall.mcnemar_p
    knowledge = next(r for r in rows if (r["dimension"], r["value"]) == ("capability", "knowledge"))
    test = evidence.lm_eval.slices["capability"]["knowledge"]
    assert (knowledge["broken"], knowledge["fixed"], knowledge["mcnemar_p"]) == (test.broken, test.fixed,
                                                                                 test.mcnemar_p)
    for dim in ("capability", "group", "task"):
        diffs = [r["difference"] for r in rows if r["dimension"] == dim]
        assert diffs == sorted(diffs) and len(diffs) <= PAIRED_TESTS_SHOWN
    shown = sum(r["dimension"] != "overall" for r in rows)
    assert shown + view["hidden"] == sum(len(v) for d, v in evidence.lm_eval.slices.items()
                                         if d in ("capability", "group", "task"))


def test_the_audit_report_has_the_table_and_a_classifier_report_does_not(evidence):
    policy = load_policy(resolve_policy_ref("builtin:pruned-llm", None, None))
    verdict = evaluate(policy, evidence, date(2026, 12, 2))
    html = RENDERERS["audit_report.html"](RenderContext(evidence, verdict)).decode()
    assert "Paired tests per capability, group and task" in html and "capability=<wbr>knowledge" in html
    from governance.render.sample import sample_evidence, sample_verdict

    other = sample_evidence(slices=3)
    assert paired_tests(other) is None
    report = RENDERERS["audit_report.html"](RenderContext(other, sample_verdict(other))).decode()
    assert "Paired tests per" not in report


def test_the_model_card_lists_one_hub_result_per_harness_task(evidence):
    """Leaderboards list a pruned LLM per task: the card's model-index has the whole set plus one result per task
    (dataset: the harness task, metric: the per-sample metric judged), read back by huggingface_hub."""
    from huggingface_hub import ModelCard

    policy = load_policy(resolve_policy_ref("builtin:pruned-llm", None, None))
    verdict = evaluate(policy, evidence, date(2026, 12, 2))
    card = ModelCard(RENDERERS["model_card.md"](RenderContext(evidence, verdict)).decode())
    per_task = {r.dataset_type: r for r in card.data.eval_results if r.dataset_type in evidence.lm_eval.tasks}
    assert set(per_task) == set(evidence.lm_eval.tasks)
    for task, info in evidence.lm_eval.tasks.items():
        result = per_task[task]
        assert result.metric_type == info.metric and result.task_type == "text-generation"
        assert result.metric_value == round(evidence.models["candidate"].slices["task"][task]["accuracy"], 4)
    assert per_task["gsm8k"].metric_name == "exact_match (strict-match)" and per_task["boolq"].metric_name == "acc"
