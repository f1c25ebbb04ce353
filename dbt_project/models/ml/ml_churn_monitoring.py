"""Churn model monitoring: PSI drift, realised outcomes, retrain decision (pintel.churn)."""

from pintel.churn.dbt_models import run_monitoring


def model(dbt, session):
    dbt.config(materialized="table")
    return run_monitoring(
        session,
        dbt.ref("ml_model_registry"),
        dbt.ref("fct_user_features"),
        dbt.ref("fct_churn_labels"),
        {"v1": dbt.ref("churn_predictions", v=1), "v2": dbt.ref("churn_predictions", v=2)},
        horizon_days=dbt.config.meta_get("churn_horizon_days"),
        thresholds=dbt.config.meta_get("retrain_thresholds"),
    )
