"""One incident per cause, with attribution, summary and chart (logic: pintel.ml.incidents)."""

from pintel.ml.incidents import metric_incidents


def model(dbt, session):
    dbt.config(materialized="table")
    return metric_incidents(dbt.ref("metric_anomalies").df())
