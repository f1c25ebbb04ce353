"""Churn model monitoring: PSI drift, realised outcomes, retrain decision (pintel.churn)."""

from pintel.churn.dbt_models import run_monitoring
from pintel.churn.schemas import MONITORING_SCHEMA
from pintel.status import guarded


def model(dbt, session):
    dbt.config(materialized="table")
    registry = dbt.ref("ml_model_registry")
    features = dbt.ref("fct_user_features")
    labels = dbt.ref("fct_churn_labels")
    predictions = {"v1": dbt.ref("churn_predictions", v=1), "v2": dbt.ref("churn_predictions", v=2)}
    horizon_days = dbt.config.meta_get("churn_horizon_days")
    thresholds = dbt.config.meta_get("retrain_thresholds")
    return guarded(
        dbt,
        session,
        lambda: run_monitoring(
            session, registry, features, labels, predictions, horizon_days=horizon_days, thresholds=thresholds
        ),
        MONITORING_SCHEMA,
    )
