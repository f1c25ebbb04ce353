"""The personalisation truth: each user's true chance of taking up each catalogued feature.

Written to ``ground_truth/feature_propensities.parquet`` (one row per user x catalogued feature) and loaded into
``raw.truth_feature_propensities`` by :mod:`pintel.ingest.truth`. The recommender's evaluation ranks each
user's not-yet-used features by ``adoption_probability_per_active_day`` to get the *oracle* -- the best
hit rate any recommender could expect from this world -- beside the model and the popularity baseline.

Where the numbers come from (the simulator's own mechanism, :mod:`pintel.simulate.emit`): on each active day
a user who has not used feature ``f`` yet first uses it with probability
``min(0.9, feature_adoption_base x adoption_rate[persona, f])``, independently of anything else. The key
feature is the exception: in-window signups decide about it once, on tenure day 7 (their
``early_decision_propensity``, also written), and afterwards -- and for everyone who signed up before the
window -- it is taken up at ``key_natural_adoption`` per day from tenure day 14, which is the per-day rate
written. Within one user the active days are common to every feature, so ranking by the per-day probability
is ranking by the probability of adoption over any window.

Truth only: nothing here reads or draws a random number, so the event stream of a seed is unchanged.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["FEATURE_TRUTH_FILE", "PERSONAL_DEFINITIONS", "feature_propensities", "write_personal_truth"]

FEATURE_TRUTH_FILE = "feature_propensities.parquet"

PERSONAL_DEFINITIONS = {
    "feature_adoption_propensity": (
        "probability that a user who has not used a feature yet first uses it on a given active day "
        "(key feature: the natural rate from tenure day 14; the day-7 decision is early_decision_propensity)"
    ),
    "upgrade_oracle_probability": (
        "at a churn snapshot s, for users on the free plan: probability of a plan upgrade in [s, s+horizon) "
        "given the latent state (Monte Carlo over the churn oracle's paths)"
    ),
}


def feature_propensities(sim: Any) -> pd.DataFrame:
    """One row per user x catalogued feature: the per-active-day adoption probability and the day-7 propensity."""
    factory, pop, dyn = sim.factory, sim.pop, sim.cfg.dynamics
    n, features = sim.n, sim.catalog.features
    per_day = np.minimum(0.9, dyn.feature_adoption_base * factory.adoption_rate[pop.persona])  # users x features
    per_day[:, factory.key_index] = dyn.key_natural_adoption
    early = np.full((n, len(features)), np.nan)
    early[:, factory.key_index] = sim.propensity[:n]
    return pd.DataFrame(
        {
            "user_id": np.repeat([f"u{i:07d}" for i in range(n)], len(features)),
            "feature_key": np.tile([f.key for f in features], n),
            "adoption_probability_per_active_day": per_day.ravel().astype(float),
            "early_decision_propensity": early.ravel(),
        }
    )


def write_personal_truth(sim: Any, gt: Path) -> None:
    """Write :data:`FEATURE_TRUTH_FILE` into the ground-truth folder ``gt``."""
    feature_propensities(sim).to_parquet(gt / FEATURE_TRUTH_FILE, index=False)
