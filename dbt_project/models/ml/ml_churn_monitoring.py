"""Churn model monitoring: PSI drift, realised outcomes, retrain decision (pintel.ml.churn_pipeline)."""

from pintel.ml.churn_pipeline import run_monitoring


def model(dbt, session):
    dbt.config(materialized="table")
    return run_monitoring(
        session,
        dbt.ref("ml_model_registry"),
        dbt.ref("fct_user_features"),
        dbt.ref("fct_churn_labels"),
        {"v1": dbt.ref("churn_predictions", v=1), "v2": dbt.ref("churn_predictions", v=2)},
        thresholds=dbt.config.meta_get("retrain_thresholds"),
    )
