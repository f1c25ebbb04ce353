"""Upgrade propensity v1 vs baseline vs the simulator's oracle on the latest labelled snapshot (later time).

Too little labelled history: skipped via pintel.status.
"""

from pintel.recommend.dbt_models import run_upgrade_metrics
from pintel.recommend.schemas import UPGRADE_METRICS_SCHEMA
from pintel.status import guarded
from pintel.tables import table_exists


def model(dbt, session):
    dbt.config(materialized="table")
    has_truth = table_exists(session, "raw", "truth_churn_snapshots")  # simulated landings only
    truth = dbt.source("truth", "truth_churn_snapshots") if has_truth else None
    features = dbt.ref("fct_user_features")
    plans = dbt.ref("dim_user_plans")
    user_daily = dbt.ref("fct_user_daily")
    horizon_days = int(dbt.config.meta_get("upgrade_horizon_days"))
    return guarded(
        dbt,
        session,
        lambda: run_upgrade_metrics(features, plans, user_daily, horizon_days, truth),
        UPGRADE_METRICS_SCHEMA,
    )
