"""One incident per cause, with attribution, summary and chart (logic: pintel.incidents.pipeline)."""

from pintel.incidents import INCIDENT_SCHEMA, metric_incidents
from pintel.tables import typed_relation


def model(dbt, session):
    dbt.config(materialized="table")
    return typed_relation(session, metric_incidents(dbt.ref("metric_anomalies").df()), INCIDENT_SCHEMA)
