"""One incident per cause, with attribution, summary and chart (logic: pintel.incidents.pipeline)."""

from pintel.incidents import INCIDENT_SCHEMA, metric_incidents
from pintel.status import guarded


def model(dbt, session):
    dbt.config(materialized="table")
    # The charts go to the reports folder pintel passes as var('pintel_reports') (meta.reports_dir in the yml).
    # A plain call: dbt finds the meta keys a Python model reads by parsing its calls, not inside `x or y`.
    reports = dbt.config.meta_get("reports_dir")
    anomalies = dbt.ref("metric_anomalies")

    def build():
        return metric_incidents(anomalies.df(), reports=reports or None)

    return guarded(dbt, session, build, INCIDENT_SCHEMA)
