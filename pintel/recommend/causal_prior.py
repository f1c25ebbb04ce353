"""What the causal feature-impact estimates add to a recommendation: a retention lift per feature, or none.

The recommender ranks by how likely a user is to adopt a feature; the decision it feeds (an onboarding nudge)
is worth more for a feature that actually keeps users. ``causal_feature_impact_served`` estimates, per feature,
the effect of early adoption on retention. Only estimates the causal module itself calls ``reliable`` and
whose 95 % interval excludes zero on the benefit side count: a noisy or confounded screen must not reshuffle
anybody's list. Such a feature's adoption score is multiplied by ``1 + relative lift`` (its effect over the
non-adopters' retention), i.e. the ranking is by expected retained adoptions -- a feature twice as likely to be
adopted still beats one with a +10 % relative lift. Features without a usable estimate keep a multiplier of 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["CAUSAL_HORIZON_DAYS", "RetentionLift", "retention_lifts"]

#: The retention horizon whose effect is used (the shortest the causal model estimates: the soonest to be judged).
CAUSAL_HORIZON_DAYS = 30


@dataclass(frozen=True)
class RetentionLift:
    """A usable causal estimate for one feature (differences in retention rates, as fractions)."""

    feature_key: str
    ate: float
    ci_low: float
    ci_high: float
    relative: float


def retention_lifts(impact: pd.DataFrame | None, horizon_days: int = CAUSAL_HORIZON_DAYS) -> dict[str, RetentionLift]:
    """The usable lifts of ``causal_feature_impact_served`` rows (empty for None / no usable rows)."""
    if impact is None or impact.empty:
        return {}
    rows = impact[impact["horizon_days"] == horizon_days]
    out: dict[str, RetentionLift] = {}
    for row in rows.itertuples(index=False):
        ate, low, high = row.ate_estimate, row.ate_ci_low, row.ate_ci_high
        base = row.non_adopter_retention
        if not bool(row.reliable) or any(pd.isna(v) for v in (ate, low, high, base)) or low <= 0 or base <= 0:
            continue
        out[str(row.feature_key)] = RetentionLift(str(row.feature_key), ate, low, high, float(ate) / float(base))
    return out


def lift_multipliers(features: np.ndarray, lifts: dict[str, RetentionLift]) -> np.ndarray:
    """``1 + relative lift`` per feature in ``features`` order (1 where there is no usable estimate)."""
    return np.array([1.0 + lifts[f].relative if f in lifts else 1.0 for f in features])
