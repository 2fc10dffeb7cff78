"""Build the credit example: evaluation data, a decision-tree baseline and two pruned candidates.

    python examples/credit/make_example.py

Writes, next to this script:
  eval.csv                  3000 held-out applicants (features, label, group, region)
  baseline.skops            DecisionTreeClassifier(max_depth=10), fitted on a separate training set
  pruned.skops              the same tree with mild cost-complexity pruning (the release candidate)
  pruned_aggressive.skops   the same tree pruned hard (the gate should block it)

The training set is drawn from the same generator and saved as train.parquet, so the leakage rule can check
that it shares no row with the held-out evaluation rows.
Everything is seeded, so re-running reproduces the same data (and, with the same scikit-learn version,
the same trees).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import skops.io as sio
from sklearn.metrics import accuracy_score, roc_auc_score
from sklearn.tree import DecisionTreeClassifier

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # examples/, for the shared data generator

from synthetic import FEATURES, TARGET, make_credit_data  # noqa: E402

SEED = 7
EVAL_ROWS = 3000
TRAIN_ROWS = 40_000
TREE = {"max_depth": 10, "min_samples_leaf": 30, "random_state": 0}
# Cost-complexity pruning strengths. Mild: removes most nodes at (almost) no cost. Aggressive: a stump-like tree.
CCP_ALPHA = {"pruned": 1e-4, "pruned_aggressive": 2e-3}


def describe(name: str, model: DecisionTreeClassifier, data) -> None:
    X, y = data[FEATURES], data[TARGET]
    pred = model.predict(X)
    score = model.predict_proba(X)[:, 1]
    per_group = "  ".join(
        f"{g}={accuracy_score(y[data.group == g], pred[data.group == g]):.4f}" for g in sorted(data.group.unique())
    )
    print(
        f"{name:<18} nodes={model.tree_.node_count:>4}  accuracy={accuracy_score(y, pred):.4f}  "
        f"roc_auc={roc_auc_score(y, score):.4f}  accuracy by group: {per_group}"
    )


def main() -> None:
    rng = np.random.default_rng(SEED)
    evaluation = make_credit_data(rng, EVAL_ROWS)
    train = make_credit_data(rng, TRAIN_ROWS)

    baseline = DecisionTreeClassifier(**TREE).fit(train[FEATURES], train[TARGET])
    models = {"baseline": baseline}
    for name, alpha in CCP_ALPHA.items():
        models[name] = DecisionTreeClassifier(**TREE, ccp_alpha=alpha).fit(train[FEATURES], train[TARGET])

    evaluation.to_csv(HERE / "eval.csv", index=False)
    # the training set is kept (compressed) so the leakage rule can prove it shares no row with eval.csv
    train.to_parquet(HERE / "train.parquet", index=False, compression="zstd")
    for name, model in models.items():
        sio.dump(model, HERE / f"{name}.skops")

    print(f"eval.csv: {len(evaluation)} rows, repaid share {evaluation[TARGET].mean():.3f}, "
          f"groups {evaluation.group.value_counts().sort_index().to_dict()}")
    for name, model in models.items():
        describe(name, model, evaluation)
    print("trusted_types:", sio.get_untrusted_types(file=HERE / "baseline.skops"))


if __name__ == "__main__":
    main()
