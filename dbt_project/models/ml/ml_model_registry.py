"""Churn model registry: v1 + v2 trained on a time split of the labelled snapshots (pintel.churn)."""

from pintel.churn.dbt_models import run_registry


def model(dbt, session):
    dbt.config(materialized="incremental", unique_key=["version", "model_hash"], incremental_strategy="delete+insert")
    return run_registry(
        session,
        dbt.ref("fct_user_features"),
        dbt.ref("fct_churn_labels"),
        costs=dbt.config.meta_get("churn_costs"),
    )
