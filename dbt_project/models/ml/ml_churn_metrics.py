"""Held-out evaluation of churn v1 / v2 / baseline / oracle and the calibration plot (pintel.churn).

No trained model yet: the last good evaluation stays (or none) and ml_model_status says why.
"""

from pintel.churn.dbt_models import run_metrics
from pintel.churn.schemas import METRICS_SCHEMA
from pintel.status import guarded
from pintel.tables import table_exists


def model(dbt, session):
    dbt.config(materialized="table")
    has_truth = table_exists(session, "raw", "truth_churn_snapshots")  # simulated landings only
    truth = dbt.source("truth", "truth_churn_snapshots") if has_truth else None
    registry = dbt.ref("ml_model_registry")
    features = dbt.ref("fct_user_features")
    labels = dbt.ref("fct_churn_labels")
    users = dbt.ref("dim_users")
    horizon_days = dbt.config.meta_get("churn_horizon_days")
    costs = dbt.config.meta_get("churn_costs")
    return guarded(
        dbt,
        session,
        lambda: run_metrics(session, registry, features, labels, users, truth, horizon_days=horizon_days, costs=costs),
        METRICS_SCHEMA,
    )
