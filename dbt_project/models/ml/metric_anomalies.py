"""Anomalies per metric x segment over the hourly and daily metric marts (logic: pintel.incidents.pipeline)."""

from pintel.incidents import ANOMALY_SCHEMA, metric_anomalies
from pintel.tables import typed_relation


def model(dbt, session):
    dbt.config(materialized="table")
    anomalies = metric_anomalies(
        dbt.ref("activity_hourly").df(),
        dbt.ref("active_users_daily").df(),
        dbt.ref("signups_daily").df(),
        event_taxonomy=dbt.ref("event_taxonomy").df(),
    )
    return typed_relation(session, anomalies, ANOMALY_SCHEMA)
