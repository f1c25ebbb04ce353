"""Anomalies per metric x segment over the hourly and daily metric marts (logic: pintel.incidents.pipeline)."""

from pintel.incidents import ANOMALY_SCHEMA, metric_anomalies
from pintel.status import guarded


def model(dbt, session):
    dbt.config(materialized="table")
    hourly = dbt.ref("activity_hourly")
    daily = dbt.ref("active_users_daily")
    signups = dbt.ref("signups_daily")
    taxonomy = dbt.ref("event_taxonomy")
    freshness = dbt.ref("data_freshness")  # only complete periods are judged

    def build():
        return metric_anomalies(
            hourly.df(), daily.df(), signups.df(), event_taxonomy=taxonomy.df(), freshness=freshness.df()
        )

    return guarded(dbt, session, build, ANOMALY_SCHEMA)
