"""Fail closed on every section of evidence.json, not only the metric tables: a negative ECE, a size reduction of
500%, a leakage share of -50%, a count of -3 personal-data matches, a confidence level of 7, an interval whose low
end is above its high end, or a stored figure that disagrees with the counts it repeats (a difference that is not
candidate - baseline, a share that is not rows / evaluation rows) is refused: exit 2, one line naming the file and
the field, nothing written. Before this, ``governance evaluate`` on the default pack said PASS for every one of
them (``builtin:nist-ai-rmf`` reads calibration, efficiency, robustness, leakage, personal data, data quality)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import planted
import pytest
from builders import run
from pydantic import ValidationError

from governance.cli import main


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> Path:
    """The planted suite's clean twin, gated on the default pack: evidence.json with every section filled."""
    from governance.render import RENDERERS

    shared = planted.train_shared()
    folder = tmp_path_factory.mktemp("clean")
    release = planted.write_release(shared, folder / "release", planted.clean(shared))
    out = folder / "out"
    with pytest.MonkeyPatch.context() as mp:
        mp.delitem(RENDERERS, "audit_report.pdf")  # the layout plays no part in what is tested here
        assert main(["check", str(release), "--out", str(out), "--quiet", "--today", planted.TODAY]) == 0
    return out / "evidence.json"


def _evaluate(capsys, evidence: Path, out: Path) -> tuple[int, str]:
    code, _, err = run(capsys, "evaluate", "--evidence", evidence, "--policy", "builtin:nist-ai-rmf",
                       "--out", out, "--quiet", "--today", planted.TODAY)
    return code, err


def _set(tree: Any, path: str, value: Any) -> None:
    """Replace the value at ``path`` (keys and list indices joined by '/'); the key must already be there, so a
    case cannot pass by adding a field the schema ignores."""
    *parents, last = path.split("/")
    for key in parents:
        tree = tree[int(key)] if isinstance(tree, list) else tree[key]
    if isinstance(tree, list):
        tree[int(last)] = value
    else:
        assert last in tree, f"{path}: not in the evidence"
        tree[last] = value


def test_the_untouched_evidence_passes_the_default_pack(saved, tmp_path, capsys):
    tree = json.loads(saved.read_text())
    for section in ("calibration", "efficiency", "robustness", "leakage", "pii", "data_quality", "comparisons"):
        assert tree.get(section), f"the clean twin's evidence has no {section}: the cases below test nothing"
    with pytest.MonkeyPatch.context() as mp:
        from governance.render import RENDERERS

        mp.delitem(RENDERERS, "audit_report.pdf")
        code, err = _evaluate(capsys, saved, tmp_path / "out")
    assert code == 0, err  # so every refusal below is the edit's


CASES = [
    # (path, value, what the message says): ranges
    ("calibration/models/candidate/ece", -0.5, "-0.5 is outside the values it can take [0, 1]"),
    ("calibration/models/candidate/brier", -1.0, "outside the values it can take [0, 2]"),
    ("calibration/models/candidate/count", -3, "greater than or equal to 0"),
    ("calibration/models/candidate/reliability/accuracy/0", 1.5, "outside the values it can take [0, 1]"),
    ("robustness/levels/0/accuracy/candidate", 2.0, "outside the values it can take [0, 1]"),
    ("robustness/levels/0/drop/candidate", -3.0, "outside the values it can take [-1, 1]"),
    ("efficiency/size_reduction", 5.0, "outside the values it can take (-inf, 1]"),
    ("efficiency/compression_ratio", -1.0, "outside the values it can take [0, inf)"),
    ("efficiency/models/candidate/bytes_gzip", -5, "greater than or equal to 0"),
    ("efficiency/models/candidate/sparsity", 1.5, "outside the values it can take [0, 1]"),
    ("leakage/datasets/train/overlap_share", -0.5, "outside the values it can take [0, 1]"),
    ("leakage/datasets/train/overlap_rows", -10, "greater than or equal to 0"),
    ("pii/rows_sampled", -1, "greater than or equal to 0"),
    ("data_quality/duplicate_share", -1.0, "outside the values it can take [0, 1]"),
    ("data_quality/columns/x0/missing", -4, "greater than or equal to 0"),
    ("agreement/same_prediction", 1.5, "outside the values it can take [0, 1]"),
    ("agreement/broken", -5, "greater than or equal to 0"),
    ("data/rows", -1, "greater than or equal to 0"),
    ("comparisons/confidence", 7.0, "outside the values it can take (0, 1)"),
    ("comparisons/confidence", 1.0, "outside the values it can take (0, 1)"),
    ("comparisons/resamples", -1, "greater than or equal to 0"),
    ("comparisons/overall/accuracy/difference_ci", {"ci_low": 0.5, "ci_high": -0.5}, "ci_low = 0.5 is above"),
    # stored figures that repeat others
    ("comparisons/overall/accuracy/difference", 0.4, "is not candidate - baseline"),
    ("efficiency/size_reduction", 0.99, "is not 1 - candidate / baseline bytes_gzip"),
    ("robustness/levels/0/extra_drop", -0.5, "is not drop.candidate - drop.baseline"),
    ("data_quality/duplicate_share", 0.5, "is not duplicate / rows"),
    ("agreement/fixed", 10**9, "is more than the"),
]


@pytest.mark.parametrize(("path", "value", "says"), CASES, ids=[f"{p}={v}" for p, v, _ in CASES])
def test_an_edited_section_is_exit_2_naming_the_field(saved, tmp_path, capsys, path, value, says):
    tree = json.loads(saved.read_text())
    if path.startswith("leakage/datasets/train/"):
        name = next(iter(tree["leakage"]["datasets"]))  # the provenance's training set, whatever its name
        path = path.replace("/train/", f"/{name}/")
    _set(tree, path, value)
    bad = tmp_path / "evidence.json"
    bad.write_text(json.dumps(tree))
    code, err = _evaluate(capsys, bad, tmp_path / "out")
    assert code == 2, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert "evidence.json" in err and says in err and "Value error" not in err, err
    top = path.split("/")[0]
    assert f": {top}" in err, err  # the field is named, from its section down
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def _a_slice(tree: dict[str, Any]) -> tuple[str, str]:
    """The first sensitive dimension and its first slice in the evidence."""
    dim = next(d for d in tree["dimensions"] if d != "class")
    return dim, next(iter(tree["models"]["candidate"]["slices"][dim]))


def _slice_count(tree, *roles, by=1):
    dim, value = _a_slice(tree)
    for role in roles:
        tree["models"][role]["slices"][dim][value]["count"] += by


def _both_overall(tree, by):
    for role in ("baseline", "candidate"):
        tree["models"][role]["overall"]["count"] += by


def _first_pii_column(tree):
    column = next(iter(tree["pii"]["columns"].values()))
    column["sampled"] = tree["pii"]["rows_sampled"] + 1


ROW_CASES = [
    # (what is edited, the edit, what the message says): counts of the same rows in two places
    ("one model's slice count", lambda t: _slice_count(t, "candidate", by=-1), "both count the same rows"),
    ("both models' slice count raised past the rows", lambda t: _slice_count(t, "baseline", "candidate"),
     "more than the whole set's"),
    ("one model's overall count", lambda t: t["models"]["baseline"]["overall"].update(count=7),
     "is more than models.baseline.overall.count = 7"),
    ("both overall counts past data.rows", lambda t: _both_overall(t, 1), "is more than data.rows"),
    ("agreement rows", lambda t: t["agreement"].update(rows=t["agreement"]["rows"] - 1),
     "agreement.rows = "),
    ("calibration count", lambda t: t["calibration"]["models"]["candidate"].update(
        count=t["calibration"]["models"]["candidate"]["count"] - 1), "reliability.count adds up to"),
    ("robustness rows", lambda t: t["robustness"]["levels"][0].update(rows=t["data"]["rows"] + 1),
     "robustness.levels.0.rows = "),
    ("personal-data sample", _first_pii_column, "is more than pii.rows_sampled"),
    ("a dimension of an undeclared column", lambda t: t["dimensions"].update({_a_slice(t)[0]: ["nope"]}),
     "joins columns that data.sensitive does not name: nope"),
    ("a sensitive column dropped", lambda t: t["data"].update(sensitive=t["data"]["sensitive"][1:]),
     "joins columns that data.sensitive does not name"),
    ("a slice's accuracy deleted", lambda t: t["models"]["candidate"]["slices"][_a_slice(t)[0]][_a_slice(t)[1]].pop(
        "accuracy"), "accuracy is missing or null over"),
    ("a slice's true positive rate past 1", lambda t: t["models"]["candidate"]["slices"][_a_slice(t)[0]][
        _a_slice(t)[1]].update(true_positive_rate=3.0), "true_positive_rate = 3.0 is outside"),
    # the files the sign-off and provenance rules read are the files that were measured
    ("the candidate file a sign-off is checked against", lambda t: t["inputs"]["candidate"].update(sha256="a" * 64),
     "inputs.candidate.sha256 = aaaaaaaaaaaa… but models.candidate.file.sha256"),
    ("the evaluation data provenance is checked against", lambda t: t["inputs"]["data"].update(sha256="b" * 64),
     "inputs.data.sha256 = bbbbbbbbbbbb… but data.file.sha256"),
    ("the candidate's input entry deleted", lambda t: t["inputs"].pop("candidate"), "inputs has no 'candidate' entry"),
    # sections that cover every column the release reads: a column deleted from them hides what was found there
    ("a column deleted from the personal-data scan", lambda t: t["pii"]["columns"].pop(t["data"]["features"][0]),
     "pii.columns has no entry for"),
    ("a column deleted from data quality", lambda t: t["data_quality"]["columns"].pop(t["data"]["target"]),
     "data_quality.columns has no entry for"),
]


@pytest.mark.parametrize(("what", "edit", "says"), ROW_CASES, ids=[w for w, _, _ in ROW_CASES])
def test_counts_of_the_same_rows_must_agree(saved, tmp_path, capsys, what, edit, says):
    """Both models are scored on the same rows, a dimension's slices are disjoint, calibration and agreement are
    taken over those rows: a count that disagrees with its twin (a thin slice raised past min_slice_size, a failing
    one lowered under it) is refused, not judged."""
    tree = json.loads(saved.read_text())
    edit(tree)
    bad = tmp_path / "evidence.json"
    bad.write_text(json.dumps(tree))
    code, err = _evaluate(capsys, bad, tmp_path / "out")
    assert code == 2 and len(err.strip().splitlines()) == 1 and says in err and "Value error" not in err, err


def test_a_metric_range_is_checked_when_the_difference_agrees(saved, tmp_path, capsys):
    """An accuracy of 1.25 edited together with its difference: the range check, not the consistency one."""
    tree = json.loads(saved.read_text())
    comparison = tree["comparisons"]["overall"]["accuracy"]
    comparison["candidate"] = 1.25
    comparison["difference"] = 1.25 - comparison["baseline"]
    bad = tmp_path / "evidence.json"
    bad.write_text(json.dumps(tree))
    code, err = _evaluate(capsys, bad, tmp_path / "out")
    assert code == 2 and "overall (candidate): accuracy = 1.25 is outside" in err, err


# -- the sections the default pack's check does not fill (lm_eval, production): the schema models themselves --

def _paired(**edit: Any) -> dict[str, Any]:
    base = {"count": 100, "baseline_accuracy": 0.8, "candidate_accuracy": 0.75, "difference": 0.75 - 0.8,
            "fixed": 2, "broken": 7, "fixed_rate": 0.02, "broken_rate": 0.07, "flip_rate": 0.09, "mcnemar_p": 0.18}
    return {**base, **edit}


@pytest.mark.parametrize(("edit", "says"), [
    ({"broken_rate": 0.0}, "broken_rate = 0.0 is not broken / count"),
    ({"difference": 0.05}, "is not candidate_accuracy - baseline_accuracy"),
    ({"mcnemar_p": 1.5}, "outside the values it can take [0, 1]"),
    ({"broken": -7}, "greater than or equal to 0"),
    ({"fixed": 60, "broken": 60, "fixed_rate": 0.6, "broken_rate": 0.6, "flip_rate": 1.2}, "[0, 1]"),
])
def test_an_lm_eval_paired_test_refuses_what_no_count_gives(edit, says):
    from governance.evidence.schema import PairedTest

    PairedTest.model_validate(_paired())  # the honest one loads
    with pytest.raises(ValidationError) as caught:
        PairedTest.model_validate(_paired(**edit))
    assert says in str(caught.value), caught.value


def test_an_lm_eval_paired_test_cannot_flip_more_documents_than_it_has():
    from governance.evidence.schema import PairedTest

    with pytest.raises(ValidationError, match="is more than the 10 documents"):
        PairedTest.model_validate(_paired(count=10, fixed=6, broken=6, fixed_rate=0.6, broken_rate=0.6,
                                          flip_rate=None))


@pytest.mark.parametrize(("model", "values", "field"), [
    ("AgreementStats", {"rows": 10, "same_prediction": 1.2, "flip_rate": 0.0, "score_js": 0.1,
                        "histograms": {"baseline": [5, 5], "candidate": [5, 5]}}, "same_prediction"),
    ("AgreementStats", {"rows": 10, "same_prediction": 1.0, "flip_rate": 0.0, "score_js": 0.1,
                        "histograms": {"baseline": [5, -5], "candidate": [5, 5]}}, "histograms"),
    ("ModelEstimate", {"rows": 10, "expected_accuracy": -0.1}, "expected_accuracy"),
    ("ModelEstimate", {"rows": 10, "expected_accuracy": 0.9, "realized_accuracy": 3.0}, "realized_accuracy"),
    ("FeatureDistance", {"method": "jensen_shannon", "distance": -0.2, "reference_rows": 5, "current_rows": 5,
                         "reference_missing_share": 0.0, "current_missing_share": 0.0, "exact": True}, "distance"),
    ("SliceShare", {"evaluation_rows": 5, "production_rows": 5, "evaluation_share": 0.5, "production_share": 1.5,
                    "share_ratio": 3.0}, "production_share"),
])
def test_the_production_sections_refuse_values_no_measurement_gives(model, values, field):
    from governance.evidence import production_agreement, production_schema, representativeness

    where = {"AgreementStats": production_agreement, "ModelEstimate": production_agreement,
             "FeatureDistance": representativeness, "SliceShare": production_schema}[model]
    with pytest.raises(ValidationError) as caught:
        getattr(where, model).model_validate(values)
    assert caught.value.errors()[0]["loc"][0] == field, caught.value


def test_production_weighted_metrics_are_range_checked():
    from governance.evidence.weighting import WeightedEvidence

    honest = {"by": ["group"], "method": "post-stratified", "resamples": 10, "seed": 0, "confidence": 0.95,
              "cells": [], "uncovered_share": 0.0,
              "overall": {"accuracy": {"baseline": 0.8, "candidate": 0.7, "difference": 0.7 - 0.8}}}
    WeightedEvidence.model_validate(honest)
    edited = {**honest, "overall": {"accuracy": {"baseline": 0.8, "candidate": 1.7, "difference": 1.7 - 0.8}}}
    with pytest.raises(ValidationError, match=r"accuracy = 1\.7 is outside"):
        WeightedEvidence.model_validate(edited)


def test_a_declared_file_the_evidence_did_not_hash_is_not_verified(saved, tmp_path, capsys):
    """provenance.files lost a dataset's hash (and provenance.unavailable says nothing): the provenance rule used
    to skip the file and pass; unverified is not verified."""
    from governance.rules.provenance import NOT_HASHED

    tree = json.loads(saved.read_text())
    name = next(iter(tree["provenance"]["files"]))
    del tree["provenance"]["files"][name]
    bad = tmp_path / "evidence.json"
    bad.write_text(json.dumps(tree))
    with pytest.MonkeyPatch.context() as mp:
        from governance.render import RENDERERS

        mp.delitem(RENDERERS, "audit_report.pdf")
        code, _ = _evaluate(capsys, bad, tmp_path / "out")
    verdict = json.loads((tmp_path / "out" / "verdict.json").read_text())
    finding = next(f for f in verdict["findings"] if f["kind"] == "provenance")
    assert code == 1 and finding["status"] == "fail", finding
    path = tree["provenance"]["declared"]["datasets"][name]["path"]
    assert NOT_HASHED.format(name=name, path=path) in json.dumps(finding), finding
