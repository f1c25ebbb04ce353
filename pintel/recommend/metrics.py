"""``ml_recommendation_metrics``: the recommender judged on the 14 days after a cut-off, beside its yardsticks.

Rows (``model``): ``blended`` (what is served: EASE x causal lift), ``ease`` (the item-item model alone, so the
cost or gain of the causal blend is visible), ``popularity`` (the naive baseline) and, on simulated data,
``oracle`` (true propensities). The cut-off is ``as_of - 14 days``: the latest split whose window is fully
observed. Everything the models see is from before the cut-off, including EASE's penalty, chosen on a second
split inside that window (:func:`pintel.recommend.evaluate.choose_lambda`).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from pintel.recommend.causal_prior import RetentionLift, lift_multipliers
from pintel.recommend.evaluate import (
    EVALUATION_HORIZON_DAYS,
    MIN_EVALUATED_USERS,
    _adopted,
    active_users,
    fit_recommender,
    oracle_scores,
    ranking_metrics,
)
from pintel.recommend.rank import TOP_N, rank_scores, top_n
from pintel.status import need

__all__ = ["METRIC_COLUMNS", "recommendation_metrics"]

METRIC_COLUMNS = [
    "model",
    "split_date",
    "horizon_days",
    "k",
    "hit_rate_at_k",
    "ndcg_at_k",
    "users_judged",
    "users_scored",
    "lift_vs_popularity",
    "lambda_scale",
]


def recommendation_metrics(
    uses: pd.DataFrame,
    activity: pd.DataFrame,
    features: np.ndarray,
    as_of: dt.date,
    lifts: dict[str, RetentionLift],
    truth: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per scorer on the split ``as_of - horizon``; :class:`InsufficientData` when too few adopted."""
    split = as_of - dt.timedelta(days=EVALUATION_HORIZON_DAYS)
    users = active_users(activity, split)
    usage, model, trace = fit_recommender(uses, users, features, split)
    adopted = _adopted(uses, usage, split, EVALUATION_HORIZON_DAYS)
    judged = int(adopted.any(axis=1).sum())
    if judged < MIN_EVALUATED_USERS:
        raise need(judged, "adopter", MIN_EVALUATED_USERS, what=f"in the {EVALUATION_HORIZON_DAYS} days judged")
    used = usage.used()
    popularity = np.where(used, -np.inf, usage.popularity[None, :])
    scorers = {
        "blended": rank_scores(usage, model, lift_multipliers(usage.features, lifts))[0],
        "ease": rank_scores(usage, model)[0],
        "popularity": popularity,
    }
    if truth is not None and len(truth):
        scorers["oracle"] = oracle_scores(usage, truth)
    scale = model.lam / (float(np.mean(np.diag(model.gram))) or 1.0)
    rows = []
    for name, score in scorers.items():
        hit, ndcg, n = ranking_metrics(top_n(score, TOP_N), adopted)
        rows.append(
            {
                "model": name,
                "split_date": split,
                "horizon_days": EVALUATION_HORIZON_DAYS,
                "k": TOP_N,
                "hit_rate_at_k": hit,
                "ndcg_at_k": ndcg,
                "users_judged": n,
                "users_scored": len(users),
                "lambda_scale": scale if name in ("blended", "ease") else None,
            }
        )
    out = pd.DataFrame(rows)
    base = float(out.loc[out["model"] == "popularity", "hit_rate_at_k"].iloc[0])
    out["lift_vs_popularity"] = out["hit_rate_at_k"] / base if base > 0 else np.nan
    del trace
    return out[METRIC_COLUMNS]
