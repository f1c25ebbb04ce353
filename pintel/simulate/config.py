"""Configuration of the simulated product: run settings plus the hidden parameters the truth is built from.

Every number that shapes behaviour lives here (not scattered through the code) so the manifest can write
it down and a reader can see exactly which world the ground truth describes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date

CHANNELS = ("organic", "paid_search", "paid_social", "referral", "partner")
CHANNEL_SHARES = (0.38, 0.22, 0.17, 0.15, 0.08)
COMPANY_SIZES = ("1-10", "11-50", "51-200", "201-1000", "1000+")
COMPANY_SIZE_SHARES = (0.34, 0.30, 0.19, 0.11, 0.06)
SEATS_BY_SIZE = (2, 6, 15, 35, 80)
COUNTRIES = ("US", "GB", "DE", "FR", "IN", "BR", "CA", "AU", "JP")
COUNTRY_SHARES = (0.34, 0.11, 0.10, 0.07, 0.12, 0.08, 0.07, 0.06, 0.05)
COUNTRY_UTC_OFFSET_HOURS = (-5, 0, 1, 1, 5, -3, -5, 10, 9)
PLATFORMS = ("web", "ios", "android")
PLATFORM_SHARES = (0.58, 0.22, 0.20)
LIBRARIES = ("analytics.js", "analytics-ios", "analytics-android")
PAGE_PATHS = ("/home", "/dashboards", "/reports", "/settings", "/billing", "/explore", "/team", "/help")
TICKET_SEVERITIES = ("low", "normal", "high")
CANCEL_REASONS = ("too_expensive", "missing_features", "switched_tool", "no_longer_needed")

DEFECT_REASONS = (
    "invalid_json",
    "oversized_payload",
    "missing_user_id",
    "unparseable_timestamp",
    "future_timestamp",
    "unknown_event",
    "wrong_property_type",
)
"""Quarantine reasons, in the order the warehouse checks them. Duplicates are counted apart."""


@dataclass(frozen=True)
class Persona:
    """A behavioural archetype: how engaged, how often, and which feature categories it reaches for."""

    name: str
    share: float
    engagement_mu: float
    sessions_lambda: float
    events_lambda: float
    category_weights: dict[str, float]
    adoption_multiplier: float
    ticket_shift: float


PERSONAS: tuple[Persona, ...] = (
    Persona(
        "power_user",
        0.14,
        0.55,
        1.1,
        11.0,
        {
            "core": 2.0,
            "analysis": 2.0,
            "productivity": 3.0,
            "collaboration": 1.5,
            "developer": 2.0,
            "monitoring": 2.0,
            "ai": 2.0,
            "integrations": 1.5,
            "setup": 1.0,
            "output": 1.5,
        },
        2.2,
        -0.2,
    ),
    Persona(
        "collaborator",
        0.20,
        0.0,
        0.6,
        7.0,
        {"core": 1.5, "collaboration": 6.0, "output": 2.0, "integrations": 2.0, "setup": 0.5},
        1.2,
        0.0,
    ),
    Persona(
        "analyst",
        0.20,
        0.1,
        0.7,
        10.0,
        {"core": 1.0, "analysis": 6.0, "developer": 2.5, "output": 1.5, "setup": 0.8},
        1.3,
        0.0,
    ),
    Persona(
        "casual_viewer",
        0.28,
        -0.85,
        0.15,
        3.5,
        {"core": 4.0, "output": 0.6, "setup": 0.3},
        0.5,
        0.1,
    ),
    Persona(
        "drifter",
        0.18,
        -1.7,
        0.05,
        2.5,
        {"core": 2.0, "setup": 1.0, "ai": 1.0},
        0.35,
        0.5,
    ),
)


@dataclass(frozen=True)
class Dynamics:
    """Hidden parameters of the latent world (logit scale unless named otherwise)."""

    engagement_phi: float = 0.92
    engagement_sigma: float = 0.4
    engagement_user_sd: float = 0.45
    plan_engagement: tuple[float, ...] = (-0.25, 0.05, 0.25, 0.4)
    size_engagement: tuple[float, ...] = (-0.1, 0.0, 0.05, 0.1, 0.15)
    channel_engagement: tuple[float, ...] = (0.1, 0.0, -0.35, 0.2, 0.1)
    weekday_activity: tuple[float, ...] = (-0.25, -0.2, -0.2, -0.25, -0.4, -1.6, -1.8)  # Mon..Sun
    honeymoon_boost: float = 1.0
    honeymoon_days: float = 7.0
    hazard_intercept: float = -6.4
    hazard_engagement: float = -0.75
    hazard_tenure: float = -0.25
    hazard_plan: tuple[float, ...] = (0.55, 0.0, -0.2, -0.45)
    hazard_ticket: float = 0.35
    hazard_key_feature: float = -0.75
    cancel_share_paid: float = 0.85
    return_rate: float = 0.012
    ticket_intercept: float = -5.0
    ticket_engagement: float = -0.45
    upgrade_intercept: float = -6.6
    upgrade_engagement: float = 0.8
    downgrade_intercept: float = -7.2
    downgrade_engagement: float = -0.6
    key_natural_adoption: float = 0.004
    key_engagement_effect: float = 0.35
    propensity_intercept: float = -1.0
    propensity_early_days: float = 0.38
    propensity_plan: tuple[float, ...] = (-0.45, 0.0, 0.35, 0.55)
    propensity_size: tuple[float, ...] = (-0.2, 0.0, 0.1, 0.25, 0.3)
    propensity_channel: tuple[float, ...] = (0.0, 0.0, -0.35, 0.35, 0.1)
    propensity_latent: float = 0.9
    feature_adoption_base: float = 0.018
    conversion_intercept: float = -1.3
    conversion_engagement: float = 0.6


@dataclass(frozen=True)
class Rollout:
    """A feature flag ramped on a schedule: planted truth for the decision engine (roll back or leave alone).

    ``steps`` are ``(hours after the first step, percent of eligible users on)``; the first step sits at
    ``start_hour`` UTC on the Tuesday-Thursday nearest ``at_fraction`` of the window that is clear of the other
    planted incidents. Assignment is sticky: a user's bucket (a hash of flag, seed and user id, as flag
    services do) is on while it is below the current percentage.
    """

    flag: str
    platform: str | None  # None: every platform
    at_fraction: float
    start_hour: int
    steps: tuple[tuple[int, float], ...]
    harmful: bool
    description: str


ROLLOUTS: tuple[Rollout, ...] = (
    Rollout(
        "new_sidebar",
        "ios",
        0.55,
        10,
        ((0, 10.0), (48, 50.0), (96, 100.0)),
        False,
        "a redesigned navigation sidebar on iOS; changes nothing users do",
    ),
    Rollout(
        "new_editor",
        "web",
        0.87,
        14,
        ((0, 10.0), (24, 50.0)),
        True,
        "a new report editor on web whose save fails for a share of exposed users' reports",
    ),
)
# Where the planted incidents sit, as a share of the window (day = round(share * days)).
INCIDENT_AT = {"signup_spike": 0.62, "android_outage": 0.72, "tracking_bug": 0.84}
FLAG_VARIANTS = ("off", "on")
ERROR_CODES = ("timeout", "network_error", "permission_denied", "validation_failed")
DRIFTS = ("price_change", "persona_shift")
# Persona mix of new signups at the end of the window under ``--drift persona_shift`` (from PERSONAS' shares
# on day 0, linearly in the signup day): a broader, less engaged audience, as after a move to paid acquisition.
PERSONA_SHIFT_TO = {"power_user": 0.08, "collaborator": 0.12, "analyst": 0.12, "casual_viewer": 0.40, "drifter": 0.28}


@dataclass(frozen=True)
class SimConfig:
    """Run settings. Defaults produce the demo dataset (about 1.2M events)."""

    users: int = 5000
    days: int = 90
    seed: int = 7
    start: date = date(2025, 1, 6)
    fmt: str = "parquet"
    defect_rate: float = 0.005
    preexisting_share: float = 0.35
    late_share: float = 0.03
    churn_horizon_days: int = 30
    churn_inactivity_days: int = 30
    snapshot_every_days: int = 7
    oracle_draws: int = 32
    causal_setting: str = "observed"
    experiment_flag: str = "pricing_page_v2"
    experiment_start_fraction: float = 0.5
    experiment_exposure_days: int = 21
    experiment_window_days: int = 14
    experiment_logit_lift: float = 0.3
    srm_loss: float = 0.0
    incidents: bool = True
    signup_spike_factor: float = 4.0
    max_message_bytes: int = 32768
    error_rate: float = 0.002
    editor_failure_share: float = 0.5
    retention_play_hazard_multiplier: float = 0.7
    retention_play_days: int = 30
    drift: tuple[str, ...] = ()
    drift_day: int | None = None
    price_change_hazard_multiplier: float = 2.0
    dynamics: Dynamics = field(default_factory=Dynamics)

    def __post_init__(self) -> None:
        if self.users < 50:
            raise ValueError("--users must be at least 50")
        if self.days < 14:
            raise ValueError("--days must be at least 14")
        if self.fmt not in {"parquet", "jsonl"}:
            raise ValueError("--format must be parquet or jsonl")
        if not 0 <= self.defect_rate < 0.5:
            raise ValueError("defect rate must be in [0, 0.5)")
        if self.causal_setting not in {"observed", "unobserved"}:
            raise ValueError("causal setting must be 'observed' or 'unobserved'")
        if not 0 <= self.srm_loss < 1:
            raise ValueError("srm loss must be in [0, 1)")
        unknown = sorted(set(self.drift) - set(DRIFTS))
        if unknown:
            raise ValueError(f"unknown drift {unknown}: choose from {', '.join(DRIFTS)} (or all)")
        if self.drift_day is not None and not 1 <= self.drift_day < self.days:
            raise ValueError(f"--drift-day must be in [1, {self.days}) (a day index of the window)")
        if not 0 <= self.editor_failure_share <= 1 or not 0 <= self.error_rate < 0.5:
            raise ValueError("editor failure share must be in [0, 1] and error rate in [0, 0.5)")
        if not 0 <= self.retention_play_hazard_multiplier <= 1 or self.retention_play_days < 1:
            raise ValueError("retention play hazard multiplier must be in [0, 1] and its days at least 1")

    @property
    def drift_start_day(self) -> int:
        """Day index from which ``price_change`` applies: ``drift_day``, or mid-window."""
        return self.drift_day if self.drift_day is not None else self.days // 2

    def to_dict(self) -> dict:
        out = asdict(self)
        out["start"] = self.start.isoformat()
        out["personas"] = [asdict(p) for p in PERSONAS]
        out["rollouts"] = [asdict(r) for r in ROLLOUTS]
        return out
