"""One incident per cause, with attribution, summary and chart (logic: pintel.incidents.pipeline)."""

from pintel.incidents import INCIDENT_SCHEMA, metric_incidents
from pintel.status import guarded


def model(dbt, session):
    dbt.config(materialized="table")
    # The charts go to the reports folder pintel passes as var('pintel_reports') (meta.reports_dir in the yml).
    # A plain call: dbt finds the meta keys a Python model reads by parsing its calls, not inside `x or y`.
    reports = dbt.config.meta_get("reports_dir")
    anomalies = dbt.ref("metric_anomalies").df()
    freshness = dbt.ref("data_freshness").df()  # a stale feed is one freshness incident
    # Only the breakdown of the event names that were flagged: who an event's incident hits.
    flagged = anomalies.loc[anomalies["is_anomaly"] & anomalies["segment_dim"].eq("event_name"), "segment_value"]
    names = ", ".join("'" + str(name).replace("'", "''") + "'" for name in sorted(set(flagged)))
    event_segments = dbt.ref("event_segments_hourly").filter(f"event_name in ({names})").df() if names else None

    def build():
        return metric_incidents(anomalies, reports=reports or None, event_segments=event_segments, freshness=freshness)

    return guarded(dbt, session, build, INCIDENT_SCHEMA)
