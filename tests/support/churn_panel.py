"""A ``fct_user_features``-shaped panel with a known, non-linear churn mechanism, for tests and benchmarks.

Lives with the tests, not in the library: it is a bench to check that the models find what was planted,
never data a product runs on.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import expit

__all__ = ["PANEL_HORIZON_DAYS", "PANEL_SEED", "PLANS", "make_synthetic_panel"]

#: The panel's label horizon: ``churned_30d`` is churn within this many days of the snapshot. Fixed, not a
#: parameter: the oracle's survival product (four weekly hazards and 2/7 of a fifth) is written for 30 days.
PANEL_HORIZON_DAYS = 30

#: Seed of the panel the churn tests share, and of the models trained on it.
PANEL_SEED = 0

PLANS = ("free", "starter", "pro", "enterprise")


def make_synthetic_panel(
    n_users: int = 3_000,
    n_snapshots: int = 12,
    *,
    seed: int = 0,
    start: str = "2024-01-01",
    censor_recent_labels: bool = False,
) -> pd.DataFrame:
    """A ``fct_user_features``-shaped panel with a *known* churn mechanism, for tests, benchmarks and demos.

    Users have a latent weekly engagement (AR(1) around a personal level, with a declining subset); daily
    activity, events, sessions, tickets and key-feature adoption are drawn from it, and features are
    computed only from days before each weekly snapshot. The weekly churn hazard is non-linear on purpose
    (recency cliffs at 8 and 15 days, a ticket threshold, plan x key-feature interaction, a U-shaped usage
    trend effect, a new-user bump), so boosted trees have something to find that a linear model cannot.

    ``oracle_probability`` is the exact probability of churning in the 30 days after the snapshot *given the
    simulated future hazard path*: an upper bound no real model can reach, useful as a ceiling in
    :func:`pintel.churn.evaluate`. ``churn_date`` is the simulated churn day (NaT if the user survives the simulation).
    Users disappear from snapshots after churning. With ``censor_recent_labels`` the last snapshots' labels
    are NULL, as in the warehouse where their 30-day horizon is not over yet.
    """
    rng = np.random.default_rng(seed)
    warm, horizon = 4, 4  # weeks of history before the first snapshot / extra weeks to observe labels
    n_points = n_snapshots + horizon
    n_weeks = warm + n_points
    n = n_users

    plan = rng.choice(np.array(PLANS, dtype=object), size=n, p=[0.45, 0.30, 0.18, 0.07])
    tier = np.select([plan == p for p in PLANS], [0, 1, 2, 3])
    seats = np.select(
        [tier == 0, tier == 1, tier == 2],
        [np.ones(n), rng.integers(1, 6, n), rng.integers(3, 31, n)],
        np.round(rng.lognormal(4.0, 0.7, n)),
    ).astype(np.int64)
    level = rng.normal(0.0, 1.0, n) + 0.15 * tier
    frustrated = rng.random(n) < 0.15
    tenure0 = np.where(rng.random(n) < 0.15, rng.integers(1, 30, n), rng.integers(30, 1_200, n))
    adopt_week = np.where(rng.random(n) < expit(level), rng.integers(-20, n_weeks, n), 10**6)
    decliner = rng.random(n) < 0.3
    decline_start = rng.integers(0, n_weeks, n)
    slope = rng.uniform(0.2, 0.6, n)

    engagement = np.empty((n, n_weeks))
    deviation = rng.normal(0.0, 0.5, n)
    for w in range(n_weeks):
        deviation = 0.75 * deviation + rng.normal(0.0, 0.4, n)
        engagement[:, w] = level + deviation - decliner * slope * np.maximum(0, w - decline_start)
    active = rng.random((n, n_weeks, 7)) < expit(engagement + 0.3)[:, :, None]
    active_w = active.sum(axis=2)
    events_w = rng.poisson(active_w * np.exp(1.0 + 0.4 * engagement))
    sessions_w = active_w + rng.poisson(0.6 * active_w)
    tickets_w = rng.poisson(0.06 + 0.5 * frustrated[:, None] + 0.1 * (engagement < -1.0))
    day = np.arange(n_weeks * 7)
    last_active = np.maximum.accumulate(np.where(active.reshape(n, -1), day, -1), axis=1)

    plan_effect = np.select([tier == 0, tier == 1, tier == 2], [0.7, 0.3, 0.0], -0.6)
    feats: list[dict[str, np.ndarray]] = []
    hazard = np.empty((n, n_points))
    for k in range(n_points):
        d = 7 * (warm + k)
        window = slice(warm + k - 4, warm + k)
        last = last_active[:, d - 1]
        recency = np.where(last >= 0, d - last, np.nan).astype(np.float64)
        a28 = active_w[:, window].sum(axis=1)
        e7, e28 = events_w[:, warm + k - 1], events_w[:, window].sum(axis=1)
        s28 = sessions_w[:, window].sum(axis=1)
        mean_eng = engagement[:, window].mean(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            trend = np.where(e28 > 0, e7 / (e28 / 4.0), np.nan)
        minutes = np.where(s28 > 0, np.exp(2.3 + 0.35 * mean_eng + rng.normal(0.0, 0.25, n)), np.nan)
        key = (adopt_week < warm + k).astype(np.int64)
        tickets = tickets_w[:, window].sum(axis=1)
        tenure = tenure0 + 7 * k
        rec = np.nan_to_num(recency, nan=60.0)
        flow = np.nan_to_num(trend, nan=0.0)
        logit = (
            -4.7
            + 2.0 * (rec >= 8)
            + 1.0 * (rec >= 15)
            - 0.03 * a28
            + plan_effect
            + 1.6 * (tickets >= 3)
            - 1.6 * key * (tier > 0)  # adoption protects paying teams only
            + 0.6 * key * (tier == 0)
            + 0.8 * (flow < 0.5)  # falling usage ...
            + 1.6 * (flow > 1.8)  # ... or a last burst (data export) before leaving: U-shaped
            + 1.2 * (tenure < 45)
        )
        hazard[:, k] = expit(logit)
        feats.append(
            {
                "days_since_last_active": recency,
                "active_days_7d": active_w[:, warm + k - 1],
                "active_days_28d": a28,
                "events_7d": e7,
                "events_28d": e28,
                "trend_7d_vs_28d": np.round(trend, 4),
                "sessions_28d": s28,
                "avg_session_minutes_28d": np.round(minutes, 2),
                "feature_breadth_28d": np.where(a28 > 0, rng.binomial(12, expit(mean_eng - 0.3)), 0),
                "key_feature_adopted": key,
                "tickets_28d": tickets,
                "plan": plan,
                "tenure_days": tenure,
                "seats": seats,
            }
        )

    never = np.iinfo(np.int64).max
    churn_day = np.full(n, never, dtype=np.int64)
    alive = np.ones(n, dtype=bool)
    for k in range(n_points):
        hit = alive & (rng.random(n) < hazard[:, k])
        churn_day[hit] = 7 * (warm + k) + rng.integers(1, 8, int(hit.sum()))
        alive &= ~hit

    origin = pd.Timestamp(start) - pd.Timedelta(days=7 * warm)
    churned = churn_day != never
    churn_date = origin + pd.to_timedelta(np.where(churned, churn_day, np.nan), unit="D")
    last_observable = 7 * (warm + n_snapshots - 1)
    frames = []
    for k in range(n_snapshots):
        d = 7 * (warm + k)
        present = churn_day > d
        survive = np.prod(1.0 - hazard[:, k : k + 4], axis=1) * (1.0 - hazard[:, k + 4] * 2.0 / 7.0)
        label = pd.array((churn_day <= d + PANEL_HORIZON_DAYS).astype(np.int64), dtype="Int64")
        if censor_recent_labels and d + PANEL_HORIZON_DAYS > last_observable:
            label[:] = pd.NA
        frame = pd.DataFrame(
            {"user_id": np.arange(1, n + 1, dtype=np.int64), "snapshot_date": origin + pd.Timedelta(days=d)}
        )
        for name, values in feats[k].items():
            frame[name] = values
        frame["churned_30d"] = label
        frame["oracle_probability"] = 1.0 - survive
        frame["churn_date"] = churn_date
        frames.append(frame[present])
    panel = pd.concat(frames, ignore_index=True)
    panel["plan"] = panel["plan"].astype("str")
    return panel
