"""Grouping (pintel.incidents.grouping): runs, the chain rule, one incident per cause, rebounds."""

from __future__ import annotations

import pandas as pd
import pytest

from pintel.incidents import group_incidents, metric_incidents
from tests.incidents.synthetic import DROP_AT, anomaly_rows, signup_burst


def test_overall_anomaly_and_its_segment_become_one_incident(detected: pd.DataFrame) -> None:
    flagged = detected[detected["is_anomaly"]]
    window = flagged[flagged["ts"].between(pd.Timestamp(DROP_AT), pd.Timestamp(DROP_AT) + pd.Timedelta(hours=2))]
    assert window["segment_dim"].isna().any()  # the overall metric is flagged too
    incidents = group_incidents(window)
    assert len(incidents) == 1
    incident = incidents.iloc[0]
    assert incident["cause"] == "platform=android"
    assert incident["start"] == pd.Timestamp(DROP_AT)
    assert incident["direction"] == "drop"
    assert incident["severity"] == "critical"
    assert set(incident["metrics"].split(",")) <= {"events", "active_users"}
    assert "overall" in incident["segments"]
    # deterministic id, and the same result from the full detector output (is_anomaly filter)
    assert group_incidents(window)["incident_id"].iloc[0] == incident["incident_id"]
    full = group_incidents(detected)
    assert incident["incident_id"] in set(full["incident_id"])


def test_unrelated_anomalies_stay_separate_incidents() -> None:
    ts = pd.date_range("2024-03-01 10:00", periods=3, freq="h")
    later = pd.date_range("2024-03-02 10:00", periods=2, freq="h")
    rows = pd.concat(
        [
            pd.DataFrame({"metric": "events", "segment_dim": "platform", "segment_value": "android", "ts": ts}).assign(
                score=-8.0, observed=40.0, expected=100.0
            ),
            pd.DataFrame({"metric": "signups", "segment_dim": None, "segment_value": None, "ts": later}).assign(
                score=6.0, observed=300.0, expected=120.0
            ),
        ],
        ignore_index=True,
    )
    incidents = group_incidents(rows)
    assert list(incidents["cause"]) == ["platform=android", "overall"]
    assert list(incidents["direction"]) == ["drop", "spike"]
    assert incidents["incident_id"].is_unique
    assert group_incidents(rows.iloc[0:0]).empty
    with pytest.raises(ValueError, match="columns"):
        group_incidents(rows.drop(columns="score"))


def test_rebound_after_a_long_incident_is_not_a_new_incident() -> None:
    day = list(range(24))
    frame = pd.concat(
        [
            anomaly_rows("events", "event_name", "report_created", day, 60.0, 0.0, score=-9.0),
            anomaly_rows("active_users", "event_name", "report_created", day, 30.0, 0.0, score=-8.0),
            anomaly_rows("events", "event_name", "report_created", [25, 26, 27], 30.0, 2.0, score=5.0),
        ],
        ignore_index=True,
    )
    out = metric_incidents(frame, charts=False)
    assert list(out["direction"]) == ["drop"]
    # a spike of the same segment that is stronger than the drop before it is an incident of its own
    frame.loc[frame["score"].eq(5.0), "score"] = 12.0
    assert list(metric_incidents(frame, charts=False)["direction"]) == ["drop", "spike"]


def test_group_incidents_splits_a_drop_followed_by_a_spike() -> None:
    """Change in pintel.incidents.group_incidents: runs and incidents never mix directions."""
    frame = pd.concat(
        [
            anomaly_rows("signups", "channel", "paid_social", [0, 1], 4.0, 0.0, score=-5.0),
            anomaly_rows("signups", "channel", "paid_social", [3, 4, 5], 4.0, 5.0, score=7.0),
        ],
        ignore_index=True,
    )
    out = group_incidents(frame)
    assert list(out["direction"]) == ["drop", "spike"]
    assert out["incident_id"].is_unique


def test_concurrent_causes_carrying_one_deviation_are_one_incident() -> None:
    """android and paid_social are separate chain-rule roots, but 35 % + 95 % of one total's deviation cannot
    come from two disjoint sets of users: one incident, whose cause is decided once (paid_social)."""
    frame = signup_burst(android=(0.8, 7.8 / 0.8, 5.0))
    chain_rule = group_incidents(frame[frame["is_anomaly"]])
    assert sorted(chain_rule["cause"]) == ["channel=paid_social", "platform=android"]
    out = metric_incidents(frame, charts=False)
    assert list(out["cause"]) == ["channel=paid_social"]
    assert {"channel=paid_social", "platform=android", "overall"} <= set(out.iloc[0]["segments"].split(","))
    # a smaller android move that two disjoint sets of users can carry (20 % + 95 %) stays its own incident
    separate = metric_incidents(signup_burst(android=(0.8, 4.8 / 0.8, 5.0)), charts=False)
    assert sorted(separate["cause"]) == ["channel=paid_social", "platform=android"]
