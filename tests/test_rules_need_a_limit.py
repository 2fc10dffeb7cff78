"""A rule whose optional limits are all null would judge nothing and pass: refused at policy load, exit 2."""

from __future__ import annotations

import pytest
from builders import run, write_yaml

from governance.rules.base import NO_LIMIT


@pytest.mark.parametrize("rule, fields", [
    ({"kind": "representativeness", "max_feature_distance": None, "max_drifted_share": None, "max_share_ratio": None,
      "rmf": ["MAP 2.3"]}, "max_feature_distance, max_drifted_share, max_share_ratio"),
    ({"kind": "feature_drift", "max_distance": None, "max_drifted_share": None, "rmf": ["MEASURE 2.4"]},
     "max_distance, max_drifted_share"),
])
def test_a_rule_that_limits_nothing_is_refused(tmp_path, capsys, rule, fields):
    policy = write_yaml(tmp_path / "p.yaml", {"name": "p", "rules": [{"id": "R-1", "severity": "block", **rule}]})
    code, _, err = run(capsys, "policy", "lint", str(policy))
    assert code == 2 and NO_LIMIT.format(fields=fields) in err and "R-1" in err
    assert len(err.strip().splitlines()) == 1
