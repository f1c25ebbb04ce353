"""What the recommendation dbt Python models in ``models/ml/`` call: DuckDB relations in, pandas frames out.

The dbt models only name their inputs (``dbt.ref``, so dbt knows the lineage) and hand them here; each function
pulls the few columns it needs (first uses are aggregated in DuckDB, not in pandas) and calls the pure
functions of :mod:`pintel.recommend`. Too little data raises :class:`~pintel.status.InsufficientData`, which
the model's :func:`pintel.status.guarded` turns into ``skipped`` (or ``stale``, keeping the last good rows).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd

from pintel.recommend.causal_prior import retention_lifts
from pintel.recommend.evaluate import ACTIVE_WINDOW_DAYS, active_users, fit_recommender
from pintel.recommend.metrics import recommendation_metrics
from pintel.recommend.rank import recommendations
from pintel.recommend.usage import first_uses
from pintel.status import InsufficientData

__all__ = ["as_of_date", "run_recommendation_metrics", "run_recommendations"]


def _uses(events_rel: Any) -> pd.DataFrame:
    rel = events_rel.filter("feature_key is not null").aggregate(
        "user_id, feature_key, min(event_date) as first_used_date", "user_id, feature_key"
    )
    return first_uses(rel.df())


def _activity(user_daily_rel: Any) -> pd.DataFrame:
    return user_daily_rel.project("user_id, activity_date").df()


def as_of_date(activity: pd.DataFrame) -> dt.date:
    """The day after the newest activity: recommendations are for "now" as the data know it."""
    if activity.empty:
        raise InsufficientData("0 active user-days: nothing to recommend from")
    return pd.to_datetime(activity["activity_date"]).max().date() + dt.timedelta(days=1)


def _impact(impact_rel: Any | None) -> pd.DataFrame | None:
    return None if impact_rel is None else impact_rel.df()


def run_recommendations(
    events_rel: Any, user_daily_rel: Any, features_rel: Any, users_rel: Any, impact_rel: Any
) -> pd.DataFrame:
    """``feature_recommendations``: top 5 unused features for every active (or newly signed-up) user."""
    activity = _activity(user_daily_rel)
    as_of = as_of_date(activity)
    features = features_rel.project("feature_key, feature_name").order("feature_key").df()
    since = as_of - dt.timedelta(days=ACTIVE_WINDOW_DAYS)
    signups = users_rel.filter(f"signup_date >= date '{since.isoformat()}'").project("user_id").df()
    users = np.union1d(active_users(activity, as_of), signups["user_id"].astype(str).to_numpy())
    keys = features["feature_key"].to_numpy(object)
    usage, model, _ = fit_recommender(_uses(events_rel), users, keys, as_of)
    names = dict(zip(features["feature_key"], features["feature_name"], strict=True))
    return recommendations(usage, model, names, retention_lifts(_impact(impact_rel)), as_of)


def run_recommendation_metrics(
    events_rel: Any, user_daily_rel: Any, features_rel: Any, impact_rel: Any, truth_rel: Any | None
) -> pd.DataFrame:
    """``ml_recommendation_metrics``: blended / ease / popularity / oracle on the latest 14-day split."""
    activity = _activity(user_daily_rel)
    keys = features_rel.project("feature_key").order("feature_key").df()["feature_key"].to_numpy(object)
    truth = (
        None
        if truth_rel is None
        else truth_rel.project("user_id, feature_key, adoption_probability_per_active_day").df()
    )
    return recommendation_metrics(
        _uses(events_rel), activity, keys, as_of_date(activity), retention_lifts(_impact(impact_rel)), truth
    )


def _upgrade_frame(features_rel: Any, plans_rel: Any, user_daily_rel: Any, horizon_days: int) -> pd.DataFrame:
    from pintel.catalog import load_catalog
    from pintel.recommend.upgrade import upgrade_frame

    free = {p.plan for p in load_catalog().plans if not p.is_paid}
    as_of = as_of_date(_activity(user_daily_rel))
    features = features_rel.filter("plan in (" + ", ".join(f"'{p}'" for p in sorted(free)) + ")").df()
    plans = plans_rel.project("user_id, plan, valid_from").df()
    return upgrade_frame(features, plans, free, int(horizon_days), as_of)


def run_upgrade_predictions(
    features_rel: Any, plans_rel: Any, user_daily_rel: Any, horizon_days: int, version: str
) -> pd.DataFrame:
    """``upgrade_propensity_v<N>``: calibrated P(upgrade within the horizon) for the latest snapshot's free users."""
    from pintel.recommend.upgrade import score_latest

    return score_latest(_upgrade_frame(features_rel, plans_rel, user_daily_rel, horizon_days), version)


def run_upgrade_metrics(
    features_rel: Any, plans_rel: Any, user_daily_rel: Any, horizon_days: int, truth_rel: Any | None
) -> pd.DataFrame:
    """``ml_upgrade_metrics``: v1 / baseline / oracle on the latest labelled snapshot (later than training)."""
    from pintel.recommend.upgrade import evaluate_upgrade

    truth = None
    if truth_rel is not None:
        truth = truth_rel.project("snapshot_date, user_id, upgrade_oracle_probability").df()
    return evaluate_upgrade(_upgrade_frame(features_rel, plans_rel, user_daily_rel, horizon_days), truth)
