"""Held-out evaluation of churn v1 / v2 / baseline / oracle and the calibration plot (pintel.churn)."""

from pintel.churn.dbt_models import run_metrics
from pintel.tables import table_exists


def model(dbt, session):
    dbt.config(materialized="table")
    has_truth = table_exists(session, "raw", "truth_churn_snapshots")  # simulated landings only
    truth = dbt.source("truth", "truth_churn_snapshots") if has_truth else None
    return run_metrics(
        session,
        dbt.ref("ml_model_registry"),
        dbt.ref("fct_user_features"),
        dbt.ref("fct_churn_labels"),
        dbt.ref("dim_users"),
        truth,
        horizon_days=dbt.config.meta_get("churn_horizon_days"),
        costs=dbt.config.meta_get("churn_costs"),
    )
