"""Metric incidents end to end: simulator -> warehouse -> dbt Python models -> served contract, against the truth.

One simulation (8 000 users x 35 days, seed 3) is built once for the module; only the incident models and what
they need are built. 8 000 users because the android outage (60 % of android users' events lost for 4 hours) is
about 30 android users an hour: below ~5 000 users it is within hourly noise (see benchmarks/bench_incidents.py).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pintel.build import build
from pintel.incidents import (
    ANOMALY_COLUMNS,
    INCIDENT_COLUMNS,
    detect_metrics,
    hourly_long,
    load_planted,
    match_incidents,
    metric_anomalies,
    metric_incidents,
    score_incidents,
)
from pintel.settings import Settings, query
from pintel.simulate import SimConfig, simulate
from tests.support.warehouse import SQL_LAYER_TESTS, without_dbt_artifacts

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
    with without_dbt_artifacts():  # raises if a model or an ML model's dbt test fails (the marts are lineage)
        build(settings, select=["+metric_incidents_served"], exclude=SQL_LAYER_TESTS)
    return settings


@pytest.fixture(scope="module")
def incidents(built: Settings) -> pd.DataFrame:
    return query(built.warehouse, "select * from ml.metric_incidents_served")


@pytest.fixture(scope="module")
def planted(built: Settings) -> pd.DataFrame:
    return load_planted(built.landing / "ground_truth")


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
