"""Truth of the flag rollouts and of replayed actions: assignments, hourly counterfactuals, plays' potential outcomes.

Written beside the other ground-truth tables by :func:`pintel.simulate.truth.write_truth`; every run writes
them (a run without actions is the replay of no actions), so their layout never depends on the options.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from pintel.simulate.config import FLAG_VARIANTS, SimConfig
from pintel.simulate.flags import ERROR_EVENT, EXPOSURE_EVENT, HARM_PROPS, HARMED_EVENT, HOUR_MS, HOURLY_METRICS

if TYPE_CHECKING:
    from pintel.simulate.flags import FlagLayer, FlagSchedule
    from pintel.simulate.plays import PlayTwins


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _stamps(ms: np.ndarray) -> pd.Series:
    values = pd.to_datetime(np.where(ms >= 0, ms, 0), unit="ms", utc=True)
    return pd.Series(values).where(ms >= 0)


def harm_interval(f: FlagSchedule, window_end_ms: int) -> tuple[int, int] | None:
    """First span in which a harmful flag served ``on`` to anyone: [first step > 0 %, next step at 0 %)."""
    on = np.flatnonzero(f.pct > 0)
    if not f.rollout.harmful or len(on) == 0:
        return None
    start = int(f.ms[on[0]])
    off = np.flatnonzero((f.pct == 0) & (f.ms > start))
    return start, int(f.ms[off[0]]) if len(off) else window_end_ms


def rollout_incidents(flags: FlagLayer, cfg: SimConfig, window_end_ms: int) -> list[dict]:
    """incidents.parquet rows for harmful flags that were on for someone."""
    rows = []
    for k, f in enumerate(flags.flags):
        span = harm_interval(f, window_end_ms)
        if span is None:
            continue
        steps = ", ".join(f"{p:g}% from {_iso(t)}" for t, p in zip(f.ms, f.pct, strict=True))
        rows.append(
            {
                "incident_id": f"bad_rollout_{f.rollout.flag}",
                "shape": "flag rollout breaks a feature for exposed users on one platform",
                "start": pd.Timestamp(span[0], unit="ms", tz="UTC"),
                "end": pd.Timestamp(span[1], unit="ms", tz="UTC"),
                "metric": "events",
                "grain": "hour",
                "segment_dim": "platform" if f.rollout.platform else "all",
                "segment_value": f.rollout.platform or "all",
                "direction": "spike",
                "magnitude": (
                    f"{cfg.editor_failure_share:.0%} of exposed users' {HARMED_EVENT} fail and are sent as "
                    f"{ERROR_EVENT} ({steps})"
                ),
                "events_dropped": int(flags.replaced[k]),
                "flag": f.rollout.flag,
                "symptom_dim": "event_name",
                "symptom_value": ERROR_EVENT,
            }
        )
    return rows


def rollout_manifest(flags: FlagLayer, cfg: SimConfig) -> list[dict]:
    out = []
    for k, f in enumerate(flags.flags):
        r = f.rollout
        out.append(
            {
                "flag": r.flag,
                "description": r.description,
                "platform": r.platform,
                "harmful": r.harmful,
                "planted": bool(len(f.planted_ms)),
                "exposure_event": EXPOSURE_EVENT,
                "variants": list(FLAG_VARIANTS),
                "assignment": (
                    "sticky: on while bucket x 100 < percent, bucket = first 15 hex digits of "
                    f"sha1('{r.flag}.{cfg.seed}.<user_id>') / 16^15; eligible = users on the platform"
                ),
                "planted_schedule": [
                    {"at": _iso(t), "percent": float(p)} for t, p in zip(f.planted_ms, f.planted_pct, strict=True)
                ],
                "schedule": [
                    {"at": _iso(t), "percent": float(p), "source": s, "decision_id": d}
                    for t, p, s, d in zip(f.ms, f.pct, f.source, f.decision_id, strict=True)
                ],
                "effect": (
                    {
                        "metric": HARMED_EVENT,
                        "direction": "drop",
                        "failure_share": cfg.editor_failure_share,
                        "replaced_by": ERROR_EVENT,
                        "error_properties": HARM_PROPS,
                        "who": "exposed users only (variant on at the event's time)",
                        "latent_effect": "none: churn, activity and every other event are unchanged",
                    }
                    if r.harmful
                    else None
                ),
                "realised": {
                    "eligible_users": int(f.eligible.sum()),
                    "assigned_users": int(f.assigned.sum()),
                    "users_exposed": int(flags.exposed[k].sum()),
                    "exposures": int(flags.exposures[k]),
                    "reports_replaced_by_errors": int(flags.replaced[k]),
                },
            }
        )
    return out


def flag_assignments(flags: FlagLayer) -> pd.DataFrame:
    frames = []
    for k, f in enumerate(flags.flags):
        users = np.flatnonzero(f.eligible)
        planted_from, planted_until = f.intervals(planted=True)
        on_from, on_until = f.intervals()
        frames.append(
            pd.DataFrame(
                {
                    "flag": f.rollout.flag,
                    "user_id": [f"u{u:07d}" for u in users],
                    "platform": f.rollout.platform or "all",
                    "bucket": f.bucket[users],
                    "assigned": f.assigned[users],
                    "planted_on_from": _stamps(planted_from[users]),
                    "planted_on_until": _stamps(planted_until[users]),
                    "on_from": _stamps(on_from[users]),
                    "on_until": _stamps(on_until[users]),
                    "exposed": flags.exposed[k, users],
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def rollout_hourly(flags: FlagLayer, start_ms: int) -> pd.DataFrame:
    k, hours, cohorts, _ = flags.hourly.shape
    frame = pd.DataFrame(flags.hourly.reshape(-1, len(HOURLY_METRICS)), columns=list(HOURLY_METRICS))
    frame.insert(0, "cohort", np.tile(["unassigned", "assigned"], k * hours))
    frame.insert(
        0, "hour", np.tile(np.repeat(pd.to_datetime(start_ms + np.arange(hours) * HOUR_MS, unit="ms", utc=True), 2), k)
    )
    frame.insert(0, "flag", np.repeat([f.rollout.flag for f in flags.flags], hours * cohorts))
    return frame


def play_units(
    plays: PlayTwins,
    cfg: SimConfig,
    churn_labels,
    real: tuple[np.ndarray, np.ndarray, np.ndarray],
    base_cancel: np.ndarray,
) -> tuple[pd.DataFrame, dict]:
    """Per treated user both potential outcomes (30-day churn by the shared definition, and latent churn)."""
    h = cfg.churn_horizon_days
    s = plays.start_day.astype(np.int64)
    applied = plays.started
    q_user, q_day = plays.users[applied], s[applied]
    b_user, b_day = plays.base_activity()
    labels = {}
    for key, (user, day, cancel) in {
        "with_play": real,
        "without_play": (b_user, b_day, base_cancel),
    }.items():
        lab = np.full(len(plays), np.nan)
        lab[applied] = churn_labels(q_day, q_user, user, day, cancel, h, cfg.days)
        labels[key] = lab
    observed = applied & (s + h <= cfg.days)
    latent = {}
    for key, first in plays.first_quit.items():
        value = ((first >= s) & (first < s + h)).astype(float)
        latent[key] = np.where(observed, value, np.nan)
    first_decision = {}
    for p in plays.plays:
        first_decision.setdefault(p.user, p.decision_id)
    counts = np.bincount(plays.index[[p.user for p in plays.plays]], minlength=len(plays)) if len(plays) else []
    base = pd.Timestamp(cfg.start)
    last_play: dict[int, int] = {}
    for p in plays.plays:
        last_play[p.user] = max(last_play.get(p.user, -1), p.day)
    until = np.where(
        applied, np.array([last_play.get(int(u), -1) for u in plays.users], np.int64) + cfg.retention_play_days, -1
    )
    frame = pd.DataFrame(
        {
            "user_id": [f"u{u:07d}" for u in plays.users],
            "plays": np.asarray(counts, np.int64),
            "first_play_date": [(base + pd.Timedelta(days=int(d))).date() if d >= 0 else None for d in s],
            "play_ends_date": [(base + pd.Timedelta(days=int(d))).date() if d >= 0 else None for d in until],
            "applied": applied,
            "state_at_play": plays.state_at_start,
            "diverged": plays.diverged,
            "churned_30d_with_play": pd.array(np.where(observed, labels["with_play"], np.nan)).astype("Int8"),
            "churned_30d_without_play": pd.array(np.where(observed, labels["without_play"], np.nan)).astype("Int8"),
            "latent_churned_30d_with_play": pd.array(latent["with_play"]).astype("Int8"),
            "latent_churned_30d_without_play": pd.array(latent["without_play"]).astype("Int8"),
            "decision_id": [first_decision.get(int(u)) for u in plays.users],
        }
    )
    seen = frame[observed]

    def rate(col: str) -> float | None:
        return float(seen[col].astype(float).mean()) if len(seen) else None

    with_p, without_p = rate("churned_30d_with_play"), rate("churned_30d_without_play")
    summary = {
        "hazard_multiplier": cfg.retention_play_hazard_multiplier,
        "days": cfg.retention_play_days,
        "users_treated": len(plays),
        "users_applied": int(applied.sum()),
        "users_observed_30d": int(observed.sum()),
        "churn_30d_with_play": with_p,
        "churn_30d_without_play": without_p,
        "true_effect_churn_30d": (with_p - without_p) if with_p is not None and without_p is not None else None,
        "latent_churn_30d_with_play": rate("latent_churned_30d_with_play"),
        "latent_churn_30d_without_play": rate("latent_churned_30d_without_play"),
        "definition": (
            f"churned_30d from the first play date s: cancelled in [s, s+{h}) or no valid activity in [s, s+{h}) "
            "(null when s+30 is past the window); with = the replay, without = the same user and random numbers "
            "without any play"
        ),
    }
    return frame, summary


def write_replay_truth(gt: Path, flags: FlagLayer, start_ms: int) -> None:
    flag_assignments(flags).to_parquet(gt / "flag_assignments.parquet", index=False)
    rollout_hourly(flags, start_ms).to_parquet(gt / "rollout_hourly.parquet", index=False)
