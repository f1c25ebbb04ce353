"""Top 5 not-yet-used catalogued features per active user, with one reason each (pintel.recommend).

Too few users with a feature use to learn co-use: skipped (or the last good rows, stale) via pintel.status.
"""

from pintel.recommend.dbt_models import run_recommendations
from pintel.recommend.schemas import RECOMMENDATION_SCHEMA
from pintel.status import guarded


def model(dbt, session):
    dbt.config(materialized="table")
    events = dbt.ref("fct_events")
    user_daily = dbt.ref("fct_user_daily")
    features = dbt.ref("dim_features")
    users = dbt.ref("dim_users")
    impact = dbt.ref("causal_feature_impact_served")
    return guarded(
        dbt,
        session,
        lambda: run_recommendations(events, user_daily, features, users, impact),
        RECOMMENDATION_SCHEMA,
    )
