"""Segment discovery (pintel.segments.discover, clustering, naming, result) on seeded synthetic personas."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from pintel.segments import SegmentResult, discover_segments
from tests.segments.personas import segment_ids_of


def test_recovers_personas(users: tuple[pd.DataFrame, np.ndarray], result: SegmentResult) -> None:
    frame, truth = users
    assert result.k == 5
    assert list(result.criterion.index) == list(range(3, 9))
    assert result.criterion.idxmax() == 5
    assert adjusted_rand_score(truth, segment_ids_of(result).loc[frame.index]) >= 0.6


def test_outputs_are_consistent(users: tuple[pd.DataFrame, np.ndarray], result: SegmentResult) -> None:
    frame, _ = users
    assignments, profiles = result.assignments, result.profiles
    assert list(assignments.columns) == ["user_id", "segment_id", "segment_name"]
    assert assignments["user_id"].tolist() == frame.index.tolist()
    assert assignments["segment_id"].dtype.kind == "i"
    assert sorted(profiles.index) == sorted(assignments["segment_id"].unique()) == list(range(5))
    assert profiles["size"].sum() == len(frame)
    assert profiles["share"].sum() == pytest.approx(1.0)
    assert profiles["segment_name"].is_unique
    assert set(frame.columns) <= set(profiles.columns)
    # ids 0..k-1 by decreasing size when there is no previous run
    assert profiles["size"].is_monotonic_decreasing
    # the most active segment is named after what distinguishes it
    power = profiles["sessions_per_week"].idxmax()
    assert profiles.loc[power, "segment_name"].startswith("high ")
    assert list(result.centroids.columns) == ["segment_id", "segment_name", "feature", "transform", "center"]
    assert len(result.centroids) == 5 * frame.shape[1]
    logged = set(result.centroids.loc[result.centroids["transform"] == "log1p", "feature"])
    assert {"sessions_per_week", "purchases"} <= logged  # the skewed counts
    assert "share_mobile" not in logged


def test_same_seed_gives_identical_result(users: tuple[pd.DataFrame, np.ndarray], result: SegmentResult) -> None:
    again = discover_segments(users[0], seed=0)
    pd.testing.assert_frame_equal(again.assignments, result.assignments)
    pd.testing.assert_frame_equal(again.centroids, result.centroids)
