"""Build the production example: an evaluation set that under-represents group C, a production sample where
C is common, a pruned candidate that loses accuracy mostly on C, and two monitoring windows.

    python examples/production/make_example.py

Writes, next to this script:
  eval.csv             4000 held-out applicants (features, label, group, region); group C is 5% of them
  production.csv       4000 production applicants, no labels (features, group, region); group C is 40%
  baseline.skops       DecisionTreeClassifier(max_depth=10), fitted on a separate training set
  pruned.skops         the same tree cost-complexity pruned (ccp_alpha=4e-4): the release candidate
  windows/clean.csv    a week of production logs like the sample (features, group, the deployed score, label)
  windows/drifted.csv  a week after the applicant mix moved: lower incomes, higher utilisation

On the evaluation set the candidate loses a fraction of an accuracy point, so a gate that only looks there
lets it ship; re-weighted to production's group shares (post-stratification) it loses about 1.5 points. The
data come from examples/synthetic.py (one repayment rule for everyone); everything is seeded.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import skops.io as sio
from sklearn.tree import DecisionTreeClassifier

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # examples/, for the shared data generator

from synthetic import FEATURES, TARGET, make_credit_data  # noqa: E402

SEED = 11
TREE = {"max_depth": 10, "min_samples_leaf": 30, "random_state": 0}
CCP_ALPHA = 4e-4
TRAIN_SHARES, EVAL_SHARES, PRODUCTION_SHARES = (0.6, 0.3, 0.1), (0.65, 0.30, 0.05), (0.35, 0.25, 0.40)


def drifted(frame: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """The applicant mix after a shift: incomes a third lower, utilisation higher."""
    out = frame.copy()
    out["income"] = np.round(out["income"] * 0.65, 1)
    out["utilization"] = np.round(np.clip(out["utilization"] + rng.normal(0.25, 0.05, len(out)), 0, 1), 3)
    return out


def window(frame: pd.DataFrame, model: DecisionTreeClassifier) -> pd.DataFrame:
    """Production logs: features, the sensitive columns, the deployed model's score and the delayed label."""
    out = frame[[*FEATURES, "group", "region"]].copy()
    out["score"] = np.round(model.predict_proba(frame[FEATURES])[:, 1], 6)
    out[TARGET] = frame[TARGET]
    return out


def main() -> None:
    rng = np.random.default_rng(SEED)
    train = make_credit_data(rng, 40_000, shares=TRAIN_SHARES)
    evaluation = make_credit_data(rng, 4000, shares=EVAL_SHARES)
    production = make_credit_data(rng, 4000, shares=PRODUCTION_SHARES)
    baseline = DecisionTreeClassifier(**TREE).fit(train[FEATURES], train[TARGET])
    candidate = DecisionTreeClassifier(**TREE, ccp_alpha=CCP_ALPHA).fit(train[FEATURES], train[TARGET])

    evaluation.to_csv(HERE / "eval.csv", index=False)
    production.drop(columns=[TARGET]).to_csv(HERE / "production.csv", index=False)
    for name, model in (("baseline", baseline), ("pruned", candidate)):
        sio.dump(model, HERE / f"{name}.skops")
    (HERE / "windows").mkdir(exist_ok=True)
    window(make_credit_data(rng, 3000, shares=PRODUCTION_SHARES), candidate).to_csv(HERE / "windows" / "clean.csv",
                                                                                   index=False)
    shifted = drifted(make_credit_data(rng, 3000, shares=PRODUCTION_SHARES), rng)
    window(shifted, candidate).to_csv(HERE / "windows" / "drifted.csv", index=False)

    for name, data in (("eval", evaluation), ("production", production)):
        shares = data["group"].value_counts(normalize=True).sort_index().round(3).to_dict()
        print(f"{name}: {len(data)} rows, group shares {shares}")
    for name, model in (("baseline", baseline), ("pruned", candidate)):
        hit = model.predict(evaluation[FEATURES]) == evaluation[TARGET]
        by_group = {g: round(float(hit[evaluation.group == g].mean()), 4) for g in ("A", "B", "C")}
        print(f"{name:<9} nodes={model.tree_.node_count:>4} eval accuracy={hit.mean():.4f} by group {by_group}")


if __name__ == "__main__":
    main()
