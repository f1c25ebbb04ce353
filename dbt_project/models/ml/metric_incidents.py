"""One incident per cause, with attribution, summary and chart (logic: pintel.ml.incidents)."""

from pintel.ml.incidents import metric_incidents


def model(dbt, session):
    dbt.config(materialized="table")
    # The charts go to the reports folder pintel passes as var('pintel_reports') (meta.reports_dir in the yml).
    return metric_incidents(dbt.ref("metric_anomalies").df(), reports=dbt.config.meta_get("reports_dir") or None)
