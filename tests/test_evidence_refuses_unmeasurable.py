"""Fail closed on evidence no measurement could give: a NaN, an infinity, an accuracy of 1.5 or a count of -5 in
evidence.json is refused (exit 2, one line naming the file and the field, nothing written), never decided on. A NaN
compares false with every limit, so before this ``governance evaluate`` said PASS for a candidate accuracy of NaN,
Infinity or 1.5."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from builders import run

from governance.evidence.efficiency import latency_stats
from governance.evidence.recovery import recovery
from governance.evidence.schema import Evidence, check_metric_values
from governance.ranges import METRIC_RANGES, Range


@pytest.fixture(scope="module")
def saved(release_dir, tmp_path_factory) -> Path:
    """A passing release's evidence.json."""
    out = tmp_path_factory.mktemp("checked")
    from governance.cli import main

    assert main(["check", str(release_dir / "release.yaml"), "--out", str(out), "--quiet"]) == 0
    return out / "evidence.json"


def _evaluate(capsys, release_dir: Path, evidence: Path, out: Path) -> tuple[int, str]:
    code, _, err = run(capsys, "evaluate", "--evidence", evidence, "--policy", release_dir / "policy.yaml",
                       "--out", out, "--quiet")
    return code, err


def _set(tree: dict, path: str, value) -> None:
    keys = path.split("/")
    for k in keys[:-1]:
        tree = tree[k]
    tree[keys[-1]] = value


def test_the_untouched_evidence_still_passes(saved, release_dir, tmp_path, capsys):
    code, err = _evaluate(capsys, release_dir, saved, tmp_path / "out")
    assert code == 0, err  # the refusals below are about the edits, not about evidence.json itself


@pytest.mark.parametrize(("path", "value", "says"), [
    ("models/candidate/overall/accuracy", math.nan, "finite number"),
    ("models/candidate/overall/accuracy", math.inf, "finite number"),
    ("models/candidate/overall/accuracy", "NaN", "finite number"),  # a string pydantic would read as a float
    ("models/candidate/overall/accuracy", 1.5, "accuracy = 1.5 is outside"),
    ("models/candidate/overall/recall", -0.2, "recall = -0.2 is outside"),
    ("models/candidate/overall/log_loss", -1.0, "log_loss = -1.0 is outside"),
    ("models/candidate/overall/count", -5, "count = -5 is not a count"),
    ("models/candidate/overall/count", 2.5, "count = 2.5 is not a count"),
    ("models/candidate/slices/group/a/accuracy", 7.0, "slices.group.a: accuracy = 7.0"),
    ("models/baseline/fairness/group/equalized_odds_difference", 2.0, "fairness.group"),
    ("comparisons/overall/accuracy/candidate", 1.25, "difference = "),  # no longer candidate - baseline
    ("comparisons/overall/accuracy/difference", math.nan, "finite number"),
    ("agreement/max_abs_score_difference", math.inf, "finite number"),
    # the documents divide these (the candidate's sparsity): text was an internal error in the renderer
    ("models/candidate/description/parameters", "10", "description.parameters must be a count"),
    ("models/candidate/description/nonzero_parameters", True, "description.nonzero_parameters must be a count"),
    ("models/candidate/description/bytes", -1, "description.bytes must be a count"),
    # a sign-off without a role was a KeyError inside the attestation rule
    ("approvals", [{"name": "Dana Roe", "date": "2026-01-01", "statement": "ok", "candidate_sha256": "0" * 64}],
     "approvals[0] lacks role"),
])
def test_a_value_no_measurement_gives_is_exit_2_naming_the_field(saved, release_dir, tmp_path, capsys,
                                                                 path, value, says):
    tree = json.loads(saved.read_text())
    _set(tree, path, value)
    bad = tmp_path / "evidence.json"
    bad.write_text(json.dumps(tree))  # json writes NaN and Infinity as the bare literals Python reads back
    code, err = _evaluate(capsys, release_dir, bad, tmp_path / "out")
    assert code == 2, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert "evidence.json" in err and says in err, err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_every_rule_metric_has_a_range_and_the_check_spares_unknown_names():
    from governance.metrics import FAIRNESS_METRICS, METRICS, REGRESSION_FAIRNESS_METRICS, REGRESSION_METRICS

    known = {*METRICS, *REGRESSION_METRICS, *FAIRNESS_METRICS, *REGRESSION_FAIRNESS_METRICS}
    assert known <= set(METRIC_RANGES)  # the table the policy lint reads too (rules/limits.py)
    assert METRIC_RANGES["mean_error"] == Range(-math.inf, math.inf)  # a bias has any sign and size
    check_metric_values({"count": 3, "accuracy": 1.0, "mean_error": -1e9, "perplexity": 1e6, "r2": -40.0}, "x")
    with pytest.raises(ValueError, match=r"r2 = 1\.5"):
        check_metric_values({"r2": 1.5}, "x")


def test_the_producers_never_write_an_infinity():
    # a latency below the timer's resolution is still a finite throughput, not inf (which the schema refuses)
    assert math.isfinite(latency_stats(4096, [0, 0, 0]).rows_per_s)
    assert recovery("mae", 1.0, 5e-324) is None  # baseline / a subnormal candidate would be inf
    assert recovery("accuracy", 0.8, 0.4) == pytest.approx(0.5)


def test_the_schema_refuses_nan_in_memory_too(saved):
    tree = json.loads(saved.read_text())
    tree["models"]["candidate"]["overall"]["accuracy"] = math.nan
    with pytest.raises(ValueError, match="finite number"):
        Evidence.model_validate(tree)


def _no_slices(tree: dict) -> None:
    for role in ("baseline", "candidate"):
        tree["models"][role]["slices"] = {}


def _one_model_lacks_a_slice(tree: dict) -> None:
    tree["models"]["candidate"]["slices"]["group"].pop("a")


def _undeclared_dimension(tree: dict) -> None:
    for role in ("baseline", "candidate"):
        tree["models"][role]["slices"]["made up"] = tree["models"][role]["slices"]["group"]


@pytest.mark.parametrize(("edit", "says"), [
    (_no_slices, "no slices of dimensions that evidence.dimensions declares"),
    (_one_model_lacks_a_slice, "slices differ"),
    (_undeclared_dimension, "does not declare: made up"),
])
def test_slices_the_two_models_do_not_share_are_exit_2_not_a_rule_error(saved, release_dir, tmp_path, capsys,
                                                                        edit, says):
    tree = json.loads(saved.read_text())
    edit(tree)
    bad = tmp_path / "evidence.json"
    bad.write_text(json.dumps(tree))
    code, err = _evaluate(capsys, release_dir, bad, tmp_path / "out")
    assert code == 2 and says in err and len(err.strip().splitlines()) == 1, err
