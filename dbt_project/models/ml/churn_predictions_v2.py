"""Churn predictions of model v2 for dim_dates' scoring snapshot, appended per snapshot_date (pintel.churn).

No trained model yet, or nobody to score: no rows are appended, the last good predictions stay (churn_scores
marks them stale) and ml_model_status says why (pintel.status.guarded).
"""

from pintel.churn.dbt_models import run_predictions
from pintel.churn.schemas import PREDICTION_SCHEMA
from pintel.status import guarded


def model(dbt, session):
    dbt.config(materialized="incremental", unique_key="snapshot_date", incremental_strategy="delete+insert")
    registry = dbt.ref("ml_model_registry")
    features = dbt.ref("fct_user_features")
    dates = dbt.ref("dim_dates")
    existing = dbt.this if dbt.is_incremental else None
    return guarded(
        dbt,
        session,
        lambda: run_predictions(session, "v2", registry, features, dates, existing),
        PREDICTION_SCHEMA,
    )
