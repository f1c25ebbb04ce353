"""Churn predictions of model v1 for dim_dates' scoring snapshot, appended per snapshot_date (pintel.churn)."""

from pintel.churn.dbt_models import run_predictions


def model(dbt, session):
    dbt.config(materialized="incremental", unique_key="snapshot_date", incremental_strategy="delete+insert")
    return run_predictions(
        session,
        "v1",
        dbt.ref("ml_model_registry"),
        dbt.ref("fct_user_features"),
        dbt.ref("dim_dates"),
        dbt.this if dbt.is_incremental else None,
    )
