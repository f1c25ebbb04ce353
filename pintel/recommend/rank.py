"""Top-N not-yet-used features per user: EASE adoption scores x causal retention lift, with one reason each.

Ranking rule (one place): ``score = (max(ease, 0) + POPULARITY_TIE_WEIGHT x popularity) x (1 + relative lift)``
over the features the user has not used. The popularity term is tiny, so it only orders features the
item-item model has no signal for -- which is the documented cold-start fallback:

* a user with no feature use (no events, or events but no catalogued feature) has all-zero EASE scores, so
  the ranking is popularity x causal lift (``source = popularity``, or ``causal_prior`` when the lift made
  the difference);
* a feature nobody used yet has a zero EASE column and zero popularity; it is recommended only when nothing
  else is left (``source = catalogue``, reason "nobody has used it yet"), never with a made-up score.

Each recommendation carries one reason with its numbers: the co-use that drove it ("62% of users who use
Reports also use Charts"), the causal estimate when the lift decided it, or the popularity.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from pintel.recommend.causal_prior import CAUSAL_HORIZON_DAYS, RetentionLift, lift_multipliers
from pintel.recommend.ease import EaseModel
from pintel.recommend.usage import UsageMatrix

__all__ = ["POPULARITY_TIE_WEIGHT", "TOP_N", "rank_scores", "recommendations"]

TOP_N = 5
#: Weight of popularity next to the EASE score: far below any real co-use signal, so it only breaks ties.
POPULARITY_TIE_WEIGHT = 1e-3


def rank_scores(
    usage: UsageMatrix, model: EaseModel | None, multipliers: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(final scores with used features at -inf, the EASE part) for every user x feature."""
    used = usage.used()
    ease = model.scores(usage.X) if model is not None else np.zeros(used.shape)
    base = np.maximum(ease, 0.0) + POPULARITY_TIE_WEIGHT * usage.popularity[None, :]
    mult = np.ones(used.shape[1]) if multipliers is None else multipliers
    score = base * mult[None, :]
    score[used] = -np.inf
    return score, ease


def top_n(score: np.ndarray, n: int = TOP_N) -> np.ndarray:
    """Column indices of each row's ``n`` best finite scores, best first (-1 where fewer are left)."""
    k = min(n, score.shape[1])
    order = np.argsort(-score, axis=1, kind="stable")[:, :k]
    picked = np.take_along_axis(score, order, axis=1)
    return np.where(np.isfinite(picked), order, -1)


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def recommendations(
    usage: UsageMatrix,
    model: EaseModel | None,
    names: dict[str, str],
    lifts: dict[str, RetentionLift],
    as_of: dt.date,
    n: int = TOP_N,
) -> pd.DataFrame:
    """One row per user x recommended feature (rank 1..n) with score, source and reason.

    Vectorised over users (the reasons' numbers are gathered with array indexing; only the final strings are
    built per row), so scoring a whole product's users costs seconds, not minutes.
    """
    features = usage.features
    mult = lift_multipliers(features, lifts)
    score, ease = rank_scores(usage, model, mult)
    picks = top_n(score, n)
    users_idx, rank_idx = np.nonzero(picks >= 0)
    f = picks[users_idx, rank_idx]
    used = usage.used()
    pop = usage.popularity
    cf = ease[users_idx, f] > 0
    g = np.zeros(len(f), dtype=np.int64)
    share = np.zeros(len(f))
    if model is not None and cf.any():
        # for each pick, the used feature whose item-item weight towards it is largest: "users who use G ..."
        weights = np.where(used[users_idx], model.B[:, f].T, -np.inf)  # pick x G: weight of G towards the pick
        g = weights.argmax(axis=1)
        share = model.gram[g, f] / np.maximum(np.diag(model.gram)[g], 1.0)
    label = np.array([names.get(str(k), str(k)) for k in features], dtype=object)
    keys = features.astype(str)
    lift_of = [lifts.get(str(k)) for k in features]
    sources, reasons, lift_values = [], [], []
    for i in range(len(f)):
        fi = f[i]
        name = label[fi]
        if cf[i]:
            source, reason = "similar_users", f"{_pct(share[i])} of users who use {label[g[i]]} also use {name}"
        elif pop[fi] > 0:
            source, reason = "popularity", f"{_pct(pop[fi])} of users use {name}; you have not tried it yet"
        else:
            source, reason = "catalogue", f"{name} is new: nobody has used it yet"
        lift = lift_of[fi]
        if lift is not None:
            source = source if cf[i] else "causal_prior"
            reason += (
                f"; adopting it raises {CAUSAL_HORIZON_DAYS}-day retention by {100 * lift.ate:+.1f} pp "
                f"(95% CI {100 * lift.ci_low:+.1f} to {100 * lift.ci_high:+.1f})"
            )
        sources.append(source)
        reasons.append(reason)
        lift_values.append(float(lift.ate) if lift is not None else None)
    return pd.DataFrame(
        {
            "user_id": usage.users[users_idx].astype(str),
            "as_of_date": as_of,
            "rank": rank_idx + 1,
            "feature_key": keys[f],
            "feature_name": label[f],
            "score": score[users_idx, f].astype(float),
            "adoption_score": ease[users_idx, f].astype(float),
            "retention_lift": lift_values,
            "source": sources,
            "reason": reasons,
        },
        columns=RECOMMENDATION_COLUMNS,
    )


RECOMMENDATION_COLUMNS = [
    "user_id",
    "as_of_date",
    "rank",
    "feature_key",
    "feature_name",
    "score",
    "adoption_score",
    "retention_lift",
    "source",
    "reason",
]
