"""Stable segment ids (pintel.segments.ids): a previous run's ids are kept, a new behaviour gets a fresh one."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import adjusted_rand_score

from pintel.segments import SegmentResult, discover_segments
from tests.segments.personas import PERSONAS, make_users, segment_ids_of


def test_previous_run_keeps_ids_on_a_subsample(users: tuple[pd.DataFrame, np.ndarray], result: SegmentResult) -> None:
    frame, _ = users
    sample = frame.sample(frac=0.95, random_state=1)
    # `previous` as the warehouse would give it back: a plain centroids DataFrame
    rerun = discover_segments(sample, seed=7, previous=result.centroids.copy())
    before = segment_ids_of(result).loc[sample.index]
    after = segment_ids_of(rerun).loc[sample.index]
    assert adjusted_rand_score(before, after) >= 0.95
    assert (before == after).mean() >= 0.95
    assert set(rerun.profiles.index) == set(result.profiles.index)


def test_new_cluster_gets_a_fresh_id() -> None:
    without_buyers, _ = make_users(1200, seed=3, personas=("power", "casual", "dormant", "mobile"))
    first = discover_segments(without_buyers, k_range=[4], seed=0)
    full, truth = make_users(1500, seed=4)
    second = discover_segments(full, k_range=[5], seed=0, previous=first)
    labels = segment_ids_of(second).loc[full.index].to_numpy()
    buyer = list(PERSONAS).index("buyer")
    new_id = pd.Series(labels[truth == buyer]).mode().iloc[0]
    assert new_id == 4  # above every previous id (0..3), never a reused one
    assert set(second.profiles.index) == {0, 1, 2, 3, 4}
