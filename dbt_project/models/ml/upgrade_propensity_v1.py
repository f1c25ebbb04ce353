"""Upgrade propensity v1 for the latest weekly snapshot's free-plan users (pintel.recommend.upgrade).

Too little labelled history (or too few upgrades) to train, calibrate and test: skipped via pintel.status.
"""

from pintel.recommend.dbt_models import run_upgrade_predictions
from pintel.recommend.schemas import UPGRADE_PREDICTION_SCHEMA
from pintel.status import guarded


def model(dbt, session):
    dbt.config(materialized="table")
    features = dbt.ref("fct_user_features")
    plans = dbt.ref("dim_user_plans")
    user_daily = dbt.ref("fct_user_daily")
    horizon_days = int(dbt.config.meta_get("upgrade_horizon_days"))
    return guarded(
        dbt,
        session,
        lambda: run_upgrade_predictions(features, plans, user_daily, horizon_days, "v1"),
        UPGRADE_PREDICTION_SCHEMA,
    )
