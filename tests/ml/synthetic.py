"""A small synthetic loan book: default risk falls with the bureau score, rises with utilisation."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np


def synthetic_loans(spark, n=400, informative=True, seed=7):
    rng = np.random.default_rng(seed)
    score = rng.normal(650, 60, n)
    util = rng.uniform(0, 1, n)
    pd_true = 1 / (1 + np.exp((score - 560) / 25 - 2 * util))
    label = (rng.uniform(size=n) < pd_true).astype(int)
    rate = rng.uniform(0.03, 0.12, n)  # an application term: scoring customers imputes it
    if not informative:  # a model trained on shuffled labels learns nothing
        rng.shuffle(label)
    rows = [
        (f"L{i}", f"C{i}", date(2023, 1, 1) + timedelta(days=int(i * 700 / n)), int(label[i]), True,
         "M" if i % 2 else "F", ["25-34", "35-44", "45-54"][i % 3], ["<50k", "50-100k"][i % 2], "clerk",
         float(score[i]), float(util[i]), None, float(rate[i]))
        for i in range(n)
    ]  # fmt: skip
    return spark.createDataFrame(
        rows,
        "loan_id string, customer_id string, application_date date, label_default_90dpd_12m int, "
        "is_mature boolean, gender string, age_band string, income_band string, occupation_band string, "
        "bureau_score double, credit_utilisation double, spend_90d double, interest_rate double",
    )
