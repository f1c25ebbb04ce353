"""The latest run of every ML Python model: status ok / skipped / stale, the reason with its numbers, rows,
run time and the time of its last good run (pintel.status.status_frame). Served through ml_model_status.

Each model's verdict is noted by pintel.status.guarded while dbt runs it; this model refs every guarded model,
so it runs after all of them, and keeps its previous row for a model that did not run this time.
"""

from contextlib import suppress

from pintel.status import STATUS_SCHEMA, status_frame
from pintel.tables import table_exists, typed_relation

GUARDED = (
    "user_segment_centroids",
    "user_segments",
    "ml_model_registry",
    "churn_predictions_v1",
    "churn_predictions_v2",
    "ml_churn_metrics",
    "ml_churn_monitoring",
    "metric_anomalies",
    "metric_incidents",
    "causal_feature_impact",
    "experiment_results",
    "feature_recommendations",
    "ml_recommendation_metrics",
    "upgrade_propensity_v1",
    "ml_upgrade_metrics",
)


def model(dbt, session):
    dbt.config(materialized="table")

    # One literal dbt.ref per guarded model, at statement level: dbt finds a Python model's parents by parsing
    # these calls (not inside lambdas), and this model must run after all of them. dbt-duckdb reads a ref at
    # once, so a model this warehouse has never built (a selection that left it out) is a catalog error: None.
    models = dict.fromkeys(GUARDED)
    with suppress(Exception):
        models["user_segment_centroids"] = dbt.ref("user_segment_centroids")
    with suppress(Exception):
        models["user_segments"] = dbt.ref("user_segments")
    with suppress(Exception):
        models["ml_model_registry"] = dbt.ref("ml_model_registry")
    with suppress(Exception):
        models["churn_predictions_v1"] = dbt.ref("churn_predictions", v=1)
    with suppress(Exception):
        models["churn_predictions_v2"] = dbt.ref("churn_predictions", v=2)
    with suppress(Exception):
        models["ml_churn_metrics"] = dbt.ref("ml_churn_metrics")
    with suppress(Exception):
        models["ml_churn_monitoring"] = dbt.ref("ml_churn_monitoring")
    with suppress(Exception):
        models["metric_anomalies"] = dbt.ref("metric_anomalies")
    with suppress(Exception):
        models["metric_incidents"] = dbt.ref("metric_incidents")
    with suppress(Exception):
        models["causal_feature_impact"] = dbt.ref("causal_feature_impact")
    with suppress(Exception):
        models["experiment_results"] = dbt.ref("experiment_results")
    with suppress(Exception):
        models["feature_recommendations"] = dbt.ref("feature_recommendations")
    with suppress(Exception):
        models["ml_recommendation_metrics"] = dbt.ref("ml_recommendation_metrics")
    with suppress(Exception):
        models["upgrade_propensity_v1"] = dbt.ref("upgrade_propensity", v=1)
    with suppress(Exception):
        models["ml_upgrade_metrics"] = dbt.ref("ml_upgrade_metrics")
    # the table being rebuilt is only swapped in after this function returns
    exists = table_exists(session, dbt.this.schema, dbt.this.identifier)
    previous = session.sql(f"select * from {dbt.this}").df() if exists else None
    return typed_relation(session, status_frame(session, models, previous), STATUS_SCHEMA)
