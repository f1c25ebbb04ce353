"""The personalisation truth the simulator writes: per-user feature propensities and the upgrade oracle."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from pintel.catalog import load_catalog
from pintel.simulate.config import Dynamics


def test_feature_propensities_follow_the_persona_and_the_key_feature_rule(small_sim: Path) -> None:
    truth = pd.read_parquet(small_sim / "ground_truth" / "feature_propensities.parquet")
    users = pd.read_parquet(small_sim / "ground_truth" / "users.parquet")[["user_id", "persona"]]
    catalog = load_catalog()
    assert len(truth) == len(users) * len(catalog.features)
    merged = truth.merge(users, on="user_id")
    key = catalog.key_feature.key
    others = merged[merged["feature_key"] != key]
    assert others.groupby(["persona", "feature_key"])["adoption_probability_per_active_day"].nunique().eq(1).all()
    assert others["adoption_probability_per_active_day"].between(0, 0.9).all()
    natural = Dynamics().key_natural_adoption
    assert (merged.loc[merged["feature_key"] == key, "adoption_probability_per_active_day"] == natural).all()
    assert others["early_decision_propensity"].isna().all()
    # personas differ in taste: the collaborator's favourite is a collaboration feature
    best = others.groupby(["persona", "feature_key"])["adoption_probability_per_active_day"].first()
    fav = best["collaborator"].idxmax()
    assert next(f for f in catalog.features if f.key == fav).category == "collaboration"


def test_upgrade_oracle_is_a_probability_for_free_users_only(small_sim: Path) -> None:
    snaps = pd.read_parquet(small_sim / "ground_truth" / "churn_snapshots.parquet")
    free = snaps["plan"] == "free"
    assert snaps.loc[~free, "upgrade_oracle_probability"].isna().all()
    p = snaps.loc[free, "upgrade_oracle_probability"]
    assert p.notna().all() and p.between(0, 1).all() and np.ptp(p) > 0.02
