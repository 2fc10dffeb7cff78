"""robustness_drop: under a perturbation the candidate may lose at most ``max_extra_drop`` more than the baseline."""

from __future__ import annotations

from builders import OVERALL_B, OVERALL_C, evidence, one, with_sections

from governance.evidence.schema import Robustness, RobustnessLevel, UnmeasuredLevel
from governance.findings import Status

ROB = Robustness(seed=0, features=["x"], levels=[
    RobustnessLevel(perturbation="gaussian", level=0.1, rows=500, accuracy={"baseline": 0.88, "candidate": 0.86},
                    drop={"baseline": 0.02, "candidate": 0.03}, extra_drop=0.01),
    RobustnessLevel(perturbation="gaussian", level=0.3, rows=500, accuracy={"baseline": 0.8, "candidate": 0.72},
                    drop={"baseline": 0.1, "candidate": 0.17}, extra_drop=0.07)])


def test_robustness_drop_fails_when_the_worst_level_loses_too_much():
    ev = with_sections(evidence(OVERALL_B, OVERALL_C), robustness=ROB)
    assert one({"kind": "robustness_drop", "max_extra_drop": 0.05}, ev).status == Status.FAIL


def test_robustness_drop_passes_within_the_limit_or_at_a_chosen_level():
    ev = with_sections(evidence(OVERALL_B, OVERALL_C), robustness=ROB)
    assert one({"kind": "robustness_drop", "max_extra_drop": 0.05, "level": 0.1}, ev).status == Status.PASS
    assert one({"kind": "robustness_drop", "max_extra_drop": 0.1}, ev).status == Status.PASS


def test_robustness_without_the_measurement_is_an_error_naming_what_was_measured():
    ev = with_sections(evidence(OVERALL_B, OVERALL_C), robustness=ROB)
    missing = one({"kind": "robustness_drop", "max_extra_drop": 0.1, "perturbation": "fgsm"}, ev)
    assert missing.status == Status.ERROR and "gaussian 0.1" in missing.message
    unmeasured = one({"kind": "robustness_drop", "max_extra_drop": 0.1}, evidence(OVERALL_B, OVERALL_C))
    assert unmeasured.status == Status.ERROR


def test_a_level_the_models_could_not_be_scored_at_is_an_error_not_skipped():
    """NaN scores on the sigma-3 copy: judging only sigma 0.1 and 0.3 would pass without the worst level."""
    rob = ROB.model_copy(update={"unmeasured": [UnmeasuredLevel(
        perturbation="gaussian", level=3.0,
        why="the baseline model on the copy perturbed at gaussian 3: model returned NaN or infinite scores")]})
    ev = with_sections(evidence(OVERALL_B, OVERALL_C), robustness=rob)
    f = one({"kind": "robustness_drop", "max_extra_drop": 0.1}, ev)
    assert f.status == Status.ERROR and "gaussian 3" in f.message and "NaN" in f.message
    assert one({"kind": "robustness_drop", "max_extra_drop": 0.1, "level": 3.0}, ev).status == Status.ERROR
    assert one({"kind": "robustness_drop", "max_extra_drop": 0.05, "level": 0.1}, ev).status == Status.PASS
