"""Completeness and freshness for the detector: judge only complete periods; a stall is one freshness incident.

``marts.data_freshness`` (SQL, the one home of the rule) knows, per feed, the event time up to which the data is
complete (``complete_until``): for a live feed, the hour that arrivals have passed by the arrival lag most
events take; for a closed export (a historical dump, a backfill), the end of its last event's hour. Here the
metric marts are cut there before detection -- an unfinished hour, the hours after the collector stopped, a
day that has not ended, are never scored, so the end of the data is never reported as a product's drop. The
hours cut off are judged by a later build, once arrivals have passed them (each verdict is causal, so it is
the verdict an hourly job would have given).

A live feed past its error threshold (``status = stale``) is a pipeline problem, not a product one: it becomes
one incident of kind ``freshness`` (routed to data engineering by the decision engine), never a metric drop.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from pintel.quality.freshness import FEED

__all__ = ["FEED", "complete_only", "feed_row", "freshness_incident"]


def feed_row(freshness: pd.DataFrame | None, name: str = FEED) -> dict[str, Any] | None:
    """The ``data_freshness`` source row called ``name`` (None when there is no such row or no table)."""
    if freshness is None or freshness.empty:
        return None
    rows = freshness[freshness["scope"].eq("source") & freshness["name"].eq(name)]
    return None if rows.empty else rows.iloc[0].to_dict()


def _cut(frame: pd.DataFrame | None, column: str, last: pd.Timestamp) -> pd.DataFrame | None:
    if frame is None or frame.empty:
        return frame
    return frame[pd.to_datetime(frame[column]) <= last]


def complete_only(
    activity_hourly: pd.DataFrame,
    active_users_daily: pd.DataFrame | None,
    signups_daily: pd.DataFrame | None,
    freshness: pd.DataFrame | None,
) -> tuple[pd.DataFrame, pd.DataFrame | None, pd.DataFrame | None]:
    """The marts without their incomplete periods (unchanged when there is no freshness row)."""
    row = feed_row(freshness)
    if row is None or pd.isna(row["complete_until"]):
        return activity_hourly, active_users_daily, signups_daily
    last_hour = pd.Timestamp(row["last_complete_hour"])
    last_day = pd.Timestamp(row["last_complete_day"])
    hourly = _cut(activity_hourly, "hour_at", last_hour)
    assert hourly is not None
    return hourly, _cut(active_users_daily, "activity_date", last_day), _cut(signups_daily, "signup_date", last_day)


def freshness_incident(freshness: pd.DataFrame | None) -> dict[str, Any] | None:
    """One ``freshness`` incident row when the events feed is stale, else None."""
    row = feed_row(freshness)
    if row is None or row["status"] != "stale":
        return None
    until = pd.Timestamp(row["complete_until"])
    arrived = pd.Timestamp(row["latest_arrival_at"])
    as_of = pd.Timestamp(row["as_of"])
    age = float(row["arrival_age_hours"])
    last = until - pd.Timedelta(hours=1)
    return {
        "incident_id": f"freshness-{until:%Y%m%dT%H%M}",
        "kind": "freshness",
        "start": until,
        "end": max(as_of.floor("h"), until),
        "first_detected_batch": last,
        "raised_batch": last,
        "metrics": "arrivals",
        "grains": "hour",
        "cause": f"source {FEED}",
        "cause_dim": "source",
        "cause_value": FEED,
        "direction": "drop",
        "peak_metric": "arrival_age_hours",
        "peak_score": age,
        "relative_change": -1.0,
        "explained_share": 1.0,
        "severity": "critical",
        "top_contributors": "",
        "segments": "",
        "n_points": 1,  # one observation: the feed's age
        "n_series": 1,
        "summary": (
            f"No events have arrived since {arrived:%Y-%m-%d %H:%M} UTC ({age:.1f} h ago, error after "
            f"{float(row['sla_hours']):g} h): the pipeline stalled, not the product. Hours from "
            f"{until:%Y-%m-%d %H:%M} UTC are not judged until arrivals resume and they are complete; "
            "data engineering should check the collector and the loads."
        ),
        "chart_path": None,
    }
