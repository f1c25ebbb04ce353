"""The latest run of every ML Python model: status ok / skipped / stale, the reason with its numbers, rows,
run time and the time of its last good run (pintel.status.status_frame). Served through ml_model_status.

Each model's verdict is noted by pintel.status.guarded while dbt runs it; this model refs every guarded model,
so it runs after all of them, and keeps its previous row for a model that did not run this time.
"""

from pintel.status import STATUS_SCHEMA, status_frame
from pintel.tables import table_exists, typed_relation


def model(dbt, session):
    dbt.config(materialized="table")

    def built(load):
        """The model's relation, or None when it has never been built (a selection that left it out)."""
        try:
            return load()
        except Exception:  # dbt-duckdb reads the ref at once: a missing table is a DuckDB catalog error
            return None

    models = {
        "user_segment_centroids": built(lambda: dbt.ref("user_segment_centroids")),
        "user_segments": built(lambda: dbt.ref("user_segments")),
        "ml_model_registry": built(lambda: dbt.ref("ml_model_registry")),
        "churn_predictions_v1": built(lambda: dbt.ref("churn_predictions", v=1)),
        "churn_predictions_v2": built(lambda: dbt.ref("churn_predictions", v=2)),
        "ml_churn_metrics": built(lambda: dbt.ref("ml_churn_metrics")),
        "ml_churn_monitoring": built(lambda: dbt.ref("ml_churn_monitoring")),
        "metric_anomalies": built(lambda: dbt.ref("metric_anomalies")),
        "metric_incidents": built(lambda: dbt.ref("metric_incidents")),
        "causal_feature_impact": built(lambda: dbt.ref("causal_feature_impact")),
        "experiment_results": built(lambda: dbt.ref("experiment_results")),
    }
    # the table being rebuilt is only swapped in after this function returns
    exists = table_exists(session, dbt.this.schema, dbt.this.identifier)
    previous = session.sql(f"select * from {dbt.this}").df() if exists else None
    return typed_relation(session, status_frame(session, models, previous), STATUS_SCHEMA)
