"""Synthetic credit-approval data shared by the bundled examples.

Each row is an applicant: six numeric features, two sensitive columns (``group``, ``region``) and a binary
``label`` (1 = the loan was repaid). The sensitive columns are *not* model inputs; they are there so the gate
can slice the evaluation by them.

Group C (about 10% of applicants) is drawn from a slightly different part of the feature space: shorter credit
histories, a little less income, a little more utilisation. Repayment follows the same rule for everyone, but
part of that rule only matters for thin credit files, which are mostly group C. A model therefore learns that
part from few rows, and it is the first thing pruning removes: the usual way a small group ends up paying for
compression. The data do not encode any outcome per group; how much a given model loses on group C is
measured, not forced.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

FEATURES: list[str] = [
    "income",                # yearly income, thousands
    "debt_ratio",            # monthly debt payments / monthly income
    "credit_history_years",  # age of the oldest account
    "open_accounts",
    "late_payments",         # in the last 24 months
    "utilization",           # revolving balance / revolving limit
]
TARGET = "label"
SENSITIVE: list[str] = ["group", "region"]
GROUPS = ("A", "B", "C")
GROUP_SHARES = (0.6, 0.3, 0.1)


def make_credit_data(rng: np.random.Generator, n: int,
                     shares: tuple[float, float, float] = GROUP_SHARES) -> pd.DataFrame:
    """``n`` applicants drawn with ``rng``: columns FEATURES, then ``label``, ``group``, ``region``; ``shares``
    of groups A, B, C (the production example draws an evaluation set and a production sample that differ)."""
    group = rng.choice(np.array(GROUPS), size=n, p=shares)
    region = rng.choice(np.array(["north", "south"]), size=n, p=[0.55, 0.45])
    is_c = group == "C"
    is_b = group == "B"

    # Group C: shorter files, slightly lower incomes, slightly higher utilisation.
    income = rng.lognormal(mean=np.where(is_c, 3.85, np.where(is_b, 3.9, 3.95)), sigma=0.45)
    history = rng.gamma(shape=np.where(is_c, 2.2, 4.0), scale=np.where(is_c, 2.0, 2.6))
    debt_ratio = rng.beta(2.0, 5.0, size=n)
    open_accounts = rng.poisson(1.0 + 0.45 * history)
    late_payments = rng.poisson(np.where(is_c, 0.7, 0.6) + 0.04 * history)
    utilization = rng.beta(np.where(is_c, 2.4, 2.0), 3.5)

    # One repayment rule for everyone (plus noise); group and region never enter it.
    thin_file = history < 3.0
    logit = (
        0.6
        + 1.3 * (np.log(income) - 3.8)
        - 3.2 * (debt_ratio - 0.3)
        + 0.07 * np.minimum(history, 15.0)
        - 0.55 * late_payments
        - 1.2 * (utilization - 0.45)
        # thin files: high utilisation and late payments weigh much more
        - np.where(thin_file, 12.0 * np.maximum(utilization - 0.55, 0.0), 0.0)
        - np.where(thin_file & (late_payments >= 2), 1.4, 0.0)
        # but a thin file with moderate debt and several accounts is a good sign
        + np.where(thin_file & (open_accounts >= 2) & (debt_ratio < 0.25), 1.6, 0.0)
    )
    label = (rng.random(n) < 1.0 / (1.0 + np.exp(-2.0 * logit))).astype(np.int64)  # P(repaid) = sigmoid(2 logit)

    return pd.DataFrame(
        {
            "income": np.round(income, 1),
            "debt_ratio": np.round(debt_ratio, 3),
            "credit_history_years": np.round(history, 1),
            "open_accounts": open_accounts.astype(np.int64),
            "late_payments": late_payments.astype(np.int64),
            "utilization": np.round(utilization, 3),
            TARGET: label,
            "group": group,
            "region": region,
        }
    )
