"""Freshness and completeness on a live feed made by hand (tests/support/feeds.py), judged as of the real clock.

A feed of 40 users whose arrivals stop 8 hours ago (mid-batch): no metric incident, one freshness incident, dbt
source freshness errors on the events, and the decision engine only escalates, to data engineering. Its missing
batches then land: the feed is fresh and the hours after the stall are complete, so they are judged. The rule
itself (only complete periods are scored) is checked on the detector with a drop planted in unfinished hours.
Each build is one dbt invocation of the seeds and models of the incidents' lineage: the dbt tests of these models run
in tests/incidents/test_dbt_models.py.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from pintel.build import run_dbt
from pintel.cli import main
from pintel.decide import decide
from pintel.incidents import ANOMALY_COLUMNS, metric_anomalies, metric_incidents
from pintel.ingest.landing import load_landing
from pintel.quality.freshness import source_freshness
from pintel.settings import Settings, connect, query
from tests.support.feeds import feed_frame, now_hour, write_feed
from tests.support.warehouse import settings_for, without_dbt_artifacts

LINEAGE = ["+metric_incidents_served"]


def _build(settings: Settings, select: list[str] = LINEAGE) -> None:
    """Load, then seeds and models of ``select`` in one dbt invocation (no dbt tests: see the docstring)."""
    load_landing(settings.landing, settings.warehouse)
    with without_dbt_artifacts():
        run_dbt(settings, ["build", "--select", *select, "--resource-type", "seed", "--resource-type", "model"])


def _feed(settings: Settings) -> dict:
    rows = query(settings.warehouse, "select * from marts.data_freshness where name = 'events:all'")
    assert len(rows) == 1
    return rows.iloc[0].to_dict()


@pytest.fixture(scope="module")
def feed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, pd.DataFrame, dt.datetime]:
    """The feed's messages over the last 54 hours, and the stall time (8 h ago, at :20 past the hour)."""
    root = tmp_path_factory.mktemp("freshness")
    hour = now_hour()
    stall = hour - dt.timedelta(hours=8) + dt.timedelta(minutes=20)
    frame = feed_frame(hour - dt.timedelta(hours=54), dt.datetime.now(dt.UTC).replace(tzinfo=None), users=40)
    write_feed(root / "landing", frame[frame["_received"] < stall])
    settings = settings_for(root, root / "landing")
    _build(settings)
    return settings, frame, stall


def test_a_stall_is_one_freshness_incident_and_only_escalations(feed) -> None:
    settings, _, stall = feed
    row = _feed(settings)
    assert (row["feed_mode"], row["status"]) == ("live", "stale")
    # the hour the stall cut short is not complete: the last judged hour is the one before it
    assert row["complete_until"] == pd.Timestamp(stall).floor("h")
    assert row["last_complete_day"] == pd.Timestamp(stall).floor("h").normalize() - pd.Timedelta(days=1)
    incidents = query(settings.warehouse, "select * from ml.metric_incidents_served")
    assert incidents["kind"].tolist() == ["freshness"], incidents[["kind", "summary"]]
    stalled = incidents.iloc[0]
    assert stalled["cause_value"] == "events:all" and stalled["severity"] == "critical"
    assert stalled["start"] == pd.Timestamp(stall).floor("h")
    assert stalled["summary"].startswith(f"No events have arrived since {row['latest_arrival_at']:%Y-%m-%d %H:%M} UTC")
    assert "data engineering" in stalled["summary"]
    # dbt source freshness: the events are past their error threshold; the loads themselves just happened
    checks = {r.source: r for r in source_freshness(settings)}
    assert set(checks) == {"segment.events", "segment.identifies", "segment.ingested_files", "segment.custom_events"}
    assert checks["segment.events"].status == "error" and 7.5 < checks["segment.events"].age_hours < 9
    assert checks["segment.ingested_files"].status == "pass"
    con = connect(settings.warehouse)
    try:
        run = decide(con)
    finally:
        con.close()
    decisions = run.decisions
    assert decisions["decision"].tolist() == ["escalate"]
    assert decisions["target"].tolist() == ["data-engineering"] and decisions["source"].tolist() == ["freshness"]
    assert decisions["freshness_status"].iloc[0].startswith("stale: complete to ")


def test_after_arrivals_resume_the_late_hours_are_judged(feed) -> None:
    settings, frame, stall = feed
    write_feed(settings.landing, frame[frame["_received"] >= stall])
    _build(settings)
    row = _feed(settings)
    assert (row["feed_mode"], row["status"]) == ("live", "fresh")
    newest = pd.Timestamp(frame["_received"].max())
    assert row["complete_until"] == (newest - pd.Timedelta(seconds=30)).floor("h")
    assert row["last_complete_hour"] >= pd.Timestamp(stall).floor("h") + pd.Timedelta(hours=6)
    incidents = query(settings.warehouse, "select kind from ml.metric_incidents_served")
    assert "freshness" not in set(incidents["kind"])


def _hourly(hours: int, rate: float, drop_last: int, seed: int = 3) -> pd.DataFrame:
    """activity_hourly of one product: Poisson active users with a daily cycle; the last hours nearly empty."""
    rng = np.random.default_rng(seed)
    at = pd.date_range("2025-03-03", periods=hours, freq="h")
    level = rate * (1.0 + 0.5 * np.sin(2 * np.pi * (at.hour.to_numpy() - 6) / 24))
    level[-drop_last:] *= 0.1  # the unfinished hours: a tenth of their events has arrived yet
    users = rng.poisson(level)
    return pd.DataFrame(
        {
            "hour_at": at,
            "segment_dim": "all",
            "segment_value": "all",
            "active_users": users,
            "events": users * 3,
            "signups": 0,
        }
    )


def test_the_detector_never_scores_an_unfinished_hour() -> None:
    hourly = _hourly(24 * 14, 200.0, drop_last=5)
    until = pd.Timestamp(hourly["hour_at"].iloc[-5])
    freshness = pd.DataFrame(
        [
            {
                "scope": "source",
                "name": "events:all",
                "status": "fresh",
                "complete_until": until,
                "last_complete_hour": until - pd.Timedelta(hours=1),
                "last_complete_day": until.normalize() - pd.Timedelta(days=1),
            }
        ]
    )
    blind = metric_anomalies(hourly)  # without completeness the unfinished hours read as a collapse
    assert blind.loc[blind["is_anomaly"], "ts"].ge(until).any()
    assert len(metric_incidents(blind, charts=False)) == 1
    judged = metric_anomalies(hourly, freshness=freshness)
    assert judged.empty or judged["ts"].max() < until
    assert metric_incidents(judged, freshness=freshness, charts=False).empty


def test_a_historical_export_is_complete_to_its_last_day_and_judged_no_further(tmp_path: Path) -> None:
    """An export of 3 days in March 2025 ingested now, with two clock-skewed events 3 days after its end."""
    rng = np.random.default_rng(1)
    rows = [
        (f"acct-{u:02d}", "page_viewed", f"2025-03-{day:02d}T{hour:02d}:{rng.integers(60):02d}:00Z")
        for day in (3, 4, 5)
        for hour in range(8, 24)
        for u in range(30)
        if rng.random() < 0.8
    ]
    rows += [("acct-00", "page_viewed", "2025-03-08T09:00:00Z"), ("acct-01", "app_opened", "2025-03-08T17:30:00Z")]
    export = tmp_path / "history.csv"
    pd.DataFrame(rows, columns=["account", "action", "happened_at"]).to_csv(export, index=False)
    args = ["ingest", str(export), "--user-col", "account", "--event-col", "action", "--time-col", "happened_at"]
    assert CliRunner().invoke(main, [*args, "--source", "acme", "--landing", str(tmp_path / "landing")]).exit_code == 0
    settings = settings_for(tmp_path, tmp_path / "landing")
    _build(settings, ["+data_freshness"])
    row = _feed(settings)
    assert (row["feed_mode"], row["status"]) == ("closed", "closed")
    assert row["latest_event_at"] == pd.Timestamp("2025-03-08 17:30")  # the skewed tail is data, kept as such
    # ... but the data ends with the last day of the export: complete to its end, nothing after is judged
    assert row["last_complete_day"] == pd.Timestamp("2025-03-05")
    assert row["complete_until"] == pd.Timestamp("2025-03-06") and pd.isna(row["sla_met"])
    # no freshness incident either: a closed export keeps no SLA (it will not get fresher)
    assert metric_incidents(pd.DataFrame(columns=ANOMALY_COLUMNS), freshness=pd.DataFrame([row])).empty
