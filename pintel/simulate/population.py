"""Who the users are: signup day, channel, plan, company, country, platform, persona and latent engagement."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pintel.simulate.config import (
    CHANNEL_SHARES,
    CHANNELS,
    COMPANY_SIZE_SHARES,
    COUNTRY_SHARES,
    INCIDENT_AT,
    PERSONAS,
    PLATFORM_SHARES,
    SEATS_BY_SIZE,
    SimConfig,
)


@dataclass
class Population:
    """Static per-user attributes (index = user number). ``signup_day`` < 0 means signed up before the window."""

    signup_day: np.ndarray
    signup_second: np.ndarray
    channel: np.ndarray
    size: np.ndarray
    country: np.ndarray
    platform: np.ndarray
    persona: np.ndarray
    plan0: np.ndarray
    seats: np.ndarray
    mu: np.ndarray
    version_lag: np.ndarray
    spike_day: int | None

    @property
    def n(self) -> int:
        return len(self.signup_day)


def _choice(rng: np.random.Generator, n: int, shares: tuple[float, ...]) -> np.ndarray:
    p = np.asarray(shares, dtype=float)
    return rng.choice(len(p), size=n, p=p / p.sum()).astype(np.int8)


def spike_day_for(cfg: SimConfig) -> int | None:
    return round(cfg.days * INCIDENT_AT["signup_spike"]) if cfg.incidents else None


def draw_population(cfg: SimConfig, rng: np.random.Generator) -> Population:
    """Draw every user once; all later randomness is per day, so a user's identity never shifts."""
    n, dyn = cfg.users, cfg.dynamics
    pre = rng.random(n) < cfg.preexisting_share
    # In-window signups: weekday-heavy with mild growth; pre-existing users signed up up to a year before.
    days = np.arange(cfg.days)
    weekday = (cfg.start.weekday() + days) % 7
    weight = (1.0 + 0.5 * days / cfg.days) * np.where(weekday >= 5, 0.55, 1.0)
    signup_day = np.where(
        pre,
        -rng.integers(1, 366, size=n),
        rng.choice(cfg.days, size=n, p=weight / weight.sum()),
    ).astype(np.int32)
    channel = _choice(rng, n, CHANNEL_SHARES)
    spike_day = spike_day_for(cfg)
    if spike_day is not None:
        # A paid-social campaign burst: move extra in-window users onto one day, from one channel.
        normal = max(1.0, (~pre).sum() / cfg.days * CHANNEL_SHARES[CHANNELS.index("paid_social")])
        extra = round(normal * (cfg.signup_spike_factor - 1.0))
        candidates = np.flatnonzero(~pre & (signup_day != spike_day))
        moved = rng.choice(candidates, size=min(extra, len(candidates)), replace=False)
        signup_day[moved] = spike_day
        channel[moved] = CHANNELS.index("paid_social")
    signup_second = rng.integers(0, 86400, size=n).astype(np.int32)
    if spike_day is not None:
        burst = (signup_day == spike_day) & (channel == CHANNELS.index("paid_social"))
        signup_second[burst] = rng.integers(13 * 3600, 21 * 3600, size=int(burst.sum()))
    size = _choice(rng, n, COMPANY_SIZE_SHARES)
    country = _choice(rng, n, COUNTRY_SHARES)
    platform = _choice(rng, n, PLATFORM_SHARES)
    persona = _choice(rng, n, tuple(p.share for p in PERSONAS))
    # Bigger companies start on higher plans.
    plan_logits = np.stack([np.zeros(n), -1.2 + 0.3 * size, -2.4 + 0.55 * size, -4.5 + 0.9 * size], axis=1)
    plan_p = np.exp(plan_logits)
    plan_p /= plan_p.sum(axis=1, keepdims=True)
    plan0 = (rng.random(n)[:, None] > np.cumsum(plan_p, axis=1)).sum(axis=1).astype(np.int8)
    seats = np.maximum(1, rng.poisson(np.asarray(SEATS_BY_SIZE)[size])).astype(np.int32)
    persona_mu = np.array([p.engagement_mu for p in PERSONAS])[persona]
    mu = (
        persona_mu
        + np.asarray(dyn.plan_engagement)[plan0]
        + np.asarray(dyn.size_engagement)[size]
        + np.asarray(dyn.channel_engagement)[channel]
        + rng.normal(0.0, dyn.engagement_user_sd, size=n)
    ).astype(np.float32)
    version_lag = rng.geometric(0.25, size=n).astype(np.int32) - 1
    return Population(
        signup_day=signup_day,
        signup_second=signup_second,
        channel=channel,
        size=size,
        country=country,
        platform=platform,
        persona=persona,
        plan0=plan0,
        seats=seats,
        mu=mu,
        version_lag=version_lag,
        spike_day=spike_day,
    )
