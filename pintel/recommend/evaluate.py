"""Judging a ranking on later time: hit rate@k and NDCG@k of the adoptions that followed a cut-off date.

The protocol (also the one that chooses EASE's penalty, one level down): fit on the first uses before ``T``,
rank each user's not-yet-used features, then look at what the users who were active in the
``ACTIVE_WINDOW_DAYS`` before ``T`` actually first used in ``[T, T + horizon)``. Only users with at least one
such adoption are scored (a user who adopted nothing says nothing about the order).

* ``hit_rate_at_k``: share of those users with at least one adopted feature in their top ``k``;
* ``ndcg_at_k``: binary-relevance NDCG, the ideal being ``min(adopted, k)`` hits at the top.

Beside the model, the ``popularity`` baseline (features by the share of users who used them before ``T``)
and, on simulated data, the ``oracle``: the user's features ranked by the simulator's true adoption
propensity, the best any recommender could expect to do.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from pintel.recommend.ease import DEFAULT_LAMBDA_SCALE, LAMBDA_GRID, EaseModel, fit_ease
from pintel.recommend.rank import TOP_N, rank_scores, top_n
from pintel.recommend.usage import UsageMatrix, usage_matrix
from pintel.status import need

__all__ = [
    "ACTIVE_WINDOW_DAYS",
    "EVALUATION_HORIZON_DAYS",
    "MIN_EVALUATED_USERS",
    "MIN_USERS_WITH_USE",
    "active_users",
    "choose_lambda",
    "fit_recommender",
    "ranking_metrics",
]

#: A user is "active" at T with a valid event in the 28 days before T (the MAU window of the metric definitions).
ACTIVE_WINDOW_DAYS = 28
#: Adoptions judged in the 14 days after the cut-off.
EVALUATION_HORIZON_DAYS = 14
#: Users who used at least one catalogued feature, below which there is no co-use to learn (model skipped).
MIN_USERS_WITH_USE = 20
#: Users with an adoption in the judged window, below which a hit rate is noise (evaluation skipped).
MIN_EVALUATED_USERS = 20


def active_users(activity: pd.DataFrame, before: dt.date, days: int = ACTIVE_WINDOW_DAYS) -> np.ndarray:
    """Users with activity in ``[before - days, before)`` from ``user_id, activity_date`` rows, sorted."""
    dates = pd.to_datetime(activity["activity_date"]).dt.date
    mask = (dates < before) & (dates >= before - dt.timedelta(days=days))
    return np.sort(activity.loc[mask, "user_id"].astype(str).unique())


def _adopted(uses: pd.DataFrame, usage: UsageMatrix, start: dt.date, days: int) -> np.ndarray:
    """Dense users x features: first use in ``[start, start + days)``."""
    window = usage_matrix(uses, usage.users, usage.features, start + dt.timedelta(days=days))
    return window.used() & ~usage.used()


def ranking_metrics(picks: np.ndarray, adopted: np.ndarray, k: int = TOP_N) -> tuple[float, float, int]:
    """(hit rate@k, NDCG@k, users judged) of ``picks`` (users x k column indices, -1 = none) vs ``adopted``."""
    judged = adopted.any(axis=1)
    if not judged.any():
        return float("nan"), float("nan"), 0
    p, a = picks[judged][:, :k], adopted[judged]
    hits = np.where(p >= 0, np.take_along_axis(a, np.maximum(p, 0), axis=1), False)
    discount = 1.0 / np.log2(np.arange(2, hits.shape[1] + 2))
    dcg = (hits * discount).sum(axis=1)
    ideal = np.array([discount[: min(int(c), hits.shape[1])].sum() for c in a.sum(axis=1)])
    return float(hits.any(axis=1).mean()), float(np.mean(dcg / ideal)), int(judged.sum())


def _check(usage: UsageMatrix) -> None:
    with_use = int((usage.X.getnnz(axis=1) > 0).sum())
    if with_use < MIN_USERS_WITH_USE:
        raise need(with_use, "feature user", MIN_USERS_WITH_USE, what="(users of a catalogued feature) to learn co-use")


def choose_lambda(
    uses: pd.DataFrame, users: np.ndarray, features: np.ndarray, before: dt.date, holdout: int = EVALUATION_HORIZON_DAYS
) -> tuple[float, dict[float, float]]:
    """EASE's penalty scale by hit rate@5 on the last ``holdout`` days before ``before`` (inner time split).

    Returns (chosen scale, hit rate per grid value); :data:`DEFAULT_LAMBDA_SCALE` with an empty dict when the
    inner window has fewer than :data:`MIN_EVALUATED_USERS` adopters.
    """
    inner = before - dt.timedelta(days=holdout)
    train = usage_matrix(uses, users, features, inner)
    adopted = _adopted(uses, train, inner, holdout)
    if int(adopted.any(axis=1).sum()) < MIN_EVALUATED_USERS or (train.X.getnnz(axis=1) > 0).sum() < MIN_USERS_WITH_USE:
        return DEFAULT_LAMBDA_SCALE, {}
    results = {}
    for scale in LAMBDA_GRID:
        score, _ = rank_scores(train, fit_ease(train.X, scale))
        results[scale] = ranking_metrics(top_n(score), adopted)[0]
    best = max(results.values())
    return max(s for s, v in results.items() if v >= best - 1e-12), results


def fit_recommender(
    uses: pd.DataFrame, users: np.ndarray, features: np.ndarray, before: dt.date
) -> tuple[UsageMatrix, EaseModel, dict[float, float]]:
    """The usage matrix at ``before``, EASE fitted on it with the inner-split penalty, and that choice's trace.

    Raises :class:`~pintel.status.InsufficientData` below :data:`MIN_USERS_WITH_USE`.
    """
    usage = usage_matrix(uses, users, features, before)
    _check(usage)
    scale, trace = choose_lambda(uses, users, features, before)
    return usage, fit_ease(usage.X, scale), trace


def oracle_scores(usage: UsageMatrix, truth: pd.DataFrame) -> np.ndarray:
    """Users x features true propensity (``adoption_probability_per_active_day``), used features at -inf."""
    table = truth.pivot_table(
        index="user_id", columns="feature_key", values="adoption_probability_per_active_day", aggfunc="first"
    )
    table = table.reindex(index=usage.users, columns=usage.features).fillna(0.0).to_numpy(float, copy=True)
    table[usage.used()] = -np.inf
    return table
