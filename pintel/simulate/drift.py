"""``--drift``: planted non-stationarity, so churn models can be judged on a world that changes under them.

* ``price_change`` -- from ``drift_start_day`` on, the free plan's daily churn hazard is multiplied by
  ``price_change_hazard_multiplier`` (default 2: the free plan lost what kept people on it). It lives in
  :meth:`World.step`, so the oracle's Monte Carlo paths see it too: its probabilities are the drifted truth.
* ``persona_shift`` -- the persona mix of in-window signups moves linearly with the signup day from the
  default shares (day 0) to :data:`PERSONA_SHIFT_TO` (last day); pre-existing users keep theirs. The new
  personas come from their own stream, and a user's engagement mean moves by the persona means' difference
  (its other parts -- plan, size, channel, the user's own noise -- stay), so nothing else about users shifts.
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np

from pintel.simulate.config import PERSONA_SHIFT_TO, PERSONAS, SimConfig
from pintel.simulate.population import Population

PERSONA_STREAM = 8


def persona_mix(cfg: SimConfig, day: np.ndarray) -> np.ndarray:
    """Persona shares (rows: days, columns: PERSONAS) for signups on ``day`` under the persona shift."""
    before = np.array([p.share for p in PERSONAS], float)
    after = np.array([PERSONA_SHIFT_TO[p.name] for p in PERSONAS], float)
    w = np.clip(np.asarray(day, float) / max(cfg.days - 1, 1), 0.0, 1.0)[:, None]
    mix = (1.0 - w) * before / before.sum() + w * after / after.sum()
    return mix / mix.sum(axis=1, keepdims=True)


def shift_personas(cfg: SimConfig, pop: Population) -> None:
    """Redraw the personas of in-window signups from the drifting mix (in place)."""
    rng = np.random.default_rng(np.random.SeedSequence([cfg.seed, PERSONA_STREAM]))
    u = rng.random(pop.n)
    new = np.flatnonzero(pop.signup_day >= 0)
    cdf = np.cumsum(persona_mix(cfg, pop.signup_day[new]), axis=1)
    persona = np.minimum((u[new, None] > cdf).sum(axis=1), len(PERSONAS) - 1).astype(np.int8)
    means = np.array([p.engagement_mu for p in PERSONAS], np.float32)
    pop.mu[new] += means[persona] - means[pop.persona[new]]
    pop.persona[new] = persona


def price_change(cfg: SimConfig) -> tuple[int, float] | None:
    return (cfg.drift_start_day, cfg.price_change_hazard_multiplier) if "price_change" in cfg.drift else None


def drift_truth(cfg: SimConfig, pop: Population, churn_snap, rec) -> dict:
    """The manifest's ``drift`` section: what was planted, and what it did to the latent hazard and the labels."""
    out: dict = {"planted": list(cfg.drift)}
    if "price_change" in cfg.drift:
        day = cfg.drift_start_day
        risk, quits = np.asarray(rec.free_at_risk, float), np.asarray(rec.free_quits, float)
        unshifted = np.asarray(rec.free_hazard_unshifted, float)
        labelled = churn_snap.dropna(subset=["churned_30d"])
        free = labelled[labelled["plan"] == "free"]
        by_snapshot = []
        window = cfg.churn_inactivity_days + cfg.churn_horizon_days
        for snap, group in free.groupby("snapshot_date"):
            s = (snap - cfg.start).days
            # a label at s reads activity in [s - inactivity, s + horizon): how much of that the change covers
            drifted = max(0, s + cfg.churn_horizon_days - max(s - cfg.churn_inactivity_days, day))
            by_snapshot.append(
                {
                    "snapshot_date": snap.isoformat(),
                    "free_users": len(group),
                    "churned_30d": float(group["churned_30d"].astype(float).mean()),
                    "oracle_probability": float(group["oracle_probability"].mean()),
                    "label_window_days_after_change": int(min(drifted, window)),
                    "label_window_days": window,
                }
            )
        out["price_change"] = {
            "day": day,
            "date": (cfg.start + timedelta(days=day)).isoformat(),
            "plan": "free",
            "hazard_multiplier": cfg.price_change_hazard_multiplier,
            "realised_free_daily_hazard_before": _rate(quits[:day], risk[:day]),
            "realised_free_daily_hazard_after": _rate(quits[day:], risk[day:]),
            "counterfactual_free_daily_hazard_after": _rate(unshifted[day:], risk[day:]),
            "free_churn_by_snapshot": by_snapshot,
        }
    else:
        out["price_change"] = None
    if "persona_shift" in cfg.drift:
        names = [p.name for p in PERSONAS]
        mix = persona_mix(cfg, np.array([0, cfg.days - 1]))
        new = pop.signup_day >= 0
        quarter = max(cfg.days // 4, 1)
        first, last = new & (pop.signup_day < quarter), new & (pop.signup_day >= cfg.days - quarter)
        out["persona_shift"] = {
            "applies_to": "in-window signups, linearly in the signup day",
            "mix_start": dict(zip(names, map(float, mix[0]), strict=True)),
            "mix_end": dict(zip(names, map(float, mix[1]), strict=True)),
            "realised_first_quarter": _shares(pop.persona[first], names),
            "realised_last_quarter": _shares(pop.persona[last], names),
        }
    else:
        out["persona_shift"] = None
    return out


def _rate(events: np.ndarray, exposure: np.ndarray) -> float | None:
    return float(events.sum() / exposure.sum()) if exposure.sum() > 0 else None


def _shares(persona: np.ndarray, names: list[str]) -> dict[str, float]:
    counts = np.bincount(persona, minlength=len(names))
    return {name: float(c / max(counts.sum(), 1)) for name, c in zip(names, counts, strict=True)}
