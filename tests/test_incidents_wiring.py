"""Metric incidents end to end: simulator -> warehouse -> dbt Python models -> served contract, against the truth.

One simulation (8 000 users x 35 days, seed 3) is built once for the module; only the incident models and what
they need are built. 8 000 users because the android outage (60 % of android users' events lost for 4 hours) is
about 30 android users an hour: below ~5 000 users it is within hourly noise (see benchmarks/bench_incidents.py).
The unit tests at the end use small synthetic frames.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pintel.build import build
from pintel.ml.anomaly import group_incidents
from pintel.ml.evaluate_incidents import load_planted, match_incidents, score_incidents
from pintel.ml.incidents import (
    ANOMALY_COLUMNS,
    INCIDENT_COLUMNS,
    IncidentConfig,
    detect_metrics,
    hourly_long,
    metric_anomalies,
    metric_incidents,
)
from pintel.settings import Settings, query
from pintel.simulate import SimConfig, simulate

SIM = SimConfig(users=8000, days=35, seed=3)
SERVED_TYPES = {
    "incident_id": "VARCHAR",
    "start": "TIMESTAMP",
    "end": "TIMESTAMP",
    "first_detected_batch": "TIMESTAMP",
    "raised_batch": "TIMESTAMP",
    "metrics": "VARCHAR",
    "cause": "VARCHAR",
    "peak_score": "DOUBLE",
    "relative_change": "DOUBLE",
    "n_points": "INTEGER",
    "summary": "VARCHAR",
    "chart_path": "VARCHAR",
}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    root = tmp_path_factory.mktemp("incidents")
    simulate(SIM, root / "landing")
    settings = Settings(
        home=root,
        landing=root / "landing",
        warehouse=root / "pintel.duckdb",
        dbt_target="duckdb",
        reports=root / "reports",  # exported to the dbt models as PINTEL_REPORTS
    )
    build(settings, select=["+metric_incidents_served"])  # raises if a model or a dbt test fails
    return settings


@pytest.fixture(scope="module")
def incidents(built: Settings) -> pd.DataFrame:
    return query(built.warehouse, "select * from ml.metric_incidents_served")


@pytest.fixture(scope="module")
def planted(built: Settings) -> pd.DataFrame:
    return load_planted(built.landing / "ground_truth")


# --------------------------------------------------------------------------------------------------------------
# end to end on the simulation
# --------------------------------------------------------------------------------------------------------------


def test_planted_incidents_are_found_with_their_cause(incidents: pd.DataFrame, planted: pd.DataFrame) -> None:
    score = score_incidents(incidents, planted, days=SIM.days)
    matches = score.matches.set_index("planted_id")
    assert score.recall == 1.0, matches
    assert score.cause_accuracy == 1.0, matches[["planted_cause", "detected_cause"]]
    # the outage and the tracking bug are flagged in the first hourly batch that contains them; the sparse
    # signup burst needs a few hours of its trailing 6-hour view
    assert matches.loc["android_partial_outage", "delay_hours"] == 0
    assert matches.loc["tracking_bug_report_created", "delay_hours"] == 0
    assert 0 <= matches.loc["paid_social_signup_spike", "delay_hours"] <= 5
    assert (matches["raised_delay_hours"] - matches["delay_hours"]).between(0, 3).all()


def test_one_incident_per_cause(incidents: pd.DataFrame, planted: pd.DataFrame) -> None:
    matches = match_incidents(incidents, planted)
    assert (matches["n_matches"] == 1).all(), matches
    assert incidents["incident_id"].is_unique
    outage = incidents.set_index("incident_id").loc[
        matches.set_index("planted_id").at["android_partial_outage", "incident_id"]
    ]
    # many flagged series (events and active users, hourly and 2-hour views), one incident
    assert outage["n_series"] >= 2 and {"events", "active_users"} <= set(outage["metrics"].split(","))
    assert outage["cause"] == "platform=android" and outage["direction"] == "drop"
    assert outage["relative_change"] == pytest.approx(-0.6, abs=0.15)
    bug = incidents.set_index("incident_id").loc[
        matches.set_index("planted_id").at["tracking_bug_report_created", "incident_id"]
    ]
    assert bug["relative_change"] == pytest.approx(-1.0, abs=0.02)
    assert pd.Timestamp(bug["end"]) - pd.Timestamp(bug["start"]) >= pd.Timedelta(hours=20)


def test_served_contract_summaries_and_charts(built: Settings, incidents: pd.DataFrame) -> None:
    types = query(built.warehouse, "describe ml.metric_incidents_served").set_index("column_name")["column_type"]
    assert list(types.index) == INCIDENT_COLUMNS
    assert {c: types[c] for c in SERVED_TYPES} == SERVED_TYPES
    assert (incidents["raised_batch"] >= incidents["first_detected_batch"]).all()
    assert (incidents["end"] >= incidents["start"]).all()
    for _, row in incidents.iterrows():
        assert row["cause"] in row["summary"] and " UTC on " in row["summary"]
        path = Path(row["chart_path"])
        assert path.parent == built.reports / "incidents"
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_anomalies_table_is_small_and_keyed(built: Settings) -> None:
    anomalies = query(built.warehouse, "select * from ml.metric_anomalies")
    hourly_points = query(built.warehouse, "select count(*) as n from marts.activity_hourly")["n"].iloc[0]
    assert list(anomalies.columns) == ANOMALY_COLUMNS
    assert len(anomalies) < 0.05 * 3 * hourly_points  # flagged points + breakdown + context, not every point
    assert not anomalies.duplicated(["metric", "grain", "segment_dim", "segment_value", "ts"]).any()
    flagged = anomalies[anomalies["is_anomaly"]]
    assert flagged["severity"].notna().all() and (flagged["score"].abs() > 4.5).all()
    assert anomalies.loc[~anomalies["is_anomaly"], "severity"].isna().all()


def test_incident_is_raised_online_from_a_prefix_of_the_data(
    built: Settings, incidents: pd.DataFrame, tmp_path: Path
) -> None:
    """Re-run the models on the data up to the batch that raised the outage: same incident, same batches."""
    outage = incidents[incidents["cause"].eq("platform=android")].iloc[0]
    cut = pd.Timestamp(outage["raised_batch"])
    hourly = query(built.warehouse, f"select * from marts.activity_hourly where hour_at <= '{cut}'")
    prefix = metric_incidents(metric_anomalies(hourly), charts=False)
    again = prefix[prefix["cause"].eq("platform=android")]
    assert len(again) == 1
    assert again.iloc[0]["first_detected_batch"] == outage["first_detected_batch"]
    assert again.iloc[0]["raised_batch"] == cut
    assert again.iloc[0]["incident_id"] == outage["incident_id"]


def test_detection_is_causal_a_prefix_gives_the_same_scores(built: Settings) -> None:
    """Every statistic of a point uses only earlier points, also after the events -> user-units scaling."""
    hourly = query(built.warehouse, "select * from marts.activity_hourly")
    cut = hourly["hour_at"].min() + pd.Timedelta(days=20)
    keys = ["metric", "grain", "segment_dim", "segment_value", "ts"]
    full = detect_metrics(hourly_long(hourly))
    prefix = detect_metrics(hourly_long(hourly[hourly["hour_at"] <= cut]))
    both = prefix.merge(full[full["ts"] <= cut], on=keys, suffixes=("_prefix", "_full"))
    assert len(both) > 0.9 * len(prefix)  # the views of a few series near the sparse threshold may differ
    for col in ("observed", "expected", "upper", "score"):
        np.testing.assert_allclose(both[f"{col}_prefix"], both[f"{col}_full"], rtol=1e-9, atol=1e-9)


# --------------------------------------------------------------------------------------------------------------
# units on synthetic frames
# --------------------------------------------------------------------------------------------------------------

T0 = pd.Timestamp("2024-03-04 10:00")


def _rows(metric: str, dim: str, value: str, hours: list[int], expected: float, factor: float, **extra) -> pd.DataFrame:
    ts = [T0 + pd.Timedelta(hours=h) for h in hours]
    observed = expected * factor
    frame = pd.DataFrame(
        {
            "metric": metric,
            "grain": extra.get("grain", "hour"),
            "segment_dim": dim,
            "segment_value": value,
            "ts": ts,
            "observed": observed,
            "expected": expected,
            "lower": expected * 0.5,
            "upper": expected * 1.5,
            "score": extra.get("score", 6.0 if factor > 1 else -6.0),
            "is_anomaly": extra.get("flag", True),
            "severity": None,
        }
    )
    return frame[ANOMALY_COLUMNS]


def _breakdown(
    metric: str, hours: list[int], values: dict[tuple[str, str], tuple[float, float, float]]
) -> pd.DataFrame:
    """Unflagged rows of other segments at the same hours: (expected, factor, score)."""
    return pd.concat(
        [_rows(metric, d, v, hours, e, f, score=s, flag=False) for (d, v), (e, f, s) in values.items()],
        ignore_index=True,
    )


def test_overall_country_and_platform_drops_are_one_incident_caused_by_the_platform(tmp_path: Path) -> None:
    hours = [0, 1, 2]
    frame = pd.concat(
        [
            _rows("events", "platform", "android", hours, 200.0, 0.4, score=-8.0),
            _rows("active_users", "platform", "android", hours, 20.0, 0.4, score=-6.0),
            _rows("events", "all", "all", hours, 1000.0, 0.88, score=-5.0),
            _rows("events", "country", "US", hours, 500.0, 0.88, score=-4.8),
            _breakdown(
                "events",
                hours,
                {
                    ("platform", "web"): (600.0, 1.0, 0.1),
                    ("platform", "ios"): (200.0, 1.0, 0.0),
                    ("country", "DE"): (500.0, 0.88, -2.0),
                },
            ),
        ],
        ignore_index=True,
    )
    out = metric_incidents(frame, reports=tmp_path)
    assert len(out) == 1
    incident = out.iloc[0]
    assert incident["cause"] == "platform=android" and incident["direction"] == "drop"
    assert set(incident["segments"].split(",")) == {"overall", "country=US", "platform=android"}
    assert incident["raised_batch"] == T0  # two segments (and two metrics) flagged in the first batch
    assert incident["explained_share"] == pytest.approx(1.0, abs=0.01)
    assert "platform=android explains 100 % of the drop in events" in incident["summary"]
    assert Path(incident["chart_path"]).exists()


def test_a_single_blip_is_not_raised_and_persistence_or_a_second_segment_raises() -> None:
    blip = _rows("events", "country", "FR", [0], 10.0, 8.0)
    blip_2h = _rows("events", "country", "FR", [1], 20.0, 4.5, grain="trailing_2h")  # the same hour, seen again
    assert metric_incidents(pd.concat([blip, blip_2h]), charts=False).empty
    persistent = _rows("events", "country", "FR", [0, 1], 10.0, 8.0)
    raised = metric_incidents(persistent, charts=False)
    assert len(raised) == 1 and raised.iloc[0]["raised_batch"] == T0 + pd.Timedelta(hours=1)
    assert raised.iloc[0]["first_detected_batch"] == T0
    strong = _rows("events", "country", "FR", [0], 10.0, 8.0, score=12.0)
    assert metric_incidents(strong, charts=False).iloc[0]["raised_batch"] == T0


def test_rebound_after_a_long_incident_is_not_a_new_incident() -> None:
    day = list(range(24))
    frame = pd.concat(
        [
            _rows("events", "event_name", "report_created", day, 60.0, 0.0, score=-9.0),
            _rows("active_users", "event_name", "report_created", day, 30.0, 0.0, score=-8.0),
            _rows("events", "event_name", "report_created", [25, 26, 27], 30.0, 2.0, score=5.0),
        ],
        ignore_index=True,
    )
    out = metric_incidents(frame, charts=False)
    assert list(out["direction"]) == ["drop"]
    # a spike of the same segment that is stronger than the drop before it is an incident of its own
    frame.loc[frame["score"].eq(5.0), "score"] = 12.0
    assert list(metric_incidents(frame, charts=False)["direction"]) == ["drop", "spike"]


def test_group_incidents_splits_a_drop_followed_by_a_spike() -> None:
    """Change in pintel.ml.anomaly.group_incidents: runs and incidents never mix directions."""
    frame = pd.concat(
        [
            _rows("signups", "channel", "paid_social", [0, 1], 4.0, 0.0, score=-5.0),
            _rows("signups", "channel", "paid_social", [3, 4, 5], 4.0, 5.0, score=7.0),
        ],
        ignore_index=True,
    )
    out = group_incidents(frame)
    assert list(out["direction"]) == ["drop", "spike"]
    assert out["incident_id"].is_unique


def test_incidents_empty_and_typed_without_anomalies() -> None:
    frame = _rows("events", "all", "all", [0, 1], 100.0, 1.0, score=0.3, flag=False)
    out = metric_incidents(frame, charts=False)
    assert out.empty and list(out.columns) == INCIDENT_COLUMNS
    assert str(out["start"].dtype).startswith("datetime64") and out["peak_score"].dtype == float
    with pytest.raises(ValueError, match="missing columns"):
        metric_incidents(frame.drop(columns="score"))


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
