"""Churn predictions of model v2 for the scoring snapshot, appended per snapshot_date (pintel.ml.churn_pipeline)."""

from pintel.ml.churn_pipeline import run_predictions


def model(dbt, session):
    dbt.config(materialized="incremental", unique_key="snapshot_date", incremental_strategy="delete+insert")
    return run_predictions(
        session,
        "v2",
        dbt.ref("ml_model_registry"),
        dbt.ref("fct_user_features"),
        dbt.ref("dim_dates"),
        dbt.this if dbt.is_incremental else None,
        override=dbt.config.meta_get("scoring_snapshot_date"),
        inactivity_days=dbt.config.meta_get("churn_inactivity_days"),
    )
