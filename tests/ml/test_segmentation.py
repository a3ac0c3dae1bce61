"""Segmentation helpers: adjusted Rand index, stable segment ids, names from the profile."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fin360 import eval as grading
from fin360.ml import segmentation


def _pairs(a, b):
    frame = pd.DataFrame({"a": a, "b": b})
    return frame.groupby(["a", "b"]).size().rename("n").reset_index()


def test_adjusted_rand_index_matches_known_values():
    same = _pairs([0, 0, 1, 1, 2, 2], ["x", "x", "y", "y", "z", "z"])
    assert grading.adjusted_rand_index(same) == pytest.approx(1.0)
    # the textbook example (Hubert & Arabie): 0.2424...
    example = _pairs([0, 0, 0, 1, 1, 1], [0, 0, 1, 1, 2, 2])
    assert grading.adjusted_rand_index(example) == pytest.approx(0.24242424, rel=1e-6)


def test_stable_ids_follow_the_champion_centroids():
    features = ["a", "b"]
    previous = {"features": features, "segments": {"7": [5.0, 5.0], "3": [0.0, 0.0]}}
    # the new clustering found the same two groups in the other order, plus a third one
    centroids = np.array([[0.1, -0.1], [9.0, -9.0], [4.9, 5.2]])
    assert segmentation.stable_ids(centroids, previous, features) == {0: 3, 1: 8, 2: 7}
    # other features: nothing to match against
    assert segmentation.stable_ids(centroids, previous, ["a", "c"]) == {0: 0, 1: 1, 2: 2}


def test_segment_names_come_from_the_strongest_differences():
    prof = pd.DataFrame(
        {
            "z_spend_travel_90d": [2.0, -0.1],
            "z_balance_wealth": [0.7, 0.2],
            "z_logins_90d": [0.1, -1.5],
        },
        index=pd.Index([0, 1], name="cluster"),
    )
    names = segmentation.segment_names(prof, ["spend_travel_90d", "balance_wealth", "logins_90d"])
    assert names == {0: "high spend travel, high balance wealth", 1: "low logins"}
