"""An event log without identify traits: every user shares plan, platform, country and channel.

Real exports often carry no traits (no ``identify`` calls): the marts then hold one value per dimension
(``channel=unknown`` for everyone), each a copy of the total. Such a segment explains nothing, so no
incident may name it -- an outage of the whole product is the overall metric's, and an event's own
incident is the event's.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pintel.incidents import metric_anomalies, metric_incidents
from pintel.incidents.series import hourly_long, informative

EVENTS = {"page_viewed": 0.5, "app_opened": 0.3, "report_created": 0.2}
SHARED = [("plan", "unknown"), ("platform", "web"), ("country", "unknown"), ("channel", "unknown")]
OUTAGE = pd.Timestamp("2025-03-17 13:00")  # a Monday afternoon, 4 hours at 40 % of normal


def _traitless_mart(days: int = 21, seed: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    hours = pd.date_range("2025-03-01", periods=24 * days, freq="h")
    profile = 1.0 + 0.6 * np.sin(2 * np.pi * (hours.hour.to_numpy() - 9) / 24)
    users_rate = 150.0 * profile
    users_rate[(hours >= OUTAGE) & (hours < OUTAGE + pd.Timedelta(hours=4))] *= 0.4
    users = rng.poisson(users_rate)
    signups = rng.poisson(0.02 * users)
    per_event = {name: rng.poisson(3.0 * p * users) for name, p in EVENTS.items()}
    event_users = {name: rng.binomial(users, 1 - np.exp(-3.0 * p)) for name, p in EVENTS.items()}
    total_events = sum(per_event.values())
    rows = []
    for dim, value in [("all", "all"), *SHARED]:
        rows.append(
            pd.DataFrame(
                {
                    "segment_dim": dim,
                    "segment_value": value,
                    "events": total_events,
                    "active_users": users,
                    "signups": signups,
                }
            )
        )
    for name in EVENTS:
        rows.append(
            pd.DataFrame(
                {
                    "segment_dim": "event_name",
                    "segment_value": name,
                    "events": per_event[name],
                    "active_users": event_users[name],
                    "signups": 0,
                }
            )
        )
    return pd.concat([r.assign(hour_at=hours) for r in rows], ignore_index=True)


def test_single_valued_dimensions_are_not_watched() -> None:
    watched = informative(hourly_long(_traitless_mart(days=3)))
    dims = set(watched["segment_dim"])
    assert dims == {"all", "event_name"}
    # a whole-population value of a dimension with other (tiny) values is the population too
    mart = _traitless_mart(days=3)
    other = mart[mart["segment_dim"].eq("channel")].assign(segment_value="referral", events=0, active_users=0)
    other.loc[other.index[:3], ["events", "active_users"]] = 1
    kept = informative(hourly_long(pd.concat([mart, other], ignore_index=True)))
    channel = set(kept.loc[kept["segment_dim"].eq("channel"), "segment_value"])
    assert channel == {"referral"}


def test_traitless_outage_is_the_overall_metrics_and_no_shared_value_is_a_cause() -> None:
    mart = _traitless_mart()
    incidents = metric_incidents(metric_anomalies(mart), charts=False)
    assert len(incidents) >= 1
    shared = {f"{d}={v}" for d, v in SHARED}
    assert not set(incidents["cause"]) & shared, incidents[["start", "cause", "segments"]]
    for segments in incidents["segments"]:
        assert not set(segments.split(",")) & shared
    outage = incidents[
        pd.to_datetime(incidents["start"]).between(OUTAGE - pd.Timedelta(hours=2), OUTAGE + pd.Timedelta(hours=4))
    ]
    assert len(outage) == 1, incidents[["start", "cause", "direction"]]
    assert outage["direction"].iloc[0] == "drop"
    assert outage["cause"].iloc[0] == "overall"
