"""Anomalies per metric x segment over the hourly and daily metric marts (logic: pintel.ml.incidents)."""

from pintel.ml.incidents import metric_anomalies


def model(dbt, session):
    dbt.config(materialized="table")
    return metric_anomalies(
        dbt.ref("activity_hourly").df(),
        dbt.ref("active_users_daily").df(),
        dbt.ref("signups_daily").df(),
    )
