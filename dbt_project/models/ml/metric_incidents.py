"""One incident per cause, with attribution, summary and chart (logic: pintel.incidents.pipeline)."""

from pintel.incidents import INCIDENT_SCHEMA, metric_incidents
from pintel.tables import typed_relation


def model(dbt, session):
    dbt.config(materialized="table")
    # The charts go to the reports folder pintel passes as var('pintel_reports') (meta.reports_dir in the yml).
    # A plain call: dbt finds the meta keys a Python model reads by parsing its calls, not inside `x or y`.
    reports = dbt.config.meta_get("reports_dir")
    incidents = metric_incidents(dbt.ref("metric_anomalies").df(), reports=reports or None)
    return typed_relation(session, incidents, INCIDENT_SCHEMA)
