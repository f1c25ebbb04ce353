"""Series views (pintel.incidents.series): sparse series, trailing sums and events in user units."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pintel.incidents import IncidentConfig, metric_anomalies, metric_incidents


def test_sparse_series_are_watched_through_trailing_sums_and_events_in_user_units() -> None:
    """A signup burst (+10/hour for 8 hours on 0.3/hour) is watched in the trailing 6-hour view of the sparse series."""
    rng = np.random.default_rng(4)
    hours = pd.date_range("2024-01-01", periods=24 * 35, freq="h")
    rate = 0.3 * (1 + 0.5 * np.sin(2 * np.pi * hours.hour / 24))
    signups = rng.poisson(rate).astype(float)
    burst = (hours >= "2024-01-30 13:00") & (hours < "2024-01-30 21:00")
    signups[burst] += rng.poisson(10.0, burst.sum())
    users = rng.poisson(40 * rate).astype(float)
    events = np.array([rng.poisson(12, int(u)).sum() for u in users], dtype=float)
    frame = pd.DataFrame(
        {
            "hour_at": hours,
            "segment_dim": "all",
            "segment_value": "all",
            "active_users": users,
            "events": events,
            "signups": signups,
        }
    )
    anomalies = metric_anomalies(frame, config=IncidentConfig(daily=False))
    flagged = anomalies[anomalies["is_anomaly"]]
    assert set(flagged.loc[flagged["metric"].eq("signups"), "grain"]) == {"trailing_6h"}
    assert not anomalies["grain"][anomalies["metric"].eq("signups")].eq("hour").any()
    assert flagged["ts"].between("2024-01-30 13:00", "2024-01-31 02:00").all()  # no false alarm elsewhere
    out = metric_incidents(anomalies, charts=False)
    assert list(out["cause"]) == ["overall"] and out.iloc[0]["direction"] == "spike"
