"""The planted truth, written to ``ground_truth/`` as Parquet tables plus ``manifest.json``.

Observable truths (valid events, DAU, signups, churn dates, labels) are computed from the *valid* events
with the same definitions the warehouse uses, so they can be compared to the row. Latent truths (oracle
probabilities, potential outcomes, true lifts) come from the simulation model itself.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from pintel.catalog import Catalog
from pintel.simulate.actions import Actions
from pintel.simulate.config import (
    CHANNELS,
    COMPANY_SIZES,
    COUNTRIES,
    DEFECT_REASONS,
    PERSONAS,
    PLATFORMS,
    SimConfig,
)
from pintel.simulate.drift import drift_truth
from pintel.simulate.dynamics import State
from pintel.simulate.emit import PLAN_NAMES, Emitter, Experiment, Incidents
from pintel.simulate.flags import ERROR_EVENT, FlagLayer
from pintel.simulate.plays import PlayTwins
from pintel.simulate.population import Population
from pintel.simulate.ranking import roc_auc
from pintel.simulate.truth_personal import PERSONAL_DEFINITIONS, write_personal_truth
from pintel.simulate.truth_replay import play_units, rollout_incidents, rollout_manifest, write_replay_truth

TRUTH_VERSION = 2
INCIDENT_COLUMNS = [
    "incident_id",
    "shape",
    "start",
    "end",
    "metric",
    "grain",
    "segment_dim",
    "segment_value",
    "direction",
    "magnitude",
    "events_dropped",
    "flag",
    "symptom_dim",
    "symptom_value",
]


class Simulation(Protocol):
    """What the truth reads from a finished run (the engine's ``Simulation``; a protocol, so no import cycle)."""

    cfg: SimConfig
    pop: Population
    n: int
    out: Path
    catalog: Catalog
    rec: Any
    state: State
    cohort: np.ndarray
    treated: np.ndarray
    propensity: np.ndarray
    y30: np.ndarray
    y60: np.ndarray
    adopt_day: np.ndarray
    quit_day: np.ndarray
    quit_kind: np.ndarray
    valid_cancel_day: np.ndarray
    valid_cancel_day_base: np.ndarray
    emitter: Emitter
    experiment: Experiment
    incidents: Incidents
    flags: FlagLayer
    plays: PlayTwins
    actions: Actions
    start_ms: int
    events: Any
    identifies: Any


def _dates(sim: Simulation, days: np.ndarray) -> pd.Series:
    base = pd.Timestamp(sim.cfg.start)
    return pd.Series(base + pd.to_timedelta(np.asarray(days), unit="D")).dt.date


def _activity(sim: Simulation) -> tuple[np.ndarray, np.ndarray]:
    day = np.concatenate(sim.rec.active_day) if sim.rec.active_day else np.zeros(0, np.int32)
    user = np.concatenate(sim.rec.active_user) if sim.rec.active_user else np.zeros(0, np.int32)
    order = np.lexsort((day, user))
    return user[order].astype(np.int64), day[order].astype(np.int64)


def silent_churn_day(user: np.ndarray, day: np.ndarray, n: int, window: int, days: int) -> np.ndarray:
    """First day L with valid activity followed by ``window`` days without any (observable in the data)."""
    out = np.full(n, -1, np.int64)
    if len(user) == 0:
        return out
    same_next = np.r_[user[1:] == user[:-1], False]
    next_day = np.r_[day[1:], 0]
    gap_closed = same_next & (next_day - day > window)
    open_end = ~same_next & (day + window <= days - 1)
    candidate = gap_closed | open_end
    cand_user, cand_day = user[candidate], day[candidate]
    if len(cand_user) == 0:
        return out
    first = np.r_[True, cand_user[1:] != cand_user[:-1]]
    out[cand_user[first]] = cand_day[first]
    return out


def churn_labels(
    snap_day: np.ndarray,
    snap_user: np.ndarray,
    user: np.ndarray,
    day: np.ndarray,
    cancel_day: np.ndarray,
    horizon: int,
    days: int,
) -> np.ndarray:
    """1 if the user cancels in [s, s+H) or has no valid activity in [s, s+H); NaN if the horizon is unseen."""
    key = user * 100_000 + day
    query = snap_user * 100_000 + snap_day
    idx = np.searchsorted(key, query)
    idx_ok = np.minimum(idx, len(key) - 1) if len(key) else idx
    active_in = (idx < len(key)) & (key[idx_ok] < query + horizon) if len(key) else np.zeros(len(query), bool)
    c = cancel_day[snap_user]
    cancelled = (c >= snap_day) & (c < snap_day + horizon)
    label = (cancelled | ~active_in).astype(float)
    label[snap_day + horizon > days] = np.nan
    return label


def write_truth(sim: Simulation) -> dict:
    cfg, pop, n = sim.cfg, sim.pop, sim.n
    gt = sim.out / "ground_truth"
    gt.mkdir(parents=True, exist_ok=True)
    user, day = _activity(sim)
    days = np.arange(cfg.days)

    daily = pd.DataFrame(
        {
            "date": _dates(sim, days),
            "valid_events": np.asarray(sim.rec.valid_events, np.int64),
            "dau": np.bincount(day, minlength=cfg.days)[: cfg.days].astype(np.int64),
            "signups": np.asarray(sim.rec.signups, np.int64),
        }
    )
    daily.to_parquet(gt / "daily_metrics.parquet", index=False)

    # Churn by the shared definition, on valid events.
    silent = silent_churn_day(user, day, n, cfg.churn_inactivity_days, cfg.days)
    cancel = sim.valid_cancel_day
    churn_day = np.where((cancel >= 0) & ((silent < 0) | (cancel <= silent)), cancel, silent)
    kind = np.where(churn_day < 0, None, np.where(churn_day == cancel, "cancelled", "silent"))
    base = pd.Timestamp(cfg.start)

    def as_date(d: np.ndarray) -> pd.Series:
        return pd.Series(np.where(d >= 0, base + pd.to_timedelta(np.maximum(d, 0), unit="D"), pd.NaT)).dt.date

    users = pd.DataFrame(
        {
            "user_id": [f"u{i:07d}" for i in range(n)],
            "persona": np.asarray([p.name for p in PERSONAS])[pop.persona],
            "signup_date": (base + pd.to_timedelta(pop.signup_day, unit="D")).date,
            "signed_up_in_window": pop.signup_day >= 0,
            "channel": np.asarray(CHANNELS)[pop.channel],
            "company_size": np.asarray(COMPANY_SIZES)[pop.size],
            "country": np.asarray(COUNTRIES)[pop.country],
            "platform": np.asarray(PLATFORMS)[pop.platform],
            "initial_plan": np.asarray(PLAN_NAMES)[pop.plan0],
            "final_plan": np.asarray(PLAN_NAMES)[sim.state.plan[:n]],
            "seats": pop.seats,
            "latent_engagement_mean": pop.mu.astype(float),
            "churn_date": as_date(churn_day),
            "churn_kind": kind,
            "latent_quit_date": as_date(sim.quit_day),
            "latent_quit_kind": np.where(sim.quit_day >= 0, sim.quit_kind, None),
            "key_feature_adoption_date": as_date(sim.adopt_day),
        }
    )
    users.to_parquet(gt / "users.parquet", index=False)

    # Weekly snapshots with the oracle and the realised label.
    snaps = []
    for (s_day, eligible, prob, plan), up in zip(sim.rec.snapshots, sim.rec.upgrade_probability, strict=True):
        snaps.append(pd.DataFrame({"s": s_day, "u": eligible, "oracle_probability": prob, "plan": plan, "up": up}))
    snap = (
        pd.concat(snaps, ignore_index=True)
        if snaps
        else pd.DataFrame(columns=["s", "u", "oracle_probability", "plan", "up"])
    )
    snap_days = snap["s"].to_numpy(np.int64)
    snap_users = snap["u"].to_numpy(np.int64)
    snap["churned_30d"] = churn_labels(snap_days, snap_users, user, day, cancel, cfg.churn_horizon_days, cfg.days)
    churn_snap = pd.DataFrame(
        {
            "snapshot_date": _dates(sim, snap_days),
            "user_id": [f"u{u:07d}" for u in snap_users],
            "oracle_probability": snap["oracle_probability"].astype(float),
            "churned_30d": snap["churned_30d"].astype("Int8"),
            "plan": np.asarray(PLAN_NAMES)[snap["plan"].to_numpy(np.int64)] if len(snap) else [],
            "upgrade_oracle_probability": snap["up"].astype(float),
        }
    )
    churn_snap.to_parquet(gt / "churn_snapshots.parquet", index=False)

    write_personal_truth(sim, gt)
    causal, causal_summary = _causal(sim)
    causal.to_parquet(gt / "causal_units.parquet", index=False)
    experiment, experiment_summary = _experiment(sim)
    experiment.to_parquet(gt / "experiment_units.parquet", index=False)
    incidents = _incidents(sim)
    incidents.to_parquet(gt / "incidents.parquet", index=False)
    defects = _defects(sim)
    defects.to_parquet(gt / "defects.parquet", index=False)
    write_replay_truth(gt, sim.flags, sim.start_ms)
    plays, plays_summary = play_units(
        sim.plays, cfg, churn_labels, (user, day, sim.valid_cancel_day), sim.valid_cancel_day_base
    )
    plays.to_parquet(gt / "retention_play_units.parquet", index=False)

    realised = _realism(sim, daily, churn_snap, user, day, causal_summary)
    manifest = {
        "truth_version": TRUTH_VERSION,
        "config": cfg.to_dict(),
        "window": {
            "start": cfg.start.isoformat(),
            "end": (cfg.start + timedelta(days=cfg.days - 1)).isoformat(),
        },
        "definitions": {
            "day": "UTC calendar day of the event timestamp",
            "active": "at least one valid event that day",
            "churn": (
                f"subscription_cancelled, or no valid activity for {cfg.churn_inactivity_days} days "
                "(silent churn, dated at the last activity)"
            ),
            "churn_label": (
                f"eligible at snapshot s (valid activity in [s-{cfg.churn_inactivity_days}, s) and not cancelled "
                f"before s); churned_30d = cancelled in [s, s+{cfg.churn_horizon_days}) or no valid activity in "
                f"[s, s+{cfg.churn_horizon_days}); null when s+{cfg.churn_horizon_days} is past the window"
            ),
            "snapshots": f"Mondays from day {cfg.churn_inactivity_days} of the window",
            "retention_nd": "valid activity in days [N, N+7) after the signup day",
            "key_feature_adopted_14d": "first use of the key feature in days [0, 14) after signup",
            **PERSONAL_DEFINITIONS,
        },
        "counts": {
            "messages_written": int(sim.rec.messages),
            "valid_events": int(daily["valid_events"].sum()),
            "duplicates": int(sum(len(a) for a in sim.rec.duplicate_seq)),
            "quarantined_by_reason": {reason: int((defects["reason"] == reason).sum()) for reason in DEFECT_REASONS},
            "users": n,
            "event_files": len(sim.events.files),
            "identify_files": len(sim.identifies.files),
        },
        "causal": causal_summary,
        "experiment": experiment_summary,
        "incidents": json.loads(incidents.to_json(orient="records", date_format="iso")),
        "rollouts": rollout_manifest(sim.flags, cfg),
        "errors": {
            "event": ERROR_EVENT,
            "baseline_rate_per_valid_event": cfg.error_rate,
            "properties": ["surface", "error_code"],
        },
        "actions": sim.actions.manifest(cfg),
        "retention_plays": plays_summary,
        "drift": drift_truth(cfg, pop, churn_snap, sim.rec),
        "realised": realised,
    }
    (gt / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True, default=str) + "\n")
    return manifest


def _causal(sim: Simulation) -> tuple[pd.DataFrame, dict]:
    cfg, pop, n = sim.cfg, sim.pop, sim.n
    cohort = sim.cohort
    treated = sim.treated
    factual, twin = cohort, n + np.arange(len(cohort))
    out = {}
    frame = pd.DataFrame(
        {
            "user_id": [f"u{u:07d}" for u in cohort],
            "signup_date": _dates(sim, pop.signup_day[cohort]),
            "treated": treated,
            "true_propensity": sim.propensity[cohort],
        }
    )
    for horizon, y in ((30, sim.y30), (60, sim.y60)):
        y1 = np.where(treated, y[factual], y[twin])
        y0 = np.where(treated, y[twin], y[factual])
        observed = pop.signup_day[cohort] + horizon + 7 <= cfg.days
        frame[f"y{horizon}_treated"] = y1
        frame[f"y{horizon}_control"] = y0
        frame[f"observed_{horizon}d"] = observed
        t, o = treated[observed], observed
        yt, y0o, y1o = y[factual][o], y0[o], y1[o]
        out[f"retention_{horizon}d"] = {
            "units": int(o.sum()),
            "treated_units": int(t.sum()),
            "true_ate": float(np.mean(y1o.astype(float) - y0o)) if o.any() else None,
            "true_att": float(np.mean((y1o.astype(float) - y0o)[t])) if t.any() else None,
            "naive_difference": float(yt[t].mean() - yt[~t].mean()) if t.any() and (~t).any() else None,
        }
    dyn = cfg.dynamics
    summary = {
        "feature": sim.catalog.key_feature.key,
        "event_name": sim.catalog.key_feature.event_name,
        "treatment": "first use of the key feature within 14 days of signup",
        "unobserved_confounding": cfg.causal_setting == "unobserved",
        "confounders_observed": [
            "active days in the first 7 days after signup",
            "plan at signup",
            "channel",
            "company size",
        ],
        "mechanism": {
            "engagement_shift": dyn.key_engagement_effect,
            "log_hazard_ratio": dyn.hazard_key_feature,
            "effect_starts_at_tenure_day": 14,
        },
        **out,
    }
    return frame, summary


def _experiment(sim: Simulation) -> tuple[pd.DataFrame, dict]:
    cfg, led, exp = sim.cfg, sim.emitter, sim.experiment
    exposed = np.flatnonzero(led.exposed_day >= 0)
    reach = led.conv_first_active[exposed] >= 0
    y0 = (exp.u_conv[exposed] < led.p_conv[exposed, 0]) & reach
    y1 = (exp.u_conv[exposed] < led.p_conv[exposed, 1]) & reach
    variant = exp.variant[exposed]
    frame = pd.DataFrame(
        {
            "user_id": [f"u{u:07d}" for u in exposed],
            "variant": np.where(variant == 1, "treatment", "control"),
            "exposure_date": _dates(sim, led.exposed_day[exposed]),
            "exposure_logged": exp.exposure_logged[exposed],
            "y_control": y0,
            "y_treatment": y1,
            "converted": np.where(variant == 1, y1, y0),
        }
    )
    start = cfg.start + timedelta(days=exp.start)
    summary = {
        "flag": cfg.experiment_flag,
        "assignment_unit": "user",
        "split": {"control": 0.5, "treatment": 0.5},
        "start_date": start.isoformat(),
        "exposure_end_date": (cfg.start + timedelta(days=exp.end - 1)).isoformat(),
        "exposure_event": "experiment_exposed",
        "conversion_event": "checkout_completed",
        "conversion_window_days": cfg.experiment_window_days,
        "metric": (
            f"checkout_completed within {cfg.experiment_window_days} days of the first exposure (day 0 = exposure day)"
        ),
        "input_logit_lift": cfg.experiment_logit_lift,
        "true_lift_abs": float(np.mean(y1.astype(float) - y0)) if len(exposed) else None,
        "true_control_rate": float(y0.mean()) if len(exposed) else None,
        "units_exposed": len(exposed),
        "srm_planted": cfg.srm_loss > 0,
        "srm_treatment_exposure_loss": cfg.srm_loss,
        "logged_units": {
            "control": int((exp.exposure_logged[exposed] & (variant == 0)).sum()),
            "treatment": int((exp.exposure_logged[exposed] & (variant == 1)).sum()),
        },
    }
    return frame, summary


def _incidents(sim: Simulation) -> pd.DataFrame:
    inc = sim.incidents
    base = pd.Timestamp(sim.cfg.start, tz="UTC")
    rows = []
    if inc.outage_day is not None:
        rows.append(
            {
                "incident_id": "android_partial_outage",
                "shape": "partial outage on one platform",
                "start": base + pd.Timedelta(days=inc.outage_day, hours=14),
                "end": base + pd.Timedelta(days=inc.outage_day, hours=18),
                "metric": "events",
                "grain": "hour",
                "segment_dim": "platform",
                "segment_value": "android",
                "direction": "drop",
                "magnitude": f"{60}% of android users lost for 4 hours",
                "events_dropped": inc.dropped.get("android_partial_outage", 0),
            }
        )
    if inc.spike_day is not None:
        rows.append(
            {
                "incident_id": "paid_social_signup_spike",
                "shape": "signup spike from one channel",
                "start": base + pd.Timedelta(days=inc.spike_day, hours=13),
                "end": base + pd.Timedelta(days=inc.spike_day, hours=21),
                "metric": "signups",
                "grain": "hour",
                "segment_dim": "channel",
                "segment_value": "paid_social",
                "direction": "spike",
                "magnitude": f"{sim.cfg.signup_spike_factor:g}x the channel's daily signups",
                "events_dropped": 0,
            }
        )
    if inc.bug_day is not None:
        rows.append(
            {
                "incident_id": "tracking_bug_report_created",
                "shape": "tracking bug stops one event for a day",
                "start": base + pd.Timedelta(days=inc.bug_day),
                "end": base + pd.Timedelta(days=inc.bug_day + 1),
                "metric": "events",
                "grain": "hour",
                "segment_dim": "event_name",
                "segment_value": inc.bug_event,
                "direction": "drop",
                "magnitude": "100% of the event lost for one day",
                "events_dropped": inc.dropped.get("tracking_bug", 0),
            }
        )
    rows += rollout_incidents(sim.flags, sim.cfg, sim.start_ms + sim.cfg.days * 86_400_000)
    frame = pd.DataFrame(rows, columns=INCIDENT_COLUMNS)
    frame["flag"] = frame["flag"].astype(object).where(frame["flag"].notna(), None)
    # the series that moves, where it differs from the cause segment (a bad rollout: its error event)
    for col in ("dim", "value"):
        frame[f"symptom_{col}"] = frame[f"symptom_{col}"].where(
            frame[f"symptom_{col}"].notna(), frame[f"segment_{col}"]
        )
    return frame


def _defects(sim: Simulation) -> pd.DataFrame:
    seq = np.concatenate(sim.rec.defect_seq) if sim.rec.defect_seq else np.zeros(0, np.int64)
    reason = np.concatenate(sim.rec.defect_reason) if sim.rec.defect_reason else np.zeros(0, np.int8)
    dup = np.concatenate(sim.rec.duplicate_seq) if sim.rec.duplicate_seq else np.zeros(0, np.int64)
    prefix = f"{sim.cfg.seed:x}-"
    return pd.DataFrame(
        {
            "message_id": [f"{prefix}{s:012d}" for s in np.r_[seq, dup]],
            "reason": np.r_[np.asarray(DEFECT_REASONS, dtype=object)[reason], np.full(len(dup), "duplicate", object)],
        }
    )


def _auc(y: np.ndarray, p: np.ndarray) -> float | None:
    ok = ~np.isnan(y) & ~np.isnan(p)
    if ok.sum() < 10 or len(np.unique(y[ok])) < 2:
        return None
    return roc_auc(y[ok], p[ok])


def _realism(sim, daily, churn_snap, user, day, causal_summary) -> dict:
    cfg = sim.cfg
    last = np.full(sim.n, -(10**6))
    mau = np.zeros(cfg.days)
    bounds = np.searchsorted(day[np.argsort(day, kind="stable")], np.arange(cfg.days + 1))
    by_day = user[np.argsort(day, kind="stable")]
    for d in range(cfg.days):
        last[by_day[bounds[d] : bounds[d + 1]]] = d
        mau[d] = (last >= d - 27).sum()
    dau = daily["dau"].to_numpy(float)
    steady = np.arange(cfg.days) >= 27
    weekday = (cfg.start.weekday() + np.arange(cfg.days)) % 7
    labelled = churn_snap.dropna(subset=["churned_30d"])
    y = labelled["churned_30d"].to_numpy(float)
    paid = labelled["plan"].to_numpy() != "free"
    hourly = np.sum(sim.rec.hourly_events, axis=0) if sim.rec.hourly_events else np.zeros(24)
    c30 = causal_summary["retention_30d"]
    ate, naive = c30["true_ate"], c30["naive_difference"]
    seen = sim.treated[sim.pop.signup_day[sim.cohort] + 37 <= cfg.days]
    treated_share = float(seen.mean()) if len(seen) else None
    return {
        "monthly_churn_paid": float(y[paid].mean()) if paid.any() else None,
        "monthly_churn_free": float(y[~paid].mean()) if (~paid).any() else None,
        "stickiness_dau_mau": float(np.mean(dau[steady] / np.maximum(mau[steady], 1))) if steady.any() else None,
        "key_feature_adoption_14d": treated_share,
        "oracle_auc_30d": _auc(y, labelled["oracle_probability"].to_numpy(float)),
        "naive_minus_true_ate_30d": (naive - ate) if ate is not None and naive is not None else None,
        "naive_bias_over_half_effect": bool(abs(naive - ate) >= 0.5 * abs(ate)) if ate and naive is not None else None,
        "weekday_over_weekend_dau": float(dau[weekday < 5].mean() / max(dau[weekday >= 5].mean(), 1.0)),
        "peak_over_trough_hourly_events": float(hourly.max() / max(hourly.min(), 1.0)),
        "events_per_day_mean": float(daily["valid_events"].mean()),
    }
