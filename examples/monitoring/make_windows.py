"""Build two windows of production logs for the credit example's released candidate (examples/credit).

    python examples/monitoring/make_windows.py

Each window is what a serving system would log: the features, the deployed (pruned) tree's positive-class
probability as ``score``, the unpruned baseline's as ``baseline_score`` (a shadow deployment), the sensitive
columns, and the label where it has arrived. ``clean.csv`` is drawn like the evaluation data; ``drifted.csv``
comes from a population where group C (thin credit files) is half the traffic and incomes are 25% lower.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import skops.io as sio

HERE = Path(__file__).resolve().parent
CREDIT = HERE.parent / "credit"
sys.path.insert(0, str(HERE.parent))  # examples/, for the shared data generator

from synthetic import FEATURES, TARGET, make_credit_data  # noqa: E402

ROWS = 1500
TRUSTED = ["sklearn.tree._tree.Tree"]


def main() -> None:
    candidate = sio.load(CREDIT / "pruned.skops", trusted=TRUSTED)
    baseline = sio.load(CREDIT / "baseline.skops", trusted=TRUSTED)
    rng = np.random.default_rng(2026)
    windows = {"clean.csv": make_credit_data(rng, ROWS),
               "drifted.csv": make_credit_data(rng, ROWS, shares=(0.3, 0.2, 0.5))}
    windows["drifted.csv"]["income"] = (windows["drifted.csv"]["income"] * 0.75).round(1)
    for name, df in windows.items():
        df["score"] = candidate.predict_proba(df[FEATURES])[:, 1].round(6)
        df["baseline_score"] = baseline.predict_proba(df[FEATURES])[:, 1].round(6)
        df.loc[rng.random(len(df)) < 0.3, TARGET] = np.nan  # labels of 30% of the rows have not arrived yet
        df[TARGET] = df[TARGET].astype("Int64")
        df.to_csv(HERE / name, index=False)
        print(f"{name}: {len(df)} rows, {int(df[TARGET].notna().sum())} labelled")


if __name__ == "__main__":
    main()
