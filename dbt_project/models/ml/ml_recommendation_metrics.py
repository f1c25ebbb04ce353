"""Hit rate@5 / NDCG@5 of the recommender on the 14 days after a cut-off, beside popularity and the oracle.

Too few adopters in the judged window: skipped (or the last good rows, stale) via pintel.status.
"""

from pintel.recommend.dbt_models import run_recommendation_metrics
from pintel.recommend.schemas import RECOMMENDATION_METRICS_SCHEMA
from pintel.status import guarded
from pintel.tables import table_exists


def model(dbt, session):
    dbt.config(materialized="table")
    has_truth = table_exists(session, "raw", "truth_feature_propensities")  # simulated landings only
    truth = dbt.source("truth", "truth_feature_propensities") if has_truth else None
    events = dbt.ref("fct_events")
    user_daily = dbt.ref("fct_user_daily")
    features = dbt.ref("dim_features")
    impact = dbt.ref("causal_feature_impact_served")
    return guarded(
        dbt,
        session,
        lambda: run_recommendation_metrics(events, user_daily, features, impact, truth),
        RECOMMENDATION_METRICS_SCHEMA,
    )
