"""Behavioural tests for pintel.ml.segments on seeded synthetic personas."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from pintel.ml.segments import SegmentResult, discover_segments

# Five personas: well separated on average, but with skewed counts (negative binomial / Poisson with
# lognormal intensity), overlapping tails and a few missing values, as real behavioural features are.
PERSONAS = {
    "power": dict(sessions=20, events=30, breadth=12, recency=1, purchases=1.0, mobile=0.4),
    "casual": dict(sessions=3, events=12, breadth=4, recency=6, purchases=0.05, mobile=0.5),
    "dormant": dict(sessions=0.4, events=6, breadth=1, recency=40, purchases=0.01, mobile=0.5),
    "buyer": dict(sessions=6, events=15, breadth=5, recency=3, purchases=4.0, mobile=0.3),
    "mobile": dict(sessions=12, events=5, breadth=3, recency=2, purchases=0.1, mobile=0.95),
}
WEIGHTS = {"power": 0.15, "casual": 0.3, "dormant": 0.25, "buyer": 0.1, "mobile": 0.2}


def make_users(
    n: int = 1500, seed: int = 0, personas: tuple[str, ...] = tuple(PERSONAS)
) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    weights = np.array([WEIGHTS[p] for p in personas])
    truth = rng.choice(len(personas), n, p=weights / weights.sum())
    rows = []
    for t in truth:
        p = PERSONAS[personas[t]]
        rows.append(
            {
                "sessions_per_week": rng.negative_binomial(5, 5 / (5 + p["sessions"])),
                "events_per_session": p["events"] * rng.lognormal(0, 0.35),
                "feature_breadth": rng.poisson(p["breadth"]),
                "days_since_last": rng.gamma(3, p["recency"] / 3),
                "purchases": rng.poisson(p["purchases"] * rng.lognormal(0, 0.5)),
                "share_mobile": rng.beta(p["mobile"] * 20, (1 - p["mobile"]) * 20),
            }
        )
    users = pd.DataFrame(rows, index=pd.Index([f"u{i:05d}" for i in range(n)], name="user_id"))
    users.loc[rng.random(n) < 0.03, "share_mobile"] = np.nan
    return users, truth


@pytest.fixture(scope="module")
def users() -> tuple[pd.DataFrame, np.ndarray]:
    return make_users()


@pytest.fixture(scope="module")
def result(users: tuple[pd.DataFrame, np.ndarray]) -> SegmentResult:
    return discover_segments(users[0], seed=0)


def _labels(res: SegmentResult) -> pd.Series:
    return res.assignments.set_index("user_id")["segment_id"]


def test_recovers_personas(users: tuple[pd.DataFrame, np.ndarray], result: SegmentResult) -> None:
    frame, truth = users
    assert result.k == 5
    assert list(result.criterion.index) == list(range(3, 9))
    assert result.criterion.idxmax() == 5
    assert adjusted_rand_score(truth, _labels(result).loc[frame.index]) >= 0.6


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


def test_previous_run_keeps_ids_on_a_subsample(users: tuple[pd.DataFrame, np.ndarray], result: SegmentResult) -> None:
    frame, _ = users
    sample = frame.sample(frac=0.95, random_state=1)
    # `previous` as the warehouse would give it back: a plain centroids DataFrame
    rerun = discover_segments(sample, seed=7, previous=result.centroids.copy())
    before = _labels(result).loc[sample.index]
    after = _labels(rerun).loc[sample.index]
    assert adjusted_rand_score(before, after) >= 0.95
    assert (before == after).mean() >= 0.95
    assert set(rerun.profiles.index) == set(result.profiles.index)


def test_new_cluster_gets_a_fresh_id() -> None:
    without_buyers, _ = make_users(1200, seed=3, personas=("power", "casual", "dormant", "mobile"))
    first = discover_segments(without_buyers, k_range=[4], seed=0)
    full, truth = make_users(1500, seed=4)
    second = discover_segments(full, k_range=[5], seed=0, previous=first)
    labels = _labels(second).loc[full.index].to_numpy()
    buyer = list(PERSONAS).index("buyer")
    new_id = pd.Series(labels[truth == buyer]).mode().iloc[0]
    assert new_id == 4  # above every previous id (0..3), never a reused one
    assert set(second.profiles.index) == {0, 1, 2, 3, 4}


@pytest.mark.parametrize(
    ("features", "kwargs", "message"),
    [
        (pd.DataFrame(), {}, "empty"),
        (pd.DataFrame({"a": [1.0, 2.0, 3.0]}, index=["u1", "u2", "u3"]), {}, "more users"),
        (pd.DataFrame({"a": [1.0] * 20, "b": [2.0] * 20}), {}, "constant"),
        (pd.DataFrame({"a": np.arange(20.0), "plan": ["free"] * 20}), {}, "non-numeric"),
        (pd.DataFrame({"a": np.arange(20.0)}, index=[0] * 20), {}, "duplicates"),
        (pd.DataFrame({"a": np.r_[np.inf, np.arange(19.0)]}), {}, "infinite"),
        (pd.DataFrame({"a": np.arange(20.0)}), {"k_range": [1, 2]}, ">= 2"),
        (pd.DataFrame({"a": np.arange(20.0)}), {"previous": pd.DataFrame({"x": [1]})}, "centroids"),
    ],
)
def test_bad_input_raises_clear_value_error(features: pd.DataFrame, kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        discover_segments(features, **kwargs)


def test_not_a_dataframe_raises() -> None:
    with pytest.raises(ValueError, match="DataFrame"):
        discover_segments(np.zeros((10, 2)))  # type: ignore[arg-type]
